"""Reading and writing run-directory files: Parquet, JSON, YAML, ``.npz``; never pickle.

Every write goes to a temporary file in the same folder first and is renamed
into place, so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from serendip.archives import Agents


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it owner-only; give it a normal file's mode
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def json_safe(data: Any) -> Any:
    """``data`` with every non-finite float (NaN, infinities) as None: strict JSON has none."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [json_safe(value) for value in data]
    return data


def write_json(path: Path, data: Any) -> None:
    """``data`` as strict JSON (a missing figure, NaN, is written as null)."""
    text = json.dumps(json_safe(data), indent=2, sort_keys=False, allow_nan=False)
    write_text(path, text + "\n")


def payload_problem(payload: bytes, entry: dict[str, Any]) -> str | None:
    """What is wrong with ``payload`` against its record (``bytes``, ``sha256``), or None."""
    expected = entry.get("bytes")
    if len(payload) != expected:
        size = f"{expected:,}" if isinstance(expected, int) else repr(expected)
        return f"truncated ({len(payload):,} bytes, expected {size})"
    if hashlib.sha256(payload).hexdigest() != entry.get("sha256"):
        return "checksum mismatch (the file is corrupted)"
    return None


def write_bytes(path: Path, payload: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(payload))


def dictionary_columns(table: pa.Table) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: strings (a log's ``process``).

    Parquet's default encodes every column with a dictionary first and falls back
    when it grows too large; for float columns (rewards, descriptors, genomes), whose
    values hardly ever repeat, that is wasted work: an NS archive of 2,500 agents
    wrote in 31 ms with it and 8 ms without (its first write in a process: 176 ms
    against 11 ms), and the files are smaller. The values read back are the same.
    """
    return [
        f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)
    ]


def write_table(path: Path, table: pa.Table) -> None:
    """``table`` as a Parquet file (dictionary encoding for :func:`dictionary_columns` only)."""
    columns = dictionary_columns(table)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, use_dictionary=columns))


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Plain arrays as ``.npz`` (numeric dtypes only, so it loads with ``allow_pickle=False``)."""
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise TypeError(f"array {name!r} has dtype object, which would need pickle")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _vectors(matrix: np.ndarray) -> pa.Array:
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


def agents_table(agents: Agents, extra: dict[str, np.ndarray] | None = None) -> pa.Table:
    """One row per agent: index, reward, reward_area, gt_* columns, descriptor, genome.

    Frames are left out (they are large and live in the checkpoint); ``extra``
    adds columns (e.g. which process found each agent).
    """
    columns: dict[str, Any] = {
        "index": pa.array(agents.indices, type=pa.int64()),
        "reward": pa.array(agents.rewards, type=pa.float64()),
        "reward_area": pa.array(agents.reward_areas, type=pa.int64()),
    }
    for j in range(agents.ground_truth.shape[1]):
        columns[f"gt_{j}"] = pa.array(agents.ground_truth[:, j], type=pa.float64())
    for name, values in (extra or {}).items():
        columns[name] = pa.array(values)
    columns["descriptor"] = _vectors(agents.descriptors)
    columns["genome"] = _vectors(agents.genomes)
    return pa.table(columns)


def _matrix(column: pa.ChunkedArray, width: int) -> np.ndarray:
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float64).reshape(-1, width)


def table_agents(table: pa.Table) -> Agents:
    """Inverse of :func:`agents_table`."""
    gt_names = sorted(
        (n for n in table.column_names if n.startswith("gt_")), key=lambda n: int(n[3:])
    )
    return Agents(
        genomes=_matrix(table.column("genome"), table.schema.field("genome").type.list_size),
        descriptors=_matrix(
            table.column("descriptor"), table.schema.field("descriptor").type.list_size
        ),
        ground_truth=np.stack([table.column(n).to_numpy() for n in gt_names], axis=1)
        if gt_names
        else np.empty((table.num_rows, 0)),
        rewards=table.column("reward").to_numpy(),
        reward_areas=table.column("reward_area").to_numpy(),
        indices=table.column("index").to_numpy(),
        frames=np.empty((table.num_rows, 0, 64, 64, 3), dtype=np.uint8),
    )
