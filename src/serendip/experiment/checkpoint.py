"""Checkpoints: a run's complete state on disk, written atomically, read back without pickle.

Layout of ``RUN_DIR/checkpoint/``::

    state-000012000.npz     arrays of the state at evaluation 12,000
    state-000012000.json    counters, generator states, emitter records, and the
                            SHA-256 and size of every file this checkpoint needs
    store/part-000012000.npz  genomes and frames of agents first stored then

Why a store: an agent's genome and frames never change once evaluated (only its
descriptor does, when the autoencoder retrains), while archives keep them for the
whole run. A TAXONS run at 200k evaluations holds ~170 MB of frames; writing that
at every chunk would cost more than the chunk. Each checkpoint therefore writes
the genomes and frames of the agents it has not written before into a new store
part, and the state refers to them by evaluation index.

Every file is written to a temporary name, flushed to disk and renamed into
place; the ``.json`` is renamed last and names the checksums of the others, so a
checkpoint exists only once all its parts are complete. Reading verifies the
checksums; a damaged or truncated checkpoint is reported and the previous one is
used. The last :data:`KEEP` checkpoints are kept, and the store parts they refer
to. Agents leave the state (offspring, replaced population members) while their
rows stay in the store; once unreferenced rows outnumber the referenced ones
(and :data:`COMPACT_MIN_ROWS`), the referenced rows are rewritten as one part,
so the store stays within about twice what the state holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from serendip.experiment.storage import atomic_write, payload_problem

CHECKPOINT_DIR = "checkpoint"
TAKEN = "taken"
"""Written with a run's first checkpoint: a run whose checkpoints are gone is told apart
from one that never reached its first."""
KEEP = 2
COMPACT_MIN_ROWS = 2000  # the store is compacted when it holds more unreferenced rows
FORMAT = 1
# Per-agent fields that never change after evaluation, kept once in the store.
STORED_FIELDS = ("genomes", "frames")
_STATE = re.compile(r"^state-(\d{9})\.json$")


class CheckpointError(RuntimeError):
    """No usable checkpoint: none written yet, or every one is damaged."""


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise TypeError(f"array {name!r} has dtype object, which would need pickle")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _write_durable(path: Path, payload: bytes) -> dict[str, Any]:
    """Write ``payload`` atomically and durably; return its name, size and checksum."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())

    atomic_write(path, write)
    return {
        "file": path.name,
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def _verified(path: Path, entry: dict[str, Any]) -> bytes:
    try:
        payload = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path.name}: cannot be read ({error.strerror})") from None
    problem = payload_problem(payload, entry)
    if problem is not None:
        raise CheckpointError(f"{path.name}: {problem}")
    return payload


