"""Gymnasium environments as tasks: CartPole, frames, errors, and a run from the command line."""

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

import serendip  # noqa: E402
from serendip.cli import main  # noqa: E402
from serendip.tasks import TaskError, make_task  # noqa: E402
from serendip.tasks.gym import GymTask  # noqa: E402


def genomes(task, n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, task.genome_size))


def test_cartpole_spec_and_episode_returns_match_a_plain_gymnasium_loop():
    task = make_task("gym:CartPole-v1", reward_threshold=100)
    assert task.spec.observation_size == 4 and task.spec.action_size == 2
    assert task.spec.horizon == 500
    g = genomes(task, 12)
    batch = task.evaluate(g, episode_seeds=np.arange(12) + 7)
    # The same policies, one plain Gymnasium episode each.
    layers = task.policy.unpack(g)
    for i in range(12):
        env = gymnasium.make("CartPole-v1")
        obs, _ = env.reset(seed=7 + i)
        total, done = 0.0, False
        while not done:
            single = [(w[i : i + 1], b[i : i + 1]) for w, b in layers]
            action = int(np.argmax(task.policy.forward(single, obs[None].astype(float))))
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        assert batch.extras["episode_return"][i] == total
        np.testing.assert_allclose(batch.final_observations[i], obs, rtol=1e-6)
    reached = batch.extras["episode_return"] >= 100
    np.testing.assert_array_equal(batch.reward_areas, np.where(reached, 0, -1))
    np.testing.assert_array_equal(
        batch.rewards, np.where(reached, batch.extras["episode_return"], 0)
    )


def test_frames_are_64x64_and_an_ended_episode_keeps_its_last_frame():
    task = make_task("gym:CartPole-v1", reward_threshold=100, n_frames=2)
    batch = task.evaluate(genomes(task, 4), episode_seeds=np.arange(4))
    assert batch.frames.shape == (4, 2, 64, 64, 3) and batch.frames.dtype == np.uint8
    assert batch.frames.std() > 0  # not blank
    short = batch.extras["episode_length"] < 250  # ended before the first sampling time
    assert short.any()
    for i in np.flatnonzero(short):
        np.testing.assert_array_equal(batch.frames[i, 0], batch.frames[i, 1])
    again = task.evaluate(genomes(task, 4), episode_seeds=np.arange(4))
    np.testing.assert_array_equal(batch.frames, again.frames)


def test_a_factory_a_descriptor_and_a_horizon():
    def make_env(render_mode=None):
        return gymnasium.make("Pendulum-v1", render_mode=render_mode)

    task = GymTask(
        make_env,
        reward_threshold=1.0,
        name="pendulum",
        horizon=20,
        descriptor=lambda obs: obs[:, :2],
        descriptor_bounds=([-1, -1], [1, 1]),
    )
    assert task.spec.name == "gym:pendulum" and task.spec.grid_shape == (50, 50)
    batch = task.evaluate(genomes(task, 5), episode_seeds=np.arange(5))
    np.testing.assert_array_equal(batch.extras["episode_length"], 20)  # cut at the horizon
    np.testing.assert_allclose(batch.descriptors, batch.final_observations[:, :2])
    # Pendulum's returns are negative: never a reward.
    assert (batch.reward_areas == -1).all() and (batch.rewards == 0).all()


class Exploding(gymnasium.Env):
    """An environment that misbehaves at a given step: raises or returns NaN."""

    observation_space = gymnasium.spaces.Box(-1, 1, (2,))
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, mode, at=3, render_mode=None):
        self.mode, self.at, self.t = mode, at, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t == self.at and self.mode == "raise":
            raise RuntimeError("boom")
        obs = np.zeros(2, dtype=np.float32)
        if self.t == self.at and self.mode == "nan":
            obs[0] = np.nan
        return obs, 1.0, False, False, {}


@pytest.mark.parametrize(
    "mode, message",
    [("raise", "raised RuntimeError at step 3"), ("nan", "non-finite observation at step 3")],
)
def test_a_misbehaving_environment_gets_a_clear_error(mode, message):
    task = GymTask(lambda render_mode=None: Exploding(mode), reward_threshold=5.0, horizon=10)
    with pytest.raises(TaskError, match=message):
        task.evaluate(genomes(task, 3))


def test_an_environment_that_never_ends_is_cut_at_the_horizon():
    task = GymTask(lambda render_mode=None: Exploding("none"), reward_threshold=5.0, horizon=10)
    batch = task.evaluate(genomes(task, 3))
    np.testing.assert_array_equal(batch.extras["episode_length"], 10)
    np.testing.assert_array_equal(batch.rewards, 10.0)  # return 10 >= 5: reached
    np.testing.assert_array_equal(batch.reward_areas, 0)


def test_bad_gym_input_is_refused_clearly(capsys, tmp_path):
    # Pendulum signals no success and registers no threshold: the rule must be chosen.
    pendulum = serendip.RunConfig.from_dict(
        {"task": "gym:Pendulum-v1", "algorithm": "ns", "out": str(tmp_path / "p")}
    )
    rules = "return-threshold, positive-reward, info-success"
    with pytest.raises(serendip.ConfigError, match=f"^reward: .*{rules}"):
        serendip.run(pendulum, progress=False)
    assert not (tmp_path / "p").exists()
    unknown = serendip.RunConfig.from_dict(
        {"task": "gym:NoSuchEnv-v0", "reward_threshold": 1, "out": str(tmp_path / "y")}
    )
    with pytest.raises(serendip.ConfigError, match="unknown Gymnasium environment"):
        serendip.run(unknown, progress=False)
    assert not (tmp_path / "y").exists()
    with pytest.raises(serendip.ConfigError, match="reward_threshold: must be a finite number"):
        serendip.RunConfig.from_dict({"task": "gym:CartPole-v1", "reward_threshold": "x"})
    with pytest.raises(serendip.ConfigError, match="reward_threshold"):
        GymTask(lambda render_mode=None: Exploding("none"), reward_threshold=float("nan"))
    code = main(
        [
            "run",
            "--task",
            "gym:NoSuchEnv-v0",
            "--reward-threshold",
            "1",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2
    assert "unknown Gymnasium environment" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_failing_environment_stops_the_run_and_keeps_the_log(tmp_path):
    # Fails at the 3rd step of its 2nd reset: the first batch is logged, then the error.
    resets = {"n": 0}

    class FailsLater(Exploding):
        def reset(self, *, seed=None, options=None):
            resets["n"] += 1
            self.mode = "raise" if resets["n"] > 50 else "none"
            return super().reset(seed=seed, options=options)

    task = GymTask(
        lambda render_mode=None: FailsLater("none"), reward_threshold=5.0, horizon=5, name="fails"
    )
    config = serendip.RunConfig.from_dict(
        {
            "task": "gym:fails",
            "algorithm": "random",
            "budget": 200,
            "reward_threshold": 5.0,
            "out": str(tmp_path / "run"),
            "random_search": {"batch_size": 50},
            "env_processes": 1,  # the count of resets is one process's
        }
    )
    with pytest.raises(TaskError, match="raised RuntimeError"):
        serendip.run(config, task=task, progress=False)
    evaluations = serendip.load_run(tmp_path / "run").evaluations
    assert len(evaluations) == 50


def test_cartpole_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "cartpole"
    code = main(
        [
            "run",
            "--task",
            "gym:CartPole-v1",
            "--algo",
            "serene",
            "--reward-threshold",
            "200",
            "--budget",
            "600",
            "--seed",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    run = serendip.load_run(out)
    assert len(run.evaluations) == 600
    assert run.summary["reward_areas_total"] == 1
