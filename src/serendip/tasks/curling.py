"""Curling (``curling``): a two-link arm pushes a ball into reward areas on a walled table.

The scene, top view (no gravity), units of the original Box2D environment:

* a 3x3 table centred at the origin, walls on its four sides (restitution 0.95);
* a ball of radius 0.15 starting at ``(-0.5, 0.2)`` at rest, restitution 0.9,
  linear damping 1.1;
* a two-link arm (links 1.0 long) whose base is the centre of the bottom wall,
  ``(0, -1.5)``, starting straight up; joint limits ``±0.4π`` (base) and
  ``±0.9π`` (elbow); the policy commands the joint velocities in rad/s.

Episodes last 500 steps of 1/60 s. Observation: ball ``(x, y)``, the two joint
angles (radians, the base's from the vertical, the elbow's relative to the first
link, counter-clockwise positive) and the two joint velocities. Reward areas are
scored on the final ball position; the ground-truth descriptor is that position,
which always lies in ``[-1.35, 1.35]²`` (the table minus the ball's radius).

Why our own simulator: the original runs one Box2D world per episode, i.e. a
Python loop over agents and steps. The scene here is one ball against two moving
capsules and four axis-aligned walls, so the contact problem is small enough to
write out exactly, and a compiled kernel (numba) runs the policy and the physics
of a whole batch without Python in the loop. ``tests/test_curling.py`` checks it
against a real 2-D engine (pymunk/Chipmunk) on scripted pushes.

Modelling choices (each differs from Box2D only where noted):

* **Kinematic arm.** The original arm is a chain of dynamic Box2D bodies driven
  by velocity motors with a large torque, so the ball barely slows it down. Here
  the arm is kinematic: it follows the commanded joint velocities exactly and the
  ball never pushes it back (an infinite-mass body in the contacts). Its motion
  is independent of the ball.
* **Joint limits.** The commanded velocity is cut so that a joint lands exactly
  on its limit; at a limit a velocity pushing outwards becomes zero. The
  observed joint velocity is the one actually applied during the step.
* **Link shape.** Each link is a capsule (segment plus radius
  :data:`LINK_RADIUS` = 0.05, the half-thickness of the original's box links)
  around the segment from one joint to the next; the links do not collide with
  the walls (nor did the original's: they were jointed to the bottom wall).
* **Walls** are half-planes at ``x, y = ±1.5``, so the ball's centre stays in
  ``[-1.35, 1.35]²``.
* **Frictionless contacts.** With no friction a contact impulse is along the
  normal through the ball's centre, so it exerts no torque: the ball's spin can
  never influence its path and the angular state (and the spec's angular
  damping 2) is dropped. The original Box2D scene had friction (0.9), which
  would couple spin and translation; the spec does not ask for it.
* **Restitution** is combined as in Box2D, the max of the two bodies': ball-wall
  0.95, ball-arm 0.9 (the arm's own restitution is 0, the Box2D default and the
  original's link elasticity). As in Box2D, restitution only applies to
  contacts approaching faster than :data:`RESTITUTION_THRESHOLD` (1 m/s,
  Box2D's ``b2_velocityThreshold``); slower contacts are inelastic, so a slow
  push carries the ball instead of making it rattle against the arm.
* **Damping** as in Box2D: ``v *= 1 / (1 + h * 1.1)`` at each (sub)step ``h``,
  before the contacts are solved.
* **Step order** as in Box2D: find contacts at the current positions (a
  contact exists when the gap is below :data:`CONTACT_MARGIN`, Box2D's
  ``linearSlop``), damp the velocity, solve the contact velocities (sequential
  impulses with clamped accumulated impulses, :data:`VELOCITY_ITERATIONS`
  passes when several contacts are active; the contact velocity of the arm
  comes from the joint velocities), integrate the position, then push the ball
  out of any remaining overlap (position-only, like Box2D's position solver run
  to convergence), the walls last so that they always win over the arm.
  A ball pinned between the arm and a wall stays on the table and the arm
  passes over it: an arm that nothing stops against a wall that nothing moves
  has no physical answer (the original's motors would stall or the ball pop
  out; engines differ there).
* **Substeps.** Each 1/60 s step is split in :data:`SUBSTEPS` physics substeps,
  the arm moving at constant joint velocity within the step. Impacts are found
  a substep late at most, which Box2D avoids with continuous collision (time
  of impact) and Chipmunk does not. Measured on scripted pushes, final ball
  positions move by about 0.04 from 2 to 8 substeps and 4 are within about 0.015
  of the converged answer, which pymunk stepped finely agrees with (0.015 at most).
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

TABLE_HALF_SIZE = 1.5
WALL_THICKNESS = 0.1  # drawn only: the walls are half-planes in the physics
BALL_RADIUS = 0.15
BALL_START = (-0.5, 0.2)
BALL_LIMIT = TABLE_HALF_SIZE - BALL_RADIUS  # the ball's centre stays in [-1.35, 1.35]²
LINEAR_DAMPING = 1.1
ANGULAR_DAMPING = 2.0  # unused: frictionless contacts never spin the ball (see above)
BALL_RESTITUTION = 0.9
WALL_RESTITUTION = 0.95
ARM_RESTITUTION = 0.0
BALL_WALL_RESTITUTION = max(BALL_RESTITUTION, WALL_RESTITUTION)
BALL_ARM_RESTITUTION = max(BALL_RESTITUTION, ARM_RESTITUTION)
RESTITUTION_THRESHOLD = 1.0
LINK_LENGTH = 1.0
LINK_RADIUS = 0.05
CONTACT_DISTANCE = BALL_RADIUS + LINK_RADIUS
BASE = (0.0, -TABLE_HALF_SIZE)
JOINT_LIMITS = (0.4 * math.pi, 0.9 * math.pi)
DT = 1.0 / 60.0
SUBSTEPS = 4
SUBSTEP = DT / SUBSTEPS
SUBSTEP_DAMPING = 1.0 / (1.0 + SUBSTEP * LINEAR_DAMPING)
CONTACT_MARGIN = 0.005
VELOCITY_ITERATIONS = 8
# Beyond this distance from the base the ball cannot touch the arm.
ARM_REACH = 2.0 * LINK_LENGTH + CONTACT_DISTANCE + CONTACT_MARGIN

# The state of one episode is one row: the 6 observed values first.
X, Y, Q0, Q1, W0, W1, VX, VY = range(8)
STATE_SIZE = 8
OBSERVATION_SIZE = 6

CURLING_SPEC = TaskSpec(
    name="curling",
    summary="two-link arm pushing a ball on a walled 3x3 table, 2 reward areas",
    observation_size=OBSERVATION_SIZE,
    action_size=2,
    horizon=500,
    hidden_layers=3,
    hidden_width=5,
    reward_areas=(RewardArea((0.8, 0.8), 0.4), RewardArea((0.8, -0.8), 0.2)),
    descriptor_low=(-BALL_LIMIT, -BALL_LIMIT),
    descriptor_high=(BALL_LIMIT, BALL_LIMIT),
    descriptor_names=("x", "y"),
)


@numba.njit(cache=True, inline="always")
def _pose(q0, q1):  # pragma: no cover - jitted
    """Elbow ``(ex, ey)`` and the links' unit directions ``(c0, s0)``, ``(c1, s1)``."""
    # Angles count from the vertical: a link at angle h points along (-sin h, cos h).
    c0, s0 = -math.sin(q0), math.cos(q0)
    c1, s1 = -math.sin(q0 + q1), math.cos(q0 + q1)
    return BASE[0] + LINK_LENGTH * c0, BASE[1] + LINK_LENGTH * s0, c0, s0, c1, s1


