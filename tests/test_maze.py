"""The hard maze: spec facts, lasers, kinematics, sliding, bumpers, no wall crossing,
reachable goals, compiled rollout = step loop, determinism, frames."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serendip.policies import random_genomes
from serendip.policies.mlp import forward_one
from serendip.tasks import render
from serendip.tasks.base import Task, area_rewards
from serendip.tasks.maze import (
    AXLE,
    LASER_RANGE,
    MAX_WHEEL_SPEED,
    RADIUS,
    WALLS,
    HardMaze,
    MazeState,
)

TURN_PER_STEP = 2 * MAX_WHEEL_SPEED / AXLE  # heading change of a full-speed turn in place


@pytest.fixture(scope="module")
def task() -> HardMaze:
    return HardMaze()


def placed(positions, headings) -> MazeState:
    """A state with robots at hand-picked poses, bumpers off."""
    positions = np.array(positions, dtype=np.float64).reshape(-1, 2)
    return MazeState(
        position=positions,
        heading=np.array(headings, dtype=np.float64).reshape(-1),
        bumpers=np.zeros((positions.shape[0], 2)),
    )


def wall_distances(points: np.ndarray) -> np.ndarray:
    """Distance ``(..., n_walls)`` from points ``(..., 2)`` to every wall segment."""
    a, e = WALLS[:, :2], WALLS[:, 2:] - WALLS[:, :2]
    rel = points[..., None, :] - a
    t = np.clip((rel * e).sum(-1) / (e * e).sum(-1), 0.0, 1.0)
    return np.linalg.norm(rel - t[..., None] * e, axis=-1)


def crosses_a_wall(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Whether each move ``p -> q`` ``(..., 2)`` meets a wall, given both ends clear of walls.

    With both ends off every wall, a move meets a wall exactly when its ends lie
    strictly on either side of the wall's line and the wall's ends lie on either
    side of (or on) the move's line.
    """
    p, q = p[..., None, :], q[..., None, :]
    a, b = WALLS[:, :2], WALLS[:, 2:]

    def orient(o, u, v):
        return (u[..., 0] - o[..., 0]) * (v[..., 1] - o[..., 1]) - (u[..., 1] - o[..., 1]) * (
            v[..., 0] - o[..., 0]
        )

    meets = (orient(p, q, a) * orient(p, q, b) <= 0) & (orient(a, b, p) * orient(a, b, q) < 0)
    return meets.any(axis=-1)


def assert_never_in_or_across_a_wall(trajectory: np.ndarray) -> None:
    """``trajectory`` ``(T+1, N, 2)``: every position clear of walls, every move too."""
    assert wall_distances(trajectory).min() >= RADIUS - 1e-9
    assert not crosses_a_wall(trajectory[:-1], trajectory[1:]).any()


def test_the_crossing_check_itself():
    p = np.array([[0.2, 0.5], [0.2, 0.5], [0.2, 0.2], [0.3, 0.2]])
    q = np.array([[0.3, 0.5], [0.24, 0.5], [0.3, 0.3], [0.3, 0.2]])
    # Through the vertical wall; short of it; through its end (0.25, 0.25); still.
    np.testing.assert_array_equal(crosses_a_wall(p, q), [True, False, True, False])


# --- spec -------------------------------------------------------------------------


def test_spec_facts(task):
    spec = task.spec
    assert spec.name == "maze" and spec.horizon == 2000
    assert (spec.observation_size, spec.action_size) == (5, 2)
    assert (spec.hidden_layers, spec.hidden_width) == (2, 5)
    assert spec.genome_size == task.genome_size == 5 * 5 + 1 + (25 + 1) + 5 * 2 + 1 == 63
    assert [(a.center, a.radius) for a in spec.reward_areas] == [
        ((0.1, 0.9), 0.083),
        ((0.167, 0.667), 0.083),
    ]
    assert (spec.descriptor_low, spec.descriptor_high) == ((0.0, 0.0), (1.0, 1.0))
    interior = {
        ((0.25, 0.25), (0.25, 0.75)),
        ((0.14, 0.45), (0.0, 0.65)),
        ((0.25, 0.75), (0.0, 0.8)),
        ((0.25, 0.75), (0.66, 0.875)),
        ((0.355, 0.0), (0.525, 0.185)),
        ((0.25, 0.5), (0.75, 0.215)),
        ((1.0, 0.25), (0.435, 0.55)),
    }
    segments = {((x1, y1), (x2, y2)) for x1, y1, x2, y2 in WALLS.tolist()}
    assert interior <= segments and len(segments) == 11
    border = segments - interior  # the four sides of the unit square
    assert {frozenset(s) for s in border} == {
        frozenset(s)
        for s in [((0, 0), (1, 0)), ((1, 0), (1, 1)), ((1, 1), (0, 1)), ((0, 1), (0, 0))]
    }
    assert RADIUS == 0.015 and LASER_RANGE == 0.2
    assert MAX_WHEEL_SPEED < RADIUS  # what the no-tunnelling argument needs
    # The goal is reachable well within the horizon: the maze crossed in 150 steps.
    assert spec.horizon / 10 >= 1.0 / MAX_WHEEL_SPEED


