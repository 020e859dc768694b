"""The ant maze (``ant-maze``): the standard 8-actuator MuJoCo ant in a large walled arena.

Needs MuJoCo's Python bindings, version 4 or later (``pip install
'serendip[mujoco]'``); the module imports without them and the task raises a
:class:`~serendip.tasks.base.TaskError` when it is built without them. Model,
and every choice made where the task spec leaves room:

* **The ant.** Our own MJCF (:func:`model_xml`), modelled on Gymnasium's
  Ant-v5 model: a torso sphere of radius 0.25 and four legs, each a fixed
  0.28-long upper segment, a hip hinge about z (±30°) and a 0.28-long thigh,
  an ankle hinge (30° to 70° folded downwards) and a 0.57-long shin; capsules
  of radius 0.08, density 5, friction (1, 0.5, 0.5), contact margin 0.01;
  hinges with armature 1 and damping 1; eight motors, gear 150, ctrlrange
  [−1, 1] (the policy's outputs in (−1, 1) are the controls, clipped to
  [−1, 1] only as a guard). Legs 1 to 4 point along (+x, +y), (−x, +y),
  (−x, −y), (+x, −y), and the actuators are in leg order (hip 1, ankle 1, …,
  hip 4, ankle 4), as the hinges are in qpos. The ant does not collide with
  itself, only with the floor and the walls (Ant-v5's contype/conaffinity
  scheme).
* **Integration.** Timestep 0.005 (the spec's dt), MuJoCo's default
  semi-implicit Euler integrator (Ant-v5's RK4 would cost four times as much
  per step; Euler's implicit joint damping keeps the ant stable at this
  timestep), frame skip 5: one control step is 0.025 s of simulated time and
  an episode of :data:`HORIZON` = 1000 steps is 25 s.
* **Start.** Torso at (−25, −25, 0.55), upright, hips at 0 and ankles at
  ±1 rad (inside their ranges): the standing pose of the model's ``init_qpos``
  in Gymnasium's XML, not Ant-v5's qpos0 with ankles outside their limits, and
  without Ant-v5's reset noise: every episode starts in the same state, so the
  task is deterministic and ignores the episode seeds.
* **Arena.** The spec's walls (:data:`WALLS`): the border, whose inner faces
  are the arena's bounds x, y ∈ [−30, 40], and three interior walls
  x = −15 for y ∈ [3, 37], y = −15 for x ∈ [−16, 10], x = 10 for y ∈ [−30, 0],
  each a box :data:`WALL_THICKNESS` = 1 thick centred on its line, spanning
  exactly its interval, and :data:`WALL_HEIGHT` = 4 tall (the ant stands about
  1 tall and cannot climb or jump over it). The spec's scale is kept: the ant
  is about 2 units across in a 70-unit arena.
* **Observation** (29 values): qpos (15: torso x, y, z, orientation
  quaternion w, x, y, z, then hip and ankle angles per leg) and qvel (14: torso
  linear and angular velocity, then the hinge velocities), raw except torso x
  and y, normalised as (p − 5)/70 (the arena maps onto [−0.5, 0.5]²).
* **Episode.** 1000 control steps, no early termination: an ant on its back
  keeps being simulated. MuJoCo's automatic reset on an unstable state (which
  would silently teleport the ant back to its start) is disabled; an episode
  whose state becomes non-finite is frozen in its last finite state for the rest
  of the episode (the ``frozen`` array of :attr:`EvaluationBatch.extras`), and
  its observation, descriptor and frames are those of that state. MuJoCo
  itself reports such a divergence on stdout and in ``MUJOCO_LOG.TXT`` in the
  working directory (its standard warning handler, left as it is).
* **Reward and descriptor.** Reward areas: circles of radius 3 at (35, −25)
  and (−25, 35), scored on the torso's final (x, y); ground truth: the final
  torso (x, y) normalised as (p − 5)/70, grid box [−0.5, 0.5]².
* **Frames.** A fixed top-down view of the whole arena, drawn with
  :mod:`serendip.tasks.render` from MuJoCo's body positions rather than by
  MuJoCo's OpenGL renderer. The view spans the arena and its border walls,
  [−31, 41]² (0.89 px per unit): white floor, red reward areas, black walls
  (true thickness, but at least 1.5 px, as in the hard maze), then the ant as
  a blue torso disc (its true radius, but at least 1.5 px) with its four legs
  over it as orange 1-px segments torso–hip–knee–foot (MuJoCo's body and site
  positions projected onto the floor): a blob of a few pixels whose colours
  follow the pose. The GL route (tried: ``mujoco.Renderer`` works here with
  ``MUJOCO_GL=egl``, not with osmesa) needs an OpenGL context chosen by an
  environment variable before MuJoCo is first imported, its pixels depend on
  the GL driver, a 64x64 frame cost about 0.15 s with Mesa's software EGL
  (more than a whole episode's physics), and at this scale it shades the ant
  to a single grey pixel; this drawing is deterministic, needs no GL, keeps
  the ant visible, and costs far less than the physics.
* **Batches.** One MuJoCo simulation per episode (its own MjData), stepped by
  MuJoCo's batch module (:class:`mujoco.batch.Batch`, persistent), which runs
  them in C, optionally on ``threads`` threads, with results bit-identical to a
  Python loop over the MjData at any thread count (the tests check both); the
  policy runs batched in NumPy between control steps.

Speed: the physics is nearly all of it (the policy, observations and checks
about 10 %). One thread runs a 1000-step episode in about 0.2 CPU-seconds on
the development machine under load, frames or not; the walls' collision
checks are about a third of the physics (the ant alone on a floor runs about
1.5 times faster).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.tasks import render
from serendip.tasks.base import RewardArea, Task, TaskError, TaskSpec

HORIZON = 1000
TIMESTEP = 0.005
FRAME_SKIP = 5
START = (-25.0, -25.0)
START_HEIGHT = 0.55
# Hip and ankle angles (rad) per leg, in qpos order: the standing pose.
START_JOINTS = (0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0)
ARENA_LOW, ARENA_HIGH = -30.0, 40.0
NORMALISE_OFFSET, NORMALISE_SCALE = 5.0, 70.0
WALL_THICKNESS = 1.0
WALL_HEIGHT = 4.0
# Interior walls as segments (x1, y1, x2, y2), all axis-aligned.
INTERIOR = np.array(
    [
        [-15.0, 3.0, -15.0, 37.0],
        [-16.0, -15.0, 10.0, -15.0],
        [10.0, -30.0, 10.0, 0.0],
    ]
)
# The border as segments along the arena's bounds (its boxes lie outside them).
BORDER = np.array(
    [
        [ARENA_LOW, ARENA_LOW, ARENA_HIGH, ARENA_LOW],
        [ARENA_HIGH, ARENA_LOW, ARENA_HIGH, ARENA_HIGH],
        [ARENA_HIGH, ARENA_HIGH, ARENA_LOW, ARENA_HIGH],
        [ARENA_LOW, ARENA_HIGH, ARENA_LOW, ARENA_LOW],
    ]
)
WALLS = np.concatenate([BORDER, INTERIOR])
TORSO_RADIUS = 0.25
N_LEGS = 4
NQPOS, NQVEL, NU = 15, 14, 8
MISSING_MUJOCO = "ant-maze needs MuJoCo: pip install 'serendip[mujoco]'"

ANT_MAZE_SPEC = TaskSpec(
    name="ant-maze",
    summary="MuJoCo ant in a 70x70 walled arena, 2 reward areas (needs MuJoCo)",
    observation_size=NQPOS + NQVEL,
    action_size=NU,
    horizon=HORIZON,
    hidden_layers=3,
    hidden_width=10,
    reward_areas=(RewardArea((35.0, -25.0), 3.0), RewardArea((-25.0, 35.0), 3.0)),
    descriptor_low=(-0.5, -0.5),
    descriptor_high=(0.5, 0.5),
    descriptor_names=("x", "y"),
)


def normalise(xy: np.ndarray) -> np.ndarray:
    """World (x, y) to the observation's and descriptor's units: ``(p - 5) / 70``."""
    return (xy - NORMALISE_OFFSET) / NORMALISE_SCALE


def _wall_boxes() -> list[tuple[float, float, float, float]]:
    """Every wall as an axis-aligned box ``(x0, y0, x1, y1)`` on the floor."""
    half = WALL_THICKNESS / 2
    low, high, t = ARENA_LOW, ARENA_HIGH, WALL_THICKNESS
    boxes = [  # the border: outside the arena, overlapping at the corners
        (low - t, low - t, high + t, low),
        (low - t, high, high + t, high + t),
        (low - t, low - t, low, high + t),
        (high, low - t, high + t, high + t),
    ]
    for x1, y1, x2, y2 in INTERIOR:
        if x1 == x2:  # vertical
            boxes.append((x1 - half, min(y1, y2), x1 + half, max(y1, y2)))
        else:
            boxes.append((min(x1, x2), y1 - half, max(x1, x2), y1 + half))
    return boxes


# One leg per entry: (name, direction of the leg in the floor plane, ankle range in
# degrees, ankle axis). The ankle folds the shin downwards within its range.
_LEGS = (
    ("1", (1, 1), (30, 70), "-1 1 0"),
    ("2", (-1, 1), (-70, -30), "1 1 0"),
    ("3", (-1, -1), (-70, -30), "-1 1 0"),
    ("4", (1, -1), (30, 70), "1 1 0"),
)


def _widened(low: float, high: float, minimum: float) -> tuple[float, float]:
    """The interval ``[low, high]`` (either order) widened about its centre to ``minimum``."""
    low, high = min(low, high), max(low, high)
    pad = max(minimum - (high - low), 0.0) / 2
    return low - pad, high + pad


def _leg_xml(name: str, direction: tuple[int, int], ankle: tuple[int, int], axis: str) -> str:
    dx, dy = direction
    short = f"{0.2 * dx:g} {0.2 * dy:g} 0"
    long = f"{0.4 * dx:g} {0.4 * dy:g} 0"
    return f"""
      <body name="leg_{name}">
        <geom name="upper_{name}" type="capsule" fromto="0 0 0 {short}"/>
        <body name="hip_{name}" pos="{short}">
          <joint name="hip_{name}" type="hinge" axis="0 0 1" range="-30 30"/>
          <geom name="thigh_{name}" type="capsule" fromto="0 0 0 {short}"/>
          <body name="knee_{name}" pos="{short}">
            <joint name="ankle_{name}" type="hinge" axis="{axis}" range="{ankle[0]} {ankle[1]}"/>
            <geom name="shin_{name}" type="capsule" fromto="0 0 0 {long}"/>
            <site name="foot_{name}" pos="{long}" size="0.01"/>
          </body>
        </body>
      </body>"""


def model_xml(reward_areas: tuple[Any, ...] = ANT_MAZE_SPEC.reward_areas) -> str:
    """The task's MJCF: floor, walls, reward-area markers, the ant and its start keyframe."""
    walls = []
    for i, (x0, y0, x1, y1) in enumerate(_wall_boxes()):
        walls.append(
            f'<geom name="wall_{i}" class="wall" pos="{(x0 + x1) / 2:g} {(y0 + y1) / 2:g} '
            f'{WALL_HEIGHT / 2:g}" size="{(x1 - x0) / 2:g} {(y1 - y0) / 2:g} {WALL_HEIGHT / 2:g}"/>'
        )
    areas = [
        f'<site name="reward_{i}" type="cylinder" pos="{a.center[0]:g} {a.center[1]:g} 0.005" '
        f'size="{a.radius:g} 0.005" rgba="0.9 0.1 0.1 1"/>'
        for i, a in enumerate(reward_areas)
        if isinstance(a, RewardArea)
    ]
    legs = "".join(_leg_xml(*leg) for leg in _LEGS)
    motors = "".join(
        f'<motor name="{kind}_{leg[0]}" joint="{kind}_{leg[0]}" gear="150" ctrlrange="-1 1"/>'
        for leg in _LEGS
        for kind in ("hip", "ankle")
    )
    centre = (ARENA_LOW + ARENA_HIGH) / 2
    extent = (ARENA_HIGH - ARENA_LOW) / 2
    start = " ".join(f"{v:g}" for v in (*START, START_HEIGHT, 1.0, 0.0, 0.0, 0.0, *START_JOINTS))
    newline = "\n    "
    return f"""<mujoco model="ant-maze">
  <compiler angle="degree" inertiafromgeom="true" autolimits="true"/>
  <option timestep="{TIMESTEP:g}" integrator="Euler">
    <flag autoreset="disable"/>
  </option>
  <default>
    <joint armature="1" damping="1"/>
    <geom condim="3" contype="1" conaffinity="0" density="5" friction="1 0.5 0.5"
          margin="0.01" size="0.08" rgba="0.8 0.6 0.4 1"/>
    <default class="wall">
      <geom type="box" conaffinity="1" rgba="0.1 0.1 0.1 1"/>
    </default>
  </default>
  <worldbody>
    <light directional="true" pos="{centre:g} {centre:g} 50" dir="0 0 -1"/>
    <camera name="top" pos="{centre:g} {centre:g} 60" projection="orthographic"
            fovy="{2 * extent:g}"/>
    <geom name="floor" type="plane" conaffinity="1" pos="{centre:g} {centre:g} 0"
          size="{extent + WALL_THICKNESS:g} {extent + WALL_THICKNESS:g} 0.1" rgba="1 1 1 1"/>
    {newline.join(walls)}
    {newline.join(areas)}
    <body name="torso" pos="{START[0]:g} {START[1]:g} {START_HEIGHT:g}">
      <joint name="root" type="free" armature="0" damping="0"/>
      <geom name="torso" type="sphere" size="{TORSO_RADIUS:g}"/>{legs}
    </body>
  </worldbody>
  <actuator>
    {motors}
  </actuator>
  <keyframe>
    <key name="start" qpos="{start}"/>
  </keyframe>
</mujoco>
"""


