"""The speed paths of gym tasks: worker processes, frames at the sampling times, small renders."""

import importlib.util
import os
import pickle
import re
import subprocess
import sys
import textwrap
from typing import ClassVar

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

import serendip  # noqa: E402
from serendip.evaluation import InProcess, default_workers  # noqa: E402
from serendip.tasks import EvaluationBatch, make_task  # noqa: E402
from serendip.tasks.base import frame_times  # noqa: E402
from serendip.tasks.gym import (  # noqa: E402
    MAX_GL_ENVS,
    MIN_PARALLEL_EPISODES,
    RENDER_PIXELS,
    GymTask,
)


def genomes(task, n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, task.genome_size))


def assert_same(a, b):
    np.testing.assert_array_equal(a.rewards, b.rewards)
    np.testing.assert_array_equal(a.reward_areas, b.reward_areas)
    np.testing.assert_array_equal(a.descriptors, b.descriptors)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.final_observations, b.final_observations)
    assert a.extras.keys() == b.extras.keys()
    for key in a.extras:
        np.testing.assert_array_equal(a.extras[key], b.extras[key])


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("gym:CartPole-v1", {"reward_threshold": 100, "n_frames": 2}),
        # A Dict observation, a Box action space, a sparse reward, an id from a module.
        ("gym:serendip_gym_envs:SerendipGoalReach-v0", {"n_frames": 0}),
    ],
)
def test_worker_processes_give_the_results_of_stepping_in_process(name, arguments):
    task = make_task(name, **arguments)
    one = InProcess(task, workers=1)
    two = InProcess(task, workers=2)
    try:
        g = genomes(task, 11)
        seeds = np.arange(11) * 3 + 1
        alone = one.evaluate(g, episode_seeds=seeds)
        shared = two.evaluate(g, episode_seeds=seeds)
        assert two._pool is not None and one._pool is None
        assert_same(alone, shared)
        # The same again (environments and workers reused), and a batch of another size.
        assert_same(alone, two.evaluate(g, episode_seeds=seeds))
        assert_same(
            one.evaluate(g[:5], episode_seeds=seeds[:5]),
            two.evaluate(g[:5], episode_seeds=seeds[:5]),
        )
    finally:
        two.close()
        task.close()
    assert two._pool is None


def test_by_default_only_large_batches_use_worker_processes():
    task = make_task("gym:CartPole-v1", reward_threshold=100)
    evaluator = InProcess(task)
    try:
        seeds = np.arange(MIN_PARALLEL_EPISODES)
        assert evaluator.workers_for(MIN_PARALLEL_EPISODES - 1) == 1
        assert evaluator.workers_for(MIN_PARALLEL_EPISODES) == default_workers()
        small = evaluator.evaluate(genomes(task, 4), episode_seeds=seeds[:4])
        assert evaluator._pool is None
        assert_same(small, task.evaluate(genomes(task, 4), episode_seeds=seeds[:4]))
        large = evaluator.evaluate(genomes(task, len(seeds), seed=1), episode_seeds=seeds)
        assert (evaluator._pool is not None) == (default_workers() > 1)
        assert_same(large, task.evaluate(genomes(task, len(seeds), seed=1), episode_seeds=seeds))
        # A copy (what a worker gets) has no environments of its own yet.
        copy = pickle.loads(pickle.dumps(task))
        assert copy._envs == []
    finally:
        evaluator.close()
        task.close()


def test_tasks_without_a_parallel_batch_always_evaluate_in_process():
    task = make_task("point")
    assert task.parallel_batch is None
    evaluator = InProcess(task, workers=2)
    assert evaluator.workers_for(1000) == 1
    batch = evaluator.evaluate(genomes(task, 40), episode_seeds=np.arange(40))
    assert evaluator._pool is None and len(batch) == 40


def test_env_processes_in_the_config_and_on_the_command_line(tmp_path):
    config = serendip.RunConfig.from_dict(
        {"task": "gym:CartPole-v1", "reward_threshold": 100, "env_processes": 2}
    )
    assert config.env_processes == 2 and config.to_dict()["env_processes"] == 2
    with pytest.raises(serendip.ConfigError, match=r"^env_processes: only applies to gym"):
        serendip.RunConfig.from_dict({"task": "point", "env_processes": 2})
    with pytest.raises(serendip.ConfigError, match=r"^env_processes: must be an integer .*got 0"):
        serendip.RunConfig.from_dict({"task": "gym:CartPole-v1", "env_processes": 0})
    from serendip.cli import main

    out = tmp_path / "run"
    flags = "--task gym:CartPole-v1 --algo random --reward-threshold 100 --budget 100"
    code = main(["run", *flags.split(), "--env-processes", "2", "--out", str(out), "--quiet"])
    assert code == 0
    run = serendip.load_run(out)
    assert run.config.env_processes == 2 and len(run.evaluations) == 100


