"""A MAP-Elites grid archive: the best agent of each cell of a regular grid.

:func:`grid_cells` is the grid's one discretisation, shared with the run metrics
so that an archive's cells and the metrics' cells are the same cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np

from serendip.archives.add_info import IMPROVED, NEW, NOT_ADDED, AddInfo
from serendip.archives.agents import AGENT_FIELDS, Agents

_ELITES = "elites."

MAX_GRID_CELLS = 10_000_000
"""Most cells a descriptor grid may have: a MAP-Elites grid (its cell index alone takes
8 bytes a cell) and the metrics' grid of a task (coverage, uniformity, QD score)."""


def _check_bounds(bounds: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """``bounds`` as a ``(D, 2)`` float64 array, checking each pair is finite with low < high."""
    try:
        b = np.array(bounds, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"bounds must be (low, high) pairs of numbers: {error}") from None
    if b.size == 0:
        b = b.reshape(0, 2)
    if b.ndim != 2 or b.shape[1] != 2:
        raise ValueError(f"bounds must be a sequence of (low, high) pairs, got shape {b.shape}")
    if not np.isfinite(b).all() or not (b[:, 1] > b[:, 0]).all():
        raise ValueError(f"bounds must be finite with low < high on every axis, got {b.tolist()}")
    return b


def _check_shape(shape: int | Sequence[int], dims: int) -> tuple[int, ...]:
    """``shape`` as one cell count per axis; an integer means the same count on every axis."""
    cells = (shape,) * dims if isinstance(shape, Integral) else tuple(shape)
    if len(cells) != dims or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in cells
    ):
        raise ValueError(
            f"shape must be a positive integer or {dims} positive integers (one per axis of "
            f"bounds), got {shape!r}"
        )
    if math.prod(int(s) for s in cells) > MAX_GRID_CELLS:
        raise ValueError(f"a grid has at most {MAX_GRID_CELLS:,} cells, got shape {shape!r}")
    return tuple(int(s) for s in cells)


