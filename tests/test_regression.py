"""Every built-in algorithm still gives the run it gave when the digests were recorded.

The cases and the digests are in ``tests/regression_runs.py``; a change meant to
alter results re-records them (``python tests/regression_runs.py``) and says so.
On the CPU the digests were recorded on, a run's digests must equal them. On
another CPU a case that differs is run again with the reference source (the
commit that wrote the digests, from the clone's history) on this machine, and must
equal that: what differs there is the code, not the CPU.
"""

import json
import platform
import re
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import regression_runs

REPO = Path(__file__).resolve().parent.parent
x86_64_only = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"),
    reason="the digests are an x86-64 CPU's float bits; no other architecture can give them",
)


def on_the_reference_columns(
    recorded: dict[str, dict[str, dict[str, str]]], reference: dict[str, dict[str, dict[str, str]]]
) -> dict[str, dict[str, dict[str, str | None]]]:
    """The reference source's digests of exactly the recorded columns of its cases."""
    return {
        case: {
            table: {column: reference[case].get(table, {}).get(column) for column in columns}
            for table, columns in recorded[case].items()
        }
        for case in reference
    }


@x86_64_only
def test_short_runs_of_every_algorithm_are_bit_identical_to_the_recorded_ones(tmp_path):
    recorded = json.loads(regression_runs.DIGESTS.read_text())
    assert sorted(recorded) == sorted(regression_runs.cases())
    now = regression_runs.run_all(str(tmp_path / "now"), regression_runs.cases())
    differ = regression_runs.changed_columns(recorded, now)
    if not differ:
        return
    commit, why = regression_runs.reference_commit(REPO)
    columns = sum(len(v) for v in differ.values())
    assert commit is not None, (
        f"{len(differ)} cases ({columns} columns) differ from the recorded digests, e.g. "
        f"{next(iter(differ.items()))}; without the reference source a CPU's bits cannot be "
        f"told from a change: {why}"
    )
    source = regression_runs.extract_source(REPO, commit, tmp_path)
    reference = regression_runs.run_all(str(tmp_path / "reference"), sorted(differ), source)
    changed = regression_runs.changed_columns(on_the_reference_columns(recorded, reference), now)
    assert not changed, (
        f"{sum(len(v) for v in changed.values())} columns of {len(changed)} cases differ from "
        f"what the reference source (commit {commit[:10]}) gives on this CPU: "
        f"{[f'{case} {column}' for case, cols in changed.items() for column in cols][:20]}"
    )
    warnings.warn(
        f"{len(differ)} cases ({columns} columns) differ from the digests recorded on another "
        f"CPU, and equal what the reference source (commit {commit[:10]}) gives on this one",
        stacklevel=1,
    )


@x86_64_only
def test_the_reference_source_runs_in_place_of_the_installed_one_and_shows_a_change(tmp_path):
    """The fallback above can fail: the reference source is the one that runs, and a
    result-changing edit of it (the point task's speed) gives other digests than the
    installed source, while the unedited reference gives the same ones."""
    commit, why = regression_runs.reference_commit(REPO)
    if commit is None:
        pytest.skip(f"no reference source: {why}")
    case = ["point/ns"]
    source = regression_runs.extract_source(REPO, commit, tmp_path / "kept")
    now = regression_runs.run_all(str(tmp_path / "now"), case)
    reference = regression_runs.run_all(str(tmp_path / "reference"), case, source)
    assert regression_runs.changed_columns(reference, now) == {}

    edited = regression_runs.extract_source(REPO, commit, tmp_path / "edited")
    point = edited / "serendip" / "tasks" / "point.py"
    text, replaced = re.subn(
        r"^MAX_SPEED = 0\.05$", "MAX_SPEED = 0.0501", point.read_text(), count=1, flags=re.M
    )
    assert replaced == 1, "the point task's MAX_SPEED moved: edit this test's perturbation"
    point.write_text(text)
    changed = regression_runs.run_all(str(tmp_path / "changed"), case, edited)
    differ = regression_runs.changed_columns(changed, now).get("point/ns", [])
    assert any(column.startswith("evaluations.") for column in differ), differ
