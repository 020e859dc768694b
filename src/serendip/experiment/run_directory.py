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

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from serendip.archives import Agents
from serendip.experiment.checkpoint import load_checkpoint
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.evaluation_log import LOG_NAME, read_evaluations
from serendip.experiment.storage import table_agents, write_json

RUN_MARKERS = ("config.yaml", "summary.json", LOG_NAME, "checkpoint")
LOCK_NAME = ".serendip.lock"
"""The lock file of a run directory: held (``flock``) by the one process running it."""


def holds_run(directory: Path) -> bool:
    return any((Path(directory) / marker).exists() for marker in RUN_MARKERS)


def _is_empty(directory: Path) -> bool:
    """No entry but (perhaps) the lock file a process that claimed it left behind."""
    return all(entry.name == LOCK_NAME for entry in directory.iterdir())


class RunLock:
    """An exclusive claim on a run directory, for as long as one process runs it.

    It is an advisory ``flock`` on :data:`LOCK_NAME` inside the directory: taking it
    is atomic (two processes released together cannot both hold it), and the
    operating system drops it when the process ends, however it ends, so a killed
    run never leaves its directory claimed (its lock file stays, unlocked and
    harmless). A clean release removes the file. Where ``fcntl`` does not exist
    (Windows) the claim is not enforced.
    """

    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def acquire(cls, directory: Path, *, field_name: str) -> RunLock:
        """Claim ``directory`` or raise a :class:`ConfigError` naming ``field_name``."""
        path = Path(directory) / LOCK_NAME
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            fcntl = None
        for _ in range(100):
            try:
                handle = open(path, "a+")  # noqa: SIM115 - held open for the run's life
            except OSError as error:
                reason = error.strerror or str(error)
                raise ConfigError(
                    field_name, f"cannot write to {str(directory)!r}: {reason}"
                ) from None
            if fcntl is None:  # pragma: no cover
                return cls(path, handle)
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                owner = handle.read().strip()[:20] or "unknown"
                handle.close()
                raise ConfigError(
                    field_name,
                    f"{str(directory)!r} is in use by another serendip process (pid {owner}); "
                    "wait for it to end or choose another directory",
                ) from None
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(handle.fileno()).st_ino:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                return cls(path, handle)
            handle.close()  # the holder released (and removed) it meanwhile: try again
        raise ConfigError(field_name, f"could not claim {str(directory)!r}")  # pragma: no cover

    def release(self) -> None:
        """Give the claim up: remove the lock file, then close it (which drops the lock)."""
        if self._handle.closed:
            return
        with contextlib.suppress(OSError):  # e.g. a directory made read-only meanwhile
            self.path.unlink(missing_ok=True)
        self._handle.close()


CHECKSUMS = "checksums.json"
"""SHA-256 of the files a run writes when it ends (summary, metrics, archives, tables)."""


def write_checksums(run_dir: Path, paths: list[Path]) -> None:
    """Record the SHA-256 of ``paths`` (files of ``run_dir``) in :data:`CHECKSUMS`."""
    run_dir = Path(run_dir)
    entries = {
        str(path.relative_to(run_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in paths
        if path.is_file()
    }
    write_json(run_dir / CHECKSUMS, {"format": 1, "files": entries})


def verify_checksums(run_dir: Path) -> None:
    """Raise :class:`ConfigError` naming the first file that differs from :data:`CHECKSUMS`.

    A run without the record (interrupted, or written before it existed) passes,
    and so does a file that is gone (readers recompute the summary and curves of a
    run from its log).
    """
    record = Path(run_dir) / CHECKSUMS
    if not record.exists():
        return
    try:
        files = json.loads(record.read_text())["files"]
        items = list(files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError("RUN_DIR", f"{str(record)!r} is unreadable ({error})") from None
    for name, digest in items:
        path = Path(run_dir) / str(name)
        if not path.exists():  # removed, not damaged: readers recompute what is missing
            continue
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as error:
            raise ConfigError(
                "RUN_DIR", f"{str(path)!r} cannot be read ({error.strerror})"
            ) from None
        if actual != digest:
            raise ConfigError(
                "RUN_DIR", f"{str(path)!r} is damaged (its checksum differs from {CHECKSUMS}'s)"
            )


def default_run_dir(config: RunConfig, root: Path = Path("runs")) -> Path:
    """``runs/<task>-<algorithm>-seed<seed>``, numbered ``-2``, ``-3``... when taken."""
    base = root / f"{config.task.replace(':', '-')}-{config.algorithm}-seed{config.seed}"
    candidate, number = base, 1
    while candidate.exists() and (holds_run(candidate) or not _is_empty(candidate)):
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def prepare_run_dir(config: RunConfig) -> tuple[Path, RunLock]:
    """Create (or accept an empty) run directory and claim it, refusing to touch another run.

    The claim (:class:`RunLock`) comes before the check that the directory is
    free, so of two processes given the same directory at once exactly one gets it.

    Raises:
        ConfigError: the directory holds a run or other files, is in use, or cannot
            be written.
    """
    try:
        directory = Path(config.out) if config.out is not None else default_run_dir(config)
        if directory.exists() and not directory.is_dir():
            raise ConfigError("out", f"{str(directory)!r} exists and is not a directory")
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a name too long, a parent that is a file, no permission
        reason = error.strerror or str(error)
        raise ConfigError("out", f"cannot create {str(config.out)!r}: {reason}") from None
    lock = RunLock.acquire(directory, field_name="out")
    try:
        if holds_run(directory):
            raise ConfigError(
                "out",
                f"{str(directory)!r} already holds a run; choose a new directory "
                "(nothing was overwritten)",
            )
        if not _is_empty(directory):
            raise ConfigError(
                "out", f"{str(directory)!r} is not empty; choose a new or empty directory"
            )
        if not os.access(directory, os.W_OK):
            raise ConfigError("out", f"cannot write to {str(directory)!r}")
    except BaseException:
        lock.release()
        raise
    return directory, lock


@dataclass
class Run:
    """A run directory read back: config, summary, log, metrics and archives.

    Everything loads lazily and needs no code from the run (no pickle).
    """

    path: Path
    _archives: dict[str, Agents] = field(default_factory=dict, repr=False)

    @cached_property
    def config(self) -> RunConfig:
        return RunConfig.from_run_dir(self.path)

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
