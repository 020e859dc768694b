"""Every built-in algorithm still gives the run it gave when the digests were recorded.

The cases and the digests are in ``tests/regression_runs.py``; a change meant to
alter results re-records them (``python tests/regression_runs.py``) and says so.
"""

import json
import platform
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import regression_runs


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"),
    reason="the digests are an x86-64 CPU's float bits; no other architecture can give them",
)
def test_short_runs_of_every_algorithm_are_bit_identical_to_the_recorded_ones(tmp_path):
    recorded = json.loads(regression_runs.DIGESTS.read_text())
    assert sorted(recorded) == sorted(regression_runs.cases())
    now = regression_runs.run_all(str(tmp_path), regression_runs.cases())
    changed = []
    for case, tables in recorded.items():
        for table, columns in tables.items():
            for column, digest in columns.items():
                if now[case].get(table, {}).get(column) != digest:
                    changed.append(f"{case} {table}.{column}")
    assert not changed, f"{len(changed)} recorded columns changed: {changed[:20]}"
