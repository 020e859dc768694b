"""The run loop: ask the algorithm, evaluate the batch, tell, log; then write the results.

Seeding: the algorithm derives one generator per process from the run's seed
(see :mod:`serendip.algorithms.stax`). Every episode is reset with an integer
seed that depends on the run's seed and the evaluation index only
(:func:`episode_seeds`), so a batch evaluates the same wherever and in whatever
split it is evaluated.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from serendip.algorithms import EXPLORE, Algorithm, make_algorithm
from serendip.evaluation import Evaluator, make_evaluator
from serendip.experiment.checkpoint import CHECKPOINT_DIR, CheckpointWriter
from serendip.experiment.config import (
    EPISODE_SEEDS,
    ConfigError,
    RunConfig,
    default_episode_seeds,
)
from serendip.experiment.evaluation_log import LOG_NAME, EvaluationLogWriter, read_evaluations
from serendip.experiment.resumption import DISCARDED, plan_resume
from serendip.experiment.run_directory import (
    CHECKSUMS,
    LOCK_NAME,
    RunLock,
    prepare_run_dir,
    write_checksums,
)
from serendip.experiment.search import Search
from serendip.experiment.storage import agents_table, write_json, write_table, write_text
from serendip.experiment.tensorboard import Scalars
from serendip.metrics import LiveMetrics, grid_cell_count, metric_curves, summary_metrics
from serendip.tasks import EpisodeSuccess, ReturnThreshold, Task, TaskError, TaskSpec, make_task


def episode_seeds(seed: int, indices: np.ndarray, rule: str = "per-evaluation") -> np.ndarray:
    """The reset seed of each evaluation (the config's ``episode_seeds`` rule).

    ``per-evaluation``: ``seed * 2**32 + evaluation index``, one start per
    evaluation; ``fixed``: the run's seed for every episode (the STAX papers), so
    an environment that draws its start or goal at reset gives every genome the
    same task.
    """
    indices = np.asarray(indices)
    if rule == "fixed":
        return np.full(indices.shape, seed, dtype=np.int64)
    if rule != "per-evaluation":
        raise ValueError(f"episode_seeds must be one of {', '.join(EPISODE_SEEDS)}; got {rule!r}")
    return np.int64(seed) * np.int64(2**32) + indices.astype(np.int64)


def reward_rule(spec: TaskSpec) -> dict[str, Any]:
    """How the task's episodes earn a reward, for the summary and the report."""
    area = spec.reward_areas[0] if spec.reward_areas else None
    if isinstance(area, ReturnThreshold):
        return {"reward_rule": "return-threshold", "reward_threshold": area.threshold}
    if isinstance(area, EpisodeSuccess):
        return {"reward_rule": area.rule}
    return {"reward_rule": "reward-areas"}


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
            task = make_task(config.task, n_frames=n_frames, **config.task_arguments())
        except TaskError as error:  # e.g. an unknown Gymnasium id: the config's fault
            raise ConfigError("task", str(error)) from None
    else:
        if task.spec.name != config.task:
            raise ConfigError(
                "task", f"the config names {config.task!r} but the given task is {task.spec.name!r}"
            )
        _check_given_reward(config, task.spec)
        if task.n_frames != n_frames:
            raise ConfigError(
                "frames",
                f"the given task renders {task.n_frames} frames per episode and this run "
                f"needs {n_frames}; build it with n_frames={n_frames}",
            )
    spec = task.spec
    check_costs(config, spec, n_frames)
    if config.tensorboard and importlib.util.find_spec("tensorboardX") is None:
        raise ConfigError(
            "tensorboard", "needs tensorboardX: pip install 'serendip[tensorboard]' (or false)"
        )
    algorithm = make_algorithm(
        config.algorithm, spec=spec, config=config, n_frames=n_frames, seed=config.seed
    )
    return spec, task, algorithm


def _check_given_reward(config: RunConfig, spec: TaskSpec) -> None:
    """A task built by the caller scores as its config says (when the config says)."""
    rule = reward_rule(spec)
    used = rule["reward_rule"]
    if config.reward is not None and config.reward != used:
        raise ConfigError("reward", f"the config says {config.reward}; the given task uses {used}")
    threshold = rule.get("reward_threshold")
    if config.reward_threshold is not None and config.reward_threshold != threshold:
        raise ConfigError(
            "reward_threshold",
            f"the config says {config.reward_threshold:g} but the given task's is "
            + ("none" if threshold is None else f"{threshold:g}"),
        )


FRAME_BYTES = 64 * 64 * 3
MEMORY_SHARE = 0.5
"""The largest batch may hold at most this share of the machine's memory."""


def physical_memory() -> int | None:
    """Bytes of physical memory, None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def check_costs(config: RunConfig, spec: TaskSpec, n_frames: int) -> None:
    """Refuse, before anything is written, settings whose first allocations cannot fit.

    Frames per episode are at most the horizon (a frame is taken after a step),
    and the largest batch of agents the run evaluates at once (genomes, frames)
    must fit in :data:`MEMORY_SHARE` of the machine's memory. The task's metrics
    grid is at most :data:`~serendip.archives.grid.MAX_GRID_CELLS` cells (a user
    task's ``grid_shape`` included).
    """
    grid_cell_count(spec)
    if n_frames > spec.horizon:
        raise ConfigError(
            "frames",
            f"at most the task's horizon ({spec.horizon} steps: one frame per step), "
            f"got {n_frames}",
        )
    memory = physical_memory()
    if memory is None:
        return
    search, exploitation = config.novelty_search, config.exploitation
    batches = {  # the field that sets each batch size: the population multiplies
        "novelty_search.population_size": search.population_size * search.offspring_per_parent,
        "random_search.batch_size": config.random_search.batch_size,
        "exploitation.emitter_population": exploitation.emitter_population,
    }
    name, agents = max(batches.items(), key=lambda item: item[1])
    per_agent = spec.genome_size * 8 * 4 + n_frames * FRAME_BYTES * 2
    needed = agents * per_agent
    if needed > MEMORY_SHARE * memory:
        raise ConfigError(
            name,
            f"a batch of {agents:,} agents ({spec.genome_size} genes, {n_frames} frames "
            f"each) needs about {needed / 2**30:,.1f} GiB, more than half of this "
            f"machine's {memory / 2**30:,.1f} GiB; use a smaller value",
        )


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

    The run checkpoints at chunk boundaries (``config.checkpoint_every``) and, on
    Ctrl-C or SIGTERM, at the end of the batch in flight (waiting for it at most
    :data:`STOP_WAIT_SECONDS`; then, or at a second signal, it stops at once, its last
    checkpoint as it was); :func:`resume` continues it.

    Args:
        config: a validated config.
        progress: show a live progress bar.
        console: where the progress bar goes (default: stderr).
        on_batch: called after every batch with ``(evaluations_done, algorithm)``.
        task: a task built by the caller (e.g. a :class:`~serendip.tasks.gym.GymTask`
            over an environment factory), named ``config.task``; default: built
            from the config.

    Raises:
        RunInterrupted: Ctrl-C or SIGTERM; the run is checkpointed (a KeyboardInterrupt).
        KeyboardInterrupt: stopped at once (a second signal, or the wait ran out).
    """
    # Build first: a task or algorithm that cannot be built leaves no run directory.
    spec, task, algorithm = build(config, task)
    evaluator = make_evaluator(config, task)  # e.g. a Ray cluster that does not answer
    try:
        run_dir, lock = prepare_run_dir(config)
    except BaseException:
        evaluator.close()
        raise
    try:
        write_text(run_dir / "config.yaml", config.to_yaml())
        loop = _Loop(run_dir, config, spec, task, algorithm, evaluator)
        return loop.run(progress=progress, console=console, on_batch=on_batch)
    finally:
        evaluator.close()
        lock.release()


def resume(
    run_dir: str | Path,
    *,
    progress: bool = True,
    console: Console | None = None,
    on_batch: Callable[[int, Algorithm], None] | None = None,
    task: Task | None = None,
) -> RunResult:
    """Continue an interrupted run from its newest intact checkpoint.

    The finished run is identical, bit for bit, to the same run never interrupted.
    Everything is checked before anything on disk changes (see
    :func:`~serendip.experiment.resumption.plan_resume`): the config against the
    checkpoint's copy, the checkpoint, and the evaluation log's parts against their
    checksums. Log parts written after the checkpoint and damaged newer
    checkpoints are then moved aside into ``RUN_DIR/discarded/``, never deleted. A
    run killed before its first checkpoint, with nothing logged, starts again in
    place.

    Args:
        run_dir: the run directory (it holds ``config.yaml``).
        task: the task, when the run was given one (see :func:`run`).

    Raises:
        ConfigError: ``run_dir`` is not a run directory, has finished, is in use by
            another process, its config was changed in a way its results depend
            on, or it holds logged evaluations but no checkpoint.
        CheckpointError: no checkpoint is intact, or the log is damaged.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError("run_dir", f"{str(run_dir)!r} is not a run directory (no config.yaml)")
    lock = RunLock.acquire(run_dir, field_name="run_dir")
    try:
        if (run_dir / "summary.json").is_file():
            raise ConfigError(
                "run_dir", f"{str(run_dir)!r} has finished (summary.json exists); nothing to resume"
            )
        config = RunConfig.from_run_dir(run_dir)
        plan = plan_resume(run_dir, config)  # reads and checks; changes nothing
        spec, task, algorithm = build(config, task)
        evaluator = make_evaluator(config, task)
        try:
            plan.apply()  # the first change on disk
            loop = _Loop(run_dir, config, spec, task, algorithm, evaluator)
            if plan.checkpoint is None:
                loop.start_over()
            else:
                loop.restore(*plan.checkpoint, logged=plan.logged)
            return loop.run(progress=progress, console=console, on_batch=on_batch)
        finally:
            evaluator.close()
    finally:
        lock.release()


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM after checkpointing; ``path`` is its run directory."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"interrupted; resume with: serendip resume {path}")
        self.path = path


STOP_WAIT_SECONDS = 30.0
"""After a first Ctrl-C or SIGTERM, how long the batch in flight may still take before
the run stops at once, as at a second one (the work since the last checkpoint is lost)."""


class _Stop:
    """Turns SIGINT/SIGTERM into a flag read between batches (the main thread only).

    The first signal is acknowledged at once and sets the flag: the run checkpoints
    at the end of the batch in flight and stops. That batch gets at most
    :data:`STOP_WAIT_SECONDS` (an interval timer, ``SIGALRM``); a batch still running
    then, or a second signal, stops the run at once: a ``KeyboardInterrupt`` in the
    main thread, which leaves the last checkpoint as it was. Signals after that are
    ignored while the run cleans up, so that the clean-up itself is not interrupted.
    """

    def __init__(self) -> None:
        self.requested = False
        self.stopping = False
        self._previous: dict[int, Any] = {}
        self._timer = hasattr(signal, "setitimer")

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
            if self._timer:
                self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._expired)
        return self

    def _handle(self, number: int, frame: Any) -> None:
        if self.stopping:  # cleaning up after stopping at once: let it finish
            return
        name = "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name
        if self.requested:  # a second Ctrl-C: stop now
            self._stop_now(f"{name} again: stopping at once")
        self.requested = True
        wait = STOP_WAIT_SECONDS
        if self._timer and signal.SIGALRM in self._previous:
            signal.setitimer(signal.ITIMER_REAL, max(wait, 0.001))
        _say(
            f"{name}: checkpointing after the batch in flight, waiting at most {wait:g} s "
            "for it (Ctrl-C again stops at once, losing the work since the last checkpoint)"
        )

    def _expired(self, number: int, frame: Any) -> None:
        if self.requested and not self.stopping:
            self._stop_now(
                f"the batch in flight did not end within {STOP_WAIT_SECONDS:g} s: stopping "
                "at once (the work since the last checkpoint is lost)"
            )

    def _stop_now(self, message: str) -> None:
        self.disarm()
        self.stopping = True
        _say(message)
        raise KeyboardInterrupt

    def disarm(self) -> None:
        """Cancel the bound on the batch in flight (it has ended)."""
        if self._timer and signal.SIGALRM in self._previous:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def __exit__(self, *exc: object) -> None:
        self.disarm()
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _say(message: str) -> None:
    """One line on stderr, at once (the progress bar may hold the terminal)."""
    sys.stderr.write(f"\nserendip: {message}\n")
    sys.stderr.flush()


class _Loop:
    """One run's loop state: what a checkpoint saves besides the algorithm."""

    def __init__(
        self,
        run_dir: Path,
        config: RunConfig,
        spec: TaskSpec,
        task: Task,
        algorithm: Algorithm,
        evaluator: Evaluator,
    ) -> None:
        self.run_dir, self.config, self.spec = run_dir, config, spec
        self.task, self.algorithm, self.evaluator = task, algorithm, evaluator
        self.log = EvaluationLogWriter(run_dir / LOG_NAME)
        self.checkpoints = CheckpointWriter(run_dir)
        self.live = LiveMetrics(spec)
        self.done = self.batches = self.last_checkpoint = 0
        # The algorithm is driven through the ask/tell front users drive, which keeps
        # the evaluation indices: one code path.
        self.search = Search.around(algorithm, config)
        self.seconds_before = 0.0  # wall time of earlier sessions of this run
        self.checkpoint_seconds = 0.0  # spent checkpointing in this session
        self.live_watched = True  # whether anyone reads self.live (set by run)
        self.last_checkpoint_cost = 0.0
        self.scalars: Scalars | None = None
        if config.tensorboard:
            self.scalars = Scalars(run_dir / "tensorboard", every=config.metrics_every)

    def start_over(self) -> None:
        """Clear what a run killed before its first checkpoint wrote (config.yaml stays).

        The run directory belongs to the run (it was empty or new when the run
        started), so everything but the config goes, whichever part wrote it.
        """
        for path in self.run_dir.iterdir():
            if path.name in ("config.yaml", LOCK_NAME, DISCARDED):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self.log = EvaluationLogWriter(self.run_dir / LOG_NAME)
        self.checkpoints = CheckpointWriter(self.run_dir)

    def restore(
        self,
        arrays: dict[str, np.ndarray],
        data: dict[str, Any],
        stored: dict[str, set[int]],
        *,
        logged: pd.DataFrame,
    ) -> None:
        """Continue from a checkpoint that :func:`plan_resume` checked against ``logged``."""
        loop = data["loop"]
        self.algorithm.load_state_dict(arrays, data["algorithm"])
        self.algorithm.restore_artifacts(self.run_dir)
        self.done = self.last_checkpoint = int(loop["evaluations"])
        self.search.evaluations = self.done
        self.batches = int(loop["batches"])
        self.seconds_before = float(loop["wall_seconds"])
        self.log = EvaluationLogWriter(self.run_dir / LOG_NAME, first_part=int(loop["log_parts"]))
        self.log.restore(arrays)
        self.checkpoints = CheckpointWriter.resuming(self.run_dir, data, stored)
        gt = logged[[f"gt_{j}" for j in range(self.spec.descriptor_size)]].to_numpy()
        self.live.update(
            logged["process"].to_numpy() == EXPLORE,
            gt,
            logged["reward"].to_numpy(),
            logged["reward_area"].to_numpy(),
        )

    def checkpoint(self, wall_seconds: float) -> None:
        started = time.perf_counter()
        arrays, data = self.algorithm.state_dict()
        pending = self.log.pending()
        overlap = set(arrays) & set(pending)
        if overlap:
            raise RuntimeError(f"algorithm state arrays clash with the log's: {sorted(overlap)}")
        loop = {
            "evaluations": self.done,
            "batches": self.batches,
            "log_parts": self.log.next_part,
            "wall_seconds": wall_seconds,
            "serendip": _version(),
        }
        state = {"loop": loop, "algorithm": data, "config": self.config.to_dict()}
        self.checkpoints.save(self.done, {**arrays, **pending}, state)
        self.last_checkpoint = self.done
        self.last_checkpoint_cost = time.perf_counter() - started
        self.checkpoint_seconds += self.last_checkpoint_cost

    def affordable(self, session_seconds: float) -> bool:
        """Whether one more checkpoint keeps their cost within ``checkpoint_share`` of the time.

        The next one is assumed to cost what the last one did; the first is always
        taken. The k-th of a session thus comes once ``k`` checkpoints fit in the
        share, after ``k * cost / checkpoint_share`` seconds. A kill loses at most the
        work since the last checkpoint taken: about ``cost / checkpoint_share`` (50
        times a checkpoint's cost at the default 2 %) beyond ``checkpoint_every``
        evaluations, except before the second, which can come up to twice that
        after the session began (docs/reliability.md, "What a kill can lose").
        """
        share = self.config.checkpoint_share
        if share >= 1:  # documented as "take every one", however slow the disk
            return True
        return self.checkpoint_seconds + self.last_checkpoint_cost <= share * session_seconds

    def run(
        self,
        *,
        progress: bool,
        console: Console | None,
        on_batch: Callable[[int, Algorithm], None] | None,
    ) -> RunResult:
        config, spec, algorithm, evaluator = self.config, self.spec, self.algorithm, self.evaluator
        started = time.perf_counter()
        # Live figures feed the progress bar and TensorBoard only: without either, nobody
        # reads them (the run's metrics come from the log), so they are not kept up.
        self.live_watched = progress or self.scalars is not None

        def elapsed() -> float:
            return self.seconds_before + time.perf_counter() - started

        with _progress(console or Console(stderr=True), progress) as bar, _Stop() as stop:
            bar_task = bar.add_task(
                config.algorithm,
                total=config.budget,
                completed=self.done,
                coverage=self.live.coverage,
                areas=f"{self.live.reward_areas_found}/{len(spec.reward_areas)}",
                best=self.live.best_reward,
                rate=0.0,
                extra="",
            )
            resumed_at = self.done
            stopped_at_once = False
            try:
                while self.done < config.budget:
                    self._batch(evaluator)
                    if progress:
                        bar.update(
                            bar_task,
                            completed=self.done,
                            coverage=self.live.coverage,
                            areas=f"{self.live.reward_areas_found}/{len(spec.reward_areas)}",
                            best=self.live.best_reward,
                            rate=(self.done - resumed_at)
                            / max(time.perf_counter() - started, 1e-9),
                            extra=algorithm.status_text(),
                        )
                    if on_batch is not None:
                        on_batch(self.done, algorithm)
                    if stop.requested:
                        stop.disarm()  # the batch in flight has ended: checkpoint it
                        self.checkpoint(elapsed())
                        raise RunInterrupted(self.run_dir)
                    every = config.checkpoint_every
                    if (
                        every
                        and self.done < config.budget
                        and self.done - self.last_checkpoint >= every
                        and algorithm.checkpoint_ready()
                        and self.affordable(time.perf_counter() - started)
                    ):
                        self.checkpoint(elapsed())
            except RunInterrupted:
                raise
            except KeyboardInterrupt:  # a second Ctrl-C, or the first one's wait ran out
                stopped_at_once = True
                raise
            finally:
                # Keep every evaluation made so far readable, even after a crash.
                self.log.flush()
                busy = getattr(evaluator, "busy", False)  # a batch that timed out or was cut
                if stopped_at_once or busy:
                    # Workers may be inside a batch nobody waits for: stop them now.
                    getattr(evaluator, "abort", evaluator.close)()
                else:
                    evaluator.close()
                if not busy:  # a stuck batch may still be inside the task
                    self.task.close()
                if self.scalars is not None:
                    self.scalars.close()
        wall_seconds = elapsed()
        summary = write_results(self.run_dir, config, spec, algorithm, wall_seconds=wall_seconds)
        self.checkpoint(wall_seconds)
        return RunResult(path=self.run_dir, summary=summary, algorithm=algorithm)

    def _batch(self, evaluator: Any) -> None:
        """Ask, evaluate, tell and log one batch (through the same ``Search`` users drive)."""
        config, algorithm = self.config, self.algorithm
        search = self.search
        genomes = search.ask()
        request = search.pending
        assert request is not None
        n = len(genomes)
        rule = config.episode_seeds or default_episode_seeds(config.task)
        seeds = episode_seeds(config.seed, np.arange(self.done, self.done + n), rule)
        batch = evaluator.evaluate(request.genomes, episode_seeds=seeds)
        indices = search.tell_batch(batch)
        self.log.append(
            indices=indices,
            process=request.process,
            generation=self.batches,
            rewards=batch.rewards,
            reward_areas=batch.reward_areas,
            ground_truth=batch.descriptors,
            emitter_area=request.target_area,
            extras=batch.extras,
        )
        _save_artifacts(self.run_dir, algorithm, self.scalars)
        if self.live_watched:
            is_explore = np.full(n, request.process == EXPLORE)
            self.live.update(is_explore, batch.descriptors, batch.rewards, batch.reward_areas)
        self.done += n
        self.batches += 1
        if self.scalars is not None:
            self.scalars.batch(self.done, self.live, algorithm.status())


@functools.cache
def _version() -> str:
    """The installed serendip's version (written into checkpoints; read once: 2.5 ms a call)."""
    try:
        return importlib.metadata.version("serendip")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _save_artifacts(run_dir: Path, algorithm: Algorithm, scalars: Scalars | None) -> None:
    """What the algorithm's parts write as the run goes (e.g. weights after each training)."""
    algorithm.save_artifacts(run_dir)
    for event in algorithm.pop_events():
        if scalars is not None and event.get("kind") == "training":
            scalars.training(event["evaluations"], event["report"])


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
    for name, rows in algorithm.tables().items():
        if rows:
            write_table(run_dir / f"{name}.parquet", pa.Table.from_pylist(rows))
    figures = summary_metrics(evaluations, spec)
    summary = {
        "task": config.task,
        "algorithm": config.algorithm,
        "seed": config.seed,
        "budget": config.budget,
        "episode_seeds": config.episode_seeds,
        **reward_rule(spec),
        **figures,
        **algorithm.summary(),
        "wall_seconds": round(wall_seconds, 3),
        "evaluations_per_second": round(len(evaluations) / max(wall_seconds, 1e-9), 1),
    }
    write_json(run_dir / "summary.json", summary)
    write_checksums(run_dir, final_files(run_dir))
    return summary


def final_files(run_dir: Path) -> list[Path]:
    """The files a finished run leaves that no other record checks.

    Everything but the config (checked against the checkpoint), the checkpoint
    and the evaluation log (their own checksums), and what is not the run's
    result (TensorBoard scalars, the lock, files moved aside, a report).
    """
    skipped = {"config.yaml", CHECKPOINT_DIR, LOG_NAME, "tensorboard", LOCK_NAME, DISCARDED}
    skipped |= {"report", CHECKSUMS}
    return sorted(
        path
        for path in run_dir.rglob("*")
        if path.is_file() and path.relative_to(run_dir).parts[0] not in skipped
    )
