"""The redundant arm: legality rules, freezing, rewards, frames, determinism."""

import math

import numpy as np
import pytest

from serendip.policies import random_genomes
from serendip.tasks import frame_times, make_task
from serendip.tasks.arm import (
    INITIAL_ANGLES,
    N_JOINTS,
    SEGMENT_LENGTH,
    WALLS,
    RedundantArm,
    _legal,
    forward_kinematics,
    segment_distance,
    step_arms,
)
from serendip.tasks.base import RewardArea, Task, area_rewards


def pose(angles):
    points = np.empty((N_JOINTS + 1, 2))
    forward_kinematics(np.asarray(angles, dtype=np.float64), points)
    return points


def legal(points, previous_tip=None):
    tip = points[-1] if previous_tip is None else previous_tip
    return _legal(points, tip[0], tip[1], WALLS)


def test_initial_pose_is_the_legal_spiral():
    points = pose(INITIAL_ANGLES)
    np.testing.assert_allclose(points[0], [0.5, 0.5])
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    np.testing.assert_allclose(lengths, SEGMENT_LENGTH)
    np.testing.assert_allclose(
        points[1] - points[0],
        0.05
        * np.array(
            [math.cos(math.pi / 2 + INITIAL_ANGLES[0]), math.sin(math.pi / 2 + INITIAL_ANGLES[0])]
        ),
    )
    assert legal(points)


def test_joint_outside_the_square_is_illegal():
    # Straight arm pointing right: joints at x = 0.5 + 0.05 j, the last ones beyond x = 1.
    straight_right = np.zeros(N_JOINTS)
    straight_right[0] = -math.pi / 2
    points = pose(straight_right)
    assert points[-1, 0] == pytest.approx(1.5)
    assert not legal(points)
    # Ten joints would stop at x = 1.0 exactly: the square is closed, still legal.
    assert points[10, 0] == pytest.approx(1.0)


def in_central_free_square(points):
    """Inside [0.21, 0.79]^2: no wall reaches there, and the square is far."""
    return bool(np.all((points > 0.21) & (points < 0.79)))


def test_joint_inside_a_wall_is_illegal():
    # Translate the legal spiral so that joint 4 lands in the left bar
    # (x in [0, 0.2], y in [0.49, 0.51]); translation keeps it free of self-collision.
    spiral = pose(INITIAL_ANGLES)
    inside = spiral + (np.array([0.1, 0.5]) - spiral[4])
    assert np.all((inside >= 0) & (inside <= 1))
    assert not legal(inside)
    # The same shape lower, entirely below the bar, touches no wall: legal.
    below = spiral + (np.array([0.1, 0.30]) - spiral[4])
    in_bar = (
        (below[:, None, 0] >= WALLS[:, 0])
        & (below[:, None, 0] <= WALLS[:, 1])
        & (below[:, None, 1] >= WALLS[:, 2])
        & (below[:, None, 1] <= WALLS[:, 3])
    )
    assert not in_bar.any()
    assert legal(below)


def test_self_collision_of_non_adjacent_segments_is_illegal():
    # A hairpin in the outer turn of the spiral: segment 16 turns back towards
    # segment 14, within a fraction of a segment length of it.
    angles = INITIAL_ANGLES.copy()
    angles[16] += 2.0
    points = pose(angles)
    assert in_central_free_square(points)  # only self-collision can be at fault
    assert not legal(points)
    # A gentle extra bend at the same joint is fine.
    angles[16] = INITIAL_ANGLES[16] + 0.3
    points = pose(angles)
    assert in_central_free_square(points)
    assert legal(points)


def test_segment_distance():
    assert segment_distance(0, 0, 1, 0, 0, 1, 1, 1) == pytest.approx(1.0)
    assert segment_distance(0, 0, 1, 1, 0, 1, 1, 0) == 0.0  # crossing
    assert segment_distance(0, 0, 1, 0, 2, 0, 3, 0) == pytest.approx(1.0)  # collinear gap
    assert segment_distance(0, 0, 1, 0, 0.5, 0.3, 0.5, 2) == pytest.approx(0.3)


