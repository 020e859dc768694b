"""Checkpoint and resume: an interrupted run, resumed, ends exactly as the uninterrupted one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import serendip
from run_checks import assert_same_run
from serendip.cli import main
from serendip.experiment import checkpoint
from serendip.experiment.checkpoint import CheckpointError, checkpoint_files, load_checkpoint

BASE = {
    "task": "point",
    "budget": 4000,
    "seed": 5,
    "frames": 1,
    "metrics_every": 500,
    "checkpoint_every": 500,
    "checkpoint_share": 1,  # every due checkpoint: the tests count on them
    "learned_space": {"max_epochs": 2, "max_training_frames": 200, "threads": 1},
    "exploitation": {"chunk_size": 500},
}


class Crash(Exception):
    """Stands for a kill: the run stops between two batches without any clean-up of ours."""


def config(out: Path, **changes) -> serendip.RunConfig:
    values = {**BASE, **changes, "out": str(out)}
    return serendip.RunConfig.from_dict(values)


def crash_at(evaluations: int):
    def on_batch(done: int, algorithm) -> None:
        if done >= evaluations:
            raise Crash

    return on_batch


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Path]:
    """Uninterrupted runs: STAX (elitist, alternating) and STAX with CMA-ES emitters and UCB."""
    root = tmp_path_factory.mktemp("reference")
    runs = {
        "stax": config(root / "stax", algorithm="stax"),
        "stax-cma-ucb": config(
            root / "stax-cma-ucb",
            algorithm="stax",
            exploitation={"chunk_size": 500, "emitter": "cma-es", "scheduler": "ucb"},
        ),
    }
    for run_config in runs.values():
        serendip.run(run_config, progress=False)
    return {name: Path(c.out) for name, c in runs.items()}


def test_resumed_after_several_crashes_equals_uninterrupted(reference, tmp_path):
    out = tmp_path / "run"
    run_config = config(out, algorithm="stax")
    stops = [1300, 2100, 3700]  # mid-chunk, after the first training, in exploitation
    with pytest.raises(Crash):
        serendip.run(run_config, progress=False, on_batch=crash_at(stops[0]))
    for stop in stops[1:]:
        with pytest.raises(Crash):
            serendip.resume(out, progress=False, on_batch=crash_at(stop))
    result = serendip.resume(out, progress=False)
    assert result.summary["evaluations"] == 4000
    assert_same_run(reference["stax"], out)


def test_cma_es_emitters_and_ucb_scheduler_resume_exactly(reference, tmp_path):
    out = tmp_path / "run"
    run_config = config(
        out,
        algorithm="stax",
        exploitation={"chunk_size": 500, "emitter": "cma-es", "scheduler": "ucb"},
    )
    with pytest.raises(Crash):
        serendip.run(run_config, progress=False, on_batch=crash_at(2900))
    _, data, _ = load_checkpoint(out)
    emitters = data["algorithm"]["exploitation"]["runs"]
    assert any(run["emitter"]["kind"] == "cma-es" for run in emitters)  # something to replay
    serendip.resume(out, progress=False)
    assert_same_run(reference["stax-cma-ucb"], out)


def test_a_crash_loses_at_most_one_chunk(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Crash):
        serendip.run(config(out, algorithm="ns"), progress=False, on_batch=crash_at(2950))
    _, data, _ = load_checkpoint(out)
    assert 2950 - data["loop"]["evaluations"] <= 500


def test_share_one_takes_every_due_checkpoint_however_slow_the_disk(tmp_path, monkeypatch):
    """``checkpoint_share: 1`` takes every due checkpoint, even ones slower than the run."""
    save = checkpoint.CheckpointWriter.save

    def slow_save(self, *args, **kwargs):
        time.sleep(0.3)  # a disk far slower than 500 evaluations of the point task
        return save(self, *args, **kwargs)

    monkeypatch.setattr(checkpoint.CheckpointWriter, "save", slow_save)
    out = tmp_path / "run"
    with pytest.raises(Crash):
        serendip.run(config(out, algorithm="ns"), progress=False, on_batch=crash_at(2950))
    _, data, _ = load_checkpoint(out)
    assert 2950 - data["loop"]["evaluations"] <= 500


def test_damaged_checkpoints_are_reported_and_the_previous_one_is_used(reference, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Crash):
        serendip.run(config(out, algorithm="stax"), progress=False, on_batch=crash_at(2600))
    newest, previous = checkpoint_files(out)[-1], checkpoint_files(out)[-2]
    state = newest.with_suffix(".npz")
    payload = bytearray(state.read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # one flipped byte
    state.write_bytes(bytes(payload))
    with pytest.warns(RuntimeWarning, match="checksum mismatch"):
        _, data, _ = load_checkpoint(out)
    assert f"{data['evaluations']:09d}" in previous.name
    with pytest.warns(RuntimeWarning, match="damaged"):
        serendip.resume(out, progress=False)
    assert_same_run(reference["stax"], out)


def test_truncated_checkpoint_falls_back(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Crash):
        serendip.run(config(out, algorithm="ns"), progress=False, on_batch=crash_at(2600))
    newest = checkpoint_files(out)[-1]
    newest.write_text(newest.read_text()[:40])
    with pytest.warns(RuntimeWarning, match="unreadable"):
        _, data, _ = load_checkpoint(out)
    assert data["evaluations"] < int(newest.stem.split("-")[1])
    for path in checkpoint_files(out):
        path.unlink()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(out)


def test_a_run_killed_before_its_first_checkpoint_starts_over(tmp_path):
    out = tmp_path / "run"
    reference = serendip.run(config(tmp_path / "ref", algorithm="ns"), progress=False)
    with pytest.raises(Crash):
        serendip.run(config(out, algorithm="ns"), progress=False, on_batch=crash_at(300))
    assert not checkpoint_files(out)
    serendip.resume(out, progress=False)
    assert_same_run(reference.path, out)


def contents(directory: Path) -> dict[Path, str]:
    """The SHA-256 of every file below ``directory`` (``"folder"`` for a folder), by path."""
    return {
        p.relative_to(directory): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "folder"
        for p in sorted(directory.rglob("*"))
    }


def test_resume_refuses_finished_runs_and_other_directories(reference, tmp_path, capsys):
    """One line, exit code 2, and every file of the directory left as it was."""
    finished = reference["stax"]
    before = contents(finished)
    assert main(["resume", str(finished)]) == 2
    err = capsys.readouterr().err
    assert "has finished" in err and err.count("\n") == 1, err
    assert contents(finished) == before
    other = tmp_path / "other"  # a folder of files that is not a run
    (other / "sub").mkdir(parents=True)
    (other / "notes.txt").write_text("not a run")
    (other / "sub" / "evaluations.parquet").write_bytes(b"PAR1")
    before = contents(other)
    assert main(["resume", str(other)]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and err.count("\n") == 1, err
    assert contents(other) == before


def _serendip(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "serendip", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(out: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not checkpoint_files(out):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_command_line_kill_and_resume(reference, tmp_path, how):
    out = tmp_path / "run"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(json.dumps({**BASE, "algorithm": "stax"}))  # JSON is YAML
    process = _serendip("run", "--config", str(config_file), "--out", str(out), "--quiet")
    _wait_for_checkpoint(out, process)
    if how == "SIGKILL":
        process.kill()
        process.wait()
    else:
        os.kill(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            pytest.skip("the run finished before the signal arrived")
        assert process.returncode == 130, err
        assert f"serendip resume {out}" in err
        _, data, _ = load_checkpoint(out)
        logged = sum(
            pq.read_metadata(p).num_rows for p in out.glob("evaluations.parquet/part-*.parquet")
        )
        assert logged == data["loop"]["evaluations"]  # stopped at a batch end, all logged
    if (out / "summary.json").exists():
        pytest.skip("the run finished before the signal arrived")
    resumed = _serendip("resume", str(out), "--quiet")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert_same_run(reference["stax"], out)


def test_the_store_is_compacted_and_resume_still_exact(tmp_path, monkeypatch):
    """Unreferenced genome/frame rows are dropped; resuming across a compaction is exact."""
    monkeypatch.setattr(checkpoint, "COMPACT_MIN_ROWS", 50)
    changes = {"algorithm": "taxons", "budget": 3000}
    reference = serendip.run(config(tmp_path / "ref", **changes), progress=False)
    out = tmp_path / "run"
    with pytest.raises(Crash):
        serendip.run(config(out, **changes), progress=False, on_batch=crash_at(2200))
    serendip.resume(out, progress=False)
    assert_same_run(reference.path, out)
    arrays, data, stored = load_checkpoint(out)
    live = len(np.unique(np.concatenate([arrays[k] for k in arrays if k.endswith("indices")])))
    assert len(stored["frames"]) <= 2 * live + 500  # referenced rows, plus one chunk's
    parts = sorted((out / "checkpoint" / "store").glob("part-*.npz"))
    kept = [json.loads(path.read_text()) for path in checkpoint_files(out)]
    assert len(kept) == 2  # the newest two checkpoints, and the parts they need: no more
    assert {p.name for p in parts} == {e["file"] for k in kept for e in k["_store"]}
    assert len(data["_store"]) < 3000 // 500  # compactions merged parts


def test_a_checkpoint_of_0_1_0_is_refused_in_one_line_and_nothing_changes(tmp_path):
    """tests/data/run-0.1.0: a point SERENE run checkpointed by serendip 0.1.0."""
    run_dir = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "data" / "run-0.1.0", run_dir)
    before = contents(run_dir)
    done = subprocess.run(
        [sys.executable, "-m", "serendip", "resume", str(run_dir)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "serendip 0.1.0" in done.stderr
    assert contents(run_dir) == before


@pytest.mark.parametrize("encoder", ["paper", "keypoints", "weighted"])
def test_a_learned_encoder_resumes_exactly(tmp_path, encoder):
    """``paper`` (the papers' autoencoder: the weights and Adam state are the state),
    ``keypoints`` and ``weighted`` (``background`` spaces with another network or
    loss: the learned background too)."""
    space = {**BASE.get("learned_space", {}), "encoder": encoder}
    # Trainings at 500 and 1,300 evaluations: the crash falls between them, so the
    # second one, after the resume, starts from the restored background and weights.
    changes = {"algorithm": "taxons", "budget": 2000, "learned_space": space}
    serendip.run(config(tmp_path / "a", **changes), progress=False)
    out = tmp_path / "b"
    with pytest.raises(Crash):
        serendip.run(config(out, **changes), progress=False, on_batch=crash_at(1100))
    arrays, _, _ = load_checkpoint(out)
    assert int(arrays["space.trainings"]) == 1
    if encoder == "paper":
        assert "space.background" not in arrays
    else:
        assert len(arrays["space.background"]) == 1
    serendip.resume(out, progress=False)
    assert int(serendip.load_run(out).state()[0]["space.trainings"]) == 2
    assert_same_run(tmp_path / "a", out)


def test_stax_with_the_contrastive_encoder_resumes_exactly(tmp_path):
    """``learned_space.encoder: contrastive``: its crops are drawn from the run's generator."""
    space = {**BASE.get("learned_space", {}), "encoder": "contrastive"}
    # Trainings at 500 and about 2,300 evaluations.
    uninterrupted = config(tmp_path / "a", algorithm="stax", budget=3000, learned_space=space)
    serendip.run(uninterrupted, progress=False)
    out = tmp_path / "b"
    with pytest.raises(Crash):
        serendip.run(
            config(out, algorithm="stax", budget=3000, learned_space=space),
            progress=False,
            on_batch=crash_at(2100),
        )
    arrays, _, _ = load_checkpoint(out)
    # Trained once (weights and Adam to restore); the second training, after the
    # resume, draws its crops from the restored generator.
    assert int(arrays["space.trainings"]) == 1
    serendip.resume(out, progress=False)
    assert int(serendip.load_run(out).state()[0]["space.trainings"]) == 2
    assert_same_run(tmp_path / "a", out)
