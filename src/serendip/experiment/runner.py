"""The run loop: ask the algorithm, evaluate the batch, tell, log; then write the results.

Seeding: the algorithm derives one generator per process from the run's seed
(see :mod:`serendip.algorithms.stax`), and every episode gets the integer
``seed * 2**32 + evaluation index``, so a batch evaluates the same wherever and
in whatever split it is evaluated.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from serendip.algorithms import EXPLORE, Algorithm, make_algorithm
from serendip.analysis.metrics import LiveMetrics, metric_curves, summary_metrics
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.evaluation_log import LOG_NAME, EvaluationLogWriter, read_evaluations
from serendip.experiment.run_directory import prepare_run_dir
from serendip.experiment.storage import (
    agents_table,
    write_arrays,
    write_json,
    write_table,
    write_text,
)
from serendip.tasks import Task, TaskError, TaskSpec, make_task


def episode_seeds(seed: int, indices: np.ndarray) -> np.ndarray:
    return np.int64(seed) * np.int64(2**32) + indices.astype(np.int64)


@dataclass
class RunResult:
    """What a finished run returns: where it wrote and its final figures."""

    path: Path
    summary: dict[str, Any]
    algorithm: Algorithm


def build(config: RunConfig, task: Task | None = None) -> tuple[TaskSpec, Task, Algorithm]:
    """The task and algorithm a config describes (``task``: a task built by the caller)."""
    n_frames = config.resolved_frames
    if task is None:
        try:
            task = make_task(
                config.task, n_frames=n_frames, reward_threshold=config.reward_threshold
            )
        except TaskError as error:  # e.g. an unknown Gymnasium id: the config's fault
            raise ConfigError("task", str(error)) from None
    else:
        if task.spec.name != config.task:
            raise ConfigError(
                "task", f"the config names {config.task!r} but the given task is {task.spec.name!r}"
            )
        if task.n_frames != n_frames:
            raise ConfigError(
                "frames",
                f"the given task renders {task.n_frames} frames per episode and this run "
                f"needs {n_frames}; build it with n_frames={n_frames}",
            )
    spec = task.spec
    algorithm = make_algorithm(
        config.algorithm, spec=spec, config=config, n_frames=n_frames, seed=config.seed
    )
    return spec, task, algorithm


def _progress(console: Console | None, enabled: bool) -> Progress:
    # One text column keeps the line readable in an 80-column terminal.
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=16),
        TextColumn(
            "{task.completed:,.0f}/{task.total:,.0f} evals {task.fields[rate]:,.0f}/s"
            " | cov {task.fields[coverage]:.3f} areas {task.fields[areas]}"
            " best {task.fields[best]:.3f} {task.fields[extra]}"
        ),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


def run(
    config: RunConfig,
    *,
    progress: bool = True,
    console: Console | None = None,
    on_batch: Callable[[int, Algorithm], None] | None = None,
    task: Task | None = None,
) -> RunResult:
    """Run ``config`` to the end of its budget and write its run directory.

    Args:
        config: a validated config.
        progress: show a live progress bar.
        console: where the progress bar goes (default: stderr).
        on_batch: called after every batch with ``(evaluations_done, algorithm)``.
        task: a task built by the caller (e.g. a :class:`~serendip.tasks.gym.GymTask`
            over an environment factory), named ``config.task``; default: built
            from the config.
    """
    # Build first: a task or algorithm that cannot be built leaves no run directory.
    spec, task, algorithm = build(config, task)
    run_dir = prepare_run_dir(config)
    write_text(run_dir / "config.yaml", config.to_yaml())
    log = EvaluationLogWriter(run_dir / LOG_NAME)
    live = LiveMetrics(spec)
    started = time.perf_counter()
    done = batches = 0
    with _progress(console or Console(stderr=True), progress) as bar:
        bar_task = bar.add_task(
            config.algorithm,
            total=config.budget,
            coverage=0.0,
            areas="0/0",
            best=0.0,
            rate=0.0,
            extra="",
        )
        try:
            while done < config.budget:
                request = algorithm.ask(config.budget - done)
                n = len(request.genomes)
                if n == 0:
                    raise RuntimeError(f"algorithm {config.algorithm!r} asked for no evaluation")
                indices = np.arange(done, done + n, dtype=np.int64)
                seeds = episode_seeds(config.seed, indices)
                batch = task.evaluate(request.genomes, episode_seeds=seeds)
                algorithm.tell(request, batch, indices)
                log.append(
                    indices=indices,
                    process=request.process,
                    generation=batches,
                    rewards=batch.rewards,
                    reward_areas=batch.reward_areas,
                    ground_truth=batch.descriptors,
                    emitter_area=request.target_area,
                )
                _save_artifacts(run_dir, algorithm)
                is_explore = np.full(n, request.process == EXPLORE)
                live.update(is_explore, batch.descriptors, batch.rewards, batch.reward_areas)
                done += n
                batches += 1
                bar.update(
                    bar_task,
                    completed=done,
                    coverage=live.coverage,
                    areas=f"{live.reward_areas_found}/{len(spec.reward_areas)}",
                    best=live.best_reward,
                    rate=done / max(time.perf_counter() - started, 1e-9),
                    extra=_status_text(algorithm.status()),
                )
                if on_batch is not None:
                    on_batch(done, algorithm)
        finally:
            # Keep every evaluation made so far readable, even after Ctrl-C or a crash.
            log.flush()
            task.close()
    wall_seconds = time.perf_counter() - started
    summary = write_results(run_dir, config, spec, algorithm, wall_seconds=wall_seconds)
    arrays, data = algorithm.state_dict()
    write_arrays(run_dir / "checkpoint" / "state.npz", arrays)
    write_json(
        run_dir / "checkpoint" / "state.json",
        {"evaluations": done, "batches": batches, "log_parts": log.next_part, "algorithm": data},
    )
    return RunResult(path=run_dir, summary=summary, algorithm=algorithm)


def _status_text(status: dict[str, float | int]) -> str:
    parts = []
    if "emitters" in status:
        parts.append(f"emitters {status['emitters']}+{status['candidates']}c")
        parts.append(f"explore {status['explore_share']:.0%}")
    if "trainings" in status:
        parts.append(f"AE x{status['trainings']}")
    return " ".join(parts)


def _save_artifacts(run_dir: Path, algorithm: Algorithm) -> None:
    """Autoencoder weights after every training, and the training reports."""
    for event in algorithm.pop_events():
        if event["kind"] != "training":
            continue
        report = event["report"]
        directory = run_dir / "autoencoder"
        directory.mkdir(exist_ok=True)
        algorithm.space.save_weights(directory / f"training-{report.training:03d}.safetensors")  # type: ignore[attr-defined]
        line = json.dumps({"evaluations": event["evaluations"], **dataclasses.asdict(report)})
        with open(directory / "trainings.jsonl", "a") as handle:
            handle.write(line + "\n")


def write_results(
    run_dir: Path,
    config: RunConfig,
    spec: TaskSpec,
    algorithm: Algorithm,
    *,
    wall_seconds: float,
) -> dict[str, Any]:
    """Metrics (recomputed from the log on disk), archives and ``summary.json``."""
    evaluations = read_evaluations(run_dir)
    write_table(
        run_dir / "metrics.parquet",
        pa.Table.from_pandas(
            metric_curves(evaluations, spec, every=config.metrics_every), preserve_index=False
        ),
    )
    columns = algorithm.archive_columns()
    for name, agents in algorithm.archives().items():
        table = agents_table(agents, columns.get(name))
        write_table(run_dir / "archives" / f"{name}.parquet", table)
    records = algorithm.emitter_records()
    if records:
        write_table(run_dir / "emitters.parquet", pa.Table.from_pylist(records))
    figures = summary_metrics(evaluations, spec)
    summary = {
        "task": config.task,
        "algorithm": config.algorithm,
        "seed": config.seed,
        "budget": config.budget,
        **figures,
        "wall_seconds": round(wall_seconds, 3),
        "evaluations_per_second": round(len(evaluations) / max(wall_seconds, 1e-9), 1),
    }
    write_json(run_dir / "summary.json", summary)
    return summary