def test_reset(task):
    state = task.reset(3, np.arange(3))
    np.testing.assert_array_equal(state.position, [[0.15, 0.15]] * 3)
    np.testing.assert_array_equal(state.heading, [math.pi / 2] * 3)
    np.testing.assert_array_equal(state.bumpers, 0.0)
    observation = task.observe(state)
    assert observation.shape == (3, 5)
    # Heading up from (0.15, 0.15): nothing within 0.2 ahead (next wall at y = 0.77)
    # or up-left (the left border is 0.15 * sqrt(2) = 0.212 away); bumpers off.
    np.testing.assert_array_equal(observation[:, 1:], [[1.0, 1.0, 0.0, 0.0]] * 3)


# --- lasers -----------------------------------------------------------------------


def test_lasers_against_hand_computed_distances(task):
    diagonal = np.array([0.5, -0.285]) / math.hypot(0.5, -0.285)  # wall (0.25,.5)-(.75,.215)
    normal = np.array([-diagonal[1], diagonal[0]])  # pointing up, away from the wall
    midpoint = np.array([0.5, 0.3575])
    poses = [
        # Facing the vertical wall x = 0.25 from 0.05 away: front 0.05; the 45° rays
        # hit it at 0.05 * sqrt(2) (y = 0.45 and 0.55, inside the wall's span).
        ((0.2, 0.5), 0.0, [0.05 * math.sqrt(2), 0.05, 0.05 * math.sqrt(2)]),
        # Facing the top border from 0.1 below: the 45° rays hit it at 0.1 * sqrt(2).
        ((0.5, 0.9), math.pi / 2, [0.1 * math.sqrt(2), 0.1, 0.1 * math.sqrt(2)]),
        # Facing the right border from 0.1: the left (+45°) ray hits it at y = 0.22,
        # below the wall that starts at (1, 0.25); the right ray hits it at y = 0.02.
        ((0.9, 0.12), 0.0, [0.1 * math.sqrt(2), 0.1, 0.1 * math.sqrt(2)]),
        # Perpendicular to a diagonal wall, 0.08 from it: 0.08 ahead, 0.08*sqrt(2) at 45°.
        (
            midpoint + 0.08 * normal,
            math.atan2(-normal[1], -normal[0]),
            [0.08 * math.sqrt(2), 0.08, 0.08 * math.sqrt(2)],
        ),
        # Open floor, facing right: no wall within range on any ray.
        ((0.75, 0.7), 0.0, [LASER_RANGE] * 3),
        # Heading down, 0.27 above the wall below and 0.21 from the right border.
        ((0.85, 0.6), -math.pi / 2, [LASER_RANGE] * 3),
    ]
    state = placed([p for p, _, _ in poses], [h for _, h, _ in poses])
    observation = task.observe(state)
    expected = np.array([d for _, _, d in poses]) / LASER_RANGE
    np.testing.assert_allclose(observation[:, :3], expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(observation[-2:, :3], 1.0)  # nothing in range is exactly 1


def test_laser_order_is_right_front_left(task):
    # At (0.2, 0.5) heading up, the vertical wall x = 0.25 is on the right: only
    # the -45° ray (index 0) meets it, at 0.05 * sqrt(2).
    observation = task.observe(placed([(0.2, 0.55)], [math.pi / 2]))[0]
    assert observation[0] == pytest.approx(0.05 * math.sqrt(2) / LASER_RANGE)
    assert observation[1] == 1.0 and observation[2] == 1.0


# --- kinematics, sliding, bumpers -------------------------------------------------------


def test_differential_drive_kinematics(task):
    state = placed([(0.5, 0.7)] * 3, [0.3] * 3)
    task.step(state, np.array([[1.0, 1.0], [-1.0, 1.0], [0.5, 1.0]]))
    # Straight: full speed along the heading.
    np.testing.assert_allclose(
        state.position[0],
        [0.5 + MAX_WHEEL_SPEED * math.cos(0.3), 0.7 + MAX_WHEEL_SPEED * math.sin(0.3)],
    )
    assert state.heading[0] == 0.3
    # Turn in place: counter-clockwise (right wheel forward) by 2 v / axle.
    np.testing.assert_allclose(state.position[1], [0.5, 0.7], atol=1e-15)
    assert state.heading[1] == pytest.approx(0.3 + TURN_PER_STEP)
    # An arc: the centre moves along a circle of radius d / alpha; the chord has
    # length 2 (d/alpha) sin(alpha/2) in the direction heading + alpha/2.
    left, right = 0.5 * MAX_WHEEL_SPEED, MAX_WHEEL_SPEED
    alpha, d = (right - left) / AXLE, (left + right) / 2
    chord = 2 * (d / alpha) * math.sin(alpha / 2)
    np.testing.assert_allclose(
        state.position[2],
        [0.5 + chord * math.cos(0.3 + alpha / 2), 0.7 + chord * math.sin(0.3 + alpha / 2)],
        rtol=0,
        atol=1e-15,
    )
    assert state.heading[2] == pytest.approx(0.3 + alpha)
    # Actions beyond (-1, 1) are clipped.
    clipped = placed([(0.5, 0.7)], [0.3])
    task.step(clipped, np.array([[5.0, 5.0]]))
    np.testing.assert_allclose(clipped.position[0], state.position[0])


def test_sliding_along_a_wall_keeps_the_tangential_motion(task):
    # Heading 45° up-right into the vertical wall x = 0.25 from x = 0.2.
    state = placed([(0.2, 0.4)], [math.pi / 4])
    step = MAX_WHEEL_SPEED / math.sqrt(2)  # each velocity component
    ys, bumpers = [], []
    for _ in range(15):
        task.step(state, np.array([[1.0, 1.0]]))
        ys.append(state.position[0, 1])
        bumpers.append(state.bumpers[0].copy())
    # Stopped at contact distance on the near side, never across.
    assert state.position[0, 0] == pytest.approx(0.25 - RADIUS, abs=1e-11)
    assert state.position[0, 0] <= 0.25 - RADIUS + 1e-9
    # Free steps first ((0.25 - r - 0.2) / step = 7.4 steps), then sliding: y still
    # gains exactly the tangential component every step.
    np.testing.assert_allclose(np.diff(ys), step, rtol=1e-9)
    # The wall is at the front-right of a robot heading up-right: right bumper only,
    # from the first contact (step 8) on.
    assert [tuple(b) for b in bumpers[:7]] == [(0.0, 0.0)] * 7
    assert all(tuple(b) == (0.0, 1.0) for b in bumpers[7:])


def test_bumpers_fire_on_the_side_of_the_collision(task):
    near = 0.25 - RADIUS - 0.5 * MAX_WHEEL_SPEED  # half a step from contact with x = 0.25
    state = placed([(near, 0.4)] * 5, [0.0, 0.4, -0.4, math.pi, 0.0])
    actions = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]])
    task.step(state, actions)
    np.testing.assert_array_equal(
        state.bumpers,
        [
            [1.0, 1.0],  # head-on: both
            [0.0, 1.0],  # heading up-right, wall on the front-right
            [1.0, 0.0],  # heading down-right, wall on the front-left
            [0.0, 0.0],  # backing into it: the bumpers are at the front
            [0.0, 0.0],  # backing away from it: no collision at all
        ],
    )
    np.testing.assert_allclose(state.position[:4, 0], 0.25 - RADIUS, atol=1e-11)
    assert task.observe(state)[0, 3:].tolist() == [1.0, 1.0]
    # Resting against the wall without pushing (turning in place) is no collision.
    task.step(state, np.array([[-0.1, 0.1]] * 5))
    np.testing.assert_array_equal(state.bumpers, 0.0)