def _check_count(name: str, value: int, least: int) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def grid_cells(
    descriptors: np.ndarray,
    bounds: Sequence[Sequence[float]] | np.ndarray,
    shape: int | Sequence[int],
) -> np.ndarray:
    """Flat cell index of each descriptor in a regular grid over ``bounds``.

    Each axis ``d`` is cut in ``shape[d]`` equal bins, bin ``k`` covering
    ``[low + k w, low + (k + 1) w)``; descriptors outside the bounds are clipped
    into the border bins, so ``high`` itself falls in the last bin. Cells are
    flattened in C order (last axis fastest), as :func:`numpy.ravel_multi_index`.

    Args:
        descriptors: ``(N, D)`` points; NaN is refused rather than binned anywhere.
        bounds: ``D`` finite ``(low, high)`` pairs with ``low < high``.
        shape: bins per axis, ``D`` entries (or one integer for every axis).

    Returns:
        ``(N,)`` int64 cell indices in ``[0, prod(shape))``.
    """
    b = _check_bounds(bounds)
    dims = _check_shape(shape, len(b))
    x = np.asarray(descriptors, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(b):
        raise ValueError(
            f"descriptors must have shape (N, {len(b)}) to match bounds, got {x.shape}"
        )
    if np.isnan(x).any():
        raise ValueError("descriptors must not be NaN: a NaN point has no cell")
    if not dims:
        return np.zeros(len(x), dtype=np.int64)
    low, high = b[:, 0], b[:, 1]
    sizes = np.asarray(dims, dtype=np.float64)
    # Scale, then clip in floating point (which also tames +-inf before the cast): this exact
    # sequence of operations decides on which side of a bin edge a point falls.
    scaled = np.clip((x - low) / (high - low) * sizes, 0.0, sizes - 1.0)
    coords = np.floor(scaled).astype(np.int64)
    return np.asarray(np.ravel_multi_index(tuple(coords.T), dims), dtype=np.int64)


class GridArchive:
    """The best agent, by reward, of each cell of a grid over a descriptor space (MAP-Elites).

    Elites are stored compactly as struct-of-arrays :class:`Agents` (rows in the order
    they first filled their cell) with a ``cell -> row`` index, so sampling and saving
    touch only the filled cells. Storage grows by doubling, up to the number of cells.

    Args:
        bounds: ``(low, high)`` of each descriptor axis; outside points go to border cells.
        shape: cells per axis, or one integer for every axis (50 gives the metrics'
            50 x 50 grid in 2-D).
        genome_size: ``G`` of the agents' ``(N, G)`` genomes.
        ground_truth_size: ``Dg`` of their ``(N, Dg)`` ground-truth descriptors.
        n_frames: ``S`` of their ``(N, S, 64, 64, 3)`` frames.
        replace_on_tie: a newcomer whose reward equals the elite's replaces it (the
            spec's MAP-Elites: "replace if reward >= incumbent", so that with a sparse
            reward, where most cells hold a 0, the newest 0 takes the cell); False keeps
            the incumbent (strict improvement, as pyribs and CMA-ME count it).
    """

    def __init__(
        self,
        *,
        bounds: Sequence[Sequence[float]] | np.ndarray,
        shape: int | Sequence[int] = 50,
        genome_size: int,
        ground_truth_size: int,
        n_frames: int = 0,
        replace_on_tie: bool = False,
    ) -> None:
        self.replace_on_tie = bool(replace_on_tie)
        self._bounds = _check_bounds(bounds)
        self._shape = _check_shape(shape, len(self._bounds))
        self._storage = Agents.empty(
            _check_count("genome_size", genome_size, 1),
            len(self._bounds),
            _check_count("ground_truth_size", ground_truth_size, 0),
            _check_count("n_frames", n_frames, 0),
        )
        self._row_cell = np.empty(0, dtype=np.int64)
        self._cell_row = np.full(math.prod(self._shape), -1, dtype=np.int64)
        self._size = 0
        # Bumped by every change, so that structures built on the archive know when to rebuild.
        self.version = 0

    def __len__(self) -> int:
        return self._size

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        return tuple((float(lo), float(hi)) for lo, hi in self._bounds)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def n_cells(self) -> int:
        return len(self._cell_row)

    @property
    def agents(self) -> Agents:
        """A view of the elites, one row per filled cell (do not modify)."""
        return self._storage.take(slice(0, self._size))

    @property
    def cells(self) -> np.ndarray:
        """``(len(self),)`` int64 cell of each elite, row for row with :attr:`agents` (a view)."""
        return self._row_cell[: self._size]

    @property
    def coverage(self) -> float:
        """Fraction of the cells that hold an elite."""
        return self._size / self.n_cells

    @property
    def qd_score(self) -> float:
        """Sum of the elites' rewards: the metrics' QD score of the archive's own cells."""
        return float(self._storage.rewards[: self._size].sum())

    def add(self, agents: Agents) -> AddInfo:
        """Offer a batch of agents; each may become the elite of its cell.

        Batch semantics: within the batch only the best reward of each cell competes
        (on ties, the first row in batch order), against the cell's elite from
        *before* the batch. So a row's status is ``NEW`` if its cell was empty,
        ``IMPROVED`` if its reward beats the previous elite's, otherwise ``NOT_ADDED``;
        rows beaten (or tied) by an earlier or better row of the same cell in the
        batch are ``NOT_ADDED`` too. New elites are appended in batch order.

        ``value`` is the figure CMA-ME ranks by: ``reward - previous elite reward`` for
        ``IMPROVED``, ``reward`` for ``NEW``, and for ``NOT_ADDED`` ``reward - elite
        reward`` (<= 0) against the cell's elite *after* the batch.

        Raises:
            ValueError: a field's shape does not match the archive, a descriptor is NaN
                or a reward is not finite (the caller validates; the archive refuses).
        """
        self._check_agents(agents, "agents")
        n = len(agents)
        if n == 0:
            return AddInfo.none_added(0)
        rewards = np.asarray(agents.rewards, dtype=np.float64)
        cells = grid_cells(agents.descriptors, self._bounds, self._shape)
        # Sorted by cell, then best reward first, then batch order: each cell's lead competes.
        order = np.lexsort((np.arange(n), -rewards, cells))
        lead = np.ones(n, dtype=bool)
        lead[1:] = cells[order[1:]] != cells[order[:-1]]
        contenders = np.sort(order[lead])
        before = self._elite_rewards(cells)
        empty = self._cell_row[cells[contenders]] < 0
        appended = contenders[empty]
        better = rewards[contenders] > before[contenders]
        if self.replace_on_tie:
            better |= rewards[contenders] == before[contenders]
        replacing = contenders[~empty & better]

        self._write(self._cell_row[cells[replacing]], agents, replacing)
        self._reserve(len(appended))
        new_rows = np.arange(self._size, self._size + len(appended))
        self._write(new_rows, agents, appended)
        self._row_cell[new_rows] = cells[appended]
        self._cell_row[cells[appended]] = new_rows
        self._size += len(appended)
        if len(appended) or len(replacing):
            self.version += 1

        status = np.full(n, NOT_ADDED, dtype=np.int8)
        status[appended] = NEW
        status[replacing] = IMPROVED
        reference = np.where(status == IMPROVED, before, self._elite_rewards(cells))
        reference[status == NEW] = 0.0
        return AddInfo.of(status, rewards - reference)

    def sample(self, n: int, rng: np.random.Generator) -> Agents:
        """``n`` elites drawn uniformly with replacement (copies, in draw order)."""
        n = _check_count("n", n, 0)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if self._size == 0:
            raise ValueError("cannot sample from an empty archive")
        return self._storage.take(rng.integers(self._size, size=n))

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The elites and their cells as arrays, and the grid as JSON data (no pickle)."""
        arrays = {**self.agents.arrays(_ELITES), "cells": self.cells.copy()}
        return arrays, {"bounds": self._bounds.tolist(), "shape": list(self._shape)}

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, onto an archive built with the same grid.

        Loading counts as a change (``version`` is bumped, not restored), so that
        nothing built on the old contents is mistaken for up to date.
        """
        saved_bounds = np.asarray(data.get("bounds", ()), dtype=np.float64)
        if not np.array_equal(saved_bounds, self._bounds) or (
            tuple(data.get("shape", ())) != self._shape
        ):
            raise ValueError(
                f"saved grid {data.get('bounds')} x {data.get('shape')} differs from this "
                f"archive's {self._bounds.tolist()} x {list(self._shape)}"
            )
        elites = Agents.from_arrays(arrays, _ELITES)
        self._check_agents(elites, "saved elites")
        n = len(elites)
        cells = np.asarray(arrays["cells"])
        expected = grid_cells(elites.descriptors, self._bounds, self._shape)
        if cells.shape != (n,) or not np.array_equal(cells, expected):
            raise ValueError("saved cells do not match the saved elites' descriptors")
        if len(np.unique(cells)) != n:
            raise ValueError("saved elites share a cell: a grid holds one elite per cell")
        self._storage = Agents(
            **{
                name: np.array(getattr(elites, name), dtype=getattr(self._storage, name).dtype)
                for name in AGENT_FIELDS
            }
        )
        self._row_cell = cells.astype(np.int64)
        self._cell_row.fill(-1)
        self._cell_row[self._row_cell] = np.arange(n)
        self._size = n
        self.version += 1

    def _check_agents(self, agents: Agents, what: str) -> None:
        n = len(agents)
        for name in AGENT_FIELDS:
            got = np.shape(getattr(agents, name))
            want = (n, *getattr(self._storage, name).shape[1:])
            if got != want:
                raise ValueError(f"{what}.{name} must have shape {want}, got {got}")
        if not np.isfinite(agents.rewards).all():
            raise ValueError(f"{what}.rewards must be finite: an elite must compare with others")

    def _elite_rewards(self, cells: np.ndarray) -> np.ndarray:
        """Reward of the elite of each of ``cells``, ``-inf`` where a cell is empty."""
        rows = self._cell_row[cells]
        filled = rows >= 0
        out = np.full(len(rows), -np.inf)
        out[filled] = self._storage.rewards[rows[filled]]
        return out

    def _write(self, rows: np.ndarray, agents: Agents, source: np.ndarray) -> None:
        for name in AGENT_FIELDS:
            getattr(self._storage, name)[rows] = getattr(agents, name)[source]

    def _reserve(self, extra: int) -> None:
        """Room for ``extra`` more elites, doubling the storage (never past the cell count)."""
        capacity = len(self._row_cell)
        if self._size + extra <= capacity:
            return
        capacity = max(self._size + extra, min(self.n_cells, max(64, 2 * capacity)))

        def grown(old: np.ndarray) -> np.ndarray:
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self._size] = old[: self._size]
            return new

        storage = self._storage
        self._storage = Agents(**{name: grown(getattr(storage, name)) for name in AGENT_FIELDS})
        self._row_cell = grown(self._row_cell)
