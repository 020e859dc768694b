"""Real signals: SIGKILL, SIGTERM and Ctrl-C sent to a ``serendip run`` process.

Each case starts ``serendip run`` as a process of its own, stops it with a real
signal at a chosen moment, resumes it with the ``serendip resume`` command (its
code, in the test's process: no second start-up) and compares the finished run
with the run never interrupted, bit for bit (evaluation log and metrics
compared exactly, archives, summary, final state: ``run_checks.assert_same_run``).

The moment is chosen without sleeping blindly: the process runs under
:data:`DRIVER`, which runs ``python -m serendip`` after installing a hook that,
once the condition the test names holds (e.g. "a log part was written after the
last checkpoint, and rows are buffered"), holds the next batch in flight: it
writes ``paused`` and waits for a ``release`` file, handling signals meanwhile.
The batch is then as long as the test needs, however loaded the machine. For a
built-in task the hook runs in the main thread; for a gym task, in the thread
that runs its batches. The driver also makes log parts of 500 rows, and can
put the run loop on a virtual clock (the checkpoint policy's case). Worker
processes are held otherwise: ``HeldCartPole``'s steps block in them.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import serendip
from run_checks import assert_same_run
from serendip.cli import main
from serendip.experiment import evaluation_log
from serendip.experiment.checkpoint import checkpoint_files, load_checkpoint
from serendip.experiment.evaluation_log import log_parts, read_evaluations

PART_ROWS = 500  # log parts of 500 rows: runs of a few thousand evaluations have several

DRIVER = """
import os, runpy, sys, time
from pathlib import Path
from serendip.experiment import evaluation_log, runner

evaluation_log.PART_ROWS = int(os.environ["TEST_PART_ROWS"])
if "TEST_STOP_WAIT" in os.environ:
    runner.STOP_WAIT_SECONDS = float(os.environ["TEST_STOP_WAIT"])
WHEN = os.environ.get("TEST_PAUSE_WHEN", "")
SIGNALS = Path(os.environ["TEST_SIGNALS"])
seen = {"loop": None, "parts_at_checkpoint": None}

if "TEST_CLOCK" in os.environ:  # virtual seconds per batch and per checkpoint (a slow disk)
    from serendip.experiment.checkpoint import CheckpointWriter
    per_batch, per_checkpoint = map(float, os.environ["TEST_CLOCK"].split(","))
    class Clock:
        now = 0.0
        def perf_counter(self):
            return self.now
    clock = runner.time = Clock()
    save = CheckpointWriter.save
    def _save(self, *args, **kwargs):
        clock.now += per_checkpoint
        return save(self, *args, **kwargs)
    CheckpointWriter.save = _save
else:
    clock, per_batch = None, 0.0

batch = runner._Loop._batch
def _batch(self, evaluator):
    seen["loop"] = self
    done = batch(self, evaluator)
    if clock is not None:
        clock.now += per_batch
    return done
runner._Loop._batch = _batch

checkpoint = runner._Loop.checkpoint
def _checkpoint(self, wall_seconds):
    checkpoint(self, wall_seconds)
    seen["parts_at_checkpoint"] = self.log.next_part
runner._Loop.checkpoint = _checkpoint

def due():
    loop, at = seen["loop"], seen["parts_at_checkpoint"]
    if loop is None or not loop.log._buffer:  # rows buffered, not yet in a part
        return False
    if WHEN == "before-first-checkpoint":  # a part flushed, no checkpoint taken
        return at is None and loop.log.next_part >= 1
    if WHEN == "mid-part":  # a part flushed after the last checkpoint
        return at is not None and loop.log.next_part > at
    if WHEN.startswith("at "):  # the batch after this many evaluations
        return loop.done == int(WHEN[3:])
    return False

build = runner.build
def _build(config, task=None):
    spec, task, algorithm = build(config, task)
    evaluate = task.evaluate
    def held(genomes, *, episode_seeds):
        if due() and not (SIGNALS / "paused").exists():
            (SIGNALS / "paused.tmp").write_text(str(seen["loop"].done))
            os.replace(SIGNALS / "paused.tmp", SIGNALS / "paused")
            while not (SIGNALS / "release").exists():
                time.sleep(0.02)
        return evaluate(genomes, episode_seeds=episode_seeds)
    if WHEN:  # (a held task is not sent to worker processes: the hook does not pickle)
        task.evaluate = held
    return spec, task, algorithm
runner.build = _build

