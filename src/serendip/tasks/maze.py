"""The hard maze (``maze``): Lehman and Stanley's deceptive maze, as used by SERENE.

A two-wheeled robot in the unit square (``y`` up) with walls on the border and
seven interior segments (:data:`WALLS`). Model, and every choice made where the
task spec leaves room:

* **Robot.** A disc of radius :data:`RADIUS` = 0.015 starting at (0.15, 0.15)
  heading up (θ = π/2). Heading θ is measured counter-clockwise from +x and kept
  in (−π, π].
* **Action.** ``(left, right)`` wheel speeds: the policy outputs in (−1, 1),
  clipped to [−1, 1] by :meth:`HardMaze.step`, times :data:`MAX_WHEEL_SPEED` =
  1/150 per step. That is libfastsim's (and gym_fastsim's / SERENE's) ±4 px per
  step on its 600 px maze, scaled to the unit square: full speed crosses the
  maze in 150 steps, the tests' scripted path to the top-left goal (about 2.6
  units) takes under 400 of the 2000 steps, and one step (≤ 1/150) is shorter
  than the robot's radius, which the collision rule below relies on.
* **Kinematics.** Differential drive as in libfastsim: the axle (wheel
  distance) is the robot's diameter, :data:`AXLE` = 0.03; over one step the
  heading turns by ``α = (right − left) / AXLE`` and the centre moves along the
  exact circular arc of length ``(left + right) / 2`` (a straight segment when
  α = 0), so the chord is ``d·sin(α)/α`` forward and ``d·(1 − cos α)/α`` to the
  left. The new heading is kept even when the move is blocked (libfastsim's
  non-sticky walls, which SERENE's setup uses).
* **Walls and sliding.** Walls are zero-thickness segments; the robot's centre
  must stay at least :data:`RADIUS` from every one. After the kinematic move,
  each wall the disc overlaps (or touches, within 1e-9) gives the constraint
  "stay on the robot's side of the wall's tangent line at the closest point,
  one radius out" (a round cap at a free wall end), and the centre moves to the
  nearest point satisfying all of them: the projection onto one (the robot
  slides along that wall) or, in a corner, the point where two meet (it stops
  in the corner). Against a flat wall this is exactly "remove the velocity
  component into the wall, keep the tangential part". Solving a corner's two
  walls together, rather than pushing out of one wall at a time, settles in
  one pass where alternate pushes bounce between the walls (they never settle
  in an acute corner, down to 35° here); a few passes (:data:`RESOLVE_PASSES`)
  pick up walls a resolution runs into and the curvature of wall ends. The
  robot cannot tunnel, because a step is shorter than the radius: before the
  resolution the centre is still at least ``RADIUS − MAX_WHEEL_SPEED > 0`` from
  every wall, on the side it came from. As a guard, a resolved position closer
  than :data:`RADIUS` − 1e-12 to a wall, or a radius or more from the previous
  position (which keeps the straight path between the two clear as well), is
  refused and the robot keeps its previous position, as libfastsim does on
  every collision; in millions of random steps this never happened.
* **Bumpers.** Left and right, as libfastsim's: a wall *collides* in a step
  when the moved disc overlaps it (the move had to be corrected for it). With
  ``u`` the unit vector from the centre to the wall's closest point and ``h``
  the new heading, the collision is on the front-left when ``u·h > 0`` and
  ``u`` points left of ``h`` or straight ahead, on the front-right when
  ``u·h > 0`` and ``u`` points right or straight ahead (a head-on contact fires
  both; a contact at the back or exactly sideways fires neither, since the
  bumpers sit on the front: backing into a wall fires nothing). A bumper reads
  1 after a step with such a collision on its side, else 0; it is 0 at the
  start. A robot resting against a wall without pushing into it (turning in
  place, driving away, sliding exactly parallel) does not collide.
* **Lasers.** Three rays from the centre at −45°, 0°, +45° relative to the
  heading (right, front, left), range :data:`LASER_RANGE` = 0.2. A reading is
  the distance to the first wall along the ray divided by the range, 1 when no
  wall is within range (libfastsim reports −1 there and gym_fastsim maps it to
  the maximum range). Readings are at least ``RADIUS / LASER_RANGE`` = 0.075.
* **Observation** (5 values): the three laser readings (−45°, 0°, +45°), then
  the left and right bumpers.
* **Episode.** 2000 steps, no early end. Reward on the final position
  (areas (0.1, 0.9) and (0.167, 0.667), radius 0.083); ground truth = final
  (x, y) in [0, 1]².
* **Frames.** 64x64: white floor, red reward areas, black walls (anti-aliased,
  interior walls 1.5 px wide so that a wall on a pixel boundary still darkens
  its two pixels to 75 %, the border drawn so that the outer pixel ring is solid
  black), all drawn once as a background; then the robot as a dark blue disc of
  its true radius but at least 1.5 px (a heading tick would not survive 64 px).

Speed: the whole rollout (sensors, policy, motion) is a compiled numba kernel
per agent (:func:`rollout_robots`), parallel over agents with ``prange``; each
agent's episode is computed by one thread from its own data only, so results do
not depend on the thread count or scheduling. One thread runs about 1.5-1.9
million robot-steps per CPU-second, policy included (about half of it is the
policy). Frames paint only the robot's few pixels over a prepared background.
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
from serendip.tasks.numba_threads import use_numba_thread_pool

RADIUS = 0.015
AXLE = 2 * RADIUS
START = (0.15, 0.15)
START_HEADING = math.pi / 2
MAX_WHEEL_SPEED = 4.0 / 600.0
LASER_RANGE = 0.2
N_LASERS = 3
RESOLVE_PASSES = 4
MAX_CONTACTS = 4
# Tolerances: pushed-out robots sit PUSH_MARGIN beyond contact, so that rounding
# never leaves them inside; a resolved position may be at most ACCEPT_SLACK inside.
PUSH_MARGIN = 1e-12
ACCEPT_SLACK = 1e-12
TOUCHING = 1e-9  # walls this close count as constraints (not as collisions)
assert MAX_WHEEL_SPEED < RADIUS  # a step never reaches past a wall: no tunnelling

BORDER = np.array(
    [
        [0.0, 0.0, 1.0, 0.0],
        [1.0, 0.0, 1.0, 1.0],
        [1.0, 1.0, 0.0, 1.0],
        [0.0, 1.0, 0.0, 0.0],
    ]
)
INTERIOR = np.array(
    [
        [0.25, 0.25, 0.25, 0.75],
        [0.14, 0.45, 0.0, 0.65],
        [0.25, 0.75, 0.0, 0.8],
        [0.25, 0.75, 0.66, 0.875],
        [0.355, 0.0, 0.525, 0.185],
        [0.25, 0.5, 0.75, 0.215],
        [1.0, 0.25, 0.435, 0.55],
    ]
)
# Every wall as a segment (x1, y1, x2, y2): the border first, then the interior.
WALLS = np.ascontiguousarray(np.concatenate([BORDER, INTERIOR]))

MAZE_SPEC = TaskSpec(
    name="maze",
    summary="Lehman-Stanley hard maze: 2-wheeled robot, 3 lasers + 2 bumpers, 2 reward areas",
    observation_size=N_LASERS + 2,
    action_size=2,
    horizon=2000,
    hidden_layers=2,
    hidden_width=5,
    reward_areas=(
        RewardArea((0.1, 0.9), 0.083),
        RewardArea((0.167, 0.667), 0.083),
    ),
    descriptor_low=(0.0, 0.0),
    descriptor_high=(1.0, 1.0),
    descriptor_names=("x", "y"),
)


def _wall_geometry(walls: np.ndarray) -> np.ndarray:
    """Per wall, for the kernels: the segment, its bounding box and 1 / length²."""
    x1, y1, x2, y2 = walls.T
    return np.ascontiguousarray(
        np.stack(
            [
                x1,
                y1,
                x2,
                y2,
                np.minimum(x1, x2),
                np.maximum(x1, x2),
                np.minimum(y1, y2),
                np.maximum(y1, y2),
                1.0 / ((x2 - x1) ** 2 + (y2 - y1) ** 2),
            ],
            axis=1,
        )
    )


GEOMETRY = _wall_geometry(WALLS)


@numba.njit(cache=True, inline="always")
def _wrap_angle(a):  # pragma: no cover - jitted
    """``a`` wrapped into (−π, π] (a step turns by less than a turn)."""
    if a > math.pi:
        a -= 2.0 * math.pi
    elif a <= -math.pi:
        a += 2.0 * math.pi
    return a


@numba.njit(cache=True, inline="always")
def _near(x, y, geometry, w, reach):  # pragma: no cover - jitted
    """Whether (x, y) is within ``reach`` of wall ``w``'s bounding box (a cheap cull)."""
    return (
        geometry[w, 4] - reach <= x <= geometry[w, 5] + reach
        and geometry[w, 6] - reach <= y <= geometry[w, 7] + reach
    )