def _mujoco() -> Any:
    """MuJoCo's bindings with their batch module, imported on first use, or a TaskError."""
    try:
        import mujoco
    except ImportError:
        raise TaskError(MISSING_MUJOCO) from None
    try:
        import mujoco.batch  # MuJoCo >= 4.0
    except ImportError:
        version = getattr(mujoco, "__version__", "?")
        raise TaskError(
            f"ant-maze needs MuJoCo 4.0 or later (found {version}): "
            "pip install --upgrade 'serendip[mujoco]'"
        ) from None
    return mujoco


@dataclass
class AntMazeState:
    """A batch of episodes: MuJoCo's persistent batch and live views of its fields.

    ``qpos``, ``qvel`` and ``ctrl`` are views of the simulations' state rows
    (writes change the simulations); ``xpos`` (bodies) and ``site_xpos`` are
    read-only copies MuJoCo refreshes after every call, at the new state.
    """

    batch: Any  # mujoco.batch.Batch
    qpos: np.ndarray  # (N, 15)
    qvel: np.ndarray  # (N, 14)
    ctrl: np.ndarray  # (N, 8)
    xpos: np.ndarray  # (N, nbody, 3)
    site_xpos: np.ndarray  # (N, nsite, 3)
    frozen: np.ndarray  # (N,) bool: the state became non-finite, the episode stopped