sys.argv = ["serendip", *sys.argv[1:]]
runpy.run_module("serendip", run_name="__main__", alter_sys=True)
"""

COMMON = {
    "algorithm": "ns",
    "seed": 3,
    "metrics_every": 500,
    "checkpoint_share": 1,  # every due checkpoint: the moments below count on them
}
TASKS = {
    # built-in: batches run in the main thread
    "point": {
        "task": "point",
        "budget": 2500,
        "checkpoint_every": 1000,
        "exploitation": {"chunk_size": 500},
    },
    # gym: batches run on the helper thread of evaluation.timeout (600 s by default)
    "gym": {
        "task": "gym:CartPole-v1",
        "task_options": {"max_episode_steps": 50},
        "budget": 1000,
        "checkpoint_every": 300,
        "novelty_search": {"population_size": 50},
        "exploitation": {"chunk_size": 200},
        "env_processes": 1,
    },
}


def run_config(task: str, out: Path, **changes) -> dict:
    return {**COMMON, **TASKS[task], **changes, "out": str(out)}


@pytest.fixture(autouse=True)
def small_log_parts(monkeypatch):
    monkeypatch.setattr(evaluation_log, "PART_ROWS", PART_ROWS)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Path]:
    """Each task's run never interrupted (log parts as small as the driven runs')."""
    root = tmp_path_factory.mktemp("reference")
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation_log, "PART_ROWS", PART_ROWS)
        for task in TASKS:
            config = serendip.RunConfig.from_dict(run_config(task, root / task))
            runs[task] = serendip.run(config, progress=False).path
    return runs


class Driven:
    """A ``serendip run`` process under :data:`DRIVER`, its stderr read line by line."""

    def __init__(self, tmp_path: Path, config: dict, env: dict[str, str] | None = None):
        self.signals = tmp_path / "signals"
        self.signals.mkdir()
        self.out = Path(config["out"])
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        variables = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "TEST_PART_ROWS": str(PART_ROWS),
            "TEST_SIGNALS": str(self.signals),
            **(env or {}),
        }
        command = [sys.executable, "-c", DRIVER, "run", "--config", str(config_file), "--quiet"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=variables
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:  # until every writer (workers too) has closed it
            self.err.append(line)
            self.lines.put(line)

    def wait_for(self, ready, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.process.poll() is None, f"exited before {what}: {''.join(self.err)}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    def wait_paused(self) -> None:
        self.wait_for((self.signals / "paused").exists, "the held batch")

    def release(self) -> None:
        (self.signals / "release").write_text("")

    def line(self, timeout: float) -> str:
        """The next line of stderr that serendip wrote (not a library's warning)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line.startswith("serendip:"):
                return line

    def send(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=timeout)  # every line, also a late one from a worker
        return code, "".join(self.err)


def logged_rows(out: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in log_parts(out))


def resume(out: Path, capsys) -> None:
    """``serendip resume`` (the command's code, in this process) to the end."""
    code = main(["resume", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err


def assert_same_as(reference: Path, out: Path) -> None:
    pd.testing.assert_frame_equal(
        read_evaluations(reference), read_evaluations(out), check_exact=True
    )
    assert_same_run(reference, out)


HOW = ["SIGKILL before the first checkpoint", "SIGKILL mid-part", "SIGTERM", "second SIGINT"]


@pytest.mark.filterwarnings("ignore:.*moved to discarded:RuntimeWarning")
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("task", list(TASKS))
def test_a_real_signal_then_resume_ends_as_the_uninterrupted_run(
    reference, tmp_path, capsys, task, how
):
    out = tmp_path / "run"
    first = how == "SIGKILL before the first checkpoint"
    config = run_config(task, out, **({"checkpoint_every": 0} if first else {}))
    pause_when = "before-first-checkpoint" if first else "mid-part"
    driven = Driven(tmp_path, config, {"TEST_PAUSE_WHEN": pause_when})
    try:
        driven.wait_paused()  # a batch in flight, rows buffered, a part flushed
        flushed = {p.name: p.read_bytes() for p in log_parts(out)}
        assert flushed
        if how.startswith("SIGKILL"):
            driven.send(signal.SIGKILL)
            code, _ = driven.finish()
            assert code == -signal.SIGKILL
            if first:
                assert not checkpoint_files(out)
            else:
                checkpointed = load_checkpoint(out)[1]["loop"]
                assert len(flushed) > checkpointed["log_parts"]  # a part after it
            # What was flushed stays as it was; the buffered rows are simply lost.
            assert {p.name: p.read_bytes() for p in log_parts(out)} == flushed
        elif how == "SIGTERM":
            driven.send(signal.SIGTERM)
            started = time.monotonic()
            line = driven.line(timeout=30)
            assert "SIGTERM: checkpointing after the batch in flight" in line, line
            assert time.monotonic() - started < 10  # while the batch is still held
            assert not (driven.signals / "release").exists()
            driven.release()
            code, err = driven.finish()
            assert code == 130, err
            assert f"serendip resume {out}" in err and "Traceback" not in err
            _, data, _ = load_checkpoint(out)  # taken at the end of the held batch
            assert data["loop"]["evaluations"] > int((driven.signals / "paused").read_text())
            assert logged_rows(out) == data["loop"]["evaluations"]  # all logged
        else:  # Ctrl-C, then Ctrl-C again while the batch is still in flight
            driven.send(signal.SIGINT)
            assert "Ctrl-C: checkpointing after the batch in flight" in driven.line(timeout=30)
            newest = checkpoint_files(out)[-1].read_bytes()
            driven.send(signal.SIGINT)
            started = time.monotonic()
            code, err = driven.finish()
            assert code == 130, err
            assert time.monotonic() - started < 20  # at once: the batch is never released
            assert "Ctrl-C again: stopping at once" in err and "Traceback" not in err
            assert checkpoint_files(out)[-1].read_bytes() == newest  # no checkpoint taken
            assert {p.name: p.read_bytes() for p in log_parts(out)}.items() >= flushed.items()
    finally:
        if driven.process.poll() is None:
            driven.process.kill()
            driven.process.wait()
    assert not (out / "summary.json").exists()
    resume(out, capsys)
    assert_same_as(reference[task], out)


@pytest.mark.filterwarnings("ignore:.*moved to discarded:RuntimeWarning")
def test_the_default_checkpoint_policy_bounds_what_a_sigkill_loses(tmp_path, capsys):
    """The default policy (``checkpoint_share: 0.02``) with checkpoints of 0.2 s and
    batches of 1 s (virtual seconds: the same on any machine; see
    test_reliability.py::test_the_default_checkpoint_policy_skips_due_checkpoints_and_bounds_the_loss)
    takes checkpoints at 300, 3,900 and 5,900 evaluations of the 200 due by then. A
    SIGKILL just before the one at 5,900 loses what came after 3,900: 9 s of work,
    within 50 x a checkpoint's cost; the skipped ones were never written."""
    out = tmp_path / "run"
    config = {
        **{k: v for k, v in COMMON.items() if k != "checkpoint_share"},  # the default
        "task": "point",
        "budget": 6500,
        "checkpoint_every": 200,
        "exploitation": {"chunk_size": 200},
        "out": str(out),
    }
    driven = Driven(tmp_path, config, {"TEST_CLOCK": "1.0,0.2", "TEST_PAUSE_WHEN": "at 5700"})
    try:
        driven.wait_paused()
        driven.send(signal.SIGKILL)
        assert driven.finish()[0] == -signal.SIGKILL
    finally:
        if driven.process.poll() is None:
            driven.process.kill()
            driven.process.wait()
    written = [json.loads(path.read_text())["evaluations"] for path in checkpoint_files(out)]
    assert written == [300, 3900]  # the newest two kept; none of the skipped ones
    lost_seconds = (5700 - written[-1]) / 200 * 1.0  # a second per batch of 200
    assert lost_seconds <= max(1.0, 50 * 0.2)  # max(checkpoint_every, 50 x the cost)
    resume(out, capsys)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation_log, "PART_ROWS", PART_ROWS)
        config["out"] = str(tmp_path / "reference")
        reference = serendip.run(serendip.RunConfig.from_dict(config), progress=False).path
    assert_same_as(reference, out)


# --- a slow environment in worker processes: a bounded wait, then stopping at once -------

SLOW_ENVS = """
import os, time
from pathlib import Path
import gymnasium
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

class HeldCartPole(CartPoleEnv):
    '''CartPole whose steps block, once its process has reset 300 episodes, while the
    file TEST_HOLD names exists (an environment that hangs), each blocked worker
    writing its pid into TEST_HOLD + '.pids'.'''

    resets = 0

    def reset(self, *, seed=None, options=None):
        type(self).resets += 1
        return super().reset(seed=seed, options=options)

    def step(self, action):
        hold = os.environ.get("TEST_HOLD")
        if hold and type(self).resets > 300 and os.path.exists(hold):
            with open(hold + ".pids", "a") as pids:
                pids.write(f"{os.getpid()}\\n")
            while os.path.exists(hold):
                time.sleep(0.02)
        return super().step(action)

gymnasium.register(
    "HeldCartPole-v0", entry_point=HeldCartPole, max_episode_steps=50, reward_threshold=40.0
)
"""
HELD = {
    **TASKS["gym"],
    "task": "gym:serendip_held_envs:HeldCartPole-v0",
    "task_options": {},
    "env_processes": 2,  # the batches' episodes are stepped in 2 worker processes
}


@pytest.fixture(scope="module")
def held_envs(tmp_path_factory) -> Path:
    """A folder holding the module that registers ``HeldCartPole-v0``."""
    folder = tmp_path_factory.mktemp("envs")
    (folder / "serendip_held_envs.py").write_text(SLOW_ENVS)
    return folder


@pytest.fixture(scope="module")
def held_reference(held_envs, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("held-reference")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(held_envs))
        patch.setattr(evaluation_log, "PART_ROWS", PART_ROWS)
        config = {**COMMON, **HELD, "env_processes": 1, "out": str(root / "run")}
        return serendip.run(serendip.RunConfig.from_dict(config), progress=False).path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.filterwarnings("ignore:.*moved to discarded:RuntimeWarning")
@pytest.mark.parametrize(
    ("task", "how"),
    [("point", "the wait runs out"), ("held gym", "the wait runs out"), ("held gym", "again")],
)
def test_the_first_signal_waits_a_bounded_time_and_a_second_stops_at_once(
    reference, held_envs, held_reference, tmp_path, capsys, monkeypatch, task, how
):
    """A batch that does not end: the first Ctrl-C is acknowledged at once and waits at
    most STOP_WAIT_SECONDS (here 1.5 s), a second one stops at once; either way exit
    130, no traceback (none from the worker processes either, which are gone), and the
    resume ends as the uninterrupted run."""
    out = tmp_path / "run"
    variables = {"TEST_STOP_WAIT": "1.5"}
    if task == "point":
        config = run_config("point", out)
        variables["TEST_PAUSE_WHEN"] = "mid-part"
    else:
        config = {**COMMON, **HELD, "out": str(out)}
        hold = tmp_path / "hold"
        hold.write_text("")
        path = os.pathsep.join([str(held_envs), os.environ.get("PYTHONPATH", "")])
        variables.update({"TEST_HOLD": str(hold), "PYTHONPATH": path})
    driven = Driven(tmp_path, config, variables)
    try:
        if task == "point":
            driven.wait_paused()  # a batch in flight in the main thread, held
        else:  # each worker steps 25 episodes of the first batch, 50 of each other:
            pids = Path(f"{hold}.pids")  # the 7th batch (650-750) blocks, after a checkpoint
            driven.wait_for(pids.exists, "a worker blocked in a step")
            assert checkpoint_files(out)
        driven.send(signal.SIGINT)
        sent = time.monotonic()
        assert "Ctrl-C: checkpointing after the batch in flight" in driven.line(timeout=30)
        assert time.monotonic() - sent < 10  # acknowledged while the batch is held
        if how == "again":
            driven.send(signal.SIGINT)
        code, err = driven.finish()
        waited = time.monotonic() - sent
    finally:
        if driven.process.poll() is None:
            driven.process.kill()
            driven.process.wait()
    assert code == 130, err
    assert "Traceback" not in err and "Error" not in err, err
    if how == "again":
        assert "Ctrl-C again: stopping at once" in err
    else:
        assert "did not end within 1.5 s: stopping at once" in err
        assert 1.5 <= waited < 30
    if task != "point":
        blocked = {int(pid) for pid in pids.read_text().split()}
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in blocked):  # the workers were stopped, not left
            assert time.monotonic() < deadline, "a worker process outlived the run"
            time.sleep(0.05)
        hold.unlink()  # the environment works again
        monkeypatch.syspath_prepend(str(held_envs))
        config_yaml = out / "config.yaml"  # in this process (a field results do not need)
        config_yaml.write_text(
            config_yaml.read_text().replace("env_processes: 2", "env_processes: 1")
        )
    resume(out, capsys)
    assert_same_as(held_reference if task != "point" else reference["point"], out)