@numba.njit(cache=True, inline="always")
def _link_contact(x, y, ax, ay, c, s, reach):  # pragma: no cover - jitted
    """The ball at ``(x, y)`` against the capsule from A along the unit vector ``(c, s)``.

    Returns ``(near, gap, nx, ny, t)``: whether the surfaces are closer than
    ``reach - CONTACT_DISTANCE`` (if not, the rest is meaningless), the gap, the
    unit normal from the link to the ball and the distance ``t`` from A of the
    segment's point closest to the ball. The square root is only taken when near.
    """
    rx, ry = x - ax, y - ay
    t = min(max(rx * c + ry * s, 0.0), LINK_LENGTH)
    rx -= t * c
    ry -= t * s
    d2 = rx * rx + ry * ry
    if d2 >= reach * reach:
        return False, 0.0, 0.0, 0.0, 0.0
    d = math.sqrt(d2)
    if d > 1e-12:
        return True, d - CONTACT_DISTANCE, rx / d, ry / d, t
    return True, -CONTACT_DISTANCE, -s, c, t  # centre on the segment: leave to its left


@numba.njit(cache=True, inline="always")
def _add_contact(contacts, n, nx, ny, obstacle_speed, restitution):  # pragma: no cover
    """Store a contact: normal, the obstacle's normal speed and the restitution."""
    contacts[n, 0] = nx
    contacts[n, 1] = ny
    contacts[n, 2] = obstacle_speed
    contacts[n, 3] = restitution
    return n + 1


