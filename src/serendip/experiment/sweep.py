"""Sweeps: algorithms x tasks x seeds from one YAML file, run in parallel.

``serendip sweep SWEEP.yaml [--backend processes|ray] [--jobs N]`` reads a file
such as::

    out: runs/sweep-arm          # one subdirectory per run: <task>-<algorithm>-seed<seed>
    tasks: [arm, point]          # an entry may carry its own overrides:
                                 #   - gym:CartPole-v1: {reward_threshold: 200}
    algorithms: [stax, serene, ns]
    seeds: [0, 1, 2, 3, 4]       # or a count: 5 means seeds 0..4
    budget: 20000                # optional: the run config's default otherwise
    config: {learned_space: {max_epochs: 10}}   # shared overrides of every run's config
    jobs: 2                      # runs at once (default: one per core)
    backend: processes           # or ray (flags override both)
    ray_address: null            # ray: null starts a local cluster; "auto" or "host:port"

Every run's config is built and validated (:meth:`RunConfig.from_dict`) before
anything starts, so a bad field is one line naming it (``config.k: ...``,
``tasks: ...``) and exit code 2.

Each run executes in its own spawned process (``processes``) or Ray task
(``ray``; with a cluster address, ``out`` must be on a filesystem the nodes
share), evaluates in process and uses one torch and numba thread, so parallel
runs do not oversubscribe the cores (a gym run steps its environments in its
own process: ``env_processes`` 1 unless the config sets it); a run's seed fixes
its results wherever it runs. Run directories already there decide what happens:

| the run directory holds | the sweep |
|---|---|
| ``summary.json`` | skips the run (status ``skipped``) |
| ``config.yaml`` but no ``summary.json`` | resumes it from its last checkpoint (``resumed``) |
| nothing (or does not exist) | runs it (``done``) |

A run that holds another config (another budget, say) is not touched and is
reported as failed. A run that fails does not stop the others: the sweep reports
it and exits with code 1. At the end the sweep prints a table of results and
writes ``<out>/sweep.json`` (one entry per run: task, algorithm, seed, path,
status, error, figures).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from rich.table import Table

from serendip.algorithms import uses_frames
from serendip.evaluation import THREAD_VARIABLES, default_workers
from serendip.experiment.config import (
    MAX_PROCESSES,
    MAX_SEED,
    SECTION_RULES,
    ConfigError,
    RunConfig,
    _check,
    _integer,
    import_plugins,
    read_yaml,
)
from serendip.experiment.storage import write_json
from serendip.tasks import is_gym

SWEEP_BACKENDS = ("processes", "ray")
SWEEP_FIELDS = (
    "out",
    "tasks",
    "algorithms",
    "seeds",
    "budget",
    "config",
    "jobs",
    "backend",
    "ray_address",
)
# Set by the sweep, per run: not allowed in the shared ``config`` section.
_RUN_FIELDS = {
    "task": "tasks",
    "algorithm": "algorithms",
    "seed": "seeds",
    "budget": "budget",
    "out": "out",
}
# A sweep's runs evaluate in process: the sweep itself spreads the runs.
_EXECUTION_FIELDS = ("backend", "evaluation")
STATUSES = ("done", "skipped", "resumed", "failed", "interrupted")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: running runs were checkpointed; run the sweep again to resume."""

    def __init__(self, outcomes: list[RunOutcome]) -> None:
        super().__init__("sweep interrupted")
        self.outcomes = outcomes


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its coordinates, directory and validated config."""

    task: str
    algorithm: str
    seed: int
    path: Path
    config: RunConfig

    def with_seed(self, seed: int) -> SweepRun:
        """The same run with another (already validated) seed, in its own directory."""
        path = self.path.with_name(self.path.name.removesuffix(f"seed{self.seed}") + f"seed{seed}")
        config = dataclasses.replace(self.config, seed=seed, out=str(path.absolute()))
        return SweepRun(self.task, self.algorithm, seed, path, config)


@dataclass
class RunOutcome:
    """What became of one run: its status, summary (when it has one) and error."""

    run: SweepRun
    status: str
    summary: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0

    def record(self, out: Path) -> dict[str, Any]:
        """The run's entry in ``sweep.json``."""
        summary = self.summary or {}
        try:
            path = str(self.run.path.relative_to(out))
        except ValueError:
            path = str(self.run.path)
        return {
            "task": self.run.task,
            "algorithm": self.run.algorithm,
            "seed": self.run.seed,
            "path": path,
            "status": self.status,
            "error": self.error,
            "reward_areas_found": summary.get("reward_areas_found"),
            "reward_areas_total": summary.get("reward_areas_total"),
            "coverage": summary.get("coverage"),
            "wall_seconds": summary.get("wall_seconds"),
        }