@numba.njit(cache=True, inline="always")
def _closest_point(px, py, geometry, w):  # pragma: no cover - jitted
    """The point of wall ``w`` closest to P."""
    ax, ay = geometry[w, 0], geometry[w, 1]
    ex, ey = geometry[w, 2] - ax, geometry[w, 3] - ay
    t = ((px - ax) * ex + (py - ay) * ey) * geometry[w, 8]
    t = min(max(t, 0.0), 1.0)
    return ax + t * ex, ay + t * ey


@numba.njit(cache=True, inline="always")
def _ray_hit(rx, ry, ex, ey, ux, uy, best):  # pragma: no cover - jitted
    """Distance along unit ``u`` to segment ``A + s e`` (``r = A - origin``) if below ``best``."""
    denom = ux * ey - uy * ex
    if denom == 0.0:
        return best  # parallel: a grazing ray sees nothing
    t = (rx * ey - ry * ex) / denom
    if t < 0.0 or t >= best:
        return best
    s = (rx * uy - ry * ux) / denom
    if 0.0 <= s <= 1.0:
        return t
    return best


@numba.njit(cache=True, inline="always")
def _observe_one(x, y, c, s, left_bumper, right_bumper, geometry, out):  # pragma: no cover
    """The 5-value observation of a robot at (x, y) heading (c, s) = (cos θ, sin θ)."""
    k = math.sqrt(0.5)
    rux, ruy = k * (c + s), k * (s - c)  # -45°: right
    lux, luy = k * (c - s), k * (s + c)  # +45°: left
    right = front = left = LASER_RANGE
    for w in range(geometry.shape[0]):
        if not _near(x, y, geometry, w, LASER_RANGE):
            continue
        ax, ay = geometry[w, 0], geometry[w, 1]
        ex, ey = geometry[w, 2] - ax, geometry[w, 3] - ay
        rx, ry = ax - x, ay - y
        right = _ray_hit(rx, ry, ex, ey, rux, ruy, right)
        front = _ray_hit(rx, ry, ex, ey, c, s, front)
        left = _ray_hit(rx, ry, ex, ey, lux, luy, left)
    out[0] = right / LASER_RANGE
    out[1] = front / LASER_RANGE
    out[2] = left / LASER_RANGE
    out[3] = left_bumper
    out[4] = right_bumper


