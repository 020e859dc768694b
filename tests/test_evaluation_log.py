"""The evaluation log's writer: rows read back exactly as appended, through parts,
checkpoints (``pending``/``restore``) and Parquet encodings."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serendip.archives import Agents
from serendip.experiment.evaluation_log import (
    LOG_NAME,
    EvaluationLogWriter,
    log_parts,
    read_evaluations,
)
from serendip.experiment.storage import agents_table, dictionary_columns, write_table

PROCESSES = ("explore", "emitter-3", "emitter-12")


def batches(seed: int, count: int = 30):
    """``count`` batches of 1-250 rows from alternating processes, as the run loop logs them."""
    rng = np.random.default_rng(seed)
    done = 0
    for generation in range(count):
        n = int(rng.integers(1, 250))
        yield {
            "indices": np.arange(done, done + n),
            "process": PROCESSES[int(rng.integers(len(PROCESSES)))],
            "generation": generation,
            "rewards": rng.random(n) * (rng.random(n) < 0.3),
            "reward_areas": rng.integers(-1, 3, n),
            "ground_truth": rng.random((n, 2)),
            "emitter_area": int(rng.integers(-1, 3)),
        }
        done += n


def expected_frame(rows: list[dict]) -> pd.DataFrame:
    """The log those batches should make, built independently of the writer."""
    frames = []
    for b in rows:
        n = len(b["indices"])
        frames.append(
            pd.DataFrame(
                {
                    "index": np.asarray(b["indices"], dtype=np.int64),
                    "process": [b["process"]] * n,
                    "generation": np.full(n, b["generation"], dtype=np.int64),
                    "reward": np.asarray(b["rewards"], dtype=np.float64),
                    "reward_area": np.asarray(b["reward_areas"], dtype=np.int64),
                    "emitter_area": np.full(n, b["emitter_area"], dtype=np.int64),
                    "gt_0": b["ground_truth"][:, 0],
                    "gt_1": b["ground_truth"][:, 1],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_parts_read_back_every_row_exactly_as_appended(tmp_path):
    rows = list(batches(0))
    writer = EvaluationLogWriter(tmp_path / LOG_NAME, part_rows=1000)
    for b in rows:
        writer.append(**b)
    writer.flush()
    log = read_evaluations(tmp_path)
    pd.testing.assert_frame_equal(log, expected_frame(rows), check_exact=True)
    parts = log_parts(tmp_path)
    assert len(parts) > 2  # several parts, each at least part_rows but the last
    assert all(pq.read_metadata(p).num_rows >= 1000 for p in parts[:-1])
    schema = pq.read_schema(parts[0])
    assert schema.names == list(expected_frame(rows[:1]).columns)
    assert schema.field("process").type == pa.string()
    assert schema.field("index").type == pa.int64()


def test_appended_arrays_are_copied(tmp_path):
    b = next(batches(1))
    writer = EvaluationLogWriter(tmp_path / LOG_NAME)
    writer.append(**b)
    expected = expected_frame([b])
    b["rewards"][:] = -1.0  # the caller reuses its arrays
    b["ground_truth"][:] = -1.0
    writer.flush()
    pd.testing.assert_frame_equal(read_evaluations(tmp_path), expected, check_exact=True)


def test_pending_rows_survive_a_checkpoint_and_restore(tmp_path):
    rows = list(batches(2))
    writer = EvaluationLogWriter(tmp_path / LOG_NAME, part_rows=1500)
    for b in rows[:17]:
        writer.append(**b)
    pending = writer.pending()
    assert pending["log.process"].dtype.kind == "U"  # fixed-width strings: no pickle
    assert {k: v.dtype for k, v in pending.items() if k != "log.process"} == {
        "log.index": np.int64,
        "log.generation": np.int64,
        "log.reward": np.float64,
        "log.reward_area": np.int64,
        "log.emitter_area": np.int64,
        "log.gt_0": np.float64,
        "log.gt_1": np.float64,
    }
    written = writer.next_part
    flushed = sum(pq.read_metadata(p).num_rows for p in log_parts(tmp_path))
    assert len(pending["log.index"]) == sum(len(b["indices"]) for b in rows[:17]) - flushed
    # A new process continues from the checkpoint: the pending rows come first.
    resumed = EvaluationLogWriter(tmp_path / LOG_NAME, part_rows=1500, first_part=written)
    resumed.restore(pending)
    assert {k: v.tolist() for k, v in resumed.pending().items()} == {
        k: v.tolist() for k, v in pending.items()
    }
    for b in rows[17:]:
        resumed.append(**b)
    resumed.flush()
    log = read_evaluations(tmp_path)
    pd.testing.assert_frame_equal(log, expected_frame(rows), check_exact=True)


def test_nothing_pending_nothing_written(tmp_path):
    writer = EvaluationLogWriter(tmp_path / LOG_NAME)
    assert writer.pending() == {}
    writer.flush()
    assert log_parts(tmp_path) == []


def test_only_string_columns_are_dictionary_encoded(tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    agents = Agents(
        genomes=rng.normal(size=(n, 12)),
        descriptors=rng.random((n, 2)),
        ground_truth=rng.random((n, 2)),
        rewards=rng.random(n),
        reward_areas=rng.integers(-1, 3, n),
        indices=np.arange(n),
        frames=np.zeros((n, 0, 64, 64, 3), dtype=np.uint8),
    )
    table = agents_table(agents, {"label": np.array(["a", "b"] * (n // 2))})
    assert dictionary_columns(table) == ["label"]
    write_table(tmp_path / "agents.parquet", table)
    back = pq.read_table(tmp_path / "agents.parquet")
    assert back.equals(table)
    meta = pq.read_metadata(tmp_path / "agents.parquet").row_group(0)
    for i in range(meta.num_columns):
        column = meta.column(i)
        dictionary = "RLE_DICTIONARY" in column.encodings
        assert dictionary == (column.path_in_schema == "label"), column.path_in_schema


@pytest.mark.parametrize("part_rows", [1, 20_000])
def test_one_row_batches(tmp_path, part_rows):
    rows = []
    for i, b in enumerate(batches(4, count=5)):
        one = {
            key: value[:1] if isinstance(value, np.ndarray) else value for key, value in b.items()
        }
        rows.append({**one, "indices": np.array([i])})
    writer = EvaluationLogWriter(tmp_path / LOG_NAME, part_rows=part_rows)
    for b in rows:
        writer.append(**b)
    writer.flush()
    assert len(log_parts(tmp_path)) == (5 if part_rows == 1 else 1)
    pd.testing.assert_frame_equal(
        read_evaluations(tmp_path), expected_frame(rows), check_exact=True
    )