def test_a_script_without_a_main_guard_steps_in_worker_processes(tmp_path):
    # The workers do not run the script again (multiprocessing's spawn would).
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            import serendip

            print("script ran", flush=True)
            from serendip.evaluation import InProcess

            task = serendip.make_task("gym:CartPole-v1", reward_threshold=100)
            evaluator = InProcess(task, workers=2)
            batch = evaluator.evaluate(np.zeros((6, task.genome_size)), episode_seeds=np.arange(6))
            evaluator.close()
            task.close()
            print("episodes", len(batch), flush=True)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("script ran") == 1
    assert "episodes 6" in result.stdout


class Countdown(gymnasium.Env):
    """Ends after ``seed`` steps; renders its step count; records every render."""

    observation_space = gymnasium.spaces.Box(-1e6, 1e6, (1,), dtype=np.float64)
    action_space = gymnasium.spaces.Discrete(2)
    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"]}
    renders: ClassVar[list[tuple[int, int]]] = []  # (episode length, step) of every render

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.length, self.t = 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.length, self.t = int(seed), 0
        return np.zeros(1), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.t)]), 1.0, self.t >= self.length, False, {}

    def render(self):
        Countdown.renders.append((self.length, self.t))
        return np.full((16, 24, 3), 10 * self.t, dtype=np.uint8)


def test_frames_are_rendered_at_the_sampling_times_only():
    task = GymTask(Countdown, reward_threshold=1, horizon=12, n_frames=3)
    pooled = []
    render_envs = task._render_envs
    task._render_envs = lambda envs, index: pooled.append(len(index)) or render_envs(envs, index)
    points = frame_times(12, 3) + 1  # steps taken at each sampling time
    assert list(points) == [5, 9, 12]
    lengths = [2, 5, 7, 9, 100]  # 100: cut at the horizon
    Countdown.renders.clear()
    batch = task.evaluate(genomes(task, 5), episode_seeds=np.array(lengths))
    # One pooled call per sampling time, each with the episodes that need a new frame.
    assert pooled == [5, 3, 1]
    for length in lengths:
        ended = min(length, 12)
        needed = sorted({min(p, ended) for p in points})  # the distinct states shown
        rendered = [t for run, t in Countdown.renders if run == length]
        assert rendered == needed, (length, rendered)
    # Frame k shows the state after min(sampling point, episode length) steps.
    for i, length in enumerate(lengths):
        shown = batch.frames[i, :, 0, 0, 0]
        np.testing.assert_array_equal(shown, [10 * min(p, length) for p in points])
    np.testing.assert_array_equal(batch.extras["episode_length"], [2, 5, 7, 9, 12])
    task.close()


def test_classic_control_renders_at_its_own_size():
    task = make_task("gym:CartPole-v1", reward_threshold=100, n_frames=1)
    env = task._env_batch(1)[0]
    env.reset(seed=0)
    assert env.render().shape == (400, 600, 3)  # fixed pixel sizes: not shrunk
    task.close()


# --- MuJoCo (Gymnasium-Robotics): skipped where they are not installed ---------------------
# A one-sphere scene rendered offscreen: all MuJoCo needs of the machine to render.
_GL_PROBE = """
import mujoco
model = mujoco.MjModel.from_xml_string(
    "<mujoco><worldbody><light pos='0 0 3'/><geom size='0.2'/></worldbody></mujoco>"
)
data = mujoco.MjData(model)
mujoco.mj_forward(model, data)
with mujoco.Renderer(model, 16, 16) as renderer:
    renderer.update_scene(data)
    assert renderer.render().max() > 0
"""