@numba.njit(cache=True)
def observe_robots(position, heading, bumpers, geometry, out):  # pragma: no cover - jitted
    """Observations ``out`` ``(N, 5)`` of a batch of robots."""
    for b in range(position.shape[0]):
        theta = heading[b]
        _observe_one(
            position[b, 0],
            position[b, 1],
            math.cos(theta),
            math.sin(theta),
            bumpers[b, 0],
            bumpers[b, 1],
            geometry,
            out[b],
        )


@numba.njit(cache=True, inline="always")
def _feasible(px, py, contacts, k):  # pragma: no cover - jitted
    """Whether P satisfies the first ``k`` contact constraints ``n·P >= offset``."""
    for i in range(k):
        if contacts[i, 0] * px + contacts[i, 1] * py < contacts[i, 2] - 1e-13:
            return False
    return True


@numba.njit(cache=True)
def _move_robot(
    b, position, heading, bumpers, left, right, c, s, geometry, contacts
):  # pragma: no cover - jitted
    """One step of robot ``b`` under wheel commands ``left, right`` in (−1, 1), in place.

    ``(c, s)`` is ``(cos, sin)`` of its heading, which the caller has already
    computed for the lasers; ``contacts`` is a ``(MAX_CONTACTS, 3)`` scratch
    buffer. Kinematics, sliding, cancellation and bumpers as in the module
    docstring.
    """
    left = min(max(left, -1.0), 1.0) * MAX_WHEEL_SPEED
    right = min(max(right, -1.0), 1.0) * MAX_WHEEL_SPEED
    x, y = position[b, 0], position[b, 1]
    d = 0.5 * (left + right)
    alpha = (right - left) / AXLE
    if abs(alpha) < 1e-6:  # series of sin(a)/a and (1 - cos a)/a: exact to rounding
        forward = d * (1.0 - alpha * alpha / 6.0)
        lateral = d * alpha * 0.5
    else:
        forward = d * math.sin(alpha) / alpha
        lateral = d * (1.0 - math.cos(alpha)) / alpha
    qx = x + forward * c - lateral * s
    qy = y + forward * s + lateral * c
    theta = _wrap_angle(heading[b] + alpha)

    hit_left = False
    hit_right = False
    pushed = False
    cancelled = False
    hx = hy = 0.0  # the new heading's direction, computed at the first contact
    for _ in range(RESOLVE_PASSES):
        # The walls the disc overlaps, each as the half-plane n·q >= n·contact + r
        # (its tangent at the contact point, n from the wall to the centre).
        # Walls merely touching are kept as constraints too, so that resolving
        # one wall cannot push the robot into another it was resting against.
        k = 0
        overlaps = 0
        for w in range(geometry.shape[0]):
            if not _near(qx, qy, geometry, w, RADIUS + TOUCHING):
                continue
            cx, cy = _closest_point(qx, qy, geometry, w)
            dx, dy = qx - cx, qy - cy
            dist2 = dx * dx + dy * dy
            if dist2 >= (RADIUS + TOUCHING) ** 2:
                continue
            dist = math.sqrt(dist2)
            if dist < 1e-9 or k == MAX_CONTACTS:  # impossible as steps < radius; cancel
                cancelled = True
                break
            nx, ny = dx / dist, dy / dist
            contacts[k, 0], contacts[k, 1] = nx, ny
            contacts[k, 2] = nx * cx + ny * cy + RADIUS + PUSH_MARGIN
            k += 1
            if dist >= RADIUS:
                continue
            overlaps += 1
            if not pushed:
                hx, hy = math.cos(theta), math.sin(theta)
                pushed = True
            # u = -n points from the centre to the contact; h's left is (-hy, hx).
            if nx * hx + ny * hy < 0.0:  # u·h > 0: in front
                side = nx * hy - ny * hx  # u·left
                hit_left = hit_left or side >= 0.0
                hit_right = hit_right or side <= 0.0
        if cancelled or overlaps == 0:
            break
        # The nearest point satisfying every constraint: the projection onto one
        # of them (sliding along a wall) or, in a corner, where two of them meet.
        best = math.inf
        bx = by = 0.0
        for i in range(k):
            gap = contacts[i, 2] - contacts[i, 0] * qx - contacts[i, 1] * qy
            px, py = qx + gap * contacts[i, 0], qy + gap * contacts[i, 1]
            if gap > 0.0 and gap * gap < best and _feasible(px, py, contacts, k):
                best, bx, by = gap * gap, px, py
        if best == math.inf:
            for i in range(k):
                for j in range(i + 1, k):
                    det = contacts[i, 0] * contacts[j, 1] - contacts[i, 1] * contacts[j, 0]
                    if abs(det) < 1e-9:
                        continue  # parallel constraints meet nowhere useful
                    px = (contacts[i, 2] * contacts[j, 1] - contacts[i, 1] * contacts[j, 2]) / det
                    py = (contacts[i, 0] * contacts[j, 2] - contacts[i, 2] * contacts[j, 0]) / det
                    moved = (px - qx) ** 2 + (py - qy) ** 2
                    if moved < best and _feasible(px, py, contacts, k):
                        best, bx, by = moved, px, py
        if best == math.inf:
            cancelled = True
            break
        qx, qy = bx, by

    if pushed and not cancelled:
        # Accept the resolved position only if it is clear of every wall (a round
        # wall end is only approximated by its tangent; the passes normally settle
        # it) and within a radius of the previous one, which keeps the straight
        # path between the two clear as well.
        cancelled = (qx - x) ** 2 + (qy - y) ** 2 >= RADIUS * RADIUS
        limit = (RADIUS - ACCEPT_SLACK) ** 2
        for w in range(geometry.shape[0]):
            if cancelled:
                break
            if _near(qx, qy, geometry, w, RADIUS):
                cx, cy = _closest_point(qx, qy, geometry, w)
                cancelled = (qx - cx) ** 2 + (qy - cy) ** 2 < limit
    if not cancelled:
        position[b, 0] = qx
        position[b, 1] = qy
    heading[b] = theta
    bumpers[b, 0] = 1.0 if hit_left else 0.0
    bumpers[b, 1] = 1.0 if hit_right else 0.0


