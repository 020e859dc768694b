"""Run metrics computed from the evaluation log (see ``shared/spec/metrics.md``).

Every metric is a pure function of a run's *evaluation log*: a data frame with
one row per evaluation, sorted by ``index``, with columns ``index``, ``process``
(``"explore"`` for exploration agents, anything else for exploitation, e.g.
``"emitter-3"``), ``reward``, ``reward_area`` (-1 for none) and the ground-truth
descriptor ``gt_0``, ``gt_1``, ... Computing everything from the log means that
a finished or interrupted run can be re-scored without re-running anything.

Conventions shared by all functions here:

* The grid is the task's ``grid_shape`` (50 x 50) over the box
  ``[descriptor_low, descriptor_high]``; :func:`grid_cells` is the single place
  where descriptors become cells. Points outside the box are clipped into the
  border cells; NaN descriptors get cell -1 and are ignored. A grid has at most
  :data:`~serendip.archives.grid.MAX_GRID_CELLS` cells (a larger one is refused,
  not allocated), so no metric's memory grows as cells-per-axis ** dimensions.
* Coverage, uniformity and QD score count *exploration* agents only; reward
  areas found, best rewards and first rewards count every process.
* An area is "found" by a row with ``reward_area == i`` and ``reward > 0``.
* Undefined values (uniformity of no agents) are NaN in the array functions and
  ``None`` in :func:`summary_metrics`, which returns only JSON-serialisable
  Python types.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

from serendip.archives.grid import MAX_GRID_CELLS
from serendip.archives.grid import grid_cells as archive_grid_cells
from serendip.errors import ConfigError

if TYPE_CHECKING:
    from serendip.tasks.base import TaskSpec

EXPLORE = "explore"
"""Value of the ``process`` column for exploration agents."""

# Largest (points x cells) block of cumulative histograms built at once by
# :func:`metric_curves` (float64: 8 bytes each, so about 32 MiB).
_BLOCK_ELEMENTS = 1 << 22

_GT_COLUMN = re.compile(r"gt_(\d+)")


# --- grid ---------------------------------------------------------------------------


def grid_cells(
    descriptors: np.ndarray,
    low: Sequence[float] | np.ndarray,
    high: Sequence[float] | np.ndarray,
    shape: Sequence[int] = (50, 50),
) -> np.ndarray:
    """Flat cell index of each descriptor in a regular grid over the box ``[low, high]``.

    Cell ``k`` along a dimension covers ``[low + k w, low + (k + 1) w)`` with
    ``w = (high - low) / shape``; cells are flattened in C order (last dimension
    fastest), as :func:`numpy.ravel_multi_index`. This is the one discretisation
    used by every grid metric and by :class:`~serendip.archives.GridArchive`
    (:func:`serendip.archives.grid.grid_cells`), so coverage, uniformity, QD score
    and a MAP-Elites grid agree.

    Args:
        descriptors: ``(N, D)`` ground-truth descriptors.
        low: ``(D,)`` lower corner of the box.
        high: ``(D,)`` upper corner of the box.
        shape: cells per dimension, ``D`` entries.

    Returns:
        ``(N,)`` int64 cell indices in ``[0, prod(shape))``. Points on or beyond
        the box edges are clipped into the border cells (so ``high`` itself falls
        in the last cell); rows holding any NaN get -1.
    """
    x = np.asarray(descriptors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"descriptors must be 2-D (N, D), got shape {x.shape}")
    bounds = np.stack(
        [np.asarray(low, np.float64).reshape(-1), np.asarray(high, np.float64).reshape(-1)],
        axis=-1,
    )
    nan = np.isnan(x).any(axis=1)
    cells = np.full(len(x), -1, dtype=np.int64)
    cells[~nan] = archive_grid_cells(x[~nan], bounds, tuple(int(s) for s in shape))
    return cells


def _valid_cells(cells: np.ndarray, n_cells: int) -> np.ndarray:
    """The non-negative entries of ``cells`` (as int64), checking they are ``< n_cells``."""
    c = np.asarray(cells, dtype=np.int64).reshape(-1)
    c = c[c >= 0]
    if c.size and int(c.max()) >= n_cells:
        raise ValueError(f"cell index {int(c.max())} out of range for {n_cells} cells")
    return c


def _histogram(cells: np.ndarray, n_cells: int) -> np.ndarray:
    """Agents per cell, ``(n_cells,)`` int64, ignoring cells < 0."""
    return np.bincount(_valid_cells(cells, n_cells), minlength=n_cells)


# --- single-value metrics -----------------------------------------------------------------


def coverage(cells: np.ndarray, n_cells: int) -> float:
    """Fraction of the ``n_cells`` grid cells that hold at least one agent.

    Args:
        cells: flat cell indices (from :func:`grid_cells`); -1 entries are ignored.
        n_cells: total number of cells of the grid (2500 for 50 x 50).
    """
    return float(np.count_nonzero(_histogram(cells, n_cells))) / n_cells


def _uniformity_from_histograms(hist: np.ndarray) -> np.ndarray:
    """1 - Jensen-Shannon distance to uniform of each histogram along the last axis.

    Rows with no agents give NaN. One implementation for the single value and
    the curves, so the last curve point equals the final value.
    """
    h = np.asarray(hist, dtype=np.float64)
    totals = h.sum(axis=-1)
    out = np.full(totals.shape, np.nan)
    ok = totals > 0
    if np.any(ok):
        uniform = np.ones(h.shape[-1])
        with np.errstate(invalid="ignore"):
            # Natural log; scipy returns the distance (sqrt of the divergence) and
            # normalises both arguments itself.
            dist = jensenshannon(h[ok], uniform, axis=-1)
        # The divergence is >= 0; a rounding-level negative sum gives sqrt -> NaN.
        dist = np.nan_to_num(dist, nan=0.0)
        out[ok] = 1.0 - dist
    return out


def uniformity(cells: np.ndarray, n_cells: int) -> float:
    """How evenly agents spread over the whole grid: 1 - JS distance to uniform.

    The histogram of the agents over all ``n_cells`` cells is normalised and
    compared with the uniform distribution over all cells by the Jensen-Shannon
    distance (natural log, square root of the divergence), so the value is 1 for
    exactly one agent per cell (or any equal count in every cell) and lower the
    more the agents bunch up.

    Args:
        cells: flat cell indices; -1 entries are ignored.
        n_cells: total number of cells of the grid.

    Returns:
        The uniformity, at most 1 and above ``1 - sqrt(ln 2)`` (about 0.17, all
        agents in one cell of a large grid), or NaN when there is no agent (an
        empty histogram has no distribution to compare).
    """
    return float(_uniformity_from_histograms(_histogram(cells, n_cells)))


def _best_per_cell(cells: np.ndarray, rewards: np.ndarray, n_cells: int) -> np.ndarray:
    """Best reward in each cell, ``-inf`` where no agent (NaN rewards are ignored)."""
    c = np.asarray(cells, dtype=np.int64).reshape(-1)
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if c.shape != r.shape:
        raise ValueError(f"cells {c.shape} and rewards {r.shape} must have the same shape")
    keep = c >= 0
    best = np.full(n_cells, -np.inf)
    np.fmax.at(best, _valid_cells(c, n_cells), r[keep])
    return best


def _qd_from_best(best: np.ndarray) -> np.ndarray:
    """Sum over filled cells (finite best) of the best reward, along the last axis."""
    return np.where(best > -np.inf, best, 0.0).sum(axis=-1)


def qd_score(cells: np.ndarray, rewards: np.ndarray, n_cells: int) -> float:
    """QD score: sum over filled cells of the best reward in that cell.

    The grid-based quality-diversity figure, so runs can be compared with
    grid-archive methods. Cells whose agents all have reward 0 add 0.

    Args:
        cells: flat cell indices; -1 entries are ignored.
        rewards: reward of each agent, same shape as ``cells``.
        n_cells: total number of cells of the grid.
    """
    return float(_qd_from_best(_best_per_cell(cells, rewards, n_cells)))


# --- the evaluation log -----------------------------------------------------------------


@dataclass(frozen=True)
class _LogArrays:
    """The columns of an evaluation log as NumPy arrays, in row (index) order."""

    index: np.ndarray  # (N,) int64
    explore: np.ndarray  # (N,) bool
    rewards: np.ndarray  # (N,) float64
    areas: np.ndarray  # (N,) int64
    descriptors: np.ndarray  # (N, D) float64
    emitter_areas: np.ndarray  # (N,) int64: area an emitter worked on, -1 for exploration

    def __len__(self) -> int:
        return int(self.index.shape[0])


def _descriptor_columns(log: pd.DataFrame) -> list[str]:
    """The ``gt_*`` columns of ``log`` in numeric order (``gt_2`` before ``gt_10``)."""
    names = [str(c) for c in log.columns if str(c).startswith("gt_")]
    bad = [n for n in names if not _GT_COLUMN.fullmatch(n)]
    if bad:
        raise ValueError(f"descriptor columns must be named gt_<integer>, got {bad}")
    return sorted(names, key=lambda n: int(n[3:]))


def _log_arrays(log: pd.DataFrame) -> _LogArrays:
    """Extract and check the columns of ``log``; sorts by ``index`` if it is not sorted."""
    missing = {"index", "process", "reward", "reward_area"} - set(log.columns)
    if missing:
        raise ValueError(f"evaluation log lacks columns {sorted(missing)}")
    if not log["index"].is_monotonic_increasing:
        log = log.sort_values("index", kind="stable")
    gt = _descriptor_columns(log)
    n = len(log)
    descriptors = log[gt].to_numpy(dtype=np.float64, na_value=np.nan) if gt else np.empty((n, 0))
    return _LogArrays(
        index=log["index"].to_numpy(dtype=np.int64),
        explore=(log["process"] == EXPLORE).to_numpy(dtype=bool, na_value=False),
        rewards=log["reward"].to_numpy(dtype=np.float64, na_value=np.nan),
        areas=log["reward_area"].to_numpy(dtype=np.int64),
        descriptors=descriptors,
        emitter_areas=(
            log["emitter_area"].to_numpy(dtype=np.int64)
            if "emitter_area" in log.columns
            else np.full(n, -1, dtype=np.int64)
        ),
    )


def grid_cell_count(spec: TaskSpec) -> int:
    """Cells of the task's grid, checked: every grid metric allocates a few arrays this long.

    Raises:
        ConfigError: named ``grid_shape``, the grid has more than
            :data:`~serendip.archives.grid.MAX_GRID_CELLS` cells (a cell count that
            grows as cells-per-axis ** dimensions must be refused, not allocated).
    """
    cells = math.prod(int(s) for s in spec.grid_shape)
    if cells > MAX_GRID_CELLS:
        raise ConfigError(
            "grid_shape",
            f"task {spec.name}'s metrics grid {tuple(spec.grid_shape)} has {cells:,} cells, "
            f"more than {MAX_GRID_CELLS:,}; give it fewer cells per axis or a descriptor of "
            "fewer values",
        )
    return cells


def _spec_cells(descriptors: np.ndarray, spec: TaskSpec) -> np.ndarray:
    return grid_cells(descriptors, spec.descriptor_low, spec.descriptor_high, spec.grid_shape)


def _found(rewards: np.ndarray, areas: np.ndarray, n_areas: int) -> np.ndarray:
    """Rows that reached a reward area of the task: ``0 <= area < n_areas`` and reward > 0."""
    return (rewards > 0) & (areas >= 0) & (areas < n_areas)


def _first_found_rows(rewards: np.ndarray, areas: np.ndarray, n_areas: int) -> np.ndarray:
    """Row position of the first reward > 0 in each area, ``(n_areas,)`` int64, -1 if never."""
    rows = np.flatnonzero(_found(rewards, areas, n_areas))
    first = np.full(n_areas, -1, dtype=np.int64)
    # np.unique's return_index gives the first occurrence of each area.
    reached, at = np.unique(areas[rows], return_index=True)
    first[reached] = rows[at]
    return first


def _best_per_area(rewards: np.ndarray, areas: np.ndarray, n_areas: int) -> np.ndarray:
    """Best reward reached in each area, ``(n_areas,)`` float64, NaN if never reached."""
    found = _found(rewards, areas, n_areas)
    best = np.full(n_areas, np.nan)
    np.fmax.at(best, areas[found], rewards[found])
    return best


def evaluations_to_first_reward(log: pd.DataFrame, n_areas: int) -> dict[str, int | None]:
    """Index of the first evaluation that got a reward, per area and overall.

    Measures how fast a run discovers each sparse reward.

    Args:
        log: the evaluation log.
        n_areas: number of reward areas of the task.

    Returns:
        ``{"0": ..., "1": ..., "overall": ...}``: the ``index`` value of the first
        row with reward > 0 in that area (``"overall"``: in any area, or with a
        positive reward at all), ``None`` if there is none.
    """
    return _first_reward_dict(_log_arrays(log), n_areas)


def _first_reward_dict(a: _LogArrays, n_areas: int) -> dict[str, int | None]:
    first = _first_found_rows(a.rewards, a.areas, n_areas)
    out: dict[str, int | None] = {
        str(i): (int(a.index[row]) if row >= 0 else None) for i, row in enumerate(first)
    }
    positive = np.flatnonzero(a.rewards > 0)
    out["overall"] = int(a.index[positive[0]]) if positive.size else None
    return out


def best_reward_per_area(log: pd.DataFrame, n_areas: int) -> dict[str, float | None]:
    """Best reward reached in each area: ``{"0": ..., ...}``, ``None`` if never reached.

    Shows how well each discovered reward was exploited, not only whether it was found.
    """
    return _best_reward_dict(_log_arrays(log), n_areas)


def _best_reward_dict(a: _LogArrays, n_areas: int) -> dict[str, float | None]:
    best = _best_per_area(a.rewards, a.areas, n_areas)
    return {str(i): (None if np.isnan(b) else float(b)) for i, b in enumerate(best)}


def budget_per_process(log: pd.DataFrame, n_areas: int = 0) -> dict[str, Any]:
    """Share of the evaluations spent on exploration, on exploitation, and per area.

    Returns:
        ``{"explore": share, "exploit": share, "areas": {"0": share, ...}}``:
        explore and exploit sum to 1; ``areas[i]`` is the share spent by emitters
        whose ancestor reached area ``i`` (the log's ``emitter_area``). All 0.0 for
        an empty log.
    """
    return _budget_dict(_log_arrays(log), n_areas)


def _budget_dict(a: _LogArrays, n_areas: int) -> dict[str, Any]:
    n = len(a)
    counts = np.bincount(a.emitter_areas[a.emitter_areas >= 0], minlength=n_areas)[:n_areas]
    if n == 0:
        return {"explore": 0.0, "exploit": 0.0, "areas": {str(i): 0.0 for i in range(n_areas)}}
    n_explore = int(np.count_nonzero(a.explore))
    return {
        "explore": n_explore / n,
        "exploit": (n - n_explore) / n,
        "areas": {str(i): int(c) / n for i, c in enumerate(counts)},
    }


# --- curves ----------------------------------------------------------------------------


def evaluation_points(n_evaluations: int, every: int) -> np.ndarray:
    """Evaluation counts at which the curves are sampled.

    ``every, 2 every, ...`` up to ``n_evaluations``, always ending with
    ``n_evaluations`` itself (once), so the last point is the final state of the
    run even when the budget is not a multiple of ``every``.

    Returns:
        int64 array, empty when ``n_evaluations == 0``.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if n_evaluations < 0:
        raise ValueError(f"n_evaluations must be >= 0, got {n_evaluations}")
    points = np.arange(every, n_evaluations + 1, every, dtype=np.int64)
    if n_evaluations > 0 and (points.size == 0 or points[-1] != n_evaluations):
        points = np.append(points, np.int64(n_evaluations))
    return points


def _count_before(first_rows: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point ``n``, how many of ``first_rows`` (>= 0) are ``< n``."""
    rows = np.sort(first_rows[first_rows >= 0])
    return np.searchsorted(rows, points, side="left").astype(np.int64)


def _grid_curves(
    rows: np.ndarray, cells: np.ndarray, rewards: np.ndarray, points: np.ndarray, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Uniformity and QD score of the agents among the first ``n`` rows, for each point ``n``.

    Agents are bucketed by the first point that includes them; per block of
    points, the per-bucket histograms / best rewards are accumulated
    (``cumsum`` / ``fmax.accumulate``) on top of the carried totals, so memory
    stays bounded by ``_BLOCK_ELEMENTS`` whatever the number of points.
    """
    n_points = points.size
    unif = np.full(n_points, np.nan)
    qd = np.zeros(n_points)
    if n_points == 0:
        return unif, qd
    keep = cells >= 0
    rows, cells, rewards = rows[keep], cells[keep], rewards[keep]
    # Row r is first counted at the first point n with r < n.
    bucket = np.searchsorted(points, rows, side="right")
    block = max(1, _BLOCK_ELEMENTS // n_cells)
    hist_carry = np.zeros(n_cells, dtype=np.int64)
    best_carry = np.full(n_cells, -np.inf)
    starts = np.searchsorted(bucket, np.arange(0, n_points + block, block), side="left")
    for k, p0 in enumerate(range(0, n_points, block)):
        p1 = min(p0 + block, n_points)
        sl = slice(starts[k], starts[k + 1])
        flat = (bucket[sl] - p0) * n_cells + cells[sl]
        hist = np.bincount(flat, minlength=(p1 - p0) * n_cells).reshape(p1 - p0, n_cells)
        hist = np.cumsum(hist, axis=0) + hist_carry
        best = np.full((p1 - p0) * n_cells, -np.inf)
        np.fmax.at(best, flat, rewards[sl])
        best = np.fmax.accumulate(np.vstack([best_carry, best.reshape(p1 - p0, n_cells)]))[1:]
        unif[p0:p1] = _uniformity_from_histograms(hist)
        qd[p0:p1] = _qd_from_best(best)
        hist_carry, best_carry = hist[-1], best[-1]
    return unif, qd


def metric_curves(log: pd.DataFrame, spec: TaskSpec, every: int = 1000) -> pd.DataFrame:
    """Metric curves against the number of evaluations, for plotting and seed aggregation.

    Args:
        log: the evaluation log.
        spec: the task (grid box and shape, reward areas).
        every: sampling step in evaluations (see :func:`evaluation_points`).

    Returns:
        One row per point ``n`` of ``evaluation_points(len(log), every)``, each
        describing the first ``n`` evaluations (rows ``[0, n)``): ``evaluations``
        (``n``), ``coverage``, ``uniformity`` and ``qd_score`` (exploration agents
        only), ``reward_areas_found`` (any process), ``best_reward`` (running max
        of reward, 0 before any), ``best_reward_area_{i}`` for each area (running
        max in the area, NaN until found) and ``explore_fraction`` (share of the
        ``n`` evaluations that were exploration). The last row matches
        :func:`summary_metrics`.
    """
    a = _log_arrays(log)
    n_areas = len(spec.reward_areas)
    n_cells = grid_cell_count(spec)
    points = evaluation_points(len(a), every)
    last = points - 1  # row of the n-th evaluation

    explore_rows = np.flatnonzero(a.explore)
    cells = _spec_cells(a.descriptors[explore_rows], spec)
    # Coverage, incrementally: the cell count grows at each cell's first agent.
    valid = cells >= 0
    _, first_in_cell = np.unique(cells[valid], return_index=True)
    cov = _count_before(explore_rows[valid][first_in_cell], points) / n_cells
    unif, qd = _grid_curves(explore_rows, cells, a.rewards[explore_rows], points, n_cells)

    columns: dict[str, Any] = {
        "evaluations": points,
        "coverage": cov.astype(np.float64),
        "uniformity": unif,
        "qd_score": qd,
        "reward_areas_found": _count_before(_first_found_rows(a.rewards, a.areas, n_areas), points),
    }
    if len(a):
        running = np.fmax.accumulate(a.rewards)
        columns["best_reward"] = np.fmax(running[last], 0.0)
    else:
        columns["best_reward"] = np.zeros(0)
    found = _found(a.rewards, a.areas, n_areas)
    for i in range(n_areas):
        in_area = np.where(found & (a.areas == i), a.rewards, np.nan)
        running = np.fmax.accumulate(in_area) if len(a) else in_area
        columns[f"best_reward_area_{i}"] = running[last]
    columns["explore_fraction"] = (
        np.cumsum(a.explore, dtype=np.int64)[last] / points if len(a) else np.zeros(0)
    )
    for i in range(n_areas):
        on_area = a.emitter_areas == i
        columns[f"budget_area_{i}"] = (
            np.cumsum(on_area, dtype=np.int64)[last] / points if len(a) else np.zeros(0)
        )
    return pd.DataFrame(columns)


# --- summary --------------------------------------------------------------------------


def _plain(x: float) -> float | None:
    """A Python float, or None for NaN (JSON has no NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


def summary_metrics(log: pd.DataFrame, spec: TaskSpec) -> dict[str, Any]:
    """Final figures of a run, as JSON-serialisable Python values.

    Returns:
        ``evaluations``, ``coverage``, ``uniformity`` (None without exploration
        agents), ``qd_score``, ``reward_areas_found``, ``reward_areas_total``,
        ``best_reward_per_area`` (area key -> best reward or None),
        ``evaluations_to_first_reward`` (area key -> index or None),
        ``evaluations_to_first_reward_overall`` and ``budget_per_process``
        (:func:`budget_per_process`).
    """
    a = _log_arrays(log)
    n_areas = len(spec.reward_areas)
    n_cells = grid_cell_count(spec)
    cells = _spec_cells(a.descriptors[a.explore], spec)
    rewards = a.rewards[a.explore]
    first = _first_reward_dict(a, n_areas)
    overall = first.pop("overall")
    return {
        "evaluations": len(a),
        "coverage": coverage(cells, n_cells),
        "uniformity": _plain(uniformity(cells, n_cells)),
        "qd_score": qd_score(cells, rewards, n_cells),
        "reward_areas_found": int(
            np.count_nonzero(_first_found_rows(a.rewards, a.areas, n_areas) >= 0)
        ),
        "reward_areas_total": n_areas,
        "best_reward_per_area": _best_reward_dict(a, n_areas),
        "evaluations_to_first_reward": first,
        "evaluations_to_first_reward_overall": overall,
        "budget_per_process": _budget_dict(a, n_areas),
    }


# --- live ------------------------------------------------------------------------------


class LiveMetrics:
    """Incremental coverage, reward areas found and best reward, for a progress display.

    Fed batch by batch during a run, it keeps O(cells + areas) state instead of
    the whole log; its values equal the batch functions over the same rows.

    Args:
        spec: the task (grid box and shape, reward areas).
    """

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.n_cells = grid_cell_count(spec)
        self.n_areas = len(spec.reward_areas)
        self._bounds = np.stack(
            [
                np.asarray(spec.descriptor_low, np.float64),
                np.asarray(spec.descriptor_high, np.float64),
            ],
            axis=-1,
        ).reshape(-1, 2)
        self._shape = tuple(int(size) for size in spec.grid_shape)
        self._filled = np.zeros(self.n_cells, dtype=bool)
        self._n_filled = 0
        self._areas_found = np.zeros(self.n_areas, dtype=bool)
        self._best_reward = 0.0
        self.evaluations = 0

    def update(
        self,
        process_is_explore: np.ndarray,
        descriptors: np.ndarray,
        rewards: np.ndarray,
        reward_areas: np.ndarray,
    ) -> None:
        """Add one batch of evaluations.

        Args:
            process_is_explore: ``(N,)`` bool, True for exploration agents.
            descriptors: ``(N, D)`` ground-truth descriptors.
            rewards: ``(N,)`` rewards.
            reward_areas: ``(N,)`` reward area index, -1 for none.
        """
        explore = np.asarray(process_is_explore, dtype=bool).reshape(-1)
        r = np.asarray(rewards, dtype=np.float64).reshape(-1)
        areas = np.asarray(reward_areas, dtype=np.int64).reshape(-1)
        x = np.asarray(descriptors, dtype=np.float64)
        n = explore.shape[0]
        if not (r.shape[0] == areas.shape[0] == x.shape[0] == n):
            raise ValueError("all batch arrays must have the same number of rows")
        # The cells of grid_cells (the same discretisation), with the box prepared once:
        # this runs after every batch, and grid_cells' checks took most of its time.
        x = x[explore]
        x = x[~np.isnan(x).any(axis=1)]
        if len(x):
            self._filled[archive_grid_cells(x, self._bounds, self._shape)] = True
            self._n_filled = int(np.count_nonzero(self._filled))
        self._areas_found[areas[_found(r, areas, self.n_areas)]] = True
        if n:
            self._best_reward = float(np.fmax(self._best_reward, np.fmax.reduce(r)))
        self.evaluations += n

    @property
    def coverage(self) -> float:
        """Fraction of grid cells holding at least one exploration agent so far."""
        return self._n_filled / self.n_cells

    @property
    def reward_areas_found(self) -> int:
        """Number of reward areas reached (reward > 0) by any process so far."""
        return int(np.count_nonzero(self._areas_found))

    @property
    def best_reward(self) -> float:
        """Best reward so far (any process), 0.0 before any reward."""
        return self._best_reward