class AntMaze(Task):
    """The ant maze: see the module docstring.

    Args:
        n_frames: frames per episode ``S`` (0 skips rendering).
        threads: threads MuJoCo steps the batch's simulations on (results do not
            depend on it); 0 uses every CPU.
        options: the task options (:class:`~serendip.tasks.base.Task`): ``horizon``
            (control steps per episode, the spec's 1000; shorter for tests) and
            ``reward_areas`` (world units, the arena's [-30, 40]²).
    """

    spec = ANT_MAZE_SPEC
    # The arena and its border walls, which lie just outside it.
    viewport = render.Viewport(
        (ARENA_LOW - WALL_THICKNESS,) * 2, (ARENA_HIGH + WALL_THICKNESS,) * 2
    )
    min_wall_px = 1.5
    min_torso_radius_px = 1.5
    leg_half_width_px = 0.5

    def __init__(self, *, n_frames: int = 0, threads: int = 1, **options: Any) -> None:
        if int(threads) != threads or threads < 0:
            raise ValueError(f"threads must be an integer >= 0, got {threads!r}")
        super().__init__(n_frames=n_frames, **options)
        self._mujoco = _mujoco()
        self.threads = int(threads)
        self.model = self._mujoco.MjModel.from_xml_string(model_xml(self.spec.reward_areas))
        model = self.model
        self._torso = model.body("torso").id
        self._hips = np.array([model.body(f"hip_{leg[0]}").id for leg in _LEGS])
        self._knees = np.array([model.body(f"knee_{leg[0]}").id for leg in _LEGS])
        self._feet = np.array([model.site(f"foot_{leg[0]}").id for leg in _LEGS])
        self._background = self._draw_background()

    # --- shipping to evaluation workers (serendip.evaluation) -------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Everything but the module: a worker imports it again, ``mujoco.batch`` included."""
        return {**self.__dict__, "_mujoco": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._mujoco = _mujoco()

    def reset(self, n: int, episode_seeds: np.ndarray) -> AntMazeState:
        mujoco = self._mujoco
        # A batch holds at least one simulation: an empty one keeps a spare, unseen.
        batch = mujoco.batch.Batch(self.model, max(n, 1), self.threads, persistent=True)
        # Bind the derived fields before the reset's mj_forward so that it fills them.
        xpos, site_xpos = batch.bind("xpos")[:n], batch.bind("site_xpos")[:n]
        batch.reset(keyframe=self.model.key("start").id)
        return AntMazeState(
            batch=batch,
            qpos=batch.bind("qpos")[:n],
            qvel=batch.bind("qvel")[:n],
            ctrl=batch.bind("ctrl")[:n],
            xpos=xpos,
            site_xpos=site_xpos,
            frozen=np.zeros(n, dtype=bool),
        )

    def observe(self, state: AntMazeState) -> np.ndarray:
        observations = np.concatenate([state.qpos, state.qvel], axis=1)
        observations[:, :2] = normalise(observations[:, :2])
        return observations

    def step(self, state: AntMazeState, actions: np.ndarray) -> None:
        """One control step (:data:`FRAME_SKIP` physics steps) of every running episode.

        An episode whose state becomes non-finite (or whose step MuJoCo refuses)
        gets back its state from before the step and is frozen from then on.
        """
        mujoco = self._mujoco
        ids = np.flatnonzero(~state.frozen)
        if ids.size == 0:
            return
        state.ctrl[ids] = np.clip(actions[ids], -1.0, 1.0)
        before = state.batch.state[ids].copy()
        failed = np.zeros(ids.size, dtype=bool)
        try:
            state.batch.step(ids, nstep=FRAME_SKIP, stage=mujoco.mjtStage.mjSTAGE_POS.value)
        except mujoco.batch.SimulationError as error:  # those kept their previous state
            failed = np.isin(ids, error.ids)
        finite = np.isfinite(state.qpos[ids]).all(1) & np.isfinite(state.qvel[ids]).all(1)
        bad = failed | ~finite
        if bad.any():
            state.batch.state[ids[bad]] = before[bad]
            state.frozen[ids[bad]] = True
            state.batch.forward(ids[bad], stage=mujoco.mjtStage.mjSTAGE_POS.value)

    def outcome(self, state: AntMazeState) -> tuple[np.ndarray, np.ndarray]:
        points = state.qpos[:, :2].copy()
        return normalise(points), points

    def extras(self, state: AntMazeState) -> dict[str, np.ndarray]:
        return {"frozen": state.frozen.copy()}

    def close(self) -> None:
        self.model = None

    # --- frames ---------------------------------------------------------------------
    def _draw_background(self) -> np.ndarray:
        """White floor, red reward areas, black walls: drawn once, copied per frame."""
        image = render.floor_with_areas(self.viewport, self.spec.reward_areas)
        boxes = []
        for x0, y0, x1, y1 in _wall_boxes():
            (c0, r0), (c1, r1) = self.viewport.to_pixels(np.array([[x0, y0], [x1, y1]]))
            boxes.append(_widened(c0, c1, self.min_wall_px) + _widened(r0, r1, self.min_wall_px))
        boxes_px = np.array(boxes)[:, [0, 2, 1, 3]]  # (col0, row0, col1, row1)
        render.paint(image, render.boxes_coverage(boxes_px)[None], render.BLACK)
        return image

    def render(self, state: AntMazeState) -> np.ndarray:
        """Top-down frames: the background, the ant's torso, then its legs over it."""
        n = state.qpos.shape[0]
        torso = state.xpos[:, self._torso, :2]
        hips = state.xpos[:, self._hips, :2]
        knees = state.xpos[:, self._knees, :2]
        feet = state.site_xpos[:, self._feet, :2]
        starts = np.concatenate([np.repeat(torso[:, None], N_LEGS, axis=1), hips, knees], axis=1)
        ends = np.concatenate([hips, knees, feet], axis=1)
        images = np.repeat(self._background, n, axis=0)
        legs = render.segments_coverage(
            self.viewport.to_pixels(starts), self.viewport.to_pixels(ends), self.leg_half_width_px
        )
        radius = max(self.viewport.length(TORSO_RADIUS), self.min_torso_radius_px)
        body = render.discs_coverage(self.viewport.to_pixels(torso[:, None]), radius)
        render.paint(images, body, render.BLUE)
        render.paint(images, legs, render.ORANGE)
        return render.to_uint8(images)
