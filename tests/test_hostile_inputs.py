"""Inputs a new user may give that used to end in a traceback (issue 32, item 13).

Each is refused in one line naming what was wrong and what is accepted, with exit
code 2 and nothing written (or, for a broken environment met while running, a
TaskError naming the environment, the step and the episode).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import serendip
from serendip.archives import GridArchive
from serendip.archives.grid import MAX_GRID_CELLS
from serendip.cli import main
from serendip.experiment.config import (
    MAX_PROCESSES,
    MAX_THREADS,
    ConfigError,
    RunConfig,
    read_yaml,
)
from serendip.experiment.runner import check_costs
from serendip.experiment.sweep import Sweep, run_sweep
from serendip.metrics import LiveMetrics, metric_curves, summary_metrics
from serendip.tasks import TaskError, task_spec


def refused_run(config: Path, tmp_path: Path, capsys, field: str) -> None:
    """``serendip run --config config`` exits 2 with one line naming ``field``, writing nothing."""
    out = tmp_path / "run"
    assert main(["run", "--config", str(config), "--out", str(out), "--quiet"]) == 2
    one_line_error(capsys, field)
    assert not out.exists()


def one_line_error(capsys, field: str) -> str:
    """The single stderr line of a refused command, which names ``field``."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"serendip: error: {field}: "), lines[0]
    return lines[0]


# --- a descriptor of many values: no grid that grows as cells ** dimensions -------------


