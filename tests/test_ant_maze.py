"""The ant maze: spec facts, the MuJoCo model, batch = plain MuJoCo loop, determinism,
walls that hold, the non-finite freeze, rewards, frames, and the missing-MuJoCo error."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

import serendip.tasks.ant_maze as ant_maze  # noqa: E402
from serendip.policies import random_genomes  # noqa: E402
from serendip.tasks import render  # noqa: E402
from serendip.tasks.ant_maze import (  # noqa: E402
    FRAME_SKIP,
    AntMaze,
    AntMazeState,
    normalise,
)
from serendip.tasks.base import TaskError  # noqa: E402

SHORT = 50  # control steps in the smoke tests: about a second each


@pytest.fixture(scope="module")
def task() -> AntMaze:
    return AntMaze(horizon=SHORT)


def genomes(n: int, seed: int = 0) -> np.ndarray:
    return random_genomes(np.random.default_rng(seed), n, AntMaze.spec.genome_size)


def rollout(task: AntMaze, state: AntMazeState, layers: list, steps: int) -> list[np.ndarray]:
    """Step ``state`` under the policies ``layers``; return the actions applied."""
    actions = []
    for _ in range(steps):
        actions.append(task.policy.forward(layers, task.observe(state)))
        task.step(state, actions[-1])
    return actions


def test_spec_facts():
    spec = AntMaze.spec
    assert spec.name == "ant-maze"
    assert spec.genome_size == 574
    assert (spec.observation_size, spec.action_size, spec.horizon) == (29, 8, 1000)
    assert (spec.hidden_layers, spec.hidden_width) == (3, 10)
    assert [(a.center, a.radius) for a in spec.reward_areas] == [
        ((35.0, -25.0), 3.0),
        ((-25.0, 35.0), 3.0),
    ]
    assert spec.descriptor_low == (-0.5, -0.5) and spec.descriptor_high == (0.5, 0.5)
    assert spec.grid_shape == (50, 50)
    short = AntMaze(horizon=SHORT)
    assert short.spec.horizon == SHORT and AntMaze.spec.horizon == 1000
    with pytest.raises(ValueError):
        AntMaze(horizon=0)


def test_model_is_the_standard_ant(task):
    model = task.model
    assert (model.nq, model.nv, model.nu) == (15, 14, 8)
    assert model.opt.timestep == 0.005 and FRAME_SKIP == 5
    np.testing.assert_array_equal(model.actuator_gear[:, 0], 150.0)
    np.testing.assert_array_equal(model.actuator_ctrlrange, [[-1.0, 1.0]] * 8)
    assert model.geom("torso").size[0] == 0.25
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_AUTORESET
    state = task.reset(1, np.zeros(1, dtype=np.int64))
    np.testing.assert_array_equal(state.qpos[0, :3], [-25.0, -25.0, 0.55])
    # Hinges start inside their ranges (the standing pose).
    hinges = model.jnt_range[1:]
    assert np.all((hinges[:, 0] <= state.qpos[0, 7:]) & (state.qpos[0, 7:] <= hinges[:, 1]))
    observation = task.observe(state)[0]
    assert observation.shape == (29,)
    np.testing.assert_allclose(observation[:2], [-30 / 70, -30 / 70])
    np.testing.assert_array_equal(observation[2:15], state.qpos[0, 2:])


def test_batch_matches_a_plain_mujoco_loop_and_thread_count(task):
    """The persistent batch (stepped in C, stages reused) = one MjData per episode."""
    layers = task.policy.unpack(genomes(3, seed=1))
    state = task.reset(3, np.arange(3))
    actions = rollout(task, state, layers, 40)
    for b in range(3):
        data = mujoco.MjData(task.model)
        mujoco.mj_resetDataKeyframe(task.model, data, task.model.key("start").id)
        for action in actions:
            data.ctrl[:] = action[b]
            mujoco.mj_step(task.model, data, nstep=FRAME_SKIP)
        np.testing.assert_array_equal(state.qpos[b], data.qpos)
        np.testing.assert_array_equal(state.qvel[b], data.qvel)
    threaded = AntMaze(horizon=SHORT, threads=2)
    state2 = threaded.reset(3, np.arange(3))
    rollout(threaded, state2, layers, 40)
    np.testing.assert_array_equal(state2.qpos, state.qpos)


def test_smoke_evaluate_is_finite_deterministic_and_inside_the_arena():
    task = AntMaze(horizon=SHORT, n_frames=2)
    g = genomes(4)
    first = task.evaluate(g)
    second = task.evaluate(g)
    for result in (first, second):
        assert result.descriptors.shape == (4, 2)
        assert result.final_observations.shape == (4, 29)
        assert np.isfinite(result.descriptors).all()
        assert np.isfinite(result.final_observations).all()
        assert np.all(np.abs(result.descriptors) < 0.5)
        assert not result.extras["frozen"].any()
    np.testing.assert_array_equal(first.descriptors, second.descriptors)
    np.testing.assert_array_equal(first.final_observations, second.final_observations)
    np.testing.assert_array_equal(first.frames, second.frames)
    # The ants moved (the policies act) and the descriptor is the normalised torso.
    assert np.ptp(first.descriptors, axis=0).max() > 1e-3
    np.testing.assert_array_equal(first.descriptors, first.final_observations[:, :2])
    # Batch composition does not matter: each episode is its own simulation.
    alone = task.evaluate(g[2:3])
    np.testing.assert_array_equal(alone.descriptors[0], first.descriptors[2])
    empty = task.evaluate(g[:0])
    assert empty.descriptors.shape == (0, 2) and empty.frames.shape == (0, 2, 64, 64, 3)


def test_frames_show_the_arena_and_the_ant():
    task = AntMaze(horizon=SHORT, n_frames=2)
    result = task.evaluate(genomes(2, seed=3))
    frames = result.frames
    assert frames.shape == (2, 2, 64, 64, 3) and frames.dtype == np.uint8
    assert frames.min() == 0 and frames.max() == 255  # black walls, white floor
    red = (frames[..., 0] > 200) & (frames[..., 1] < 80) & (frames[..., 2] < 80)
    assert red.reshape(4, -1).sum(1).min() > 30  # two reward discs of radius ~2.7 px
    # The ant: the pixels that differ from the empty arena, around the torso's final position.
    background = render.to_uint8(task._background.copy())[0].astype(int)
    changed = np.abs(frames[:, -1].astype(int) - background).sum(-1) > 30
    pixels = task.viewport.to_pixels(result.descriptors * 70 + 5)
    for b in range(2):
        rows, cols = np.nonzero(changed[b])
        assert 3 <= rows.size <= 16  # a blob of a few pixels: torso disc and legs
        assert abs(cols.mean() + 0.5 - pixels[b, 0]) < 1.0
        assert abs(rows.mean() + 0.5 - pixels[b, 1]) < 1.0


def push(task: AntMaze, start: tuple[float, float], force: float, steps: int) -> np.ndarray:
    """Push an ant placed at ``start`` along +x with a constant force on its torso.

    Returns the largest x reached by the torso, the knees, hips and feet, per step.
    """
    state = task.reset(1, np.zeros(1, dtype=np.int64))
    state.qpos[0, :2] = start
    state.batch.bind("xfrc_applied")[0, task.model.body("torso").id, 0] = force
    state.batch.forward()
    reach = []
    for _ in range(steps):
        task.step(state, np.zeros((1, 8)))
        points = np.concatenate(
            [state.xpos[0, 1:, 0], state.site_xpos[0, task._feet, 0]]  # every body, the feet
        )
        reach.append(points.max())
    assert not state.frozen.any()
    return np.array(reach)


def test_the_ant_cannot_pass_through_a_wall(task):
    weight = task.model.body_subtreemass[task.model.body("torso").id] * 9.81
    force = 5 * weight
    # In the open the push carries the ant well past where the wall would be...
    free = push(task, (-25.0, 20.0), force, 120)
    assert free[-1] - free[0] > 8.0
    # ...next to the wall x = -15 (faces at -15.5 and -14.5) it is stopped at the face.
    blocked = push(task, (-17.0, 20.0), force, 120)
    assert blocked.max() < -15.5 + 0.05
    assert blocked[-1] > -15.5 - 0.5  # it did reach the wall


def test_non_finite_state_freezes_the_episode(task, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo logs its instability warnings to ./MUJOCO_LOG.TXT
    layers = task.policy.unpack(genomes(2))
    state = task.reset(2, np.arange(2))
    rollout(task, state, layers, 5)
    qpos_before = state.qpos.copy()
    # A force that overflows episode 0's accelerations: its next step diverges.
    state.batch.bind("xfrc_applied")[0, task.model.body("torso").id, 0] = 1e308
    rollout(task, state, layers, 3)
    assert state.frozen.tolist() == [True, False]
    np.testing.assert_array_equal(state.qpos[0], qpos_before[0])
    assert np.isfinite(task.observe(state)).all()
    assert not np.array_equal(state.qpos[1], qpos_before[1])
    assert task.extras(state)["frozen"].tolist() == [True, False]


def test_rewards_are_scored_on_the_torso(task):
    state = task.reset(3, np.arange(3))
    state.qpos[:, :2] = [[35.0, -25.0], [-25.0, 33.5], [0.0, 0.0]]
    descriptors, rewards, areas = task.score(state)
    np.testing.assert_allclose(rewards, [1.0, 0.5, 0.0])
    assert areas.tolist() == [0, 1, -1]
    np.testing.assert_allclose(descriptors, normalise(state.qpos[:, :2]))
    np.testing.assert_allclose(descriptors[0], [30 / 70, -30 / 70])


def test_module_imports_without_mujoco_and_the_task_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco", None)  # "import mujoco" now fails
    spec = importlib.util.spec_from_file_location("ant_maze_copy", ant_maze.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "ant_maze_copy", module)
    spec.loader.exec_module(module)
    assert module.ANT_MAZE_SPEC.genome_size == 574
    with pytest.raises(TaskError, match=r"pip install 'serendip\[mujoco\]'"):
        module.AntMaze()