@numba.njit(cache=True)
def step_robots(position, heading, bumpers, actions, geometry):  # pragma: no cover - jitted
    """One step of a batch under ``actions`` ``(N, 2)`` (left, right) in (−1, 1), in place."""
    contacts = np.empty((MAX_CONTACTS, 3))
    for b in range(position.shape[0]):
        theta = heading[b]
        _move_robot(
            b,
            position,
            heading,
            bumpers,
            actions[b, 0],
            actions[b, 1],
            math.cos(theta),
            math.sin(theta),
            geometry,
            contacts,
        )


@numba.njit(cache=True, parallel=True)
def rollout_robots(position, heading, bumpers, genomes, shape, steps, geometry):  # pragma: no cover
    """``steps`` steps of every robot under its own policy, in place.

    Why: a step is a few hundred flops per robot, so stepping through NumPy would
    be all call overhead; compiled, sensors, policy and motion run per robot in
    one call. Robots are independent and each is stepped by one thread from its
    own rows only, so ``prange`` changes the speed, never the result. The same
    functions as :func:`observe_robots` and :func:`step_robots` run, so this
    equals the ``observe``/``step`` loop whenever the policy's actions are equal.
    """
    n = position.shape[0]
    for b in numba.prange(n):
        observation = np.empty(N_LASERS + 2)
        actions = np.empty(2)
        scratch = np.empty((2, shape[2]))
        contacts = np.empty((MAX_CONTACTS, 3))
        for _ in range(steps):
            theta = heading[b]
            c, s = math.cos(theta), math.sin(theta)
            _observe_one(
                position[b, 0],
                position[b, 1],
                c,
                s,
                bumpers[b, 0],
                bumpers[b, 1],
                geometry,
                observation,
            )
            forward_one(genomes[b], observation, shape, scratch, actions)
            _move_robot(
                b, position, heading, bumpers, actions[0], actions[1], c, s, geometry, contacts
            )