def test_end_effector_faster_than_one_unit_per_step_is_illegal():
    points = pose(INITIAL_ANGLES)
    far_previous_tip = points[-1] + np.array([1.01, 0.0])
    assert not legal(points, far_previous_tip)
    near_previous_tip = points[-1] + np.array([0.99, 0.0])
    assert legal(points, near_previous_tip)


def _batch_state(n):
    angles = np.tile(INITIAL_ANGLES, (n, 1))
    points = np.tile(pose(INITIAL_ANGLES), (n, 1, 1))
    return angles, np.zeros((n, N_JOINTS)), points, np.zeros(n, dtype=bool)


def test_zero_action_keeps_the_arm_still():
    angles, velocities, points, frozen = _batch_state(2)
    start = points.copy()
    for _ in range(10):
        step_arms(angles, velocities, points, frozen, np.zeros((2, N_JOINTS)), WALLS)
    np.testing.assert_array_equal(points, start)
    assert not frozen.any()


def test_integration_is_two_semi_implicit_euler_substeps():
    angles, velocities, points, frozen = _batch_state(1)
    acceleration = np.full((1, N_JOINTS), 0.1)
    step_arms(angles, velocities, points, frozen, acceleration, WALLS)
    dt = 0.01
    v1 = 0.1 * dt
    v2 = v1 + 0.1 * dt
    np.testing.assert_allclose(velocities[0], v2)
    np.testing.assert_allclose(angles[0], INITIAL_ANGLES + (v1 + v2) * dt)


def test_an_illegal_move_freezes_the_arm_in_its_last_legal_pose():
    angles, velocities, points, frozen = _batch_state(2)
    # Arm 0 curls hard (the spiral closes on itself); arm 1 does nothing.
    accelerations = np.zeros((2, N_JOINTS))
    accelerations[0] = math.pi
    history = []
    for _ in range(100):
        before = points[0].copy()
        step_arms(angles, velocities, points, frozen, accelerations, WALLS)
        history.append((before, frozen[0]))
        if frozen[0]:
            break
    assert frozen[0] and not frozen[1]
    frozen_pose = points[0].copy()
    np.testing.assert_array_equal(frozen_pose, history[-1][0])  # the move was undone
    assert legal(frozen_pose)
    np.testing.assert_array_equal(velocities[0], 0.0)
    for _ in range(5):  # stays frozen whatever the actions
        step_arms(angles, velocities, points, frozen, -accelerations, WALLS)
    np.testing.assert_array_equal(points[0], frozen_pose)