def test_blackjack_s_whole_observation_is_refused_naming_descriptor(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    out = tmp_path / "blackjack"
    code = main(
        [
            "run",
            "--task",
            "gym:Blackjack-v1",
            "--algo",
            "ns",
            "--reward",
            "positive-reward",
            "--budget",
            "50",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 2
    line = one_line_error(capsys, "descriptor")
    assert "45 values" in line and "--descriptor" in line
    assert not out.exists()  # decided before anything is written


def test_a_descriptor_of_many_values_is_refused_at_the_grid_s_limit(tmp_path):
    gymnasium = pytest.importorskip("gymnasium")
    from serendip.tasks.gym import MAX_DESCRIPTOR_VALUES, GymTask

    most = MAX_DESCRIPTOR_VALUES
    assert 2**most <= MAX_GRID_CELLS < 2 ** (most + 1)  # 2 cells per value at the least

    class Wide(gymnasium.Env):
        def __init__(self, size, render_mode=None):
            self.observation_space = gymnasium.spaces.Box(-1, 1, (size,))
            self.action_space = gymnasium.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros(self.observation_space.shape, np.float32), {}

        def step(self, action):
            return np.zeros(self.observation_space.shape, np.float32), 0.0, True, False, {}

    def task(size, **kwargs):
        return GymTask(lambda render_mode=None: Wide(size), reward_threshold=1.0, **kwargs)

    assert math.prod(task(most).spec.grid_shape) <= MAX_GRID_CELLS
    with pytest.raises(ConfigError, match=rf"^descriptor: .*{most + 1} values"):
        task(most + 1)
    # Chosen indices of a wide observation are measured.
    assert task(45, descriptor=[0, 3]).spec.grid_shape == (50, 50)
    with pytest.raises(ConfigError, match=r"^descriptor: the descriptor function's output"):
        task(
            2,
            descriptor=lambda obs: np.zeros((len(obs), 40)),
            descriptor_bounds=([0] * 40, [1] * 40),
        )


def test_metrics_and_grids_refuse_a_grid_instead_of_allocating_it():
    base = task_spec("point")
    dims = 45
    huge = dataclasses.replace(
        base,
        name="wide",
        descriptor_low=(0.0,) * dims,
        descriptor_high=(1.0,) * dims,
        descriptor_names=tuple(f"x{i}" for i in range(dims)),
        grid_shape=(2,) * dims,
    )
    log = {"index": [0], "process": ["explore"], "reward": [0.0], "reward_area": [-1]}
    log.update({f"gt_{i}": [0.5] for i in range(dims)})
    frame = pd.DataFrame(log)
    for compute in (
        lambda: summary_metrics(frame, huge),
        lambda: metric_curves(frame, huge),
        lambda: LiveMetrics(huge),
        # a user task's grid: refused with the run's other costs, before anything is written
        lambda: check_costs(RunConfig(task="point"), huge, 1),
    ):
        with pytest.raises(ConfigError, match=r"^grid_shape: .*35,184,372,088,832 cells"):
            compute()
    with pytest.raises(ValueError, match="at most 10,000,000 cells"):
        GridArchive(bounds=[(0, 1)] * dims, shape=50, genome_size=3, ground_truth_size=dims)


# --- unbounded counts of threads and processes ---------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "high"),
    [
        ({"learned_space": {"threads": 100_000}}, "learned_space.threads", MAX_THREADS),
        ({"evaluation": {"workers": 100_000}}, "evaluation.workers", MAX_PROCESSES),
        ({"task": "gym:CartPole-v1", "env_processes": 100_000}, "env_processes", MAX_PROCESSES),
    ],
)
def test_thread_and_process_counts_are_bounded(values, field, high, tmp_path, capsys):
    with pytest.raises(ConfigError, match=rf"^{field}: must be an integer in \[1, {high}\]"):
        RunConfig.from_dict(values)
    section, _, name = field.rpartition(".")
    at_limit = {**values, section: {name: high}} if section else {**values, name: high}
    assert RunConfig.from_dict(at_limit)  # the bound itself is accepted
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(values))
    refused_run(config, tmp_path, capsys, field)


def test_a_sweep_s_jobs_are_bounded(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        yaml.safe_dump(
            {"out": str(tmp_path / "s"), "tasks": ["point"], "algorithms": ["ns"], "seeds": 1}
        )
    )
    assert main(["sweep", str(path), "--jobs", "100000"]) == 2
    assert str(MAX_PROCESSES) in one_line_error(capsys, "jobs")
    assert not (tmp_path / "s").exists()


# --- a sweep folder that cannot be created ----------------------------------------------


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_sweep_whose_out_cannot_be_created_is_one_line(tmp_path, capsys):
    # /proc passes the checks for root (writable, a directory) but takes no new entry.
    out = f"/proc/serendip-sweep-{os.getpid()}"
    values = {"out": out, "tasks": ["point"], "algorithms": ["ns"], "seeds": 1, "budget": 10}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(values))
    assert main(["sweep", str(path)]) == 2
    one_line_error(capsys, "out")  # refused before the sweep's first line
    assert not Path(out).exists()
    if os.geteuid() == 0:  # validation lets it through: the sweep itself must refuse it
        with pytest.raises(ConfigError, match=r"^out: cannot create"):
            run_sweep(Sweep.from_dict(values))


# --- broken Gymnasium environments --------------------------------------------------------


def _broken_env_class(gymnasium):
    class Broken(gymnasium.Env):
        """Misbehaves (``mode``) in the episode reset with seed 7, at step 2 or on reset."""

        observation_space = gymnasium.spaces.Box(-1, 1, (2,))
        action_space = gymnasium.spaces.Discrete(2)

        def __init__(self, mode, on_reset, render_mode=None):
            self.mode, self.on_reset, self.t, self.bad = mode, on_reset, 0, False

        def _returns(self):
            observation, reward = np.zeros(2, dtype=np.float32), 1.0
            if self.bad:
                observation = {
                    "wrong shape": np.zeros(3, dtype=np.float32),
                    "None": None,
                    "a string": "up",
                }.get(self.mode, observation)
                reward = {"string reward": "1.0x", "None reward": None}.get(self.mode, reward)
            return observation, reward

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t, self.bad = 0, seed == 7
            observation, _ = self._returns() if self.on_reset else (np.zeros(2, np.float32), 0)
            return observation, {}

        def step(self, action):
            self.t += 1
            if self.t == 2 and not self.on_reset:
                observation, reward = self._returns()
            else:
                observation, reward = np.zeros(2, dtype=np.float32), 1.0
            return observation, reward, False, False, {}

    return Broken