@numba.njit(cache=True, inline="always")
def _push_out(x, y, ax, ay, c, s):  # pragma: no cover - jitted
    """The ball moved out of the capsule from A along ``(c, s)`` if it overlaps it."""
    near, gap, nx, ny, _ = _link_contact(x, y, ax, ay, c, s, CONTACT_DISTANCE)
    if near:
        x -= gap * nx
        y -= gap * ny
    return x, y


@numba.njit(cache=True)
def _substep(
    x, y, vx, vy, w0, w1, arm, ex, ey, c0, s0, c1, s1, ex1, ey1, c01, s01, c11, s11, contacts
):  # pragma: no cover - jitted
    """One physics substep of the ball, the arm going from one pose to the next.

    ``arm`` says whether the ball can touch the arm during this control step;
    the poses are elbow and link directions (:func:`_pose`) at the substep's start
    and end. Returns the new ``(x, y, vx, vy)``. ``contacts`` is a ``(4, 5)``
    scratch buffer: two links and at most two walls touch the ball at once.
    """
    bx, by = BASE[0], BASE[1]
    reach = CONTACT_DISTANCE + CONTACT_MARGIN
    # 1. Contacts at the current positions (walls last, so that they win).
    n = 0
    if arm:
        near, _, nx, ny, t = _link_contact(x, y, bx, by, c0, s0, reach)
        if near:
            # Velocity of the link's point p: w0 x (p - base), p - base = t (c0, s0).
            speed = w0 * t * (c0 * ny - s0 * nx)
            n = _add_contact(contacts, n, nx, ny, speed, BALL_ARM_RESTITUTION)
        near, _, nx, ny, t = _link_contact(x, y, ex, ey, c1, s1, reach)
        if near:
            # Elbow velocity w0 x (elbow - base) plus (w0 + w1) x (p - elbow).
            speed = w0 * LINK_LENGTH * (c0 * ny - s0 * nx) + (w0 + w1) * t * (c1 * ny - s1 * nx)
            n = _add_contact(contacts, n, nx, ny, speed, BALL_ARM_RESTITUTION)
    if x > BALL_LIMIT - CONTACT_MARGIN:
        n = _add_contact(contacts, n, -1.0, 0.0, 0.0, BALL_WALL_RESTITUTION)
    elif x < CONTACT_MARGIN - BALL_LIMIT:
        n = _add_contact(contacts, n, 1.0, 0.0, 0.0, BALL_WALL_RESTITUTION)
    if y > BALL_LIMIT - CONTACT_MARGIN:
        n = _add_contact(contacts, n, 0.0, -1.0, 0.0, BALL_WALL_RESTITUTION)
    elif y < CONTACT_MARGIN - BALL_LIMIT:
        n = _add_contact(contacts, n, 0.0, 1.0, 0.0, BALL_WALL_RESTITUTION)
    # 2. Damping (Box2D integrates velocities before solving contacts).
    vx *= SUBSTEP_DAMPING
    vy *= SUBSTEP_DAMPING
    # 3. Contact velocities: sequential impulses on the ball (every other body
    # has infinite mass), accumulated impulses clamped at zero.
    if n > 0:
        for c in range(n):
            approach = vx * contacts[c, 0] + vy * contacts[c, 1] - contacts[c, 2]
            bounce = -contacts[c, 3] * approach if approach < -RESTITUTION_THRESHOLD else 0.0
            contacts[c, 3] = bounce  # target relative normal speed
            contacts[c, 4] = 0.0  # accumulated impulse (per unit mass)
        for _ in range(1 if n == 1 else VELOCITY_ITERATIONS):
            for c in range(n):
                nx, ny = contacts[c, 0], contacts[c, 1]
                relative = vx * nx + vy * ny - contacts[c, 2]
                total = max(contacts[c, 4] + contacts[c, 3] - relative, 0.0)
                impulse = total - contacts[c, 4]
                contacts[c, 4] = total
                vx += impulse * nx
                vy += impulse * ny
    # 4. Positions.
    x += vx * SUBSTEP
    y += vy * SUBSTEP
    # 5. Overlaps left at the new pose: push the ball out (positions only).
    if arm:
        x, y = _push_out(x, y, bx, by, c01, s01)
        x, y = _push_out(x, y, ex1, ey1, c11, s11)
    x = min(max(x, -BALL_LIMIT), BALL_LIMIT)
    y = min(max(y, -BALL_LIMIT), BALL_LIMIT)
    return x, y, vx, vy


