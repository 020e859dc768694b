"""The redundant arm (``arm``) and its distractor variant (``arm-distractors``).

A planar 20-joint arm of total length 1 with its base at the centre of the unit
square, driven by joint accelerations. Illegal moves (a joint outside the
square or inside a wall, self-collision, an end effector faster than 1 unit per
step) freeze the arm in its last legal pose for the rest of the episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from serendip.policies.mlp import forward_one
from serendip.tasks import render
from serendip.tasks.base import RewardArea, Task, TaskSpec

N_JOINTS = 20
SEGMENT_LENGTH = 1.0 / N_JOINTS
BASE = (0.5, 0.5)
INITIAL_HEADING = math.pi / 2
INITIAL_ANGLES = np.linspace(4 * math.pi / N_JOINTS, math.pi / N_JOINTS, N_JOINTS)
ACTION_SCALE = math.pi
SUBSTEPS = 2
DT = 0.01
SELF_COLLISION_DISTANCE = 0.95 * SEGMENT_LENGTH
MAX_END_EFFECTOR_STEP = 1.0
# The "cross": four bars 0.02 thick, 0.2 long, from the middle of each side inwards,
# as (x_min, x_max, y_min, y_max).
WALLS = np.array(
    [
        [0.0, 0.2, 0.49, 0.51],
        [0.8, 1.0, 0.49, 0.51],
        [0.49, 0.51, 0.0, 0.2],
        [0.49, 0.51, 0.8, 1.0],
    ]
)
ARM_SPEC = TaskSpec(
    name="arm",
    summary="redundant 20-joint planar arm in a walled unit square, 3 reward areas",
    observation_size=N_JOINTS,
    action_size=N_JOINTS,
    horizon=100,
    hidden_layers=2,
    hidden_width=5,
    reward_areas=(
        RewardArea((0.25, 0.25), 0.05),
        RewardArea((0.85, 0.85), 0.05),
        RewardArea((0.25, 0.90), 0.05),
    ),
    descriptor_low=(0.0, 0.0),
    descriptor_high=(1.0, 1.0),
    descriptor_names=("x", "y"),
)


@numba.njit(cache=True, inline="always")
def _point_segment_distance(px, py, ax, ay, bx, by):  # pragma: no cover - jitted
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = ((px - ax) * dx + (py - ay) * dy) / length2 if length2 > 0 else 0.0
    t = min(max(t, 0.0), 1.0)
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


@numba.njit(cache=True)
def segment_distance(ax, ay, bx, by, cx, cy, dx, dy):  # pragma: no cover - jitted
    """Minimum distance between segments AB and CD in the plane (0 if they cross)."""
    o1 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    o2 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
    o3 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx)
    o4 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return 0.0
    return min(
        _point_segment_distance(ax, ay, cx, cy, dx, dy),
        _point_segment_distance(bx, by, cx, cy, dx, dy),
        _point_segment_distance(cx, cy, ax, ay, bx, by),
        _point_segment_distance(dx, dy, ax, ay, bx, by),
    )


@numba.njit(cache=True)
def _legal(points, previous_tip_x, previous_tip_y, walls):  # pragma: no cover - jitted
    """Whether a new pose (joint positions, base first) is legal."""
    n_points = points.shape[0]
    for j in range(1, n_points):
        x, y = points[j, 0], points[j, 1]
        if x < 0.0 or x > 1.0 or y < 0.0 or y > 1.0:
            return False
        for w in range(walls.shape[0]):
            if walls[w, 0] <= x <= walls[w, 1] and walls[w, 2] <= y <= walls[w, 3]:
                return False
    tip = n_points - 1
    if math.hypot(points[tip, 0] - previous_tip_x, points[tip, 1] - previous_tip_y) > (
        MAX_END_EFFECTOR_STEP
    ):
        return False
    # Self-collision between non-adjacent segments. Two segments of length L whose
    # midpoints are more than L + threshold apart cannot be closer than the
    # threshold, which rules out most pairs with a few flops.
    reach = SEGMENT_LENGTH + SELF_COLLISION_DISTANCE
    n_segments = n_points - 1
    for i in range(n_segments):
        mix = 0.5 * (points[i, 0] + points[i + 1, 0])
        miy = 0.5 * (points[i, 1] + points[i + 1, 1])
        for k in range(i + 2, n_segments):
            mkx = 0.5 * (points[k, 0] + points[k + 1, 0])
            mky = 0.5 * (points[k, 1] + points[k + 1, 1])
            if (mix - mkx) ** 2 + (miy - mky) ** 2 >= reach * reach:
                continue
            d = segment_distance(
                points[i, 0],
                points[i, 1],
                points[i + 1, 0],
                points[i + 1, 1],
                points[k, 0],
                points[k, 1],
                points[k + 1, 0],
                points[k + 1, 1],
            )
            if d < SELF_COLLISION_DISTANCE:
                return False
    return True


@numba.njit(cache=True)
def forward_kinematics(angles, out):  # pragma: no cover - jitted
    """Joint positions ``(J+1, 2)`` (base first) of relative joint ``angles`` ``(J,)``."""
    heading = INITIAL_HEADING
    x, y = BASE[0], BASE[1]
    out[0, 0], out[0, 1] = x, y
    for j in range(angles.shape[0]):
        heading += angles[j]
        x += SEGMENT_LENGTH * math.cos(heading)
        y += SEGMENT_LENGTH * math.sin(heading)
        out[j + 1, 0], out[j + 1, 1] = x, y


@numba.njit(cache=True)
def _step_arm(
    b,
    angles,
    velocities,
    points,
    frozen,
    accelerations,
    walls,
    scratch_angles,
    scratch_velocities,
    scratch_points,
):  # pragma: no cover - jitted
    """One control step of arm ``b`` under joint ``accelerations`` ``(J,)``, in place."""
    n_joints = angles.shape[1]
    for j in range(n_joints):
        scratch_angles[j] = angles[b, j]
        scratch_velocities[j] = velocities[b, j]
    for _ in range(SUBSTEPS):
        for j in range(n_joints):
            scratch_velocities[j] += accelerations[j] * DT
            scratch_angles[j] += scratch_velocities[j] * DT
    forward_kinematics(scratch_angles, scratch_points)
    if _legal(scratch_points, points[b, n_joints, 0], points[b, n_joints, 1], walls):
        angles[b, :] = scratch_angles
        velocities[b, :] = scratch_velocities
        points[b, :, :] = scratch_points
    else:
        frozen[b] = True
        velocities[b, :] = 0.0


@numba.njit(cache=True)
def step_arms(angles, velocities, points, frozen, accelerations, walls):  # pragma: no cover
    """One control step for a batch of arms, in place.

    Why a compiled kernel: the legality test (self-collision over 171 segment
    pairs with an early exit) is branchy per arm; as NumPy it needs (N, 171)
    temporaries every step and runs several times slower.
    """
    n, n_joints = angles.shape
    new_angles = np.empty(n_joints)
    new_velocities = np.empty(n_joints)
    new_points = np.empty((n_joints + 1, 2))
    for b in range(n):
        if not frozen[b]:
            _step_arm(
                b,
                angles,
                velocities,
                points,
                frozen,
                accelerations[b],
                walls,
                new_angles,
                new_velocities,
                new_points,
            )


@numba.njit(cache=True)
def rollout_arms(
    angles, velocities, points, frozen, genomes, shape, steps, walls
):  # pragma: no cover
    """``steps`` control steps of every arm under its own policy, in place.

    Why: stepping through NumPy costs about 60 us of call overhead per step
    whatever the batch size, which made a 6-agent emitter batch cost as much as
    a 100-agent one; compiled, the policy and the physics run per arm in one call.
    """
    n, n_joints = angles.shape
    new_angles = np.empty(n_joints)
    new_velocities = np.empty(n_joints)
    new_points = np.empty((n_joints + 1, 2))
    observation = np.empty(n_joints)
    actions = np.empty(n_joints)
    scratch = np.empty((2, shape[2]))
    for b in range(n):
        for _ in range(steps):
            if frozen[b]:
                break  # a frozen arm keeps its last legal pose
            for j in range(n_joints):
                observation[j] = angles[b, j] / math.pi
            forward_one(genomes[b], observation, shape, scratch, actions)
            for j in range(n_joints):
                actions[j] *= ACTION_SCALE
            _step_arm(
                b,
                angles,
                velocities,
                points,
                frozen,
                actions,
                walls,
                new_angles,
                new_velocities,
                new_points,
            )


@dataclass
class ArmState:
    angles: np.ndarray  # (N, 20) relative joint angles
    velocities: np.ndarray  # (N, 20)
    points: np.ndarray  # (N, 21, 2) joint positions, base first
    frozen: np.ndarray  # (N,) bool: an illegal move happened
    distractors: np.ndarray | None = None  # (N, 3, 2) for arm-distractors


class RedundantArm(Task):
    """The redundant arm: see the module docstring and ``shared/spec/tasks.md``."""

    spec = ARM_SPEC
    viewport = render.Viewport((0.0, 0.0), (1.0, 1.0))
    arm_width = 0.02

    def __init__(self, *, n_frames: int = 0, **options: Any) -> None:
        super().__init__(n_frames=n_frames, **options)
        self._policy_shape = self.policy.shape
        self._background = self._draw_background()

    def reset(self, n: int, episode_seeds: np.ndarray) -> ArmState:
        pose = np.empty((N_JOINTS + 1, 2))
        forward_kinematics(INITIAL_ANGLES, pose)
        return ArmState(
            angles=np.tile(INITIAL_ANGLES, (n, 1)),
            velocities=np.zeros((n, N_JOINTS)),
            points=np.tile(pose, (n, 1, 1)),
            frozen=np.zeros(n, dtype=bool),
        )

    def observe(self, state: ArmState) -> np.ndarray:
        return state.angles / math.pi

    def step(self, state: ArmState, actions: np.ndarray) -> None:
        accelerations = np.ascontiguousarray(actions, dtype=np.float64) * ACTION_SCALE
        step_arms(state.angles, state.velocities, state.points, state.frozen, accelerations, WALLS)

    def advance(self, state: ArmState, genomes: np.ndarray, steps: int) -> None:
        rollout_arms(
            state.angles,
            state.velocities,
            state.points,
            state.frozen,
            genomes,
            self._policy_shape,
            steps,
            WALLS,
        )

    def outcome(self, state: ArmState) -> tuple[np.ndarray, np.ndarray]:
        tip = state.points[:, -1, :].copy()
        return tip, tip

    def _draw_background(self) -> np.ndarray:
        image = render.floor_with_areas(self.viewport, self.spec.reward_areas)
        corners = self.viewport.to_pixels(WALLS[:, [0, 2, 1, 3]].reshape(-1, 2, 2)).reshape(-1, 4)
        render.paint(image, render.boxes_coverage(corners)[None], render.BLACK)
        return image

    def _scene_layers(self, state: ArmState) -> list[tuple[np.ndarray, tuple[float, ...]]]:
        """Hook for variants: coverage layers drawn between the background and the arm."""
        return []

    def render(self, state: ArmState) -> np.ndarray:
        pixels = self.viewport.to_pixels(state.points)
        half_width = max(0.5, self.viewport.length(self.arm_width) / 2)
        coverage = render.segments_coverage(pixels[:, :-1], pixels[:, 1:], half_width)
        return render.compose(
            self._background, [*self._scene_layers(state), (coverage, render.BLACK)]
        )


DISTRACTOR_COLORS = (render.GREEN, render.BLUE, render.ORANGE)
DISTRACTOR_RADIUS = 0.05


class RedundantArmDistractors(RedundantArm):
    """The arm whose frames also show three coloured discs placed at random per episode.

    The discs change nothing in the dynamics or the reward; they test whether a
    learned behavior space ignores what the agent does not control. Positions
    come from each episode's seed, so an evaluation is reproducible on its own.
    """

    spec = TaskSpec(
        **{
            **ARM_SPEC.__dict__,
            "name": "arm-distractors",
            "summary": "the redundant arm with 3 random coloured discs in its frames",
        }
    )

    def reset(self, n: int, episode_seeds: np.ndarray) -> ArmState:
        state = super().reset(n, episode_seeds)
        state.distractors = np.array(
            [
                np.random.default_rng([int(s), 0x5E4D]).uniform(0.05, 0.95, size=(3, 2))
                for s in episode_seeds
            ]
        ).reshape(n, len(DISTRACTOR_COLORS), 2)
        return state

    def _scene_layers(self, state: ArmState) -> list[tuple[np.ndarray, tuple[float, ...]]]:
        radius = self.viewport.length(DISTRACTOR_RADIUS)
        pixels = self.viewport.to_pixels(state.distractors)
        return [
            (render.discs_coverage(pixels[:, i : i + 1], radius), color)
            for i, color in enumerate(DISTRACTOR_COLORS)
        ]