def test_area_rewards_are_sparse_and_linear_in_distance():
    # Binary-exact numbers, so the border case is exact.
    areas = (RewardArea((0.25, 0.25), 0.25), RewardArea((0.75, 0.75), 0.125))
    points = np.array(
        [
            [0.25, 0.25],  # centre: 1
            [0.25 + 0.125, 0.25],  # half radius: 0.5
            [0.75, 0.75 - 0.09375],  # area 1, d = 0.75 r: 0.25
            [0.5, 0.25],  # on the border of area 0: 0, no area
            [0.5, 0.75],  # nowhere
        ]
    )
    rewards, index = area_rewards(points, areas)
    np.testing.assert_allclose(rewards, [1.0, 0.5, 0.25, 0.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(index, [0, 0, 1, -1, -1])


def test_evaluate_scores_the_final_end_effector(rng):
    task = make_task("arm")
    genomes = random_genomes(rng, 300, task.genome_size)
    result = task.evaluate(genomes)
    assert result.descriptors.shape == (300, 2)
    assert np.all((result.descriptors >= 0) & (result.descriptors <= 1))
    rewards, areas = area_rewards(result.descriptors, task.spec.reward_areas)
    np.testing.assert_array_equal(result.rewards, rewards)
    np.testing.assert_array_equal(result.reward_areas, areas)
    np.testing.assert_allclose(result.final_observations.shape, (300, 20))
    # The tip of an arm of length 1 is at most 1 from the base.
    assert np.all(np.linalg.norm(result.descriptors - 0.5, axis=1) <= 1.0 + 1e-9)


def test_evaluation_is_deterministic_and_independent_of_batch_split(rng):
    task = make_task("arm", n_frames=2)
    genomes = random_genomes(rng, 40, task.genome_size)
    whole = task.evaluate(genomes)
    again = task.evaluate(genomes)
    halves = [task.evaluate(genomes[:17]), task.evaluate(genomes[17:])]
    for field in ("rewards", "reward_areas", "descriptors", "frames", "final_observations"):
        np.testing.assert_array_equal(getattr(whole, field), getattr(again, field))
        np.testing.assert_array_equal(
            getattr(whole, field), np.concatenate([getattr(h, field) for h in halves])
        )


def test_frame_sampling_times():
    np.testing.assert_array_equal(frame_times(100, 1), [99])
    np.testing.assert_array_equal(frame_times(100, 2), [50, 99])
    np.testing.assert_array_equal(frame_times(100, 4), [25, 50, 75, 99])
    assert frame_times(100, 0).size == 0


def test_frames_are_uint8_and_show_arm_areas_and_walls(rng):
    task = make_task("arm", n_frames=3)
    result = task.evaluate(random_genomes(rng, 5, task.genome_size))
    assert result.frames.shape == (5, 3, 64, 64, 3) and result.frames.dtype == np.uint8
    frame = result.frames[0, -1].astype(int)
    # Reward area 0 at (0.25, 0.25): pixel column 16, row 48 (y points down in images).
    assert tuple(frame[48, 16]) == pytest.approx((230, 26, 26), abs=3)
    # The bottom wall bar x in [0.49, 0.51], y < 0.2: pixels around column 31-32, row 60.
    assert frame[60, 31:33].sum(axis=-1).min() < 3 * 200
    # The arm draws dark pixels near its tip.
    col, row = result.descriptors[0, 0] * 64, (1 - result.descriptors[0, 1]) * 64
    patch = frame[max(int(row) - 1, 0) : int(row) + 2, max(int(col) - 1, 0) : int(col) + 2]
    assert patch.sum(axis=-1).min() < 3 * 128
    assert make_task("arm").evaluate(random_genomes(rng, 2, 228)).frames.shape == (2, 0, 64, 64, 3)


def test_distractors_change_frames_but_not_outcomes(rng):
    genomes = random_genomes(rng, 6, 228)
    seeds = np.arange(6) + 100
    plain = make_task("arm", n_frames=1).evaluate(genomes, episode_seeds=seeds)
    distracted = make_task("arm-distractors", n_frames=1).evaluate(genomes, episode_seeds=seeds)
    np.testing.assert_array_equal(plain.descriptors, distracted.descriptors)
    np.testing.assert_array_equal(plain.rewards, distracted.rewards)
    assert not np.array_equal(plain.frames, distracted.frames)
    # Same seed, same discs; another seed, other discs.
    again = make_task("arm-distractors", n_frames=1).evaluate(genomes, episode_seeds=seeds)
    np.testing.assert_array_equal(again.frames, distracted.frames)
    other = make_task("arm-distractors", n_frames=1).evaluate(genomes, episode_seeds=seeds + 1)
    assert not np.array_equal(other.frames, distracted.frames)
    # Colours that the plain arm never draws appear (green discs).
    green = (distracted.frames[..., 1] > 150) & (distracted.frames[..., 0] < 80)
    assert green.any() and not ((plain.frames[..., 1] > 150) & (plain.frames[..., 0] < 80)).any()


def test_compiled_rollout_matches_the_generic_episode_loop(rng):
    """The arm's compiled policy+physics rollout gives what stepping through NumPy gives."""

    class SteppedArm(RedundantArm):
        advance = Task.advance  # observe -> policy.forward -> step, one NumPy step at a time

    genomes = 2.0 * random_genomes(rng, 150, RedundantArm.spec.genome_size)
    fast = make_task("arm", n_frames=3).evaluate(genomes)
    slow = SteppedArm(n_frames=3).evaluate(genomes)
    np.testing.assert_allclose(fast.descriptors, slow.descriptors, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.final_observations, slow.final_observations, atol=1e-9)
    np.testing.assert_array_equal(fast.reward_areas, slow.reward_areas)
    assert np.abs(fast.frames.astype(int) - slow.frames).max() <= 1