@numba.njit(cache=True, inline="always")
def _joint_motion(q, command, limit):  # pragma: no cover - jitted
    """The velocity applied and the angle reached: ``command`` cut to stop on the limit."""
    end = q + command * DT
    if end > limit:
        return (limit - q) / DT, limit
    if end < -limit:
        return (-limit - q) / DT, -limit
    return command, end


@numba.njit(cache=True)
def step_one(state, b, a0, a1, contacts):  # pragma: no cover - jitted
    """One control step of episode ``b`` under joint velocity commands ``a0, a1``."""
    q0, q1 = state[b, Q0], state[b, Q1]
    w0, end0 = _joint_motion(q0, a0, JOINT_LIMITS[0])
    w1, end1 = _joint_motion(q1, a1, JOINT_LIMITS[1])
    x, y, vx, vy = state[b, X], state[b, Y], state[b, VX], state[b, VY]
    # Can the ball touch the arm during this step? Away from the arm, the ball
    # moves less than 2 |v| DT (walls and damping only slow it; a wall's clamp
    # adds at most the overshoot) and a point of the arm less than
    # (2 |w0| + |w1|) DT: beyond both, no arm contact can happen, and skipping
    # the arm changes nothing (the result is bit for bit the same).
    travel = DT * (2.0 * math.sqrt(vx * vx + vy * vy) + 2.0 * abs(w0) + abs(w1))
    reach = ARM_REACH + travel
    arm = (x - BASE[0]) ** 2 + (y - BASE[1]) ** 2 < reach * reach
    ex, ey, c0, s0, c1, s1 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    cr0, sr0, cr1, sr1 = 1.0, 0.0, 1.0, 0.0
    if arm:
        ex, ey, c0, s0, c1, s1 = _pose(q0, q1)
        reach = CONTACT_DISTANCE + CONTACT_MARGIN + travel
        arm = (
            _link_contact(x, y, BASE[0], BASE[1], c0, s0, reach)[0]
            or _link_contact(x, y, ex, ey, c1, s1, reach)[0]
        )
        # Each substep turns link 0 by w0 h and link 1 by (w0 + w1) h: rotating
        # the directions costs 4 trigonometric calls a step, not 4 a substep.
        cr0, sr0 = math.cos(w0 * SUBSTEP), math.sin(w0 * SUBSTEP)
        cr1, sr1 = math.cos((w0 + w1) * SUBSTEP), math.sin((w0 + w1) * SUBSTEP)
    for _ in range(SUBSTEPS):
        c01, s01 = c0 * cr0 - s0 * sr0, s0 * cr0 + c0 * sr0
        c11, s11 = c1 * cr1 - s1 * sr1, s1 * cr1 + c1 * sr1
        ex1, ey1 = BASE[0] + LINK_LENGTH * c01, BASE[1] + LINK_LENGTH * s01
        x, y, vx, vy = _substep(
            x, y, vx, vy, w0, w1, arm, ex, ey, c0, s0, c1, s1,
            ex1, ey1, c01, s01, c11, s11, contacts,
        )  # fmt: skip
        ex, ey, c0, s0, c1, s1 = ex1, ey1, c01, s01, c11, s11
    state[b, X], state[b, Y], state[b, VX], state[b, VY] = x, y, vx, vy
    state[b, Q0], state[b, Q1], state[b, W0], state[b, W1] = end0, end1, w0, w1


@numba.njit(cache=True)
def step_batch(state, actions):  # pragma: no cover - jitted
    """One control step of every episode, in place; ``actions`` ``(N, 2)`` in rad/s."""
    contacts = np.empty((4, 5))
    for b in range(state.shape[0]):
        step_one(state, b, actions[b, 0], actions[b, 1], contacts)