def _load_npz(payload: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _stored_groups(arrays: dict[str, np.ndarray]) -> list[str]:
    """Prefixes ``p`` with ``p + "indices"`` and a per-agent field in ``STORED_FIELDS``."""
    groups = []
    for name in arrays:
        if name.endswith("indices"):
            prefix = name[: -len("indices")]
            if any(prefix + field in arrays for field in STORED_FIELDS):
                groups.append(prefix)
    return groups


class CheckpointWriter:
    """Writes the checkpoints of one run directory, remembering what the store holds."""

    def __init__(self, run_dir: Path) -> None:
        self.directory = Path(run_dir) / CHECKPOINT_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.stored: dict[str, set[int]] = {field: set() for field in STORED_FIELDS}
        self.row_shapes: dict[str, list[int]] = {}
        self.parts: list[dict[str, Any]] = []

    @classmethod
    def resuming(
        cls, run_dir: Path, data: dict[str, Any], stored: dict[str, set[int]]
    ) -> CheckpointWriter:
        """A writer continuing after the checkpoint ``data`` (as :func:`load_checkpoint` gave)."""
        writer = cls(run_dir)  # newer (damaged) checkpoints were moved aside by the resume
        writer.parts = list(data["_store"])
        writer.row_shapes = dict(data["_store_shapes"])
        writer.stored = {field: set(stored[field]) for field in STORED_FIELDS}
        return writer

    def save(self, evaluations: int, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> Path:
        """Write the checkpoint of the state after ``evaluations`` evaluations."""
        tag = f"{evaluations:09d}"
        state: dict[str, np.ndarray] = {}
        new_rows: dict[int, dict[str, np.ndarray]] = {}
        referenced: dict[str, set[int]] = {field: set() for field in STORED_FIELDS}
        groups = _stored_groups(arrays)
        consumed = set()
        for prefix in groups:
            indices = np.asarray(arrays[prefix + "indices"], dtype=np.int64)
            for field in STORED_FIELDS:
                key = prefix + field
                if key not in arrays:
                    continue
                values = np.asarray(arrays[key])
                row_shape = [int(n) for n in values.shape[1:]]
                if values.size == 0 or self.row_shapes.setdefault(field, row_shape) != row_shape:
                    continue  # nothing to share, or rows unlike the store's: kept inline
                consumed.add(key)
                state[f"@shape:{key}"] = np.asarray(values.shape, dtype=np.int64)
                state[f"@dtype:{key}"] = np.asarray(values.dtype.str)
                referenced[field].update(indices.tolist())
                for row, index in enumerate(indices.tolist()):
                    if index not in self.stored[field]:
                        new_rows.setdefault(index, {})[field] = values[row]
        for name, value in arrays.items():
            if name not in consumed:
                state[name] = np.asarray(value)
        live = sum(len(rows) for rows in referenced.values())
        held = sum(len(rows) for rows in self.stored.values())
        if held - live > max(live, COMPACT_MIN_ROWS):
            # Most of the store is agents no state holds any more (offspring, former
            # population members): rewrite what is referenced as one part.
            new_rows = self._referenced_rows(referenced, new_rows)
            self.parts, self.stored = [], {field: set() for field in STORED_FIELDS}
        if new_rows:
            self.parts.append(self._write_part(tag, new_rows))
        entry = _write_durable(self.directory / f"state-{tag}.npz", _npz_bytes(state))
        manifest = {
            "format": FORMAT,
            "evaluations": evaluations,
            "state": entry,
            "_store": self.parts,
            "_store_shapes": self.row_shapes,
            **data,
        }
        path = self.directory / f"state-{tag}.json"
        payload = (json.dumps(manifest, allow_nan=False) + "\n").encode()
        _write_durable(path, payload)
        taken = self.directory / TAKEN
        if not taken.exists():  # once: from now on, no checkpoint here means a lost one
            taken.write_text(f"first checkpoint after {evaluations} evaluations\n")
        self._prune()
        return path

    def _write_part(self, tag: str, rows: dict[int, dict[str, np.ndarray]]) -> dict[str, Any]:
        part: dict[str, np.ndarray] = {}
        for field in STORED_FIELDS:
            present = [i for i in rows if field in rows[i]]
            if present:
                part[f"{field}.indices"] = np.asarray(present, dtype=np.int64)
                part[field] = np.stack([rows[i][field] for i in present])
                self.stored[field].update(present)
        (self.directory / "store").mkdir(exist_ok=True)
        return _write_durable(self.directory / "store" / f"part-{tag}.npz", _npz_bytes(part))

    def _referenced_rows(
        self, referenced: dict[str, set[int]], new_rows: dict[int, dict[str, np.ndarray]]
    ) -> dict[int, dict[str, np.ndarray]]:
        """``new_rows`` plus every referenced row the store's parts hold."""
        rows = {index: dict(fields) for index, fields in new_rows.items()}
        for entry in self.parts:
            part = _load_npz(_verified(self.directory / "store" / entry["file"], entry))
            for field in STORED_FIELDS:
                if field not in part:
                    continue
                wanted = referenced[field]
                for index, value in zip(
                    part[f"{field}.indices"].tolist(), part[field], strict=True
                ):
                    if index in wanted:
                        rows.setdefault(index, {})[field] = value
        return rows

    def _prune(self) -> None:
        """Keep the newest :data:`KEEP` checkpoints and the store parts they refer to."""
        files = checkpoint_files(self.directory.parent)
        for old in files[:-KEEP]:
            old.with_suffix(".npz").unlink(missing_ok=True)
            old.unlink(missing_ok=True)
        needed = set()
        for path in files[-KEEP:]:
            try:
                needed.update(entry["file"] for entry in json.loads(path.read_text())["_store"])
            except (OSError, ValueError, KeyError, TypeError):
                return  # a damaged checkpoint: delete nothing it might need
        for part in (self.directory / "store").glob("part-*.npz"):
            if part.name not in needed:
                part.unlink(missing_ok=True)


def checkpoint_number(path: Path) -> int:
    """The evaluations of a checkpoint's ``state-<evaluations>.json``."""
    match = _STATE.match(path.name)
    if match is None:
        raise ValueError(f"{path.name} is not a checkpoint's state file")
    return int(match.group(1))


def checkpoint_files(run_dir: Path) -> list[Path]:
    """The checkpoints' ``.json`` files, oldest first."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _STATE.match(p.name)]
    return sorted(found, key=lambda p: int(_STATE.match(p.name).group(1)))


def _read_one(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, set[int]]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path.name}: unreadable ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path.name}: not a format-{FORMAT} checkpoint")
    try:
        return _assemble(path, data)
    except (KeyError, TypeError, ValueError, IndexError) as error:  # parses, but is not ours
        raise CheckpointError(f"{path.name}: malformed ({type(error).__name__}: {error})") from None


def _assemble(
    path: Path, data: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, set[int]]]:
    """The arrays of the checkpoint ``data`` (its ``.npz`` and the store parts it names)."""
    state = _load_npz(_verified(path.with_suffix(".npz"), data["state"]))
    # Gather the stored per-agent fields from the store parts, by evaluation index.
    sources: dict[str, dict[int, np.ndarray]] = {field: {} for field in STORED_FIELDS}
    for entry in data["_store"]:
        part = _load_npz(_verified(path.parent / "store" / entry["file"], entry))
        for field in STORED_FIELDS:
            if field in part:
                sources[field].update(
                    zip(part[f"{field}.indices"].tolist(), part[field], strict=False)
                )
    arrays: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if not name.startswith("@"):
            arrays[name] = value
    for name in state:
        if not name.startswith("@shape:"):
            continue
        key = name[len("@shape:") :]
        field = next(f for f in STORED_FIELDS if key.endswith(f))
        prefix = key[: -len(field)]
        shape = tuple(int(s) for s in state[name])
        dtype = np.dtype(str(state[f"@dtype:{key}"]))
        indices = arrays[prefix + "indices"].tolist()
        try:
            rows = [sources[field][i] for i in indices]
        except KeyError as missing:
            raise CheckpointError(
                f"{path.name}: the store lacks {field} of agent {missing.args[0]}"
            ) from None
        arrays[key] = np.stack(rows).astype(dtype, copy=False) if rows else np.empty(shape, dtype)
    stored = {field: set(sources[field]) for field in STORED_FIELDS}
    return arrays, data, stored


def load_checkpoint(
    run_dir: Path,
    *,
    warn: bool = True,
    validate: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, set[int]]]:
    """The newest intact checkpoint: ``(arrays, data, indices in the store per field)``.

    A damaged checkpoint (truncated, corrupted, a store part missing, or data that
    ``validate`` rejects with a :class:`CheckpointError`) is reported with a
    warning and the one before it is tried.

    Raises:
        CheckpointError: there is no checkpoint, or none is intact.
    """
    files = checkpoint_files(run_dir)
    if not files:
        raise CheckpointError(f"{str(run_dir)!r} has no checkpoint yet")
    problems = []
    for path in reversed(files):
        try:
            loaded = _read_one(path)
            if validate is not None:
                try:
                    validate(loaded[1])
                except CheckpointError as error:
                    raise CheckpointError(f"{path.name}: {error}") from None
            return loaded
        except CheckpointError as error:
            problems.append(str(error))
            if warn:
                warnings.warn(
                    f"checkpoint {path.name} is damaged ({error}); trying the previous one",
                    RuntimeWarning,
                    stacklevel=2,
                )
    raise CheckpointError("no intact checkpoint: " + "; ".join(problems))
