"""The run directory: where a run writes, and how it is read back without pickle.

| path                         | content                                           |
|------------------------------|---------------------------------------------------|
| ``config.yaml``              | the resolved, validated config                    |
| ``summary.json``             | final figures                                     |
| ``evaluations.parquet/``     | the evaluation log, in parts                      |
| ``metrics.parquet``          | metric curves over the evaluation index           |
| ``archives/<name>.parquet``  | population, novelty archive, reward archive       |
| ``checkpoint/``              | the run state for ``serendip resume``             |
|                              | (see :mod:`serendip.experiment.checkpoint`)       |
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import yaml

from serendip.archives import Agents
from serendip.experiment.checkpoint import load_checkpoint
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.evaluation_log import LOG_NAME, read_evaluations
from serendip.experiment.storage import table_agents

RUN_MARKERS = ("config.yaml", "summary.json", LOG_NAME, "checkpoint")


def holds_run(directory: Path) -> bool:
    return any((Path(directory) / marker).exists() for marker in RUN_MARKERS)


def default_run_dir(config: RunConfig, root: Path = Path("runs")) -> Path:
    """``runs/<task>-<algorithm>-seed<seed>``, numbered ``-2``, ``-3``... when taken."""
    base = root / f"{config.task.replace(':', '-')}-{config.algorithm}-seed{config.seed}"
    candidate, number = base, 1
    while candidate.exists() and (holds_run(candidate) or any(candidate.iterdir())):
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def prepare_run_dir(config: RunConfig) -> Path:
    """Create (or accept an empty) run directory, refusing to touch an existing run.

    Raises:
        ConfigError: the directory holds a run or other files, or cannot be written.
    """
    directory = Path(config.out) if config.out is not None else default_run_dir(config)
    if directory.exists() and not directory.is_dir():
        raise ConfigError("out", f"{str(directory)!r} exists and is not a directory")
    if directory.is_dir():
        if holds_run(directory):
            raise ConfigError(
                "out",
                f"{str(directory)!r} already holds a run; choose a new directory "
                "(nothing was overwritten)",
            )
        if any(directory.iterdir()):
            raise ConfigError(
                "out", f"{str(directory)!r} is not empty; choose a new or empty directory"
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError("out", f"cannot write to {str(directory)!r}: {reason}") from None
    if not os.access(directory, os.W_OK):
        raise ConfigError("out", f"cannot write to {str(directory)!r}")
    return directory


@dataclass
class Run:
    """A run directory read back: config, summary, log, metrics and archives.

    Everything loads lazily and needs no code from the run (no pickle).
    """

    path: Path
    _archives: dict[str, Agents] = field(default_factory=dict, repr=False)

    @cached_property
    def config(self) -> RunConfig:
        return RunConfig.from_dict(yaml.safe_load((self.path / "config.yaml").read_text()))

    @cached_property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.path / "summary.json").read_text())

    @cached_property
    def evaluations(self) -> pd.DataFrame:
        return read_evaluations(self.path)

    @cached_property
    def metrics(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "metrics.parquet")

    @property
    def archive_names(self) -> list[str]:
        return sorted(p.stem for p in (self.path / "archives").glob("*.parquet"))

    def archive(self, name: str) -> Agents:
        """An archive (``population``, ``novelty_archive``, ``reward_archive``) as arrays."""
        if name not in self._archives:
            path = self.path / "archives" / f"{name}.parquet"
            if not path.exists():
                raise KeyError(
                    f"no archive {name!r}; this run has: {', '.join(self.archive_names)}"
                )
            self._archives[name] = table_agents(pq.read_table(path))
        return self._archives[name]

    def archive_frame(self, name: str) -> pd.DataFrame:
        """An archive as a data frame (genome and descriptor as array columns)."""
        return pd.read_parquet(self.path / "archives" / f"{name}.parquet")

    def state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The newest intact checkpoint: ``(arrays, json data)``."""
        arrays, data, _ = load_checkpoint(self.path)
        return arrays, data


def load_run(path: str | Path) -> Run:
    """Open a run directory for reading."""
    path = Path(path)
    if not (path / "config.yaml").exists():
        raise FileNotFoundError(f"{str(path)!r} is not a run directory (no config.yaml)")
    return Run(path)
