"""Resume as a transaction: check everything first, change the run directory only then.

:func:`plan_resume` reads an interrupted run directory and checks, without
writing anything:

* the checkpoint: the newest intact one (damaged newer ones are reported), with
  the keys the run loop needs;
* the config: ``config.yaml`` against the copy the checkpoint holds. A change a
  run's results depend on (task, algorithm, seed, any search parameter, a
  budget below the evaluations done) is refused, naming the field; a change
  they do not depend on (a higher budget, checkpoint and metric intervals and
  checkpoint share, the evaluation backend, its options and timeout,
  ``env_processes``, TensorBoard) is accepted and recorded in
  ``RUN_DIR/resumes.jsonl``;
* the evaluation log: the parts the checkpoint covers, each against the
  checksum in the log's manifest, and their rows against the checkpoint's count.

Only then does :meth:`ResumePlan.apply` change anything: log parts written after
the checkpoint and damaged newer checkpoints are moved (never deleted) into
``RUN_DIR/discarded/<evaluations>-<n>/``, and each move is reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from serendip.errors import ConfigError
from serendip.experiment.checkpoint import (
    CHECKPOINT_DIR,
    TAKEN,
    CheckpointError,
    checkpoint_files,
    checkpoint_number,
    load_checkpoint,
)
from serendip.experiment.config import LEGACY_EPISODE_SEEDS, RunConfig
from serendip.experiment.evaluation_log import (
    LogError,
    log_parts,
    part_number,
    read_log_parts,
)

DISCARDED = "discarded"
RESUMES_LOG = "resumes.jsonl"

# Config fields a run's results do not depend on: they may change between sessions.
# Where and in how many processes a batch is evaluated (backend, workers,
# env_processes) does not change what it gives (each episode has its own seed), and
# a batch that ends within evaluation.timeout gives what it would without one.
# (learned_space.threads and .inference are not free: they round the network differently.)
FREE_FIELDS = (
    "out",
    "backend",
    "env_processes",
    "metrics_every",
    "checkpoint_every",
    "checkpoint_share",
    "tensorboard",
    "evaluation.workers",
    "evaluation.ray_address",
    "evaluation.timeout",
)
LOOP_KEYS = ("evaluations", "batches", "log_parts", "wall_seconds")
ADDED_FIELDS = {"episode_seeds": LEGACY_EPISODE_SEEDS}
"""Config fields newer than some checkpoints, with the value those runs were made with
(the other added fields, unset, mean what the older versions did)."""


@dataclass
class ResumePlan:
    """What resuming a run will do, decided before anything is written.

    Attributes:
        run_dir: the run directory.
        checkpoint: ``(arrays, data, stored)`` of the checkpoint to continue from;
            None to start again (nothing was logged).
        logged: the evaluation log rows the checkpoint covers (its buffer included).
        moves: files to move aside, each with the reason.
        changes: accepted config changes, ``field -> [before, now]``.
    """

    run_dir: Path
    checkpoint: tuple[dict[str, np.ndarray], dict[str, Any], dict[str, set[int]]] | None
    logged: pd.DataFrame = field(default_factory=pd.DataFrame)
    moves: list[tuple[Path, str]] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def evaluations(self) -> int:
        return 0 if self.checkpoint is None else int(self.checkpoint[1]["loop"]["evaluations"])

    def apply(self) -> None:
        """Move the files the checkpoint supersedes aside and record accepted config changes."""
        if self.moves:
            target = _fresh_directory(self.run_dir / DISCARDED, f"{self.evaluations:09d}")
            for path, reason in self.moves:
                relative = path.relative_to(self.run_dir)
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, destination)
                warnings.warn(
                    f"{relative} moved to {destination.relative_to(self.run_dir)}: {reason}",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if self.changes:
            line = {
                "evaluations": self.evaluations,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "changed": self.changes,
            }
            with open(self.run_dir / RESUMES_LOG, "a") as handle:
                handle.write(json.dumps(line, allow_nan=False) + "\n")


def plan_resume(run_dir: Path, config: RunConfig) -> ResumePlan:
    """Check an interrupted run directory and decide how to resume it; writes nothing.

    Raises:
        ConfigError: logged evaluations but no checkpoint; a config change the
            results depend on; a checkpoint from serendip 0.1.0.
        CheckpointError: no intact checkpoint, or the log does not match it.
    """
    run_dir = Path(run_dir)
    files = checkpoint_files(run_dir)
    if not files:
        return _start_again(run_dir)
    arrays, data, stored = load_checkpoint(run_dir, validate=_check_keys)
    used = int(data["evaluations"])
    if "state_version" not in data["algorithm"]:
        raise ConfigError(
            "run_dir",
            f"{str(run_dir)!r} was checkpointed by serendip 0.1.0, whose state this version "
            "does not read; finish it with serendip 0.1.0 or run it again (nothing was changed)",
        )
    loop = data["loop"]
    done = int(loop["evaluations"])
    changes = _config_changes(data.get("config"), config, done)
    parts = int(loop["log_parts"])
    try:
        table = read_log_parts(run_dir, parts)
    except LogError as error:
        message = f"the evaluation log is damaged: {error} (nothing was changed)"
        raise CheckpointError(message) from None
    logged = table.to_pandas() if table is not None else pd.DataFrame()
    pending = {k.removeprefix("log."): v for k, v in arrays.items() if k.startswith("log.")}
    if pending:
        logged = pd.concat([logged, pd.DataFrame(pending)], ignore_index=True)
    if len(logged) != done:
        raise CheckpointError(
            f"the evaluation log's first {parts} part(s) hold {len(logged):,} rows but the "
            f"checkpoint was taken after {done:,} evaluations (nothing was changed)"
        )
    moves = [
        (path, f"written after the checkpoint at {done:,} evaluations")
        for path in log_parts(run_dir)
        if (part_number(path) or 0) >= parts
    ]
    for newer in files:
        if checkpoint_number(newer) > used:
            for path in (newer, newer.with_suffix(".npz")):
                if path.exists():
                    moves.append((path, "a damaged checkpoint newer than the one resumed"))
    return ResumePlan(run_dir, (arrays, data, stored), logged, moves, changes)


def _check_keys(data: dict[str, Any]) -> None:
    """Raise :class:`CheckpointError` unless ``data`` has what the run loop reads."""
    loop = data.get("loop")
    if not isinstance(loop, dict) or not isinstance(data.get("algorithm"), dict):
        raise CheckpointError("lacks its loop or algorithm state")
    missing = [key for key in LOOP_KEYS if not isinstance(loop.get(key), int | float)]
    if missing:
        raise CheckpointError(f"lacks loop.{missing[0]}")


def _start_again(run_dir: Path) -> ResumePlan:
    """No checkpoint: start again if none was ever taken, else refuse (one was lost).

    A run that stopped before its first checkpoint (a crash in its first batches)
    is started again in place; the log parts it flushed are moved aside, since the
    run writes the same evaluations again. If checkpoints were taken (the
    ``checkpoint/taken`` marker) or ``checkpoint/`` is gone while evaluations are
    logged, they were lost: resuming is refused.
    """
    parts = log_parts(run_dir)
    directory = run_dir / CHECKPOINT_DIR
    never_taken = directory.is_dir() and not (directory / TAKEN).exists()
    if not parts or never_taken:
        reason = "flushed before the run's first checkpoint; the run starts again"
        return ResumePlan(run_dir, None, moves=[(path, reason) for path in parts])
    rows = 0
    for path in parts:
        with contextlib.suppress(Exception):  # a damaged part still counts as logged data
            rows += pq.ParquetFile(path).metadata.num_rows
    if not directory.exists():
        what = "checkpoint/ is missing"
    elif not directory.is_dir():
        what = "checkpoint is not a directory"
    else:
        what = "its checkpoints were removed"
    raise ConfigError(
        "run_dir",
        f"{str(run_dir)!r} holds {len(parts)} evaluation log part(s) ({rows:,} rows) but no "
        f"checkpoint to continue from ({what}); nothing was changed: read it with "
        "'serendip report', or run the config again into a new directory",
    )


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _config_changes(saved: dict[str, Any] | None, config: RunConfig, done: int) -> dict[str, list]:
    """Accepted changes of ``config`` against the checkpoint's copy; refuse the others."""
    if config.budget < done:
        raise ConfigError(
            "budget",
            f"{config.budget:,} is below the {done:,} evaluations this run has done; "
            f"set it to at least {done:,} in config.yaml (nothing was changed)",
        )
    if saved is None:  # a checkpoint written before configs were kept in it
        return {}
    # A field added since the checkpoint was written: the value that reproduces it.
    before = _flatten({**ADDED_FIELDS, **saved})
    now = _flatten(json.loads(json.dumps(config.to_dict())))
    changes: dict[str, list] = {}
    for name in sorted(set(before) | set(now)):
        if before.get(name) == now.get(name):
            continue
        if name == "budget" or name in FREE_FIELDS:
            changes[name] = [before.get(name), now.get(name)]
            continue
        raise ConfigError(
            name,
            f"config.yaml says {now.get(name)!r} but this run was made with "
            f"{before.get(name)!r}, and its results depend on it; restore it to resume "
            "(nothing was changed), or run the new config into a new directory",
        )
    return changes


def _fresh_directory(parent: Path, name: str) -> Path:
    """``parent/name-1``, ``-2``... the first that does not exist, created."""
    number = 1
    while (parent / f"{name}-{number}").exists():
        number += 1
    path = parent / f"{name}-{number}"
    path.mkdir(parents=True)
    return path


__all__ = ["DISCARDED", "RESUMES_LOG", "ResumePlan", "plan_resume"]
