"""A run directory opened for analysis: what ``compare`` and ``report`` read.

A finished run has its ``summary.json`` and ``metrics.parquet``; an interrupted
one has only its config and evaluation log, so both are recomputed here from the
log with :mod:`serendip.metrics` (the same functions the runner uses,
so the values agree with what a finished run would have written).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from serendip.archives import Agents
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.evaluation_log import LogError
from serendip.experiment.run_directory import Run, verify_checksums
from serendip.metrics import EXPLORE, metric_curves, summary_metrics
from serendip.tasks import TaskError, TaskSpec, task_spec

RUN_FIELD = "RUN_DIR"
"""Field named in the one-line errors about run directories."""

ARCHIVE_NAMES = ("population", "novelty_archive", "reward_archive", "elites")
_EMITTER = re.compile(r"emitter-(\d+)")


def holds_config(path: Path) -> bool:
    """Whether ``path`` is a run directory (it holds the run's ``config.yaml``)."""
    return (path / "config.yaml").is_file()


def find_run_dirs(paths: Iterable[str | Path]) -> list[tuple[Path, bool]]:
    """Run directories named by ``paths``: each one a run, or a folder of runs (a sweep).

    A folder that is not a run is searched recursively for runs (not below a
    run), in sorted order, so a sweep laid out as ``sweep/<task>/<run>`` works too.

    Returns:
        ``(run directory, named)`` pairs, each directory once, ``named`` being
        True for a directory given itself rather than found in a folder.

    Raises:
        ConfigError: a path does not exist, or holds no run at all.
    """
    found: dict[Path, bool] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise ConfigError(RUN_FIELD, f"{str(path)!r} does not exist")
        if holds_config(path):
            found[path.resolve()] = True
            continue
        if not path.is_dir():
            raise ConfigError(RUN_FIELD, f"{str(path)!r} is not a run directory")
        below = _runs_below(path)
        if not below:
            raise ConfigError(
                RUN_FIELD,
                f"{str(path)!r} is not a run directory (no config.yaml) and holds none",
            )
        for run in below:
            found.setdefault(run.resolve(), False)
    return list(found.items())


MAX_DEPTH = 4
"""Folders below a given path searched for runs (``sweep/<task>/<run>`` is depth 2)."""
MAX_FOLDERS = 10_000
"""Folders searched at most: a path like ``/`` or ``/proc/self`` is refused, not walked."""


def _runs_below(directory: Path) -> list[Path]:
    """Run directories below ``directory``, depth first in name order, not below a run.

    Symbolic links are not followed, and the search stops at :data:`MAX_DEPTH`
    levels and :data:`MAX_FOLDERS` folders.
    """
    runs: list[Path] = []
    visited = 0

    def walk(folder: Path, depth: int) -> None:
        nonlocal visited
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:  # unreadable: nothing of ours is there
            return
        for child in children:
            visited += 1
            if visited > MAX_FOLDERS:
                raise ConfigError(
                    RUN_FIELD,
                    f"{str(directory)!r} holds more than {MAX_FOLDERS:,} folders; "
                    "name the run directories or their sweep folder",
                )
            if holds_config(child):
                runs.append(child)
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    walk(directory, 1)
    return runs


@functools.lru_cache(maxsize=32)
def _cached_spec(task: str, arguments: str) -> TaskSpec | None:
    """``task_spec`` of a task and its config's ``task_arguments`` (as JSON: hashable)."""
    try:
        return task_spec(task, **json.loads(arguments))
    except (KeyError, TaskError, ImportError, ValueError):
        # A task this installation cannot build (an unregistered Gymnasium id, a
        # missing extra): analysis then works from the files alone.
        return None


@dataclass
class RunData:
    """One run directory read for analysis; everything loads lazily.

    Attributes:
        path: the run directory.
        run: the underlying :class:`~serendip.experiment.run_directory.Run`.
    """

    path: Path
    run: Run

    @cached_property
    def config(self) -> RunConfig:
        return self.run.config

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def algorithm(self) -> str:
        return self.config.algorithm

    @property
    def seed(self) -> int:
        return self.config.seed

    @cached_property
    def spec(self) -> TaskSpec | None:
        """The task's static description, or None when this installation cannot build it."""
        arguments = json.dumps(self.config.task_arguments(), sort_keys=True)
        return _cached_spec(self.config.task, arguments)

    @property
    def finished(self) -> bool:
        """Whether the run wrote its final files (an interrupted run has none)."""
        return (self.path / "summary.json").is_file()

    @cached_property
    def evaluations(self) -> pd.DataFrame:
        return self.run.evaluations

    @cached_property
    def n_areas(self) -> int:
        if self.spec is not None:
            return len(self.spec.reward_areas)
        return int(self.summary["reward_areas_total"])

    @cached_property
    def summary(self) -> dict[str, Any]:
        """``summary.json``, or the same figures recomputed from the log of an interrupted run."""
        if self.finished:
            return self.run.summary
        spec = self._required_spec("recompute the metrics of an interrupted run")
        return {
            "task": self.task,
            "algorithm": self.algorithm,
            "seed": self.seed,
            "budget": self.config.budget,
            **summary_metrics(self.evaluations, spec),
        }

    @cached_property
    def curves(self) -> pd.DataFrame:
        """Metric curves (``metrics.parquet``, or recomputed from the log)."""
        path = self.path / "metrics.parquet"
        if path.is_file():
            return pd.read_parquet(path)
        spec = self._required_spec("recompute the metric curves of an interrupted run")
        return metric_curves(self.evaluations, spec, every=self.config.metrics_every)

    @cached_property
    def emitters(self) -> pd.DataFrame | None:
        """The emitter log (``emitters.parquet``), None when the run wrote none."""
        path = self.path / "emitters.parquet"
        return pd.read_parquet(path) if path.is_file() else None

    @cached_property
    def trainings(self) -> list[dict[str, Any]]:
        """The autoencoder's training reports, one per training (empty without any)."""
        path = self.path / "autoencoder" / "trainings.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @cached_property
    def archives(self) -> dict[str, Agents]:
        """The final archives present on disk (none for an interrupted run)."""
        names = [n for n in ARCHIVE_NAMES if n in self.run.archive_names]
        return {name: self.run.archive(name) for name in names}

    def final_agents(self) -> Agents | None:
        """The final archives pooled, each agent once (by evaluation index); None if none."""
        parts = [a for a in self.archives.values() if len(a)]
        if not parts:
            return None
        pooled = Agents.concat(*(_without_frames(a) for a in parts))
        _, first = np.unique(pooled.indices, return_index=True)
        return pooled.take(np.sort(first))

    @property
    def uses_learned_space(self) -> bool:
        """Whether the archives' behavior descriptors differ from the ground truth."""
        agents = self.final_agents()
        if agents is None or len(agents) == 0:
            return False
        d, g = agents.descriptors, agents.ground_truth
        return bool(d.shape != g.shape or not np.allclose(d, g, equal_nan=True))

    @cached_property
    def config_text(self) -> str:
        return (self.path / "config.yaml").read_text()

    def exploration_rows(self) -> pd.DataFrame:
        """Log rows of exploration agents (initial population and offspring)."""
        log = self.evaluations
        return log[log["process"] == EXPLORE]

    def emitter_ids(self) -> np.ndarray:
        """Emitter id of each log row, -1 for exploration."""
        process = self.evaluations["process"].astype(str)
        ids = process.str.extract(_EMITTER, expand=False)
        return pd.to_numeric(ids, errors="coerce").fillna(-1).to_numpy(np.int64)

    def _required_spec(self, what: str) -> TaskSpec:
        if self.spec is None:
            raise ConfigError(
                "task", f"cannot {what}: task {self.task!r} cannot be built in this installation"
            )
        return self.spec


def _without_frames(agents: Agents) -> Agents:
    return dataclasses.replace(agents, frames=np.zeros((len(agents), 0, 64, 64, 3), dtype=np.uint8))


def open_run(path: str | Path) -> RunData:
    """Open a run directory for analysis, checking it can be read.

    Raises:
        ConfigError: one line, naming ``RUN_DIR``: not a run directory, an
            unreadable config, or no evaluation logged yet.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(RUN_FIELD, f"{str(path)!r} does not exist")
    if not path.is_dir():
        raise ConfigError(RUN_FIELD, f"{str(path)!r} is not a run directory")
    if not (path / "config.yaml").is_file():
        raise ConfigError(RUN_FIELD, f"{str(path)!r} is not a run directory (no config.yaml)")
    data = RunData(path=path, run=Run(path))
    try:
        data.config  # noqa: B018 (validate now, for a clear error)
    except yaml.YAMLError as error:
        raise ConfigError(RUN_FIELD, f"{str(path / 'config.yaml')!r} is not valid YAML") from error
    try:
        n = len(data.evaluations)
    except FileNotFoundError:
        n = 0
    except LogError as error:  # a damaged part: named, never read as wrong values
        raise ConfigError(RUN_FIELD, str(error)) from None
    if n == 0:
        raise ConfigError(RUN_FIELD, f"{str(path)!r} holds no evaluation yet")
    verify_checksums(path)
    for name in ("summary", "curves", "emitters", "trainings", "archives"):
        try:
            getattr(data, name)  # read now: a damaged file is named here, not mid-figure
        except ConfigError:
            raise
        except Exception as error:  # any damage, reported on one line
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError(
                RUN_FIELD, f"{str(path)!r}: its {name} cannot be read ({first})"
            ) from None
    return data


def open_runs(paths: Sequence[str | Path], skipped: list[str] | None = None) -> list[RunData]:
    """Every run named by ``paths`` (runs or folders of runs), opened.

    A run found in a folder that has no evaluation yet (a sweep still running)
    is left out, with a line appended to ``skipped``; a run named directly must
    be readable.

    Raises:
        ConfigError: see :func:`find_run_dirs` and :func:`open_run`.
    """
    runs = []
    failures: list[ConfigError] = []
    for path, _named in find_run_dirs(paths):
        try:
            runs.append(open_run(path))
        except ConfigError as error:
            failures.append(error)
            if skipped is not None:
                skipped.append(f"skipped {str(path)!r}: {error}")
    if not runs and failures:
        raise failures[0]  # nothing readable: the first reason is the answer
    return runs