MAX_RUNS = 10_000
"""Most runs one sweep holds (tasks x algorithms x seeds): its validation stays instant."""


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its runs (tasks x algorithms x seeds) and how to run them."""

    out: Path
    runs: tuple[SweepRun, ...]
    jobs: int
    backend: str = "processes"
    ray_address: str | None = None
    source: str | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, values: Any, *, source: str | None = None) -> Sweep:
        """Validate a sweep mapping; every run's config is built, so errors come first."""
        if not isinstance(values, dict):
            raise ConfigError("sweep", f"must be a mapping of {', '.join(SWEEP_FIELDS)}")
        for key in values:
            if key not in SWEEP_FIELDS:
                raise ConfigError(str(key), f"unknown field; accepted: {', '.join(SWEEP_FIELDS)}")
        out = values.get("out")
        if not isinstance(out, str | Path) or not str(out).strip():
            raise ConfigError("out", "required: the directory that holds one directory per run")
        out = _writable_directory(Path(out))
        tasks = _tasks(values.get("tasks"))
        algorithms = _names("algorithms", values.get("algorithms"))
        seeds = _seeds(values.get("seeds"), max_count=MAX_RUNS // (len(tasks) * len(algorithms)))
        shared = values.get("config") or {}
        if not isinstance(shared, dict):
            raise ConfigError("config", f"must be a mapping of run config fields; got {shared!r}")
        for key in shared:
            if key in _RUN_FIELDS:
                raise ConfigError(f"config.{key}", f"set by the sweep's {_RUN_FIELDS[key]!r}")
            if key in _EXECUTION_FIELDS:
                raise ConfigError(
                    f"config.{key}",
                    "a sweep's runs evaluate in process (the sweep spreads the runs "
                    "over processes or Ray); remove it",
                )
        budget = values.get("budget")
        jobs = values.get("jobs")
        jobs = (
            default_workers() if jobs is None else _integer("jobs", jobs, low=1, high=MAX_PROCESSES)
        )
        backend = values.get("backend", "processes")
        if backend not in SWEEP_BACKENDS:
            raise ConfigError(
                "backend", f"must be one of {', '.join(SWEEP_BACKENDS)}; got {backend!r}"
            )
        if backend == "ray" and importlib.util.find_spec("ray") is None:
            raise ConfigError("backend", 'ray needs Ray installed: pip install "serendip[ray]"')
        address = _check(
            "ray_address", SECTION_RULES["evaluation"]["ray_address"], values.get("ray_address")
        )
        runs = []
        for task, overrides in tasks:
            for algorithm in algorithms:
                # One validation per task and algorithm: seeds change nothing else.
                first = _run(out, task, overrides, algorithm, seeds[0], budget, shared)
                runs.append(first)
                runs.extend(first.with_seed(seed) for seed in seeds[1:])
        return cls(
            out=out,
            runs=tuple(runs),
            jobs=jobs,
            backend=backend,
            ray_address=address,
            source=source,
        )

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> Sweep:
        """Read a sweep file; ``overrides`` (flags: backend, jobs) win over its fields."""
        path = Path(path)
        values = read_yaml(path, "sweep")
        if not isinstance(values, dict):
            raise ConfigError(
                "sweep", f"{str(path)!r} must hold a mapping of {', '.join(SWEEP_FIELDS)}"
            )
        return cls.from_dict({**values, **(overrides or {})}, source=str(path))


def _names(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(name, f"must be a non-empty list of names; got {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(name, f"must be a list of names; got {item!r}")
    if len(set(value)) != len(value):
        raise ConfigError(name, f"lists {_first_duplicate(value)!r} twice")
    return value


def _tasks(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """Task names, each with its own overrides (``{name: {field: value}}`` entries)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError("tasks", f"must be a non-empty list of task names; got {value!r}")
    tasks = []
    for item in value:
        if isinstance(item, str):
            tasks.append((item, {}))
        elif isinstance(item, dict) and len(item) == 1:
            ((name, overrides),) = item.items()
            if not isinstance(name, str) or not isinstance(overrides, dict | None):
                raise ConfigError(
                    "tasks", f"an entry {{name: {{field: value}}}} expected; got {item!r}"
                )
            tasks.append((name, dict(overrides or {})))
        else:
            raise ConfigError(
                "tasks", f"each entry is a task name or {{name: overrides}}; got {item!r}"
            )
    names = [name for name, _ in tasks]
    if len(set(names)) != len(names):
        raise ConfigError("tasks", f"lists {_first_duplicate(names)!r} twice")
    return tasks


def _writable_directory(out: Path) -> Path:
    """``out`` if it is, or can be made, a directory the sweep can write; checked, not made."""
    try:
        if out.exists() and not out.is_dir():
            raise ConfigError("out", f"{str(out)!r} exists and is not a directory")
        record = out / "sweep.json"
        if record.exists() and not record.is_file():
            raise ConfigError("out", f"{str(record)!r} exists and is not a file")
        ancestor = out
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise ConfigError(
                "out", f"cannot create {str(out)!r}: {str(ancestor)!r} is not a directory"
            )
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise ConfigError("out", f"cannot create {str(out)!r}: {str(ancestor)!r} is read-only")
    except OSError as error:  # e.g. a name too long
        reason = error.strerror or str(error)
        raise ConfigError("out", f"cannot use {str(out)!r}: {reason}") from None
    return out


def create_out(out: Path) -> Path:
    """Create the sweep's folder, before any run starts; refused in one line if it cannot be.

    Validation only checks ``out`` (:func:`_writable_directory`); some folders pass
    every check and still cannot be made (``/proc`` accepts no new entry, even from
    root), so the sweep makes its folder first, as a run does its directory.

    Raises:
        ConfigError: ``out`` cannot be created (named ``out``, exit code 2).
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError("out", f"cannot create {str(out)!r}: {reason}") from None
    return out


def _seeds(value: Any, *, max_count: int) -> list[int]:
    if value is None:
        raise ConfigError("seeds", "required: a list of integers, or a count n for seeds 0..n-1")
    too_many = (
        f"at most {max_count:,} with these tasks and algorithms "
        f"(a sweep runs at most {MAX_RUNS:,} runs)"
    )
    if not isinstance(value, list):
        count = _integer("seeds", value, low=1)
        if count > max_count:
            raise ConfigError("seeds", f"{too_many}; got {count:,}")
        return list(range(count))
    if not value:
        raise ConfigError("seeds", "must not be empty")
    if len(value) > max_count:
        raise ConfigError("seeds", f"{too_many}; got a list of {len(value):,}")
    seeds = [_integer("seeds", seed, low=0, high=MAX_SEED) for seed in value]
    if len(set(seeds)) != len(seeds):
        raise ConfigError("seeds", f"lists {_first_duplicate(seeds)} twice")
    return seeds


def _first_duplicate(items: list[Any]) -> Any:
    seen: set[Any] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def _run(
    out: Path,
    task: str,
    overrides: dict[str, Any],
    algorithm: str,
    seed: int,
    budget: Any,
    shared: dict[str, Any],
) -> SweepRun:
    path = out / f"{task.replace(':', '-')}-{algorithm}-seed{seed}"
    for key in overrides:
        if key in _RUN_FIELDS or key in _EXECUTION_FIELDS:
            raise ConfigError(f"tasks.{task}.{key}", "cannot be set per task")
    values: dict[str, Any] = {**shared, **overrides, "task": task, "algorithm": algorithm}
    # Absolute: a Ray worker need not share the sweep's working directory.
    values.update(seed=seed, out=str(path.absolute()), backend="inprocess")
    if budget is not None:
        values["budget"] = budget
    try:
        config = RunConfig.from_dict(values)
    except ConfigError as error:
        message = str(error)[len(error.field) + 2 :]
        root = error.field.split(".")[0]
        if root in _RUN_FIELDS:
            name = _RUN_FIELDS[root]
        elif root in overrides or root not in shared:
            name = f"tasks.{task}.{error.field}"
        else:
            name = f"config.{error.field}"
        raise ConfigError(name, message) from None
    return SweepRun(task=task, algorithm=algorithm, seed=seed, path=path, config=config)


# --- executing one run (in a worker process or a Ray task) -------------------------------


def execute(config: RunConfig) -> dict[str, Any]:
    """Run, or resume, the run ``config`` describes (in ``config.out``), in this process.

    Returns ``{"status": "done" | "resumed" | "skipped", "summary": ...}``.

    The directory's state is read here, where the run executes, so a run whose
    worker died and is retried (Ray retries lost tasks) resumes instead of failing.
    """
    import_plugins(config.plugins)  # a spawned process or Ray task has not imported them
    _one_thread(config)
    if is_gym(config.task) and config.env_processes is None:
        # Runs share the cores: a gym run steps its environments in its own process.
        config = dataclasses.replace(config, env_processes=1)
    run_dir = Path(str(config.out))
    if (run_dir / "summary.json").is_file():
        return {"status": "skipped", "summary": json.loads((run_dir / "summary.json").read_text())}
    if (run_dir / "config.yaml").is_file():
        from serendip.experiment.runner import resume

        return {"status": "resumed", "summary": resume(run_dir, progress=False).summary}
    from serendip.experiment.runner import run

    return {"status": "done", "summary": run(config, progress=False).summary}


def _one_thread(config: RunConfig) -> None:
    """One torch and numba thread: parallel runs must not oversubscribe the cores.

    torch is imported (and capped) only for the algorithms that train a learned space;
    a config's own ``learned_space.threads`` still wins, as in any run.
    """
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    import numba

    numba.set_num_threads(1)
    if uses_frames(config.algorithm):
        import torch

        torch.set_num_threads(1)


def _child(conn: Connection, config: RunConfig) -> None:
    """A worker process: one run, its outcome sent back on ``conn``.

    The process leaves the terminal's process group: a Ctrl-C reaches the sweep
    only, which passes exactly one interrupt on to each run (a second one would
    stop a run before its checkpoint).
    """
    os.setpgrp()
    try:
        reply: tuple[Any, ...] = ("ok", execute(config))
    except KeyboardInterrupt as error:  # Ctrl-C or SIGTERM: the run checkpointed itself
        reply = ("interrupted", f"{type(error).__name__}: {error}", "")
    except BaseException as error:  # every other failure is the run's outcome
        reply = ("error", f"{type(error).__name__}: {error}", traceback.format_exc())
    try:
        conn.send(reply)
    finally:
        conn.close()


# --- the sweep ------------------------------------------------------------------------------


def classify(item: SweepRun) -> RunOutcome | None:
    """The outcome known before running: skipped (finished), failed (another config), or None."""
    path = item.path
    if not (path / "config.yaml").is_file():
        return None
    try:
        stored = RunConfig.from_run_dir(path)
    except ConfigError as error:
        return RunOutcome(item, "failed", error=f"cannot read its config.yaml: {error}")
    different = _first_difference(stored, item.config)
    if different is not None:
        return RunOutcome(
            item,
            "failed",
            error=f"{path} holds a run of another config ({different}); "
            "remove it or choose another out",
        )
    if (path / "summary.json").is_file():
        try:
            summary = json.loads((path / "summary.json").read_text())
        except (OSError, ValueError) as error:
            return RunOutcome(item, "failed", error=f"cannot read its summary.json: {error}")
        return RunOutcome(item, "skipped", summary=summary)
    return None


def _first_difference(stored: RunConfig, planned: RunConfig) -> str | None:
    ignored = {"out", *_EXECUTION_FIELDS}
    a, b = stored.to_dict(), planned.to_dict()
    for key in a:
        if key not in ignored and a[key] != b.get(key):
            return f"{key}: {a[key]!r} there, {b.get(key)!r} in the sweep"
    return None


def run_sweep(
    sweep: Sweep,
    *,
    on_outcome: Callable[[RunOutcome, int, int], None] | None = None,
) -> list[RunOutcome]:
    """Run every run of ``sweep`` not finished yet; write ``<out>/sweep.json``.

    Args:
        on_outcome: called as each run ends with ``(outcome, number finished, total)``.

    Returns:
        One outcome per run, in the sweep's order.

    Raises:
        ConfigError: ``sweep.out`` cannot be created (nothing has started).
        SweepInterrupted: Ctrl-C; ``sweep.json`` is written first.
    """
    create_out(sweep.out)
    total = len(sweep.runs)
    outcomes: dict[int, RunOutcome] = {}

    def finish(index: int, outcome: RunOutcome) -> None:
        outcomes[index] = outcome
        if on_outcome is not None:
            on_outcome(outcome, len(outcomes), total)

    pending = []
    for index, item in enumerate(sweep.runs):
        known = classify(item)
        if known is None:
            pending.append(index)
        else:
            finish(index, known)
    try:
        if pending:
            execute_all = _execute_with_ray if sweep.backend == "ray" else _execute_with_processes
            execute_all(sweep, pending, finish)
    except KeyboardInterrupt:
        for index in pending:
            if index not in outcomes:
                outcomes[index] = RunOutcome(sweep.runs[index], "interrupted")
        ordered = [outcomes[i] for i in range(total)]
        write_sweep_json(sweep, ordered)
        raise SweepInterrupted(ordered) from None
    ordered = [outcomes[i] for i in range(total)]
    write_sweep_json(sweep, ordered)
    return ordered


def _outcome(item: SweepRun, reply: dict[str, Any], seconds: float) -> RunOutcome:
    return RunOutcome(item, reply["status"], summary=reply["summary"], seconds=seconds)


def _process_outcome(
    item: SweepRun, reply: Any, exitcode: int | None, seconds: float
) -> RunOutcome:
    """A worker process's reply (None: it died without one) as the run's outcome."""
    if reply is None:
        error = f"its process died (exit code {exitcode})"
        return RunOutcome(item, "failed", error=error, seconds=seconds)
    if reply[0] == "ok":
        return _outcome(item, reply[1], seconds)
    status = "interrupted" if reply[0] == "interrupted" else "failed"
    return RunOutcome(item, status, error=reply[1], seconds=seconds)


def _execute_with_processes(
    sweep: Sweep, pending: list[int], finish: Callable[[int, RunOutcome], None]
) -> None:
    """At most ``jobs`` spawned processes at a time, one run each; a crash fails one run."""
    context = multiprocessing.get_context("spawn")
    queue = list(pending)
    running: dict[Connection, tuple[int, Any, float]] = {}

    def collect(receiver: Connection, timeout: float | None) -> None:
        index, process, started = running.pop(receiver)
        reply = None
        if timeout is None or receiver.poll(timeout):
            try:
                reply = receiver.recv()
            except EOFError:
                reply = None
        receiver.close()
        process.join(timeout=timeout)
        if process.is_alive():  # pragma: no cover - a run that ignores its interrupt
            process.terminate()
            process.join()
        seconds = time.perf_counter() - started
        finish(index, _process_outcome(sweep.runs[index], reply, process.exitcode, seconds))

    try:
        while queue or running:
            while queue and len(running) < sweep.jobs:
                index = queue.pop(0)
                item = sweep.runs[index]
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(
                    target=_child,
                    args=(sender, item.config),
                    name=f"serendip-sweep-{item.path.name}",
                )
                process.start()
                sender.close()
                running[receiver] = (index, process, time.perf_counter())
            for receiver in wait(list(running)):
                collect(receiver, None)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        # Pass the interrupt on: each run checkpoints at its next batch, answers, exits.
        # A second Ctrl-C stops them at once.
        for _, process, _ in running.values():
            _interrupt(process)
        try:
            for receiver in list(running):
                collect(receiver, None)
        except KeyboardInterrupt:
            for _, process, _ in running.values():
                _interrupt(process)
            for receiver in list(running):
                collect(receiver, 10)
        raise


def _interrupt(process: Any) -> None:
    with contextlib.suppress(ProcessLookupError, TypeError):
        os.kill(process.pid, signal.SIGINT)


def _execute_with_ray(
    sweep: Sweep, pending: list[int], finish: Callable[[int, RunOutcome], None]
) -> None:
    """One Ray task per run (one CPU each), at most ``jobs`` in flight."""
    from serendip.evaluation.ray_actors import connect, import_ray

    ray = import_ray()
    owns = connect(sweep.ray_address, num_cpus=sweep.jobs)
    queue = list(pending)
    running: dict[Any, tuple[int, float]] = {}

    def collect(ref: Any) -> None:
        index, started = running.pop(ref)
        item = sweep.runs[index]
        try:
            reply = ray.get(ref)
        except Exception as error:  # the run raised, was cancelled, or its worker was lost
            cause = getattr(error, "cause", None) or error
            status = "interrupted" if isinstance(cause, KeyboardInterrupt) else "failed"
            message = f"{type(cause).__name__}: {cause}".splitlines()[0]
            seconds = time.perf_counter() - started
            finish(index, RunOutcome(item, status, error=message, seconds=seconds))
            return
        finish(index, _outcome(item, reply, time.perf_counter() - started))

    try:
        # A fresh worker process per run (max_calls=1): memory and thread pools are released.
        remote = ray.remote(num_cpus=1, max_calls=1)(execute)
        try:
            while queue or running:
                while queue and len(running) < sweep.jobs:
                    index = queue.pop(0)
                    running[remote.remote(sweep.runs[index].config)] = (index, time.perf_counter())
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    collect(ref)
        except KeyboardInterrupt:
            # Cancelling raises KeyboardInterrupt in each run: it checkpoints, then ends.
            for ref in running:
                ray.cancel(ref)
            ray.wait(list(running), num_returns=len(running), timeout=60)
            for ref in list(running):
                collect(ref)
            raise
    finally:
        if owns:
            ray.shutdown()


def write_sweep_json(sweep: Sweep, outcomes: list[RunOutcome]) -> Path:
    """``<out>/sweep.json``: the sweep's source and one entry per run."""
    path = sweep.out / "sweep.json"
    write_json(
        path,
        {
            "source": sweep.source,
            "backend": sweep.backend,
            "jobs": sweep.jobs,
            "runs": [outcome.record(sweep.out) for outcome in outcomes],
        },
    )
    return path


__all__ = [
    "STATUSES",
    "RunOutcome",
    "Sweep",
    "SweepInterrupted",
    "SweepRun",
    "create_out",
    "execute",
    "outcomes_table",
    "run_sweep",
    "write_sweep_json",
]


def outcomes_table(outcomes: list[RunOutcome], *, title: str = "sweep") -> Table:
    """A rich table: one row per run (task, algorithm, seed, areas, coverage, time, status)."""
    table = Table(title=title)
    for name, justify in (
        ("task", "left"),
        ("algorithm", "left"),
        ("seed", "right"),
        ("areas found", "right"),
        ("coverage", "right"),
        ("wall time", "right"),
        ("status", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    styles = {"failed": "red", "interrupted": "yellow", "skipped": "dim"}
    for outcome in outcomes:
        summary = outcome.summary or {}
        areas = (
            f"{summary['reward_areas_found']}/{summary['reward_areas_total']}" if summary else "-"
        )
        coverage = f"{summary['coverage']:.4f}" if summary else "-"
        seconds = summary.get("wall_seconds", outcome.seconds) if summary else outcome.seconds
        table.add_row(
            outcome.run.task,
            outcome.run.algorithm,
            str(outcome.run.seed),
            areas,
            coverage,
            f"{seconds:.1f} s" if seconds else "-",
            f"[{styles[outcome.status]}]{outcome.status}[/]"
            if outcome.status in styles
            else outcome.status,
        )
    return table
