"""Checks shared by the test modules (imported by name: pytest puts tests/ on the path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import serendip


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same columns, types and values, bit for bit.

    ``check_exact=True``: pandas' default compares floats to a relative 1e-5.
    Float columns are then compared as bytes, which also tells 0.0 from -0.0.
    """
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for name in a.columns:
        if pd.api.types.is_float_dtype(a[name].dtype):
            left, right = a[name].to_numpy(), b[name].to_numpy()
            assert left.tobytes() == right.tobytes(), f"column {name!r} differs in its bits"


def assert_same_run(a: Path, b: Path) -> None:
    """Same evaluation log, archives, emitter log, metrics, summary and final state."""
    first, second = serendip.load_run(a), serendip.load_run(b)
    assert_same_frame(first.evaluations, second.evaluations)
    assert_same_frame(first.metrics, second.metrics)
    for name in first.archive_names:
        assert pq.read_table(a / "archives" / f"{name}.parquet").equals(
            pq.read_table(b / "archives" / f"{name}.parquet")
        ), name
    if (a / "emitters.parquet").exists():
        assert pq.read_table(a / "emitters.parquet").equals(pq.read_table(b / "emitters.parquet"))
    timing = {"wall_seconds", "evaluations_per_second"}
    assert {k: v for k, v in first.summary.items() if k not in timing} == {
        k: v for k, v in second.summary.items() if k not in timing
    }
    arrays_a, data_a = first.state()
    arrays_b, data_b = second.state()
    assert sorted(arrays_a) == sorted(arrays_b)
    for name in set(arrays_a) - {"space.reports.seconds"}:  # training times: the only timing
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)
    data_a["loop"].pop("wall_seconds"), data_b["loop"].pop("wall_seconds")
    assert data_a["algorithm"] == data_b["algorithm"]
    assert data_a["loop"] == data_b["loop"]
