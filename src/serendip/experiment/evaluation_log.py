"""The evaluation log: one row per evaluation, as a folder of Parquet parts.

``evaluations.parquet/part-00000.parquet, part-00001.parquet, ...`` reads as one
table with pandas or pyarrow (``pd.read_parquet(run_dir / "evaluations.parquet")``).
Parts are written whole and atomically, so an interrupted run keeps every
complete part and metrics can be recomputed from it.

``evaluations.parquet/_manifest.json`` (ignored by Parquet readers, whose
datasets skip names starting with ``_``) lists every part with its rows, size
and SHA-256, and is replaced atomically after each part. :func:`read_evaluations`
verifies the parts against it, so a damaged part is named instead of being read
back as wrong values; a part the manifest does not list was written after the
last manifest (a kill between the two) and is left out with a warning.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from serendip.experiment.storage import (
    dictionary_columns,
    payload_problem,
    write_bytes,
    write_json,
)

LOG_NAME = "evaluations.parquet"
MANIFEST = "_manifest.json"
PART_ROWS = 20_000
"""Rows a part holds at least (the last one excepted)."""


class LogError(ValueError):
    """A damaged or inconsistent evaluation log; ``str()`` is one line naming the file."""


def read_manifest(directory: Path) -> dict[str, dict[str, Any]] | None:
    """The parts the manifest lists (name -> rows, bytes, sha256); None without a manifest."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    try:
        parts = json.loads(path.read_text())["parts"]
        if not isinstance(parts, dict):
            raise TypeError("parts is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LogError(f"{path}: unreadable manifest ({error})") from None
    return parts


def read_part(path: Path, entry: dict[str, Any] | None) -> pa.Table:
    """The part at ``path``, checked against its manifest entry (None: a log older than
    manifests, read unverified)."""
    try:
        payload = path.read_bytes()
    except OSError as error:
        raise LogError(f"{path}: cannot be read ({error.strerror})") from None
    problem = None if entry is None else payload_problem(payload, entry)
    if problem is not None:
        raise LogError(f"{path}: damaged ({problem}; the manifest says otherwise)")
    try:
        return pq.read_table(pa.BufferReader(payload))
    except (pa.ArrowException, OSError, ValueError) as error:
        raise LogError(f"{path}: unreadable ({str(error).splitlines()[0]})") from None


class EvaluationLogWriter:
    """Buffers evaluation rows and writes them as Parquet parts of ``part_rows`` rows or more.

    Batches are buffered as NumPy arrays and become one Arrow table when a part is
    written (or a checkpoint asks for the rows): building Arrow arrays per batch, the
    process name as a list of Python strings above all, cost several times as much
    (0.35 s against 0.05 s of CPU over a 100,000-evaluation NS run on the arm).
    """

    def __init__(
        self, directory: Path, *, part_rows: int | None = None, first_part: int = 0
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.part_rows = PART_ROWS if part_rows is None else part_rows
        self.next_part = first_part
        self._buffer: list[_Rows] = []
        self._restored: pa.Table | None = None  # rows a checkpoint held, before _buffer's
        self._buffered = 0
        listed = read_manifest(self.directory) or {}
        self.manifest = {name: listed[name] for name in _part_names(first_part) if name in listed}

    def append(
        self,
        *,
        indices: np.ndarray,
        process: str,
        generation: int,
        rewards: np.ndarray,
        reward_areas: np.ndarray,
        ground_truth: np.ndarray,
        emitter_area: int = -1,
        extras: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Add one batch's rows.

        ``emitter_area`` is the reward area of the ancestor of the emitter that asked
        for the batch (-1 for exploration): the budget-per-area metric reads it.
        ``extras`` are the task's per-episode arrays (``EvaluationBatch.extras``, a
        gym task's raw ``episode_return`` and ``episode_length``): one column each,
        after the ground truth's, with the same names in every batch.
        """
        n = len(indices)
        # Copies: the rows must not change if the caller reuses its arrays.
        columns = {
            "index": np.array(indices, dtype=np.int64),
            "reward": np.array(rewards, dtype=np.float64),
            "reward_area": np.array(reward_areas, dtype=np.int64),
        }
        for name, values in (extras or {}).items():
            if name in columns or name in _NAMES or name.startswith("gt_"):
                raise ValueError(f"an extra named {name!r} would replace a column of the log")
            columns[name] = np.array(values).reshape(n)
        truth = np.array(ground_truth, dtype=np.float64)
        self._buffer.append(_Rows(n, process, int(generation), int(emitter_area), columns, truth))
        self._buffered += n
        if self._buffered >= self.part_rows:
            self.flush()

    def _table(self) -> pa.Table:
        """The buffered rows as one table: the log's columns, in the log's order."""
        tables = [] if self._restored is None else [self._restored]
        if self._buffer:
            tables.append(self._appended())
        return pa.concat_tables(tables)

    def _appended(self) -> pa.Table:
        rows = self._buffer
        counts = np.array([r.n for r in rows])
        processes = sorted({r.process for r in rows})
        codes = np.repeat(np.array([processes.index(r.process) for r in rows], np.int32), counts)
        per_batch = {
            "process": pa.DictionaryArray.from_arrays(
                pa.array(codes), pa.array(processes, type=pa.string())
            ).dictionary_decode(),
            "generation": np.repeat(np.array([r.generation for r in rows], np.int64), counts),
            "emitter_area": np.repeat(np.array([r.emitter_area for r in rows], np.int64), counts),
        }
        truth = np.concatenate([r.ground_truth for r in rows])
        columns: dict[str, pa.Array] = {}
        for name, kind in _COLUMNS:
            values = per_batch.get(name)
            if values is None:
                values = np.concatenate([r.columns[name] for r in rows])
            columns[name] = pa.array(values, kind)
        for j in range(truth.shape[1]):
            columns[f"gt_{j}"] = pa.array(truth[:, j], type=pa.float64())
        extras = [name for name in rows[0].columns if name not in _NAMES]
        if any(list(r.columns)[len(_BATCH_COLUMNS) :] != extras for r in rows):
            raise ValueError("every batch of a log must have the same extras")
        for name in extras:
            columns[name] = pa.array(np.concatenate([r.columns[name] for r in rows]))
        return pa.table(columns)

    def flush(self) -> None:
        """Write buffered rows as the next part."""
        if not self._buffer and self._restored is None:
            return
        table = self._table()
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, use_dictionary=dictionary_columns(table))
        payload = sink.getvalue().to_pybytes()
        name = f"part-{self.next_part:05d}.parquet"
        write_bytes(self.directory / name, payload)
        self.manifest[name] = {
            "rows": table.num_rows,
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        write_json(self.directory / MANIFEST, {"format": 1, "parts": self.manifest})
        self.next_part += 1
        self._buffer = []
        self._restored = None
        self._buffered = 0

    def pending(self) -> dict[str, np.ndarray]:
        """The buffered (not yet written) rows as arrays, for a checkpoint."""
        if not self._buffer and self._restored is None:
            return {}
        table = self._table()
        return {f"log.{name}": _column_array(table.column(name)) for name in table.column_names}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Continue after a checkpoint: re-buffer the rows it held (later parts are gone)."""
        columns = {k.removeprefix("log."): v for k, v in arrays.items() if k.startswith("log.")}
        if columns:
            self._restored = pa.table(
                {
                    name: pa.array(values.astype(str) if values.dtype.kind == "U" else values)
                    for name, values in columns.items()
                }
            )
            self._buffered = self._restored.num_rows


_COLUMNS = (
    ("index", pa.int64()),
    ("process", pa.string()),
    ("generation", pa.int64()),
    ("reward", pa.float64()),
    ("reward_area", pa.int64()),
    ("emitter_area", pa.int64()),
)
"""The log's columns before the ground truth's ``gt_0, gt_1, ...``, in order."""
_NAMES = {name for name, _ in _COLUMNS}
_BATCH_COLUMNS = ("index", "reward", "reward_area")
"""The columns :meth:`EvaluationLogWriter.append` takes per row, before the extras."""


@dataclass(frozen=True)
class _Rows:
    """One appended batch, buffered: ``n`` rows of one process."""

    n: int
    process: str
    generation: int
    emitter_area: int
    columns: dict[str, np.ndarray]  # index, reward, reward_area, then the extras
    ground_truth: np.ndarray  # (n, D)


def _part_names(count: int) -> list[str]:
    return [f"part-{i:05d}.parquet" for i in range(count)]


def part_number(path: Path) -> int | None:
    """``n`` of ``part-n.parquet``, None for any other name."""
    stem = path.name.removesuffix(".parquet")
    if path.suffix != ".parquet" or not stem.startswith("part-"):
        return None
    number = stem.removeprefix("part-")
    return int(number) if number.isdigit() else None


def log_parts(run_dir: Path) -> list[Path]:
    """The log's part files, in order."""
    directory = Path(run_dir) / LOG_NAME
    if not directory.is_dir():
        return []
    parts = [p for p in directory.iterdir() if part_number(p) is not None]
    return sorted(parts, key=lambda p: part_number(p) or 0)


def read_log_parts(run_dir: Path, count: int) -> pa.Table | None:
    """The first ``count`` parts, each verified against the manifest (None if ``count`` is 0).

    Raises:
        LogError: a part is missing, damaged or not in the manifest.
    """
    directory = Path(run_dir) / LOG_NAME
    if count == 0:
        return None
    manifest = read_manifest(directory)
    tables = []
    for name in _part_names(count):
        path = directory / name
        if not path.exists():
            raise LogError(f"{path}: missing")
        if manifest is not None and name not in manifest:
            raise LogError(f"{path}: not listed in {MANIFEST}")
        tables.append(read_part(path, None if manifest is None else manifest[name]))
    return pa.concat_tables(tables)


def _column_array(column: pa.ChunkedArray) -> np.ndarray:
    values = column.to_numpy()
    return (
        values.astype(str) if values.dtype == object else values
    )  # strings: fixed-width, no pickle


def read_evaluations(run_dir: Path) -> pd.DataFrame:
    """The whole evaluation log of a run, verified, sorted by evaluation index.

    Raises:
        FileNotFoundError: the run has no log yet.
        LogError: a part is damaged or unreadable (named in the message).
    """
    directory = Path(run_dir) / LOG_NAME
    parts = log_parts(run_dir)
    if not parts:
        raise FileNotFoundError(f"no evaluation log in {directory}")
    manifest = read_manifest(directory)
    tables = []
    for path in parts:
        if manifest is None or path.name in manifest:
            tables.append(read_part(path, None if manifest is None else manifest[path.name]))
        else:
            warnings.warn(
                f"{path} is not in the log's manifest (written after the last one): left out",
                RuntimeWarning,
                stacklevel=2,
            )
    if not tables:
        raise FileNotFoundError(f"no evaluation log in {directory}")
    frame = pa.concat_tables(tables).to_pandas()
    return frame.sort_values("index", kind="stable").reset_index(drop=True)
