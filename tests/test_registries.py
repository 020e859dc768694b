"""Your own task, algorithm and behavior space, registered like the built-ins and run alike."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import serendip
from serendip.algorithms import Algorithm, BuildContext
from serendip.archives import Agents, RewardArchive
from serendip.exploration.novelty_search import evaluated_agents
from serendip.request import Request
from serendip.rng import restore_rng, rng_state


class HillClimber(Algorithm):
    """A toy algorithm: (1 + n) hill climbing on the reward, written against the contract."""

    name = "hill-climber"

    def __init__(self, context: BuildContext) -> None:
        self.rng = np.random.default_rng(context.seed)
        self.size = context.genome_size
        self.best = np.zeros(context.genome_size)
        self.best_reward = -np.inf
        sizes = (context.genome_size, context.descriptor_size, context.descriptor_size)
        self.reward_archive = RewardArchive(*sizes)
        self.last = Agents.empty(*sizes)

    def ask(self, max_evaluations: int) -> Request:
        n = min(8, max_evaluations)
        return Request(self.best + self.rng.normal(0, 0.5, (n, self.size)))

    def tell(self, request, batch, indices) -> None:
        self.last = evaluated_agents(request.genomes, batch, indices, batch.descriptors)
        self.reward_archive.offer(self.last)
        best = int(np.argmax(batch.rewards))
        if batch.rewards[best] >= self.best_reward:
            self.best, self.best_reward = request.genomes[best], float(batch.rewards[best])

    def archives(self) -> dict[str, Agents]:
        return {"population": self.last, "reward_archive": self.reward_archive.agents}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"best": self.best, **self.last.arrays("last.")}
        arrays |= {f"rewarded.{k}": v for k, v in self.reward_archive.state_dict()[0].items()}
        data = {"rng": rng_state(self.rng), "best_reward": self.best_reward}
        return arrays, data

    def load_state_dict(self, arrays, data) -> None:
        self.best = arrays["best"]
        self.last = Agents.from_arrays(arrays, "last.")
        rewarded = {k[9:]: v for k, v in arrays.items() if k.startswith("rewarded.")}
        self.reward_archive.load_state_dict(rewarded, {})
        self.rng, self.best_reward = restore_rng(data["rng"]), data["best_reward"]


class MeanColour:
    """A toy behavior space: each frame's mean colour (3 numbers a frame), never trained."""

    needs_frames = True
    measures_surprise = False
    version = 0

    def __init__(self, *, n_frames: int, config: Any, seed: int) -> None:
        self.descriptor_size = 3 * n_frames

    def describe(self, batch):
        return self.encode(batch.frames)

    def encode(self, frames):
        return frames.mean(axis=(2, 3)).reshape(len(frames), -1) / 255.0

    def train(self, frames, rng):
        return None

    def state_dict(self):
        return {}, {}

    def load_state_dict(self, arrays, data):
        pass

    def save_artifacts(self, run_dir, *, evaluations):
        pass

    def restore_artifacts(self, run_dir):
        pass

    def status(self):
        return {}


@pytest.fixture
def registered():
    serendip.register_algorithm("hill-climber", HillClimber, summary="toy (1+8) hill climbing")
    serendip.register_behavior_space("mean-colour", MeanColour, summary="toy mean colour")
    yield
    serendip.algorithms.ALGORITHMS.unregister("hill-climber")
    serendip.behavior.BEHAVIOR_SPACES.unregister("mean-colour")


def test_a_registered_algorithm_and_space_run_through_run_and_search(registered, tmp_path):
    for algorithm, extra in [
        ("hill-climber", {}),
        ("taxo-n", {"frames": 1, "learned_space": {"encoder": "mean-colour"}}),
    ]:
        config = serendip.RunConfig.from_dict(
            {
                "task": "point",
                "algorithm": algorithm,
                "budget": 300,
                "out": str(tmp_path / algorithm),
            }
            | extra
        )
        result = serendip.run(config, progress=False)
        assert result.summary["evaluations"] == 300
        run = serendip.load_run(result.path)
        assert len(run.evaluations) == 300
    space = serendip.load_run(tmp_path / "taxo-n").archive("novelty_archive")
    assert space.descriptors.shape[1] == 3  # the toy space's width, not the paper's latent

    search = serendip.Search("hill-climber", genome_size=4, descriptor_bounds=[(0, 1)], seed=1)
    for _ in range(5):
        genomes = search.ask()
        search.tell(rewards=genomes[:, 0], descriptors=np.zeros((len(genomes), 1)))
    assert len(search.archive("reward_archive")) > 0
    search = serendip.Search(
        "taxo-n", genome_size=4, frames=1, learned_space={"encoder": "mean-colour"}
    )
    for _ in range(3):
        genomes = search.ask()
        frames = np.zeros((len(genomes), 1, 64, 64, 3), dtype=np.uint8)
        frames[..., 0] = (np.abs(genomes[:, :1, None, None]) * 40).clip(0, 255).astype(np.uint8)
        search.tell(rewards=np.zeros(len(genomes)), frames=frames)
    assert search.archive("population").descriptors.shape[1] == 3


