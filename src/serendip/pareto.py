"""Pareto tools: fast non-dominated sort, crowding distance, NSGA-II survivor selection.

Used by the Pareto variants of the learned-space selection (TAXONS-P, STAX-P:
novelty and surprise), by the NSLC and NSGA-II baselines, and by SERENE's choice
of an emitter (first front of ancestor novelty and improvement). Objectives
are maximised by default. Dominance is computed as one ``(N, N)`` boolean matrix,
which is cheap for the few hundred points a generation holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_maximised(objectives: np.ndarray, maximise: bool | Sequence[bool]) -> np.ndarray:
    values = np.asarray(objectives, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"objectives must be an (N, M) array, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("objectives contain NaN, which has no Pareto order")
    signs = np.where(np.broadcast_to(np.asarray(maximise, dtype=bool), values.shape[1:]), 1.0, -1.0)
    return values * signs


def domination_matrix(objectives: np.ndarray, maximise: bool | Sequence[bool] = True) -> np.ndarray:
    """``D[i, j]`` is True when point i dominates point j.

    i dominates j when it is at least as good on every objective and strictly
    better on one.
    """
    values = _as_maximised(objectives, maximise)
    n = values.shape[0]
    at_least_as_good = np.ones((n, n), dtype=bool)
    better_somewhere = np.zeros((n, n), dtype=bool)
    # One (N, N) pass per objective: much faster than reducing an (N, N, M) array over M.
    for column in values.T:
        at_least_as_good &= column[:, None] >= column[None, :]
        better_somewhere |= column[:, None] > column[None, :]
    return at_least_as_good & better_somewhere


def non_dominated_fronts(
    objectives: np.ndarray, maximise: bool | Sequence[bool] = True
) -> list[np.ndarray]:
    """Fast non-dominated sort (Deb et al. 2002).

    Args:
        objectives: ``(N, M)`` objective values.
        maximise: True (all objectives maximised), False (all minimised) or one flag
            per objective.

    Returns:
        The fronts as ascending index arrays, the non-dominated front first; together
        they hold every index once.
    """
    dominates = domination_matrix(objectives, maximise)
    n = dominates.shape[0]
    counts = dominates.astype(np.int32)
    dominated_by = counts.sum(axis=0)  # how many points dominate each point
    dominated_by_assigned = n + 1  # marks a point already in a front
    fronts: list[np.ndarray] = []
    placed = 0
    while placed < n:
        front = np.flatnonzero(dominated_by == 0)
        dominated_by[front] = dominated_by_assigned
        dominated_by -= counts[front].sum(axis=0, dtype=np.int32)
        fronts.append(front)
        placed += front.size
    return fronts


def first_front(objectives: np.ndarray, maximise: bool | Sequence[bool] = True) -> np.ndarray:
    """Ascending indices of the points no other point dominates."""
    return np.flatnonzero(~domination_matrix(objectives, maximise).any(axis=0))


def crowding_distance(objectives: np.ndarray) -> np.ndarray:
    """Crowding distance of the points of one front (Deb et al. 2002).

    Per objective, each point gets the gap between its two neighbours along that
    objective divided by the objective's range in the front; the two extreme
    points get infinity. An objective with zero range separates nobody and adds 0
    to every point (no extremes either). Fronts of one or two points are all
    infinite. The distance does not depend on the direction of optimisation.

    Args:
        objectives: ``(N, M)`` objective values of one front.

    Returns:
        ``(N,)`` distances, the sum over objectives.
    """
    values = np.asarray(objectives, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"objectives must be an (N, M) array, got shape {values.shape}")
    n, m = values.shape
    if n <= 2:
        return np.full(n, np.inf)
    distance = np.zeros(n)
    order = np.argsort(values, axis=0, kind="stable")
    for objective in range(m):
        rows = order[:, objective]
        sorted_values = values[rows, objective]
        span = sorted_values[-1] - sorted_values[0]
        if span == 0:
            continue
        with np.errstate(invalid="ignore"):
            gaps = (sorted_values[2:] - sorted_values[:-2]) / span
        distance[rows[1:-1]] += np.nan_to_num(gaps, nan=0.0)
        distance[rows[[0, -1]]] = np.inf
    return distance


def nsga2_select(
    objectives: np.ndarray, n: int, maximise: bool | Sequence[bool] = True
) -> np.ndarray:
    """NSGA-II survivor selection of ``n`` points.

    Whole fronts are taken in order while they fit; the first front that does not
    fit is truncated by descending crowding distance, ties broken by lower index.

    Returns:
        The ``min(n, N)`` selected indices in selection order: whole fronts first
        (each ascending), then the truncated front's survivors, most isolated first.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    selected: list[np.ndarray] = []
    remaining = n
    values = np.asarray(objectives, dtype=np.float64)
    for front in non_dominated_fronts(values, maximise):
        if remaining <= 0:
            break
        if front.size <= remaining:
            selected.append(front)
            remaining -= front.size
            continue
        crowding = crowding_distance(values[front])
        keep = np.argsort(-crowding, kind="stable")[:remaining]
        selected.append(front[keep])
        remaining = 0
    if not selected:
        return np.empty(0, dtype=np.int64)
    return np.concatenate(selected).astype(np.int64, copy=False)