CORNERS = [
    # apex, the two walls' directions from it: every corner under 90°, and the
    # others where three walls meet or the border turns
    ((0.0, 0.65), (0.14, -0.2), (0.0, -1.0)),  # 35°
    ((0.355, 0.0), (0.17, 0.185), (1.0, 0.0)),  # 47°
    ((0.25, 0.5), (0.5, -0.285), (0.0, -1.0)),  # 60°
    ((1.0, 0.25), (-0.565, 0.3), (0.0, 1.0)),  # 62°
    ((0.0, 0.8), (0.25, -0.05), (0.0, -1.0)),  # 79°
    ((0.25, 0.75), (-0.25, 0.05), (0.41, 0.125)),  # 152°, above a 3-wall junction
    ((0.25, 0.75), (-0.25, 0.05), (0.0, -1.0)),  # 101°
    ((0.25, 0.75), (0.41, 0.125), (0.0, -1.0)),  # 107°
    ((0.25, 0.5), (0.5, -0.285), (0.0, 1.0)),  # 120°
    ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)),  # 90°
    ((1.0, 1.0), (-1.0, 0.0), (0.0, -1.0)),  # 90°
]


def test_driving_into_corners_ends_in_the_corner_without_entering_walls(task):
    starts, headings, depths = [], [], []
    for apex, u, v in CORNERS:
        u, v = np.array(u) / np.hypot(*u), np.array(v) / np.hypot(*v)
        bisector = (u + v) / np.linalg.norm(u + v)
        half_angle = math.acos(float(u @ v)) / 2
        starts.append(np.array(apex) + 0.1 * bisector)
        headings.append(math.atan2(-bisector[1], -bisector[0]))
        depths.append(RADIUS / math.sin(half_angle))  # where the disc touches both walls
    state = placed(starts, headings)
    trajectory = [state.position.copy()]
    for _ in range(60):
        task.step(state, np.ones((len(starts), 2)))
        trajectory.append(state.position.copy())
    assert_never_in_or_across_a_wall(np.array(trajectory))
    # Each robot slid into its corner and sits exactly there, pressing both walls.
    reach = np.linalg.norm(state.position - np.array([a for a, _, _ in CORNERS]), axis=1)
    np.testing.assert_allclose(reach, depths, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(state.bumpers, 1.0)


# --- the property: no robot ever crosses a wall ---------------------------------------


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_policies_never_cross_or_enter_a_wall(task, seed):
    # Genes at 1x and 3x scale: the larger ones saturate the wheels (full-speed pushes).
    genomes = random_genomes(np.random.default_rng(seed), 32, task.genome_size)
    genomes[16:] *= 3.0
    layers = task.policy.unpack(genomes)
    state = task.reset(32, np.arange(32))
    trajectory = [state.position.copy()]
    for _ in range(task.spec.horizon):
        task.step(state, task.policy.forward(layers, task.observe(state)))
        trajectory.append(state.position.copy())
    assert_never_in_or_across_a_wall(np.array(trajectory))


def _free_positions(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` valid positions: half uniform, half hugging wall ends and corners."""
    ends = WALLS.reshape(-1, 2)
    out = []
    while len(out) < n:
        if len(out) % 2:
            p = rng.uniform(0.0, 1.0, 2)
        else:
            p = ends[rng.integers(len(ends))] + rng.uniform(-0.05, 0.05, 2)
        if 0 < p[0] < 1 and 0 < p[1] < 1 and wall_distances(p).min() >= RADIUS:
            out.append(p)
    return np.array(out)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_poses_and_wheel_speeds_never_cross_or_enter_a_wall(task, seed):
    rng = np.random.default_rng(seed)
    n = 64
    state = placed(_free_positions(rng, n), rng.uniform(-math.pi, math.pi, n))
    trajectory = [state.position.copy()]
    # Mostly forward, often full speed (the hardest pushes), sometimes anything.
    for _ in range(300):
        actions = np.clip(rng.uniform(-0.5, 1.5, (n, 2)), -1.0, 1.0)
        task.step(state, actions)
        trajectory.append(state.position.copy())
    assert_never_in_or_across_a_wall(np.array(trajectory))


# --- goals are reachable ----------------------------------------------------------------

WAYPOINTS = {  # ends inside area 0 (the classic goal) and area 1
    0: [
        *[(0.3, 0.19), (0.55, 0.26), (0.82, 0.12), (0.8, 0.3), (0.5, 0.44), (0.38, 0.5)],
        *[(0.36, 0.6), (0.5, 0.7), (0.78, 0.86), (0.62, 0.94), (0.1, 0.9)],
    ],
    1: [(0.195, 0.4), (0.167, 0.667)],
}


def _waypoint_action(position, heading, target) -> tuple[float, float]:
    """Turn in place towards ``target`` when off by more than 0.2 rad, else drive at it."""
    error = math.atan2(target[1] - position[1], target[0] - position[0]) - heading
    error = (error + math.pi) % (2 * math.pi) - math.pi
    if abs(error) > 0.2:
        turn = max(-1.0, min(1.0, error / TURN_PER_STEP))
        return -turn, turn
    return 1.0 - 2.0 * error, 1.0 + 2.0 * error


@pytest.mark.parametrize("area", [0, 1])
def test_each_goal_is_reachable_by_a_scripted_path(task, area):
    waypoints = np.array(WAYPOINTS[area])
    # The legs keep well clear of every wall (twice the radius).
    legs = np.concatenate([[[0.15, 0.15]], waypoints])
    t = np.linspace(0, 1, 100)[:, None, None]
    samples = legs[:-1] + t * (legs[1:] - legs[:-1])
    assert wall_distances(samples).min() > 2 * RADIUS
    state = task.reset(1, np.arange(1))
    target = 0
    steps = 0
    while steps < task.spec.horizon:
        steps += 1
        if (
            target < len(waypoints) - 1
            and np.linalg.norm(state.position[0] - waypoints[target]) < 0.02
        ):
            target += 1
        task.step(
            state,
            np.array([_waypoint_action(state.position[0], state.heading[0], waypoints[target])]),
        )
        if (
            target == len(waypoints) - 1
            and np.linalg.norm(state.position[0] - waypoints[-1]) < 0.01
        ):
            break
    assert steps < task.spec.horizon / 2  # well within the horizon
    descriptors, points = task.outcome(state)
    np.testing.assert_array_equal(descriptors, state.position)
    rewards, areas = area_rewards(points, task.spec.reward_areas)
    assert areas[0] == area and rewards[0] > 0.8  # within 0.017 of the centre


# --- compiled rollout, determinism, evaluate ------------------------------------------------


@numba.njit
def _policy_actions(genomes, observations, shape, out):  # pragma: no cover - jitted
    """The compiled rollout's policy arithmetic (``forward_one``), for a whole batch."""
    scratch = np.empty((2, shape[2]))
    for b in range(genomes.shape[0]):
        forward_one(genomes[b], observations[b], shape, scratch, out[b])


def test_compiled_rollout_equals_the_step_loop_exactly(task, rng):
    """``advance`` runs the same sensors and motion as ``observe``/``step``: with the
    same policy arithmetic (``forward_one``) the episodes are bit-for-bit equal."""
    n = 16
    genomes = 2.0 * random_genomes(rng, n, task.genome_size)
    actions = np.empty((n, 2))
    stepped = task.reset(n, np.arange(n))
    for _ in range(task.spec.horizon):
        _policy_actions(genomes, task.observe(stepped), task.policy.shape, actions)
        task.step(stepped, actions)
    compiled = task.reset(n, np.arange(n))
    task.advance(compiled, genomes, 700)
    task.advance(compiled, genomes, task.spec.horizon - 700)  # split calls change nothing
    np.testing.assert_array_equal(compiled.position, stepped.position)
    np.testing.assert_array_equal(compiled.heading, stepped.heading)
    np.testing.assert_array_equal(compiled.bumpers, stepped.bumpers)
    assert np.ptp(stepped.position, axis=0).min() > 0.05  # the episodes did differ


def test_compiled_rollout_matches_the_generic_numpy_loop(task, rng):
    """Against ``Task.advance`` (NumPy policy, equal up to the last bits): equal over
    a short stretch. Over 2000 steps a last-bit difference can flip a bumper or a
    grazing contact, after which a chaotic episode drifts apart; the exact test
    above covers the full horizon."""
    genomes = random_genomes(rng, 200, task.genome_size)
    fast, slow = task.reset(200, np.arange(200)), task.reset(200, np.arange(200))
    task.advance(fast, genomes, 40)
    Task.advance(task, slow, genomes, 40)
    np.testing.assert_allclose(fast.position, slow.position, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.heading, slow.heading, rtol=0, atol=1e-9)


def test_evaluation_is_deterministic_and_independent_of_batching_and_threads(rng):
    task = HardMaze(n_frames=2)
    genomes = 2.0 * random_genomes(rng, 40, task.genome_size)
    whole = task.evaluate(genomes)
    halves = [task.evaluate(genomes[:17]), task.evaluate(genomes[17:])]
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = task.evaluate(genomes)
    finally:
        numba.set_num_threads(threads)
    for field in ("rewards", "reward_areas", "descriptors", "frames", "final_observations"):
        np.testing.assert_array_equal(getattr(whole, field), getattr(single, field))
        np.testing.assert_array_equal(
            getattr(whole, field), np.concatenate([getattr(h, field) for h in halves])
        )


def test_evaluate_scores_the_final_position(task, rng):
    result = task.evaluate(2.0 * random_genomes(rng, 100, task.genome_size))
    assert result.descriptors.shape == (100, 2) and result.final_observations.shape == (100, 5)
    assert np.all((result.descriptors >= RADIUS - 1e-9) & (result.descriptors <= 1 - RADIUS + 1e-9))
    rewards, areas = area_rewards(result.descriptors, task.spec.reward_areas)
    np.testing.assert_array_equal(result.rewards, rewards)
    np.testing.assert_array_equal(result.reward_areas, areas)
    assert np.ptp(result.descriptors, axis=0).min() > 0.1  # random policies go places
    assert np.all((result.final_observations[:, :3] > 0) & (result.final_observations[:, :3] <= 1))
    assert set(np.unique(result.final_observations[:, 3:])) <= {0.0, 1.0}


# --- frames ----------------------------------------------------------------------------


def test_frames_show_floor_walls_areas_and_robot(rng):
    task = HardMaze(n_frames=2)
    result = task.evaluate(random_genomes(rng, 3, task.genome_size))
    assert result.frames.shape == (3, 2, 64, 64, 3) and result.frames.dtype == np.uint8
    assert HardMaze().evaluate(random_genomes(rng, 2, 63)).frames.shape == (2, 0, 64, 64, 3)

    frame = task.render(placed([(0.5, 0.7)], [0.0]))[0].astype(int)
    assert tuple(frame[40, 40]) == (255, 255, 255)  # open floor
    # The robot at (0.5, 0.7): pixel column 32, row (1 - 0.7) * 64 = 19.2; dark blue.
    robot = frame[19, 31:33]
    assert np.all(robot.sum(axis=-1) < 3 * 100) and np.all(robot[:, 2] > robot[:, 0] + 60)
    # Reward area 0 at (0.1, 0.9): column 6, row 6; red.
    assert tuple(frame[6, 6]) == pytest.approx((230, 26, 26), abs=3)
    # The border's outer pixel ring is black; so is the middle of a diagonal wall
    # ((0.25, 0.5)-(0.75, 0.215) passes through (0.5, 0.3575): column 32, row 41.1).
    assert frame[0].max() == 0 and frame[:, 0].max() == 0 and frame[-1].max() == 0
    assert frame[40:43, 32].sum(axis=-1).min() < 3 * 64
    # The vertical wall x = 0.25 lies on the boundary of columns 15 and 16: both dark.
    assert frame[32, 15:17].sum(axis=-1).max() < 3 * 80
    # Moving the robot moves its pixels and nothing else.
    moved = task.render(placed([(0.8, 0.7)], [0.0]))[0].astype(int)
    changed = np.argwhere(np.any(moved != frame, axis=-1))
    assert changed.size and np.all(np.abs(changed[:, 0] - 19.2) < 3)


def test_robot_painting_equals_the_generic_render_path(rng):
    """The compiled robot painter gives what ``render.paint`` over whole images gives."""
    task = HardMaze(n_frames=1)
    state = placed(rng.uniform(0.0, 1.0, (50, 2)), np.zeros(50))
    images = np.repeat(task._background, 50, axis=0)
    centres = task.viewport.to_pixels(state.position[:, None, :])
    radius = max(1.5, task.viewport.length(RADIUS))
    render.paint(images, render.discs_coverage(centres, radius), task.robot_color)
    np.testing.assert_array_equal(task.render(state), render.to_uint8(images))