@pytest.mark.parametrize(
    ("mode", "on_reset", "what", "where"),
    [
        ("wrong shape", False, "observation", "at step 2"),
        ("None", False, "observation", "at step 2"),
        ("a string", False, "observation", "at step 2"),
        ("wrong shape", True, "observation", "on reset"),
        ("None", True, "observation", "on reset"),
        ("string reward", False, "reward", "at step 2"),
        ("None reward", False, "reward", "at step 2"),
    ],
)
def test_a_broken_environment_gets_a_task_error_naming_step_and_episode(
    mode, on_reset, what, where
):
    gymnasium = pytest.importorskip("gymnasium")
    from serendip.tasks.gym import GymTask

    broken = _broken_env_class(gymnasium)
    task = GymTask(
        lambda render_mode=None: broken(mode, on_reset), reward_threshold=5.0, name="broken"
    )
    genomes = np.random.default_rng(0).standard_normal((4, task.genome_size))
    kind = "an observation that does not fit" if what == "observation" else "a reward that is"
    # The episode reset with seed 7 is the batch's third (index 2).
    with pytest.raises(TaskError, match=rf"^gym:broken: .*{kind}.* {where} \(episode 2 of"):
        task.evaluate(genomes, episode_seeds=np.array([4, 5, 7, 8]))


# --- a key given twice -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("budget: 10\nalgorithm: random\nbudget: 20\n", "budget"),
        ("learned_space:\n  threads: 1\n  'threads': 2\n", "learned_space.threads"),
        ("task_options: {horizon: 10, horizon: 20}\n", "task_options.horizon"),
    ],
)
def test_a_config_key_given_twice_is_refused_by_name(text, field, tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"^{field}: set twice in .*c\.yaml"):
        RunConfig.from_yaml(path)
    refused_run(path, tmp_path, capsys, field)


def test_a_sweep_key_given_twice_is_refused_by_name(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"out: {tmp_path / 's'}\ntasks: [point]\nalgorithms: [ns]\nseeds: 1\n"
        "config:\n  novelty_search: {k: 3}\n  novelty_search: {k: 5}\n"
    )
    assert main(["sweep", str(path)]) == 2
    assert "lines 6 and 7" in one_line_error(capsys, "config.novelty_search")
    assert not (tmp_path / "s").exists()


def test_a_task_option_flag_given_twice_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    flags = ["run", "--task", "point", "--algo", "ns", "--out", str(out), "--quiet"]
    assert main([*flags, "--task-option", "horizon=10", "--task-option", "horizon=20"]) == 2
    one_line_error(capsys, "task_options.horizon")
    assert main([*flags, "--task-option", "reward_areas={a: 1, a: 2}"]) == 2
    one_line_error(capsys, "task_options.reward_areas.a")
    assert not out.exists()


def test_a_merge_may_override_its_keys(tmp_path):
    # Overriding a merged key is what a merge is for, not a key given twice.
    path = tmp_path / "c.yaml"
    path.write_text("base: &base {k: 3, population_size: 10}\nsearch:\n  <<: *base\n  k: 5\n")
    assert read_yaml(path, "config")["search"] == {"k": 5, "population_size": 10}
    path.write_text("a: &one {k: 3}\nb: *one\nc: *one\n")  # an alias used twice
    assert read_yaml(path, "config")["c"] == {"k": 3}


def test_serendip_s_own_config_files_load_as_before(tmp_path):
    out = tmp_path / "run"
    config = RunConfig.from_dict({"task": "point", "algorithm": "random", "budget": 20})
    serendip.run(config.replace(out=str(out)), progress=False)
    assert RunConfig.from_run_dir(out) == config.replace(out=str(out))
