"""Gymnasium tasks as a new user meets them: ids, options, success rules, resets, Dict spaces.

The environments of ``serendip_gym_envs`` (next to this file) are registered when
that module is imported, so ``gym:serendip_gym_envs:<id>`` exercises the
``gym:<module>:<id>`` form without a network or an extra package.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

gymnasium = pytest.importorskip("gymnasium")

import serendip  # noqa: E402
from run_checks import assert_same_frame  # noqa: E402
from serendip.analysis.report import summary_rows  # noqa: E402
from serendip.analysis.run_data import open_run  # noqa: E402
from serendip.cli import main  # noqa: E402
from serendip.experiment.runner import episode_seeds  # noqa: E402
from serendip.tasks import TaskError, make_task  # noqa: E402
from serendip.tasks.gym import GymTask, flatten_batch  # noqa: E402

HERE = Path(__file__).parent
SERENDIP = [sys.executable, "-m", "serendip"]
GOAL = "gym:serendip_gym_envs:SerendipGoalReach-v0"
INFO = "gym:serendip_gym_envs:SerendipInfoSuccess-v0"
DICT_ACTIONS = "gym:serendip_gym_envs:SerendipDictActions-v0"


def genomes(task, n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, task.genome_size))


def run_config(tmp_path, **values):
    values = {"algorithm": "random", "budget": 60, "out": str(tmp_path / "run"), **values}
    values.setdefault("random_search", {"batch_size": 20})
    return serendip.RunConfig.from_dict(values)


def cli_error(capsys, *flags):
    """Run ``serendip run FLAGS``: its exit code and its stderr."""
    code = main(["run", "--quiet", *flags])
    return code, capsys.readouterr().err


# --- ids --------------------------------------------------------------------------------


def test_a_module_id_imports_the_module_that_registers_the_environment(tmp_path):
    task = make_task(GOAL)
    assert task.spec.name == GOAL and task.env_id == "SerendipGoalReach-v0"
    assert task.spec.horizon == 30  # the registered max_episode_steps
    result = serendip.run(run_config(tmp_path, task=GOAL), progress=False)
    assert result.summary["task"] == GOAL and result.summary["evaluations"] == 60


def test_a_module_id_runs_from_the_command_line_and_in_worker_processes(tmp_path):
    # The workers are fresh processes: they import the module from the id themselves.
    config = tmp_path / "goal.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "task": GOAL,
                "algorithm": "random",
                "budget": 40,
                "random_search": {"batch_size": 20},
                "backend": "processes",
                "evaluation": {"workers": 2},
            }
        )
    )
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    done = subprocess.run(
        [*SERENDIP, "run", "--config", str(config), "--quiet", "--out", str(tmp_path / "cli")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    inprocess = serendip.run(
        run_config(tmp_path, task=GOAL, budget=40, out=str(tmp_path / "in")), progress=False
    )
    logged = serendip.load_run(tmp_path / "cli").evaluations
    assert_same_frame(logged, serendip.load_run(inprocess.path).evaluations)


def test_an_unknown_module_or_id_is_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    for task, message in [
        ("gym:no_such_module_xyz:Env-v0", "cannot import module 'no_such_module_xyz'"),
        ("gym:serendip_gym_envs:NoSuchEnv-v0", "unknown Gymnasium environment 'NoSuchEnv-v0'"),
    ]:
        out = tmp_path / task.replace(":", "-")
        code, err = cli_error(capsys, "--task", task, "--out", str(out))
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert not out.exists()


def test_spaces_serendip_cannot_drive_are_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "x"
    code, err = cli_error(
        capsys, "--task", DICT_ACTIONS, "--reward", "info-success", "--out", str(out)
    )
    assert code == 2 and "action space Dict" in err and "accepted: Discrete, Box" in err
    assert err.count("\n") == 1 and not out.exists()

    class TextObservations(gymnasium.Env):
        observation_space = gymnasium.spaces.Text(5)
        action_space = gymnasium.spaces.Discrete(2)

    with pytest.raises(TaskError, match=r"observation space Text.* not supported"):
        GymTask(TextObservations, reward="info-success")


# --- task options -----------------------------------------------------------------------


def test_task_options_reach_gymnasium_make():
    task = make_task(GOAL, options={"max_episode_steps": 12, "continuing_task": True})
    assert task.spec.horizon == 12
    batch = task.evaluate(genomes(task, 40), episode_seeds=np.zeros(40, dtype=int))
    # A continuing task never terminates: every episode runs to the horizon, and one that
    # stays inside the goal keeps earning (its reward, the sum of its positive rewards, > 1).
    np.testing.assert_array_equal(batch.extras["episode_length"], 12)
    dense = make_task(
        GOAL, options={"reward_type": "dense"}, reward="return-threshold", reward_threshold=-5
    )
    result = dense.evaluate(genomes(dense, 10), episode_seeds=np.zeros(10, dtype=int))
    assert (result.extras["episode_return"] < 0).all()


def test_bad_task_options_are_one_line_naming_the_option(tmp_path, capsys):
    with pytest.raises(serendip.ConfigError, match=r"^task_options.colour: not a keyword") as e:
        make_task(GOAL, options={"colour": "red"})
    assert "accepted: reward_type, continuing_task, goal_radius, step_size" in str(e.value)
    with pytest.raises(serendip.ConfigError, match=r"raised ValueError: reward_type must be"):
        make_task(GOAL, options={"reward_type": "shaped"})
    with pytest.raises(serendip.ConfigError, match=r"task_options.render_mode: is serendip's"):
        make_task(GOAL, options={"render_mode": "human"})
    for values, field in [
        ({"task_options": [1, 2]}, "task_options"),
        ({"task_options": {"1x": 2}}, "task_options"),
        ({"task_options": {"x": float("nan")}}, "task_options.x"),
        ({"task_options": {"x": object()}}, "task_options.x"),
    ]:
        with pytest.raises(serendip.ConfigError) as raised:
            serendip.RunConfig.from_dict({"task": GOAL, **values})
        assert raised.value.field == field
    out = tmp_path / "bad"
    code, err = cli_error(
        capsys, "--task", GOAL, "--task-option", "goal_radious=0.1", "--out", str(out)
    )
    assert code == 2 and "task_options.goal_radious" in err and err.count("\n") == 1
    assert not out.exists()
    code, err = cli_error(capsys, "--task", GOAL, "--task-option", "no-equals-sign")
    assert code == 2 and "KEY=VALUE" in err


def test_command_line_task_options_add_to_the_config_files(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"task: {GOAL}\nalgorithm: random\nbudget: 20\nrandom_search: {{batch_size: 20}}\n"
        "task_options: {goal_radius: 0.3, step_size: 0.05}\n"
    )
    out = tmp_path / "run"
    flags = ["--task-option", "step_size=0.2", "--task-option", "continuing_task=true"]
    assert main(["run", "--config", str(config), *flags, "--out", str(out), "--quiet"]) == 0
    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert recorded["task_options"] == {
        "goal_radius": 0.3,
        "step_size": 0.2,
        "continuing_task": True,
    }


# --- success rules ----------------------------------------------------------------------


def test_return_threshold_takes_any_sign_and_keeps_the_raw_return(tmp_path):
    task = make_task("gym:Pendulum-v1", reward_threshold=-250, options={"max_episode_steps": 40})
    assert task.reward_rule == "return-threshold" and task.reward_threshold == -250
    batch = task.evaluate(genomes(task, 30), episode_seeds=np.arange(30))
    returns = batch.extras["episode_return"]
    reached = returns >= -250
    assert reached.any() and not reached.all() and (returns < 0).all()
    # Rewarding exactly when the threshold is met, then return + 1 - threshold >= 1.
    np.testing.assert_array_equal(batch.reward_areas, np.where(reached, 0, -1))
    np.testing.assert_array_equal(batch.rewards, np.where(reached, returns + 251, 0))
    assert (batch.rewards[reached] >= 1).all()
    # From the command line, and the raw return in the log.
    out = tmp_path / "pendulum"
    flags = ["--task", "gym:Pendulum-v1", "--reward-threshold", "-250", "--algo", "random"]
    flags += ["--task-option", "max_episode_steps=40", "--budget", "100", "--out", str(out)]
    assert main(["run", *flags, "--quiet"]) == 0
    log = serendip.load_run(out).evaluations
    rewarded = log["reward"] > 0
    assert rewarded.any()
    np.testing.assert_array_equal(rewarded, log["episode_return"] >= -250)
    np.testing.assert_array_equal(log["episode_length"], 40)
    summary = serendip.load_run(out).summary
    assert summary["reward_rule"] == "return-threshold" and summary["reward_threshold"] == -250


def test_the_registered_threshold_is_the_default_and_the_rule_can_be_named():
    task = make_task("gym:CartPole-v1")  # registered with reward_threshold 475
    assert (task.reward_rule, task.reward_threshold) == ("return-threshold", 475)
    named = make_task("gym:CartPole-v1", reward="return-threshold")
    assert named.reward_threshold == 475
    with pytest.raises(serendip.ConfigError, match=r"^reward_threshold: reward return-threshold"):
        make_task("gym:Pendulum-v1", reward="return-threshold")


def test_positive_reward_is_detected_for_a_sparse_environment():
    task = make_task(GOAL, options={"continuing_task": True, "max_episode_steps": 25})
    assert task.reward_rule == "positive-reward"
    batch = task.evaluate(genomes(task, 60, seed=3), episode_seeds=np.zeros(60, dtype=int))
    returns = batch.extras["episode_return"]  # 0/1 rewards: the return counts the hits
    assert (returns > 1).any()
    np.testing.assert_array_equal(batch.rewards, returns)
    np.testing.assert_array_equal(batch.reward_areas, np.where(returns > 0, 0, -1))


def test_positive_reward_counts_only_positive_rewards():
    class UpAndDown(gymnasium.Env):
        observation_space = gymnasium.spaces.Box(-1, 1, (1,))
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(1, dtype=np.float32), {}

        def step(self, action):
            self.t += 1
            reward = [2.0, -5.0, 0.5][self.t - 1]
            return np.zeros(1, dtype=np.float32), reward, self.t == 3, False, {}

    task = GymTask(UpAndDown, reward="positive-reward")
    batch = task.evaluate(genomes(task, 2))
    np.testing.assert_array_equal(batch.extras["episode_return"], -2.5)
    np.testing.assert_array_equal(batch.rewards, 2.5)  # a net loss, yet rewarded
    np.testing.assert_array_equal(batch.reward_areas, 0)


def test_success_signalled_only_through_info_is_detected_and_scored():
    task = make_task(INFO)
    assert task.reward_rule == "info-success"
    batch = task.evaluate(genomes(task, 200, seed=1))
    on_target = batch.final_observations[:, 0] == 3
    assert on_target.any() and not on_target.all()
    np.testing.assert_array_equal(batch.reward_areas, np.where(on_target, 0, -1))
    np.testing.assert_array_equal(batch.rewards, on_target.astype(float))
    np.testing.assert_array_equal(batch.extras["episode_return"], -20.0)  # -1 a step
    # The last step's info decides: success on the way that is left does not count.
    assert "info['is_success']" in task.spec.summary


def test_info_success_warns_once_when_the_info_never_says(recwarn):
    # The environment signals success through info: no warning.
    signalled = make_task(INFO)
    signalled.evaluate(genomes(signalled, 5))
    assert not [w for w in recwarn if "info-success" in str(w.message)]
    # CartPole's info never holds is_success or success: every episode would score 0.
    silent = make_task("gym:CartPole-v1", reward="info-success")
    with pytest.warns(RuntimeWarning, match=r"info-success, but no step of this batch's 4"):
        batch = silent.evaluate(genomes(silent, 4))
    assert (batch.rewards == 0).all()
    recwarn.clear()
    silent.evaluate(genomes(silent, 4))  # once per task
    assert not [w for w in recwarn if "info-success" in str(w.message)]
    signalled.close()
    silent.close()


def test_an_info_success_run_from_the_command_line(tmp_path):
    out = tmp_path / "info"
    flags = ["--task", INFO, "--algo", "ns", "--budget", "400", "--seed", "2", "--out", str(out)]
    assert main(["run", *flags, "--quiet"]) == 0
    run = serendip.load_run(out)
    assert run.summary["reward_rule"] == "info-success"
    assert run.summary["reward_areas_found"] == 1
    log = run.evaluations
    np.testing.assert_array_equal(log["reward"] > 0, log["gt_0"] == 3)


def test_reward_settings_are_checked(tmp_path):
    cases = [
        ({"task": GOAL, "reward": "most-reward"}, "reward", "return-threshold, positive-reward"),
        ({"task": GOAL, "reward": "info-success", "reward_threshold": 1}, "reward_threshold", ""),
        ({"task": "point", "reward": "info-success"}, "reward", "only applies to gym"),
        ({"task": "point", "reward_threshold": 1}, "reward_threshold", "only applies to gym"),
        ({"task": "point", "descriptor": "x"}, "descriptor", "only applies to gym"),
    ]
    for values, field, accepted in cases:
        with pytest.raises(serendip.ConfigError) as raised:
            serendip.RunConfig.from_dict(values)
        assert raised.value.field == field and accepted in str(raised.value)
    # A task built by the caller must score as its config says.
    task = GymTask(lambda render_mode=None: gymnasium.make("CartPole-v1"), reward_threshold=100)
    config = run_config(tmp_path, task=f"gym:{task.env_id}", reward="info-success")
    with pytest.raises(serendip.ConfigError, match=r"^reward: the config says info-success"):
        serendip.run(config, task=task, progress=False)
    config = run_config(tmp_path, task=f"gym:{task.env_id}", reward_threshold=200)
    with pytest.raises(serendip.ConfigError, match=r"^reward_threshold: the config says 200"):
        serendip.run(config, task=task, progress=False)


# --- resets -----------------------------------------------------------------------------


def goals(run_dir):
    """The goal each logged episode had (the descriptor is the goal: desired_goal)."""
    log = serendip.load_run(run_dir).evaluations
    return log[["gt_0", "gt_1"]].to_numpy(), log["index"].to_numpy()


def reset_goal(seed):
    env = gymnasium.make("serendip_gym_envs:SerendipGoalReach-v0")
    return env.reset(seed=int(seed))[0]["desired_goal"]


def test_fixed_resets_give_every_episode_the_run_seeds_task(tmp_path):
    config = run_config(tmp_path, task=GOAL, seed=7, descriptor="desired_goal")
    assert config.episode_seeds == "fixed"  # the default of gym tasks, as in the papers
    result = serendip.run(config, progress=False)
    logged, _ = goals(result.path)
    np.testing.assert_array_equal(logged, np.tile(reset_goal(7), (60, 1)))
    assert yaml.safe_load((result.path / "config.yaml").read_text())["episode_seeds"] == "fixed"
    assert result.summary["episode_seeds"] == "fixed"
    rows = dict(summary_rows(open_run(result.path)))
    assert rows["episode seeds"] == "fixed: every episode reset with seed 7"
    assert rows["reward rule"] == "positive-reward"


def test_per_evaluation_resets_give_each_evaluation_its_own_task(tmp_path, capsys):
    out = tmp_path / "per"
    flags = ["--task", GOAL, "--algo", "random", "--budget", "40", "--seed", "3"]
    flags += ["--episode-seeds", "per-evaluation", "--descriptor", "desired_goal"]
    assert main(["run", *flags, "--out", str(out), "--quiet"]) == 0
    logged, index = goals(out)
    expected = [reset_goal(s) for s in episode_seeds(3, index, "per-evaluation")]
    np.testing.assert_array_equal(logged, expected)
    assert len(np.unique(logged, axis=0)) == 40
    assert serendip.load_run(out).summary["episode_seeds"] == "per-evaluation"
    code, err = cli_error(capsys, "--task", GOAL, "--episode-seeds", "random")
    assert code == 2 and "episode_seeds: must be one of fixed, per-evaluation" in err


def test_the_report_replays_a_gym_run_with_its_episode_seeds(tmp_path):
    from serendip.analysis.report import write_report

    for rule in ("per-evaluation", "fixed"):
        out = tmp_path / rule
        config = run_config(
            tmp_path, task=GOAL, algorithm="ns", budget=300, seed=1, out=str(out)
        ).replace(episode_seeds=rule)
        assert serendip.run(config, progress=False).summary["reward_areas_found"] == 1
        report = write_report(out)
        assert not [note for note in report.notes if "replay" in note], report.notes
        assert f"episode seeds</th><td>{rule}" in report.path.read_text()


def test_episode_seed_rules():
    index = np.array([0, 1, 5])
    np.testing.assert_array_equal(episode_seeds(4, index, "fixed"), [4, 4, 4])
    np.testing.assert_array_equal(episode_seeds(4, index), 4 * 2**32 + index)
    assert serendip.RunConfig.from_dict({"task": "arm"}).episode_seeds == "per-evaluation"
    assert serendip.RunConfig.from_dict({"task": "gym:CartPole-v1"}).episode_seeds == "fixed"


def test_a_run_made_before_episode_seeds_existed_keeps_its_resets(tmp_path):
    # Its config.yaml has no episode_seeds: it was made with one seed per evaluation.
    result = serendip.run(
        run_config(tmp_path, task=GOAL, episode_seeds="per-evaluation"), progress=False
    )
    path = result.path / "config.yaml"
    values = yaml.safe_load(path.read_text())
    del values["episode_seeds"]
    path.write_text(yaml.safe_dump(values))
    assert serendip.load_run(result.path).config.episode_seeds == "per-evaluation"
    assert open_run(result.path).config.episode_seeds == "per-evaluation"


# --- observations and descriptors -------------------------------------------------------


def test_dict_and_tuple_observations_flatten_in_gymnasiums_order():
    spaces = gymnasium.spaces
    space = spaces.Dict(
        {
            "velocity": spaces.Box(-1, 1, (2, 2)),
            "cell": spaces.Tuple((spaces.Discrete(3, start=1), spaces.MultiBinary(2))),
            "bins": spaces.MultiDiscrete([2, 3], start=[1, 0]),
        }
    )
    space.seed(0)
    rows = [space.sample() for _ in range(5)]
    batched = gymnasium.vector.utils.concatenate(
        space, rows, gymnasium.vector.utils.create_empty_array(space, 5)
    )
    flat = flatten_batch(spaces, space, batched)
    expected = np.stack([spaces.flatten(space, row) for row in rows]).astype(np.float64)
    np.testing.assert_array_equal(flat, expected)
    assert list(space.spaces) == ["bins", "cell", "velocity"]  # sorted keys


def test_a_goal_conditioned_dict_observation_and_its_descriptors():
    task = make_task(GOAL)
    # achieved_goal (2), desired_goal (2), observation (4): the keys in sorted order.
    assert task.spec.observation_size == 8
    assert task.spec.descriptor_names == ("achieved_goal[0]", "achieved_goal[1]")
    assert task.spec.descriptor_low == (-1, -1) and task.spec.descriptor_high == (1, 1)
    batch = task.evaluate(genomes(task, 6), episode_seeds=np.zeros(6, dtype=int))
    np.testing.assert_array_equal(batch.descriptors, batch.final_observations[:, :2])
    by_index = make_task(GOAL, descriptor=[4, 5])
    assert by_index.spec.descriptor_names == ("obs4", "obs5")
    assert by_index.spec.descriptor_low == (-10, -10)  # unbounded: the documented default
    bounded = make_task(GOAL, descriptor="observation", descriptor_bounds=[[-1] * 4, [1] * 4])
    assert bounded.spec.descriptor_size == 4 and bounded.spec.grid_shape == (7, 7, 7, 7)
    for descriptor, bounds, message in [
        ("goal", None, "'goal' is not a key of the observation space; keys: achieved_goal"),
        ([0, 8], None, r"flat observation indices must lie in \[0, 8\)"),
        ([1, 1], None, "twice"),
        ([0, "x"], None, "must name observation key"),
        ([0, 1], [[0], [1]], "must hold 2 values each"),
    ]:
        with pytest.raises(serendip.ConfigError, match=message):
            make_task(GOAL, descriptor=descriptor, descriptor_bounds=bounds)
    with pytest.raises(serendip.ConfigError, match=r"not a Dict; give flat indices"):
        make_task("gym:CartPole-v1", descriptor="x")
    cart = make_task("gym:CartPole-v1", descriptor=[0, 2])
    assert cart.spec.descriptor_names == ("obs0", "obs2")


def test_descriptor_settings_are_checked_in_the_config():
    good = {
        "achieved_goal": "achieved_goal",
        "[x, y]": ["x", "y"],
        "[0, 2]": [0, 2],
    }
    for text, value in good.items():
        config = serendip.RunConfig.from_dict({"task": GOAL, "descriptor": yaml.safe_load(text)})
        assert config.descriptor == value
    for bad in [[], [True], [0, "x"], [-1], [1, 1], {"a": 1}, 1.5]:
        with pytest.raises(serendip.ConfigError, match=r"^descriptor:"):
            serendip.RunConfig.from_dict({"task": GOAL, "descriptor": bad})
    for bad in [[[0], [0]], [[0, 1]], "x", [[0, 1], [1]], [["a"], [1]]]:
        with pytest.raises(serendip.ConfigError, match=r"^descriptor_bounds:"):
            serendip.RunConfig.from_dict({"task": GOAL, "descriptor_bounds": bad})


# --- frames without pygame's noise; the log; the listing ---------------------------------


def test_rendering_does_not_print_pygames_runtime_dir_error(tmp_path):
    script = (
        "import os, numpy as np, serendip\n"
        "import serendip.tasks.gym\n"
        "assert 'XDG_RUNTIME_DIR' not in os.environ  # nothing changes at import\n"
        "task = serendip.make_task('gym:Pendulum-v1', reward_threshold=-100, n_frames=1,\n"
        "                          options={'max_episode_steps': 3})\n"
        "task.evaluate(np.zeros((2, task.genome_size)))\n"
        "print(os.environ['XDG_RUNTIME_DIR'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "XDG_RUNTIME_DIR" not in done.stderr, done.stderr
    runtime = Path(done.stdout.strip())
    assert runtime.is_dir() and (runtime.stat().st_mode & 0o077) == 0


def test_built_in_runs_log_no_extras_and_gym_runs_log_theirs(tmp_path):
    gym = serendip.run(run_config(tmp_path, task=INFO), progress=False)
    columns = list(serendip.load_run(gym.path).evaluations.columns)
    assert columns[-3:] == ["gt_0", "episode_return", "episode_length"]
    point = serendip.run(
        run_config(tmp_path, task="point", out=str(tmp_path / "point")), progress=False
    )
    assert list(serendip.load_run(point.path).evaluations.columns)[-1] == "gt_1"
    summary = json.loads((point.path / "summary.json").read_text())
    assert summary["episode_seeds"] == "per-evaluation"
    assert summary["reward_rule"] == "reward-areas"


def test_a_gym_run_with_options_and_extras_resumes_exactly(tmp_path):
    class Crash(Exception):
        pass

    def crash(done, algorithm):
        if done >= 260:
            raise Crash

    values = {
        "task": GOAL,
        "task_options": {"continuing_task": True, "max_episode_steps": 15},
        "episode_seeds": "per-evaluation",
        "algorithm": "ns",
        "budget": 400,
        "checkpoint_every": 100,
        "checkpoint_share": 1,
        "novelty_search": {"population_size": 20, "offspring_per_parent": 2},
        "exploitation": {"chunk_size": 100},  # checkpoints at chunk boundaries
    }
    whole = serendip.RunConfig.from_dict({**values, "out": str(tmp_path / "whole")})
    serendip.run(whole, progress=False)
    parts = serendip.RunConfig.from_dict({**values, "out": str(tmp_path / "parts")})
    with pytest.raises(Crash):
        serendip.run(parts, progress=False, on_batch=crash)
    serendip.resume(tmp_path / "parts", progress=False)
    expected = serendip.load_run(tmp_path / "whole").evaluations
    resumed = serendip.load_run(tmp_path / "parts").evaluations
    assert "episode_return" in resumed.columns
    assert_same_frame(resumed, expected)


def test_serendip_tasks_says_how(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for text in [
        "gym:<module>:<id>",
        "--task-option KEY=VALUE",
        "return-threshold, positive-reward, info-success",
        "episode_seeds: fixed",
        "options: horizon, reward_areas",
        'pip install -e ".[gym]"',
    ]:
        assert text in out, text