@dataclass
class MazeState:
    """The batch of robots: everything a step needs (lasers are computed from it)."""

    position: np.ndarray  # (N, 2) robot centres
    heading: np.ndarray  # (N,) radians, counter-clockwise from +x, in (−π, π]
    bumpers: np.ndarray  # (N, 2) left, right: 1.0 after a collision on that side this step


class HardMaze(Task):
    """The hard maze: see the module docstring and ``shared/spec/tasks.md``."""

    spec = MAZE_SPEC
    viewport = render.Viewport((0.0, 0.0), (1.0, 1.0))
    robot_color = (0.1, 0.15, 0.55)

    def __init__(self, *, n_frames: int = 0, **options: Any) -> None:
        super().__init__(n_frames=n_frames, **options)
        use_numba_thread_pool()  # before this task's parallel rollout kernel first runs
        self._policy_shape = self.policy.shape
        self._background = self._draw_background()
        self._robot_radius = max(1.5, self.viewport.length(RADIUS))

    def reset(self, n: int, episode_seeds: np.ndarray) -> MazeState:
        """Every robot at the start pose; the maze has no randomness (seeds unused)."""
        return MazeState(
            position=np.tile(np.array(START, dtype=np.float64), (n, 1)),
            heading=np.full(n, START_HEADING),
            bumpers=np.zeros((n, 2)),
        )

    def observe(self, state: MazeState) -> np.ndarray:
        out = np.empty((state.position.shape[0], self.spec.observation_size))
        observe_robots(state.position, state.heading, state.bumpers, GEOMETRY, out)
        return out

    def step(self, state: MazeState, actions: np.ndarray) -> None:
        """One step under ``actions`` ``(N, 2)`` = (left, right) in (−1, 1), clipped."""
        actions = np.ascontiguousarray(actions, dtype=np.float64)
        step_robots(state.position, state.heading, state.bumpers, actions, GEOMETRY)

    def advance(self, state: MazeState, genomes: np.ndarray, steps: int) -> None:
        if steps > 0:
            use_numba_thread_pool()  # also in workers, which unpickle the task
            rollout_robots(
                state.position,
                state.heading,
                state.bumpers,
                np.ascontiguousarray(genomes, dtype=np.float64),
                self._policy_shape,
                steps,
                GEOMETRY,
            )

    def outcome(self, state: MazeState) -> tuple[np.ndarray, np.ndarray]:
        final = state.position.copy()
        return final, final

    def _draw_background(self) -> np.ndarray:
        """Floor, reward areas and walls: static, drawn once and copied per frame."""
        image = render.floor_with_areas(self.viewport, self.spec.reward_areas)
        for walls, half_width in ((INTERIOR, 0.75), (BORDER, 1.0)):
            ends = self.viewport.to_pixels(walls.reshape(1, -1, 2, 2))
            coverage = render.segments_coverage(ends[:, :, 0], ends[:, :, 1], half_width)
            render.paint(image, coverage, render.BLACK)
        return image

    def render(self, state: MazeState) -> np.ndarray:
        centres = self.viewport.to_pixels(state.position[:, None, :])
        coverage = render.discs_coverage(centres, self._robot_radius)
        return render.compose(self._background, [(coverage, self.robot_color)])