@numba.njit(cache=True, parallel=True)
def rollout(state, genomes, shape, steps):  # pragma: no cover - jitted
    """``steps`` control steps of every episode under its own policy, in place.

    Why compiled: per step, an episode costs a 94-parameter network and a few
    dozen flops of contact geometry; stepping the batch through NumPy would
    spend far more on call overhead than on either. Episodes are independent:
    each is stepped by one thread from its own row and buffers only, so
    ``prange`` changes the speed, never the result (nor does the batch split).
    """
    for b in numba.prange(state.shape[0]):
        observation = np.empty(OBSERVATION_SIZE)
        actions = np.empty(2)
        scratch = np.empty((2, shape[2]))
        contacts = np.empty((4, 5))
        for _ in range(steps):
            for j in range(OBSERVATION_SIZE):
                observation[j] = state[b, j]
            forward_one(genomes[b], observation, shape, scratch, actions)
            step_one(state, b, actions[0], actions[1], contacts)


@dataclass
class CurlingState:
    """A batch of episodes: one row ``(x, y, q0, q1, w0, w1, vx, vy)`` each."""

    values: np.ndarray  # (N, 8) float64


def arm_points(values: np.ndarray) -> np.ndarray:
    """Base, elbow and tip ``(N, 3, 2)`` of state rows ``(N, 8)``."""
    h0 = values[:, Q0]
    h1 = h0 + values[:, Q1]
    points = np.empty((values.shape[0], 3, 2))
    points[:, 0] = BASE
    points[:, 1, 0] = BASE[0] - LINK_LENGTH * np.sin(h0)
    points[:, 1, 1] = BASE[1] + LINK_LENGTH * np.cos(h0)
    points[:, 2, 0] = points[:, 1, 0] - LINK_LENGTH * np.sin(h1)
    points[:, 2, 1] = points[:, 1, 1] + LINK_LENGTH * np.cos(h1)
    return points


class Curling(Task):
    """Curling: see the module docstring and ``shared/spec/tasks.md``."""

    spec = CURLING_SPEC
    # The viewport shows the walls around the table.
    viewport = render.Viewport(
        (-TABLE_HALF_SIZE - WALL_THICKNESS,) * 2, (TABLE_HALF_SIZE + WALL_THICKNESS,) * 2
    )

    def __init__(self, *, n_frames: int = 0, **options: Any) -> None:
        super().__init__(n_frames=n_frames, **options)
        use_numba_thread_pool()  # before this task's parallel rollout kernel first runs
        self._policy_shape = self.policy.shape
        self._background = self._draw_background()

    def reset(self, n: int, episode_seeds: np.ndarray) -> CurlingState:
        values = np.zeros((n, STATE_SIZE))
        values[:, X], values[:, Y] = BALL_START
        return CurlingState(values)

    def observe(self, state: CurlingState) -> np.ndarray:
        return state.values[:, :OBSERVATION_SIZE].copy()

    def step(self, state: CurlingState, actions: np.ndarray) -> None:
        step_batch(state.values, np.ascontiguousarray(actions, dtype=np.float64))

    def advance(self, state: CurlingState, genomes: np.ndarray, steps: int) -> None:
        use_numba_thread_pool()  # also in workers, which unpickle the task
        rollout(state.values, genomes, self._policy_shape, steps)

    def outcome(self, state: CurlingState) -> tuple[np.ndarray, np.ndarray]:
        ball = state.values[:, [X, Y]].copy()
        return ball, ball

    def _draw_background(self) -> np.ndarray:
        """White table, red reward areas, grey walls: drawn once, copied per frame."""
        image = render.floor_with_areas(self.viewport, self.spec.reward_areas)
        inner, outer = TABLE_HALF_SIZE, TABLE_HALF_SIZE + WALL_THICKNESS
        walls = np.array(
            [
                [[-outer, -outer], [-inner, outer]],
                [[inner, -outer], [outer, outer]],
                [[-outer, -outer], [outer, -inner]],
                [[-outer, inner], [outer, outer]],
            ]
        )
        corners = self.viewport.to_pixels(walls).reshape(-1, 4)
        render.paint(image, render.boxes_coverage(corners)[None], render.GREY)
        return image

    def render(self, state: CurlingState) -> np.ndarray:
        arm = self.viewport.to_pixels(arm_points(state.values))
        half_width = max(0.5, self.viewport.length(LINK_RADIUS))
        arm_coverage = render.segments_coverage(arm[:, :-1], arm[:, 1:], half_width)
        ball = self.viewport.to_pixels(state.values[:, None, [X, Y]])
        ball_coverage = render.discs_coverage(ball, self.viewport.length(BALL_RADIUS))
        return render.compose(
            self._background, [(arm_coverage, render.GREY), (ball_coverage, render.BLUE)]
        )
