"""The evaluation log: one row per evaluation, as a folder of Parquet parts.

``evaluations.parquet/part-00000.parquet, part-00001.parquet, ...`` reads as one
table with pandas or pyarrow (``pd.read_parquet(run_dir / "evaluations.parquet")``).
Parts are written whole and atomically, so an interrupted run keeps every
complete part and metrics can be recomputed from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from serendip.experiment.storage import write_table

LOG_NAME = "evaluations.parquet"


class EvaluationLogWriter:
    """Buffers evaluation rows and writes them as Parquet parts of ``part_rows`` rows or more."""

    def __init__(self, directory: Path, *, part_rows: int = 20_000, first_part: int = 0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.part_rows = part_rows
        self.next_part = first_part
        self._buffer: list[pa.Table] = []
        self._buffered = 0

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
    ) -> None:
        """Add one batch's rows.

        ``emitter_area`` is the reward area of the ancestor of the emitter that asked
        for the batch (-1 for exploration): the budget-per-area metric reads it.
        """
        n = len(indices)
        columns = {
            "index": pa.array(indices, type=pa.int64()),
            "process": pa.array([process] * n, type=pa.string()),
            "generation": pa.array(np.full(n, generation), type=pa.int64()),
            "reward": pa.array(rewards, type=pa.float64()),
            "reward_area": pa.array(reward_areas, type=pa.int64()),
            "emitter_area": pa.array(np.full(n, emitter_area), type=pa.int64()),
        }
        for j in range(ground_truth.shape[1]):
            columns[f"gt_{j}"] = pa.array(ground_truth[:, j], type=pa.float64())
        self._buffer.append(pa.table(columns))
        self._buffered += n
        if self._buffered >= self.part_rows:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows as the next part."""
        if not self._buffer:
            return
        table = pa.concat_tables(self._buffer)
        write_table(self.directory / f"part-{self.next_part:05d}.parquet", table)
        self.next_part += 1
        self._buffer = []
        self._buffered = 0

    def pending(self) -> dict[str, np.ndarray]:
        """The buffered (not yet written) rows as arrays, for a checkpoint."""
        if not self._buffer:
            return {}
        table = pa.concat_tables(self._buffer)
        return {f"log.{name}": _column_array(table.column(name)) for name in table.column_names}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Continue after a checkpoint: drop parts written since, re-buffer its rows."""
        for part in self.directory.glob("part-*.parquet"):
            if int(part.stem.split("-")[1]) >= self.next_part:
                part.unlink()
        columns = {k.removeprefix("log."): v for k, v in arrays.items() if k.startswith("log.")}
        if columns:
            table = pa.table(
                {
                    name: pa.array(values.astype(str) if values.dtype.kind == "U" else values)
                    for name, values in columns.items()
                }
            )
            self._buffer = [table]
            self._buffered = table.num_rows


def _column_array(column: pa.ChunkedArray) -> np.ndarray:
    values = column.to_numpy()
    return (
        values.astype(str) if values.dtype == object else values
    )  # strings: fixed-width, no pickle


def read_evaluations(run_dir: Path) -> pd.DataFrame:
    """The whole evaluation log of a run, sorted by evaluation index."""
    directory = Path(run_dir) / LOG_NAME
    parts = sorted(directory.glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no evaluation log in {directory}")
    frame = pa.concat_tables([pq.read_table(p) for p in parts]).to_pandas()
    return frame.sort_values("index", kind="stable").reset_index(drop=True)