class FinalObservation(MeanColour):
    """A toy fixed space that reads no frame at all: the last observation."""

    needs_frames = False

    def __init__(self, *, n_frames: int, config: Any, seed: int) -> None:
        self.descriptor_size = 2  # the point task's observation
        self.trainings = 0

    def train(self, frames, rng):
        self.trainings += 1

    def describe(self, batch):
        return np.asarray(batch.final_observations, dtype=np.float64)

    def encode(self, frames):
        raise AssertionError("a space that never changes is never asked to encode")


def test_a_fixed_space_without_frames_runs_stax_through_its_trainings(tmp_path):
    serendip.register_behavior_space("final-observation", FinalObservation, summary="toy")
    try:
        config = serendip.RunConfig.from_dict(
            {
                "task": "point",
                "algorithm": "stax",
                "budget": 1500,
                "out": str(tmp_path / "run"),
                "novelty_search": {"selection": "novelty"},  # the space has no surprise
                "exploitation": {"chunk_size": 200},
                "learned_space": {"encoder": "final-observation"},
            }
        )
        result = serendip.run(config, progress=False)
    finally:
        serendip.behavior.BEHAVIOR_SPACES.unregister("final-observation")
    assert result.summary["evaluations"] == 1500
    assert result.algorithm.space.trainings >= 2  # trainings were due (chunks 1, 3): no encode
    archive = serendip.load_run(result.path).archive("novelty_archive")
    assert archive.descriptors.shape[1] == 2


def test_surprise_on_a_space_without_it_is_a_config_error(registered, tmp_path):
    bad = [
        (
            {"algorithm": "ns", "novelty_search": {"selection": "surprise"}},
            "novelty_search.selection",
        ),
        (
            {"algorithm": "taxons", "learned_space": {"encoder": "mean-colour"}, "frames": 1},
            "surprise",
        ),
    ]
    for values, message in bad:
        config = serendip.RunConfig.from_dict(
            {"task": "point", "budget": 100, "out": str(tmp_path / "x"), **values}
        )
        with pytest.raises(serendip.ConfigError, match=message):
            serendip.run(config, progress=False)
        assert not (tmp_path / "x").exists()  # refused before anything is written


def test_registries_refuse_taken_names_and_list_user_entries(registered):
    with pytest.raises(ValueError, match="registered already"):
        serendip.register_algorithm("ns", HillClimber)
    out = subprocess.run(
        [sys.executable, "-m", "serendip", "algorithms"], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[0].startswith("ns")
    assert "hill-climber" not in out  # another process: only what it imported


PLUGIN = '''
import numpy as np
import serendip
from serendip.tasks.point import PointTask


class ShiftedPoint(PointTask):
    """The point task under another name: a user's own task."""

    spec = PointTask.spec.__class__(**{**PointTask.spec.__dict__, "name": "shifted-point",
                                       "summary": "a user's point task"})


serendip.register_task("shifted-point", ShiftedPoint)
'''


def test_a_user_task_runs_from_a_yaml_config_through_the_command_line(tmp_path):
    (tmp_path / "my_tasks.py").write_text(textwrap.dedent(PLUGIN))
    (tmp_path / "run.yaml").write_text(
        "task: shifted-point\nalgorithm: serene\nbudget: 400\nplugins: [my_tasks]\n"
        f"out: {tmp_path / 'run'}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-m", "serendip"]
    listed = subprocess.run([*command, "tasks"], capture_output=True, text=True, env=env)
    assert "shifted-point" not in listed.stdout  # not imported unless a config names it
    done = subprocess.run(
        [*command, "run", "--config", str(tmp_path / "run.yaml"), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    summary = serendip.load_run(tmp_path / "run").summary
    assert summary["task"] == "shifted-point" and summary["evaluations"] == 400
    # A sweep's runs, in spawned processes, import the plugin from each run's config.
    (tmp_path / "sweep.yaml").write_text(
        f"out: {tmp_path / 'sweep'}\ntasks: [shifted-point]\nalgorithms: [ns]\nseeds: 2\n"
        "budget: 300\nconfig: {plugins: [my_tasks]}\njobs: 2\n"
    )
    swept = subprocess.run(
        [*command, "sweep", str(tmp_path / "sweep.yaml"), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert swept.returncode == 0, swept.stderr
    for seed in (0, 1):
        run = serendip.load_run(tmp_path / "sweep" / f"shifted-point-ns-seed{seed}")
        assert run.summary["evaluations"] == 300
    # A plugin that cannot be imported is one line and exit code 2, nothing written.
    (tmp_path / "bad.yaml").write_text("task: point\nplugins: [no_such_module]\nout: nowhere\n")
    bad = subprocess.run(
        [*command, "run", "--config", str(tmp_path / "bad.yaml")], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "plugins" in bad.stderr
    assert not Path("nowhere").exists()
