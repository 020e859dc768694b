"""Figure data of one run, read from its directory: the bridge from :class:`RunData` to plots.

``compare`` and ``report`` both draw archives, learned spaces and so on; the
functions here pick what to draw from a run (its final archives, or its log
when it was interrupted before writing them) so both commands draw the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from serendip.experiment.runner import episode_seeds
from serendip.experiment.storage import atomic_write
from serendip.metrics import EXPLORE
from serendip.tasks import TaskError, frame_times, make_task

from .plots import (
    EmitterSpan,
    FramesRow,
    PointsPanel,
    ProjectionPanel,
    contiguous_segments,
    exploration_animation,
)
from .run_data import RunData

MAX_LOG_POINTS = 20_000
"""Most log rows scattered when a run has no archive (an even subsample beyond)."""


def _even_subsample(n: int, limit: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).astype(np.int64))


def archive_panel(run: RunData, title: str) -> PointsPanel:
    """The run's final archives in the ground-truth space, or its explorers from the log.

    An interrupted run has no archive on disk; its exploration agents (evenly
    subsampled beyond :data:`MAX_LOG_POINTS`) stand in, and the panel says so.
    """
    agents = run.final_agents()
    if agents is not None:
        return PointsPanel(title, agents.ground_truth, agents.rewards, f"{len(agents):,} agents")
    log = run.exploration_rows()
    gt = log[[c for c in log.columns if str(c).startswith("gt_")]].to_numpy(np.float64)
    keep = _even_subsample(len(log), MAX_LOG_POINTS)
    note = f"{len(keep):,} explorers from the log (no archive)"
    return PointsPanel(title, gt[keep], log["reward"].to_numpy(np.float64)[keep], note)


def projection_panel(run: RunData, title: str) -> ProjectionPanel | None:
    """The final archives in the run's learned space, None without one (or without archives)."""
    agents = run.final_agents()
    if agents is None or not run.uses_learned_space:
        return None
    return ProjectionPanel(title, agents.descriptors, agents.ground_truth, agents.rewards)


def emitter_spans(run: RunData) -> list[EmitterSpan]:
    """Every emitter of the run: its evaluations (from the log) and record (if written).

    The log alone gives when each emitter ran and on which area; the emitter
    log (``emitters.parquet``, written at the end of a run) adds when it was
    created and when and why it stopped, and the emitters that never ran.
    """
    log = run.evaluations
    ids = run.emitter_ids()
    index = log["index"].to_numpy(np.int64)
    areas = log["emitter_area"].to_numpy(np.int64) if "emitter_area" in log.columns else None
    spans: dict[int, EmitterSpan] = {}
    for emitter in np.unique(ids[ids >= 0]):
        rows = np.flatnonzero(ids == emitter)
        area = int(areas[rows[0]]) if areas is not None else -1
        spans[int(emitter)] = EmitterSpan(
            int(emitter), area, contiguous_segments(np.sort(index[rows]))
        )
    records = run.emitters
    if records is not None:
        for record in records.to_dict("records"):
            emitter = int(record["emitter"])
            known = spans.get(emitter)
            spans[emitter] = EmitterSpan(
                emitter=emitter,
                area=int(record.get("area", known.area if known else -1)),
                segments=known.segments if known else (),
                created_at=_optional_int(record.get("created_at")),
                stopped_at=_optional_int(record.get("stopped_at")),
                stop_reason=record.get("stop_reason") or None,
            )
    return [spans[k] for k in sorted(spans)]


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else int(number)


@dataclass
class BestPolicies:
    """Frames of the best policy of each reward area, and what could not be shown."""

    rows: list[FramesRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def best_policies(run: RunData, n_frames: int = 8) -> BestPolicies:
    """Re-run the best-rewarded policy of each area and render ``n_frames`` frames of it.

    The best evaluation per area is read from the log; its genome is looked up
    in the final archives (the reward archive keeps every improvement, so the
    best is there). The episode is replayed with the seed the run gave it
    (``seed * 2**32 + index``), so it is the very episode that was logged, and
    the row says whether the replayed reward matches the logged one.
    """
    result = BestPolicies()
    log = run.evaluations
    agents = run.final_agents()
    if agents is None:
        result.notes.append(
            "frames of the best policies need the final archives (their genomes); "
            "this run was interrupted before writing them"
        )
        return result
    chosen: list[tuple[int, int, float]] = []  # (area, evaluation index, logged reward)
    for area in range(run.n_areas):
        rows = log[(log["reward_area"] == area) & (log["reward"] > 0)]
        if rows.empty:
            result.notes.append(f"area {area}: never reached")
            continue
        best = rows.iloc[int(np.argmax(rows["reward"].to_numpy()))]
        index, reward = int(best["index"]), float(best["reward"])
        if index not in set(agents.indices.tolist()):
            # Not kept in any archive: the best the archives hold in this area.
            in_area = np.flatnonzero((agents.reward_areas == area) & (agents.rewards > 0))
            if in_area.size == 0:
                result.notes.append(f"area {area}: no rewarded genome in the archives")
                continue
            row = in_area[int(np.argmax(agents.rewards[in_area]))]
            result.notes.append(
                f"area {area}: evaluation {index:,} (reward {reward:.3f}) is in no archive; "
                f"showing evaluation {int(agents.indices[row]):,} instead"
            )
            index, reward = int(agents.indices[row]), float(agents.rewards[row])
        chosen.append((area, index, reward))
    if not chosen:
        return result
    try:
        task = make_task(run.config.task, n_frames=n_frames, **run.config.task_arguments())
    except (KeyError, TaskError, ImportError, ValueError) as error:
        result.notes.append(f"task {run.task!r} cannot be built here to replay policies: {error}")
        return result
    try:
        position = {int(i): k for k, i in enumerate(agents.indices)}
        indices = np.array([index for _, index, _ in chosen], dtype=np.int64)
        genomes = agents.genomes[[position[i] for i in indices]]
        seeds = episode_seeds(run.seed, indices, run.config.episode_seeds or "per-evaluation")
        batch = task.evaluate(genomes, episode_seeds=seeds)
    finally:
        task.close()
    steps = frame_times(task.spec.horizon, n_frames)
    for k, (area, index, reward) in enumerate(chosen):
        replayed = float(batch.rewards[k])
        check = "" if np.isclose(replayed, reward) else f"\nreplayed: {replayed:.3f}"
        label = f"area {area}\nreward {reward:.3f}\nevaluation {index:,}{check}"
        result.rows.append(FramesRow(label, batch.frames[k], steps))
        if check:
            result.notes.append(
                f"area {area}: the replay got reward {replayed:.3f}, the log {reward:.3f} "
                "(the task changed since the run?)"
            )
    return result


def write_exploration_animation(run: RunData, path: Path) -> None:
    """Write the exploration animation of a run (see :func:`~.plots.exploration_animation`)."""
    log = run.evaluations
    gt = log[[c for c in log.columns if str(c).startswith("gt_")]].to_numpy(np.float64)
    index = log["index"].to_numpy(np.int64)
    explore = (log["process"] == EXPLORE).to_numpy()
    gif = exploration_animation(
        gt[explore], index[explore], gt[~explore], index[~explore], len(log), run.spec
    )
    atomic_write(path, lambda tmp: tmp.write_bytes(gif))
