"""The point task (``point``): a small, fast task for tests and demos.

A point mass in ``[-1, 1]²`` starts at ``(0, -0.8)`` and is driven for 50 steps
by a 2-D velocity action (policy output in (-1, 1), times :data:`MAX_SPEED` per
step). The policy observes the point's position. Three axis-aligned walls make
the reward areas non-trivial to reach:

* a horizontal bar ``y = 0`` for ``x`` in ``[-0.5, 0.5]`` right above the start,
  so the direct way up is blocked;
* two vertical bars ``x = ±0.5`` for ``y`` in ``[0.4, 1]`` closing the sides of
  the top-centre pocket.

Reward areas: a large one at ``(-0.7, 0.7)`` (radius 0.3) and a small one at
``(0, 0.8)`` (radius 0.1), inside the pocket behind the bar. Ground truth: the
final position in ``[-1, 1]²``.

Motion is split per axis (x first, then y) and a sub-move that would cross a wall
perpendicular to it is cancelled, so the point slides along walls and can never
cross one; the square's border clips. Every wall is axis-aligned, which is what
makes this exact rule so cheap.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from serendip.policies.mlp import forward_one
from serendip.tasks import render
from serendip.tasks.base import RewardArea, Task, TaskSpec

START = (0.0, -0.8)
MAX_SPEED = 0.05
# Walls as (axis, position, low, high): axis 0 is a vertical wall x = position for
# y in [low, high]; axis 1 a horizontal wall y = position for x in [low, high].
WALLS = np.array(
    [
        [1.0, 0.0, -0.5, 0.5],
        [0.0, -0.5, 0.4, 1.0],
        [0.0, 0.5, 0.4, 1.0],
    ]
)
POINT_SPEC = TaskSpec(
    name="point",
    summary="point mass with 3 walls and 2 reward areas: the fast debug task",
    observation_size=2,
    action_size=2,
    horizon=50,
    hidden_layers=2,
    hidden_width=5,
    reward_areas=(RewardArea((-0.7, 0.7), 0.3), RewardArea((0.0, 0.8), 0.1)),
    descriptor_low=(-1.0, -1.0),
    descriptor_high=(1.0, 1.0),
    descriptor_names=("x", "y"),
)


@numba.njit(cache=True)
def _move(position, velocity, walls):  # pragma: no cover - jitted
    """Move ``position`` (2,) by ``velocity`` in place, x then y, sliding along walls."""
    for axis in range(2):
        old = position[axis]
        new = min(max(old + velocity[axis], -1.0), 1.0)
        other = position[1 - axis]
        for w in range(walls.shape[0]):
            if walls[w, 0] != axis or not walls[w, 2] <= other <= walls[w, 3]:
                continue
            c = walls[w, 1]
            if (old < c <= new) or (new <= c < old):
                new = old  # the sub-move would reach or cross the wall: cancel it
                break
        position[axis] = new


@numba.njit(cache=True)
def step_points(positions, actions, walls):  # pragma: no cover - jitted
    """One step of a batch: ``positions`` (N, 2) moved by ``actions * MAX_SPEED``."""
    velocity = np.empty(2)
    for b in range(positions.shape[0]):
        velocity[0] = actions[b, 0] * MAX_SPEED
        velocity[1] = actions[b, 1] * MAX_SPEED
        _move(positions[b], velocity, walls)


@numba.njit(cache=True)
def rollout_points(positions, genomes, shape, steps, walls):  # pragma: no cover - jitted
    """``steps`` steps of every point under its own policy (see ``rollout_arms``: the
    per-step NumPy overhead, not the physics, would dominate)."""
    scratch = np.empty((2, shape[2]))
    actions = np.empty(2)
    for b in range(positions.shape[0]):
        for _ in range(steps):
            forward_one(genomes[b], positions[b], shape, scratch, actions)
            actions *= MAX_SPEED
            _move(positions[b], actions, walls)


class PointTask(Task):
    """The point task: see the module docstring."""

    spec = POINT_SPEC
    viewport = render.Viewport((-1.0, -1.0), (1.0, 1.0))
    point_radius = 0.04

    def __init__(self, *, n_frames: int = 0, **options: Any) -> None:
        super().__init__(n_frames=n_frames, **options)
        self._policy_shape = self.policy.shape
        self._background = self._draw_background()

    def reset(self, n: int, episode_seeds: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(START, dtype=np.float64), (n, 1))

    def observe(self, state: np.ndarray) -> np.ndarray:
        return state.copy()

    def step(self, state: np.ndarray, actions: np.ndarray) -> None:
        step_points(state, np.ascontiguousarray(actions, dtype=np.float64), WALLS)

    def advance(self, state: np.ndarray, genomes: np.ndarray, steps: int) -> None:
        rollout_points(state, genomes, self._policy_shape, steps, WALLS)

    def outcome(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return state.copy(), state.copy()

    def _draw_background(self) -> np.ndarray:
        image = render.floor_with_areas(self.viewport, self.spec.reward_areas)
        ends = np.empty((1, len(WALLS), 2, 2))
        for w, (axis, c, low, high) in enumerate(WALLS):
            ends[0, w] = [[c, low], [c, high]] if axis == 0 else [[low, c], [high, c]]
        pixels = self.viewport.to_pixels(ends)
        render.paint(
            image, render.segments_coverage(pixels[:, :, 0], pixels[:, :, 1], 0.5), render.BLACK
        )
        return image

    def render(self, state: np.ndarray) -> np.ndarray:
        pixels = self.viewport.to_pixels(state[:, None, :])
        coverage = render.discs_coverage(pixels, self.viewport.length(self.point_radius))
        return render.compose(self._background, [(coverage, render.BLUE)])