def _robotics():
    os.environ.setdefault("MUJOCO_GL", "egl")
    for name in ("mujoco", "gymnasium_robotics"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    _skip_without_opengl()  # before importing mujoco: without GL, the import itself fails
    pytest.importorskip("mujoco")
    return pytest.importorskip("gymnasium_robotics")


def _skip_without_opengl() -> None:
    """Skip where MuJoCo cannot open an OpenGL context: no EGL (or OSMesa, or display).

    Decided before the test, in a fresh process that only renders :data:`_GL_PROBE`,
    and only on an error naming OpenGL (EGL, GLFW, gl* calls), so that this is the one
    condition skipped: any other failure, of the probe or of the task, fails the test.
    """
    probe = subprocess.run(
        [sys.executable, "-c", _GL_PROBE], capture_output=True, text=True, timeout=300
    )
    if probe.returncode == 0:
        return
    lines = probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"]
    if re.search(r"GL|\bgl[A-Z]", probe.stderr):
        pytest.skip(f"MuJoCo cannot render here (MUJOCO_GL={os.environ['MUJOCO_GL']}): {lines[-1]}")
    pytest.fail(f"rendering a one-sphere scene failed: {probe.stderr}")


MAZE = [[1, 1, 1, 1, 1], [1, "r", 0, 0, 1], [1, 1, 1, 0, 1], [1, "g", 0, 0, 1], [1, 1, 1, 1, 1]]


def test_a_mujoco_environment_renders_small_frames_of_the_whole_scene():
    _robotics()
    options = {"maze_map": MAZE, "continuing_task": False, "max_episode_steps": 40}
    task = make_task("gym:gymnasium_robotics:PointMaze_UMaze-v3", n_frames=1, options=options)
    g = genomes(task, 2, seed=3)
    batch = task.evaluate(g, episode_seeds=np.array([5, 5]))
    env = task._envs[0]
    assert env.render().shape == (RENDER_PIXELS, RENDER_PIXELS, 3)
    # The same episode rendered at full size (480x480) and pooled, as before.
    full = gymnasium.make("PointMaze_UMaze-v3", render_mode="rgb_array", **options)
    obs, _ = full.reset(seed=5)
    layers = task.policy.unpack(g[:1])
    flat = task._flatten_batch([obs])
    for _ in range(int(batch.extras["episode_length"][0])):
        action = task._env_actions(task.policy.forward(layers, flat))[0]
        obs, *_ = full.step(action)
        flat = task._flatten_batch([obs])
    image = full.render()
    assert image.shape == (480, 480, 3)
    reference = task._render_envs([full], np.array([0]))[0].astype(float)
    full.close()
    frame = batch.frames[0, 0].astype(float)
    assert np.abs(frame - reference).mean() < 4  # same scene, same camera

    # The green ball (a faint pixel or two at this distance) is in the same place.
    def ball(img):
        excess = img[..., 1] - np.maximum(img[..., 0], img[..., 2])
        assert excess.max() > 10
        return np.array(np.unravel_index(excess.argmax(), excess.shape))

    np.testing.assert_allclose(ball(frame), ball(reference), atol=1)
    # A batch larger than MAX_GL_ENVS runs in slices on MAX_GL_ENVS environments.
    g = genomes(task, MAX_GL_ENVS + 4, seed=4)
    seeds = np.arange(MAX_GL_ENVS + 4)
    whole = task.evaluate(g, episode_seeds=seeds)
    assert len(task._envs) == MAX_GL_ENVS
    halves = [task.evaluate(g[s], episode_seeds=seeds[s]) for s in (slice(0, 10), slice(10, None))]
    assert_same(whole, EvaluationBatch.concat(halves))
    task.close()


@pytest.mark.parametrize(
    "shape", [(400, 600), (500, 500), (128, 128), (480, 640), (37, 53), (16, 24)]
)
def test_area_average_gives_torch_adaptive_pooling_exactly(shape):
    torch = pytest.importorskip("torch")
    from serendip.tasks.render import area_average

    rng = np.random.default_rng(sum(shape))
    noise = rng.integers(0, 256, (4, *shape, 3), dtype=np.uint8)
    # Ties: 0/255 and 0/1 patterns make many bin means end in .5.
    ties = (
        rng.integers(0, 2, (4, *shape, 3)) * rng.choice([1, 255], 4)[:, None, None, None]
    ).astype(np.uint8)
    images = np.concatenate([noise, ties])
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32)
    pooled = torch.nn.functional.adaptive_avg_pool2d(batch, 64).round().clamp(0, 255)
    expected = pooled.to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(area_average(images), expected)
