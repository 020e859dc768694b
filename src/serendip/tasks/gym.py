"""Any Gymnasium environment as a serendip task (``gym:<id>``, or an environment factory).

**Ids and options.** ``gym:<id>`` names an id of Gymnasium's registry;
``gym:<module>:<id>`` imports ``<module>`` first, Gymnasium's own convention for a
package that registers its environments when imported
(``gym:gymnasium_robotics:PointMaze_UMaze-v3``). A config's ``task_options`` are
keyword arguments of ``gymnasium.make``: the environment's own (a maze map,
``continuing_task``, ``reward_type``, a frame skip) and make's ``max_episode_steps``
and ``disable_env_checker``. They are checked against the environment's
constructor when its signature lists them (not when it takes ``**kwargs``);
``render_mode`` is serendip's to set.

**Controller.** The papers' controller maps the flattened observation to an
action: ``argmax`` of the outputs for a ``Discrete`` action space, the outputs in
(-1, 1) scaled linearly onto the bounds of a ``Box`` action space (unbounded
dimensions get the raw output). Other action spaces are refused.

**Stepping.** A batch steps one environment per genome, each reset with the
episode's seed (see ``episode_seeds`` in the run config), the way a Gymnasium
``SyncVectorEnv`` steps its sub-environments, with the same values (observations
are batched by ``gymnasium.vector.utils.concatenate``); but an episode that has
ended is not stepped again (no autoreset), and the batch stops when every episode
has ended. A batch of at least :data:`MIN_PARALLEL_EPISODES` episodes pays for
stepping in worker processes (:attr:`GymTask.parallel_batch`): a run that evaluates
in process cuts it into contiguous shares, one per core (the run's ``env_processes``;
see :class:`serendip.evaluation.InProcess`), with results identical to stepping in
process: every episode is seeded by its own seed and the policy computes each row
on its own.

**Observations** are flattened in the order of ``gymnasium.spaces.flatten``:
``Box`` raveled in C order, ``Discrete`` one-hot, ``MultiBinary`` as is,
``MultiDiscrete`` one one-hot per element, ``Tuple`` its elements in order, and
``Dict`` its entries in the order of the space's keys (sorted, for a space built
from a plain dict), each flattened the same way, recursively. ``Text``, ``Graph``
and ``Sequence`` observations are refused.

**Success**, the way the environment defines it (``reward`` rules,
:data:`REWARD_RULES`):

* ``return-threshold``: an episode is rewarding when its return is at least the
  threshold (of any sign). Its reward is then the return when the threshold is
  at least 1, else ``return + 1 - threshold``: always at least 1, since a reward
  counts when it is positive.
* ``positive-reward``: rewarding when the environment ever gave a positive
  reward (sparse environments as they are); the reward is the sum of the
  positive rewards (the return, for 0/1 rewards).
* ``info-success``: rewarding when the info of the episode's last step has a
  true ``info["is_success"]`` (else ``info["success"]``); the reward is 1.

Left unset, the rule is detected: ``return-threshold`` when a threshold is
given; else ``info-success`` when the environment's info holds ``is_success`` or
``success`` after a reset or one step; else ``positive-reward`` when the
environment has ``reward_type == "sparse"`` (Gymnasium-Robotics); else
``return-threshold`` at the ``reward_threshold`` the id is registered with
(CartPole-v1: 475). Anything else is refused with the list of rules. The raw
return and the length of every episode are in ``EvaluationBatch.extras`` (and the
run's evaluation log).

Episodes end when the environment terminates or truncates, or at the horizon
(``horizon``, default: the environment's ``max_episode_steps``, else 1000),
whichever comes first. An environment that raises, returns an observation that
does not fit its observation space (another shape, ``None``, a string) or a NaN
one, or a reward that is not a finite number, stops the evaluation with a
:class:`~serendip.tasks.base.TaskError` that names the environment, the step and
the episode.

Frames come from each environment's ``render()`` in ``rgb_array`` mode, at the
sampling times only (:func:`~serendip.tasks.base.frame_times`): an episode that
ended before a sampling time is not stepped again, so its environment still shows
its last state, rendered once at the next sampling time and reused for the later
ones (the last sampling time is the end of the horizon, so every episode's last
frame is needed). A MuJoCo environment (one rendered by Gymnasium's
``MujocoRenderer``: Gymnasium's MuJoCo environments, Gymnasium-Robotics') renders
at :data:`RENDER_PIXELS` pixels on its shorter side, its aspect kept, instead of its
full size (480x480): the ``width`` and ``height`` its ``gymnasium.make`` documents,
set before its first frame, unless the task options set them; the same camera
shows the same scene. Each such environment holds an OpenGL context (about 65
MB with Mesa's software EGL), so a process keeps at most :data:`MAX_GL_ENVS` of
them and evaluates a larger batch in slices. Other environments render at their
own size: classic
control draws fixed pixel sizes (CartPole's cart is 50x30 pixels at any screen
width), so a smaller screen would crop or distort the scene. Images are
area-averaged down to 64x64 (:func:`~serendip.tasks.render.area_average`, the
values of torch's adaptive average pooling, in one compiled pass per sampling
time). Before the first rendering environment is
made, a process without a usable ``XDG_RUNTIME_DIR`` gets a private one, which
keeps pygame (SDL) from printing an error line on every run.

**Ground-truth descriptor** (for coverage): a user function of the final
flattened observations (with its bounds); or observation keys of a ``Dict`` space
(``"achieved_goal"``, ``["x", "y"]``) or flat indices (``[0, 2]``), within the
observation space's bounds or ``descriptor_bounds``. By default: the
``achieved_goal`` entry of a goal-conditioned ``Dict`` observation, else the whole
flattened observation. Unbounded dimensions get ``±DEFAULT_BOUND``; final values
are clipped to the bounds. Coverage's grid has about :data:`GRID_CELLS` cells (at
least 2 per descriptor value), so a descriptor of many values (Blackjack's whole
observation: 45 one-hot values, 2**45 cells) would need more than
:data:`~serendip.archives.grid.MAX_GRID_CELLS`: such a descriptor is refused,
naming ``descriptor``, when the task is built (before a run writes anything).
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serendip.archives.grid import MAX_GRID_CELLS
from serendip.errors import ConfigError
from serendip.tasks.base import (
    FRAME_SIZE,
    EpisodeSuccess,
    EvaluationBatch,
    ReturnThreshold,
    Task,
    TaskError,
    TaskSpec,
)
from serendip.tasks.render import area_average

DEFAULT_HORIZON = 1000
DEFAULT_BOUND = 10.0
GRID_CELLS = 2500  # the default descriptor's grid has about this many cells in all
MAX_DESCRIPTOR_VALUES = MAX_GRID_CELLS.bit_length() - 1
"""The most values a descriptor may have: its coverage grid has at least 2 cells per
value, and at most :data:`~serendip.archives.grid.MAX_GRID_CELLS` cells (23 values)."""
REWARD_RULES = ("return-threshold", "positive-reward", "info-success")
"""How a gym task decides that an episode succeeded (the config's ``reward``)."""
SUCCESS_KEYS = ("is_success", "success")
"""The info keys that signal success, in order of preference."""
MAKE_OPTIONS = ("max_episode_steps", "disable_env_checker")
"""Keyword arguments of ``gymnasium.make`` itself, accepted for every environment."""
GOAL_KEY = "achieved_goal"
"""The default descriptor of a goal-conditioned ``Dict`` observation."""
MIN_PARALLEL_EPISODES = 32
"""The smallest batch whose environments pay for stepping in worker processes
(measured: docs/benchmarks.md, "Gymnasium tasks"); smaller batches step in process."""
RENDER_PIXELS = 128
"""The shorter side, in pixels, that MuJoCo environments render frames at (then
pooled to 64x64): 2x2 pixels per frame pixel."""
MAX_GL_ENVS = 16
"""The most MuJoCo environments with frames a process keeps: each holds its own
OpenGL context (about 65 MB with Mesa's software EGL), so a larger batch is
evaluated in consecutive slices of this many episodes (same results)."""

EnvFactory = Callable[..., Any]
Descriptor = Callable[[np.ndarray], np.ndarray]
DescriptorChoice = Descriptor | str | int | Sequence[str | int] | None


def _gymnasium() -> Any:
    try:
        import gymnasium
    except ImportError:  # pragma: no cover - depends on the installation
        raise TaskError(
            "gym:<id> tasks need Gymnasium: pip install -e '.[gym]' (or 'serendip[gym]')"
        ) from None
    return gymnasium


def split_env_id(env_id: str) -> tuple[str | None, str]:
    """``"module:Id-v0"`` -> ``("module", "Id-v0")``; ``"Id-v0"`` -> ``(None, "Id-v0")``."""
    module, sep, name = env_id.rpartition(":")
    return (module, name) if sep else (None, env_id)


@dataclass(frozen=True)
class GymMake:
    """``gymnasium.make(env_id, render_mode=..., **options)``, picklable for workers.

    ``env_id`` keeps its ``module:`` prefix, so a worker process imports the module too.
    """

    env_id: str
    options: tuple[tuple[str, Any], ...] = ()

    def __call__(self, render_mode: str | None = None) -> Any:
        gymnasium = _gymnasium()
        options = dict(self.options)
        try:
            return gymnasium.make(self.env_id, render_mode=render_mode, **options)
        except Exception as error:
            first = str(error).splitlines()[0] if str(error) else ""
            if options:
                raise ConfigError(
                    "task_options",
                    f"gymnasium.make({self.env_id!r}, **{options!r}) raised "
                    f"{type(error).__name__}: {first}",
                ) from error
            raise TaskError(
                f"gymnasium.make({self.env_id!r}) raised {type(error).__name__}: {first}"
            ) from error


def env_factory_for(env_id: str, options: Mapping[str, Any] | None = None) -> EnvFactory:
    """A factory ``f(render_mode=...)`` for a Gymnasium id (``[module:]id``), or a clear error.

    Raises:
        TaskError: the module cannot be imported, or the id is not registered.
        ConfigError: an option that is not a keyword argument of the environment.
    """
    gymnasium = _gymnasium()
    module, name = split_env_id(env_id)
    if module is not None:
        try:
            importlib.import_module(module)
        except Exception as error:  # the module's own failure, reported on one line
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise TaskError(
                f"cannot import module {module!r} (named by gym:{env_id}): {first}"
            ) from None
    if name not in gymnasium.registry:
        close = [known for known in gymnasium.registry if name.lower() in known.lower()][:5]
        hint = f"; close matches: {', '.join(close)}" if close else ""
        where = f" (after importing {module!r})" if module else ""
        raise TaskError(f"unknown Gymnasium environment {name!r}{where}{hint}")
    options = dict(options or {})
    _check_make_options(gymnasium, name, options)
    return GymMake(env_id, tuple(sorted(options.items())))


def _check_make_options(gymnasium: Any, env_id: str, options: dict[str, Any]) -> None:
    """Refuse options that the environment's constructor cannot take (when it says)."""
    if "render_mode" in options:
        raise ConfigError(
            "task_options.render_mode",
            "is serendip's to set: rgb_array when the run needs frames, else none",
        )
    if not options:
        return
    entry_point = gymnasium.spec(env_id).entry_point
    try:
        creator = (
            entry_point
            if callable(entry_point)
            else gymnasium.envs.registration.load_env_creator(entry_point)
        )
        parameters = inspect.signature(creator).parameters.values()
    except Exception:  # an entry point that cannot be read: make() will say
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [
        p.name for p in parameters if p.kind in named and p.name not in ("self", "render_mode")
    ]
    accepted += [name for name in MAKE_OPTIONS if name not in accepted]
    for key in options:
        if key not in accepted:
            raise ConfigError(
                f"task_options.{key}",
                f"not a keyword argument of gymnasium.make({env_id!r}); "
                f"accepted: {', '.join(accepted)}",
            )


def _private_runtime_dir() -> None:
    """Give SDL a usable ``XDG_RUNTIME_DIR`` when the process has none.

    pygame (SDL) prints "XDG_RUNTIME_DIR is invalid or not set" at its first
    initialisation in a session without one (containers, ssh, CI). Called only on
    the way to rendering, never at import; a directory the user set is kept.
    """
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and os.path.isdir(current):
        return
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = Path(tempfile.gettempdir()) / f"serendip-runtime-{uid}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.stat()
        private = info.st_uid == uid and (info.st_mode & 0o077) == 0 and path.is_dir()
        if not private or path.is_symlink():
            path = Path(tempfile.mkdtemp(prefix="serendip-runtime-"))
    except OSError:
        return  # no private directory: SDL prints its line, nothing worse
    os.environ["XDG_RUNTIME_DIR"] = str(path)


@dataclass
class GymState:
    """A batch of episodes: its environments and what the episode loop tracks."""

    envs: list[Any]  # one environment per episode
    observations: np.ndarray  # (N, obs) flattened; frozen once an episode ends
    returns: np.ndarray  # (N,)
    positive: np.ndarray  # (N,) sum of the positive rewards
    success: np.ndarray  # (N,) bool: the last step's info said success
    lengths: np.ndarray  # (N,) steps taken before the episode ended
    alive: np.ndarray  # (N,) bool
    last_frames: np.ndarray | None  # (N, 64, 64, 3) last frame of ended episodes
    rendered: np.ndarray  # (N,) bool: last_frames holds the episode's last frame


class GymTask(Task):
    """A Gymnasium environment searched by serendip (see the module docstring).

    Args:
        env_factory: builds one environment; called as ``env_factory(render_mode=...)``
            when it accepts that argument (needed for frames), else with no argument.
        reward: the success rule, one of :data:`REWARD_RULES`; None detects it.
        reward_threshold: the return that counts as success (``return-threshold``;
            any sign); alone, it selects that rule.
        name: the task's name after ``gym:`` (default: the environment's id).
        n_frames: frames per episode ``S``.
        horizon: step limit per episode (default: ``max_episode_steps``, else 1000).
        descriptor: the ground truth for metrics: a function
            ``f(final_observations (N, obs)) -> (N, D)`` (with ``descriptor_bounds``),
            observation key(s) of a ``Dict`` space, or flat observation indices.
        descriptor_bounds: ``(low, high)`` of the descriptor's box (required with a
            function; otherwise the observation space's bounds).
        hidden_layers, hidden_width: the controller's shape (the papers': 2 of 5).
    """

    option_names = ()  # a gym task's options are gymnasium.make's (env_factory_for)
    parallel_batch = MIN_PARALLEL_EPISODES

    def __init__(
        self,
        env_factory: EnvFactory,
        *,
        reward: str | None = None,
        reward_threshold: float | None = None,
        name: str | None = None,
        n_frames: int = 0,
        horizon: int | None = None,
        descriptor: DescriptorChoice = None,
        descriptor_bounds: tuple[Sequence[float], Sequence[float]] | None = None,
        hidden_layers: int = 2,
        hidden_width: int = 5,
    ) -> None:
        gymnasium = _gymnasium()
        self._gymnasium = gymnasium
        self._factory = env_factory
        self._takes_render_mode = _takes_render_mode(env_factory)
        probe = self._make_env(None)
        try:
            self._observation_space = probe.observation_space
            self._action_space = probe.action_space
            spec = probe.spec
            env_id = spec.id if spec is not None else type(probe.unwrapped).__name__
            self.env_id = env_id
            max_steps = spec.max_episode_steps if spec is not None else None
            registered = spec.reward_threshold if spec is not None else None
            self._check_observation_space(self._observation_space)
            action_size, self._discrete = self._action_layout()
            self.reward_rule, self.reward_threshold = self._reward_rule(
                probe, reward, reward_threshold, registered
            )
        finally:
            probe.close()
        observation_size = int(gymnasium.spaces.flatdim(self._observation_space))
        horizon = int(horizon if horizon is not None else (max_steps or DEFAULT_HORIZON))
        if horizon < 1:
            raise ConfigError("horizon", f"must be >= 1, got {horizon}")
        low, high, names = self._descriptor_box(descriptor, descriptor_bounds)
        dims = len(low)
        cells = max(2, round(GRID_CELLS ** (1 / dims)))
        _check_grid_size(dims, cells, env_id, descriptor)
        if self.reward_rule == "return-threshold":
            area: ReturnThreshold | EpisodeSuccess = ReturnThreshold(self.reward_threshold)
            rule_text = f"return >= {self.reward_threshold:g} counts as the reward"
        else:
            area = EpisodeSuccess(self.reward_rule)
            rule_text = {
                "positive-reward": "a positive reward counts as the reward",
                "info-success": "info['is_success'] at the end counts as the reward",
            }[self.reward_rule]
        self.spec = TaskSpec(
            name=f"gym:{name or env_id}",
            summary=f"Gymnasium {env_id}: {rule_text}",
            observation_size=observation_size,
            action_size=action_size,
            horizon=horizon,
            hidden_layers=hidden_layers,
            hidden_width=hidden_width,
            reward_areas=(area,),
            descriptor_low=tuple(low),
            descriptor_high=tuple(high),
            descriptor_names=tuple(names),
            grid_shape=(50, 50) if dims == 2 else (cells,) * dims,
        )
        super().__init__(n_frames=n_frames)
        self._envs: list[Any] = []
        self._gl_frames: bool | None = None  # frames drawn by MuJoCo's OpenGL renderer
        self._success_signalled = False  # a step's info held a SUCCESS_KEYS key
        self._success_warned = False

    # --- shipping to evaluation workers (serendip.evaluation) -------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Everything but the module and the environments: a worker makes its own."""
        state = dict(self.__dict__)
        state["_gymnasium"] = None
        state["_envs"] = []
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._gymnasium = _gymnasium()

    # --- construction helpers -------------------------------------------------------
    def _make_env(self, render_mode: str | None) -> Any:
        if self._takes_render_mode:
            return self._factory(render_mode=render_mode)
        if render_mode is not None:
            raise TaskError(
                "the environment factory must accept render_mode='rgb_array' to render "
                "frames (learned behavior spaces need them)"
            )
        return self._factory()

    def _check_observation_space(self, space: Any) -> None:
        spaces = self._gymnasium.spaces
        leaves = spaces.Box | spaces.Discrete | spaces.MultiBinary | spaces.MultiDiscrete
        if isinstance(space, leaves):
            return
        if isinstance(space, spaces.Dict | spaces.Tuple):
            for inner in space.spaces.values() if isinstance(space, spaces.Dict) else space:
                self._check_observation_space(inner)
            return
        raise TaskError(
            f"{self.env_id}: observation space {space} is not supported; accepted: Box, "
            "Discrete, MultiBinary, MultiDiscrete, and Dict or Tuple of those"
        )

    def _action_layout(self) -> tuple[int, bool]:
        spaces = self._gymnasium.spaces
        space = self._action_space
        if isinstance(space, spaces.Discrete):
            return int(space.n), True
        if isinstance(space, spaces.Box):
            low = np.broadcast_to(space.low, space.shape).astype(np.float64).ravel()
            high = np.broadcast_to(space.high, space.shape).astype(np.float64).ravel()
            bounded = np.isfinite(low) & np.isfinite(high)
            self._action_low = np.where(bounded, low, -1.0)
            self._action_high = np.where(bounded, high, 1.0)
            return int(np.prod(space.shape)), False
        raise TaskError(
            f"{self.env_id}: action space {space} is not supported; accepted: Discrete, Box"
        )

    def _reward_rule(
        self, probe: Any, rule: str | None, threshold: float | None, registered: float | None
    ) -> tuple[str, float | None]:
        """The success rule and its threshold: the one given, else the detected one."""
        rules = ", ".join(REWARD_RULES)
        if rule is not None and rule not in REWARD_RULES:
            raise ConfigError("reward", f"must be one of {rules}; got {rule!r}")
        if threshold is not None:
            if rule not in (None, "return-threshold"):
                raise ConfigError(
                    "reward_threshold", f"only applies to reward: return-threshold, not {rule}"
                )
            return "return-threshold", _threshold(threshold)
        if rule == "return-threshold":
            if registered is None:
                raise ConfigError(
                    "reward_threshold",
                    f"reward return-threshold needs one: {self.env_id} registers no "
                    "reward_threshold (the return that counts as success)",
                )
            return rule, _threshold(registered)
        if rule is not None:
            return rule, None
        if self._signals_success(probe):
            return "info-success", None
        if getattr(probe.unwrapped, "reward_type", None) == "sparse":
            return "positive-reward", None
        if registered is not None:
            return "return-threshold", _threshold(registered)
        raise ConfigError(
            "reward",
            f"serendip cannot tell when an episode of {self.env_id} succeeds (no "
            "info['is_success'] or info['success'], no sparse reward_type, no registered "
            f"reward_threshold); choose a rule: {rules} (return-threshold with "
            "reward_threshold: R)",
        )

    def _signals_success(self, probe: Any) -> bool:
        """Whether the environment's info holds a success key after a reset or one step."""
        try:
            _, info = probe.reset(seed=0)
            if not any(key in info for key in SUCCESS_KEYS):
                probe.action_space.seed(0)
                info = probe.step(probe.action_space.sample())[4]
        except Exception as error:
            raise TaskError(
                f"{self.env_id}: the environment raised {type(error).__name__} while its "
                f"success signal was read (a reset and one step): {error}"
            ) from error
        return any(key in info for key in SUCCESS_KEYS)

    def _key_slices(self) -> dict[str, slice]:
        """Flat index ranges of a ``Dict`` observation's top-level keys."""
        spaces = self._gymnasium.spaces
        space = self._observation_space
        if not isinstance(space, spaces.Dict):
            return {}
        slices, start = {}, 0
        for key, inner in space.spaces.items():
            size = int(spaces.flatdim(inner))
            slices[str(key)] = slice(start, start + size)
            start += size
        return slices

    def _descriptor_box(
        self,
        descriptor: DescriptorChoice,
        bounds: tuple[Sequence[float], Sequence[float]] | None,
    ) -> tuple[list[float], list[float], list[str]]:
        self._descriptor: Descriptor | None = None
        self._descriptor_indices: np.ndarray | None = None
        if callable(descriptor):
            if bounds is None:
                raise ConfigError(
                    "descriptor_bounds", "a descriptor function needs descriptor_bounds=(low, high)"
                )
            low, high = _bounds(bounds, None)
            self._descriptor = descriptor
            return list(low), list(high), [f"d{i}" for i in range(low.size)]
        indices, names = self._descriptor_columns(descriptor)
        self._descriptor_indices = indices
        if bounds is not None:
            low, high = _bounds(bounds, indices.size)
            return list(low), list(high), names
        flat = self._gymnasium.spaces.flatten_space(self._observation_space)
        low = np.broadcast_to(flat.low, flat.shape).astype(np.float64).ravel()[indices]
        high = np.broadcast_to(flat.high, flat.shape).astype(np.float64).ravel()[indices]
        low = np.where(np.isfinite(low), low, -DEFAULT_BOUND)
        high = np.where(np.isfinite(high), high, DEFAULT_BOUND)
        return list(low), list(high), names

    def _descriptor_columns(self, descriptor: DescriptorChoice) -> tuple[np.ndarray, list[str]]:
        """Flat observation indices of the descriptor, and their names."""
        size = int(self._gymnasium.spaces.flatdim(self._observation_space))
        keys = self._key_slices()
        if descriptor is None:
            if GOAL_KEY in keys:
                descriptor = GOAL_KEY
            else:
                return np.arange(size), [f"obs{i}" for i in range(size)]
        items = [descriptor] if isinstance(descriptor, str | int) else list(descriptor)  # type: ignore[arg-type]
        what = "observation key(s) of a Dict space, or flat observation indices [i, j, ...]"
        if not items or any(isinstance(item, bool) for item in items):
            raise ConfigError("descriptor", f"must name {what}, got {descriptor!r}")
        if all(isinstance(item, str) for item in items):
            if not keys:
                raise ConfigError(
                    "descriptor",
                    f"names keys {items!r}, but the observation space of {self.env_id} is "
                    f"{self._observation_space}, not a Dict; give flat indices [i, j, ...] "
                    f"in [0, {size})",
                )
            indices: list[int] = []
            names: list[str] = []
            for key in items:
                if key not in keys:
                    raise ConfigError(
                        "descriptor",
                        f"{key!r} is not a key of the observation space; keys: {', '.join(keys)}",
                    )
                span = range(keys[key].start, keys[key].stop)
                indices += span
                names += [key] if len(span) == 1 else [f"{key}[{j}]" for j in range(len(span))]
        elif all(isinstance(item, int | np.integer) for item in items):
            indices = [int(item) for item in items]
            names = [f"obs{i}" for i in indices]
            if any(not 0 <= i < size for i in indices):
                raise ConfigError(
                    "descriptor",
                    f"flat observation indices must lie in [0, {size}), got {descriptor!r}",
                )
        else:
            raise ConfigError("descriptor", f"must name {what}, got {descriptor!r}")
        if len(set(indices)) != len(indices):
            raise ConfigError("descriptor", f"names an observation value twice: {descriptor!r}")
        return np.asarray(indices, dtype=np.int64), names

    # --- the Task interface ---------------------------------------------------------
    def evaluate(
        self, genomes: np.ndarray, *, episode_seeds: np.ndarray | None = None
    ) -> EvaluationBatch:
        """Run one episode per genome, in slices of at most :data:`MAX_GL_ENVS` with MuJoCo frames.

        The slices' results concatenated in order are exactly what
        :meth:`Task.evaluate` gives for the whole batch.
        """
        genomes = self.policy.checked(genomes)
        n = genomes.shape[0]
        seeds = np.arange(n, dtype=np.int64) if episode_seeds is None else np.asarray(episode_seeds)
        cap = self._env_cap()
        if n <= cap:
            batch = super().evaluate(genomes, episode_seeds=seeds)
        else:
            parts = [slice(start, min(start + cap, n)) for start in range(0, n, cap)]
            batch = EvaluationBatch.concat(
                [super(GymTask, self).evaluate(genomes[p], episode_seeds=seeds[p]) for p in parts]
            )
        self._warn_if_success_is_never_signalled(n)
        return batch

    def _warn_if_success_is_never_signalled(self, n: int) -> None:
        """Warn once when ``info-success`` reads an info that never says success or not.

        Not an error: some environments put the key in the info of a successful
        last step only. But an environment that never does scores every episode 0,
        which a run would otherwise report as "nothing found".
        """
        if (
            n == 0
            or self.reward_rule != "info-success"
            or self._success_signalled
            or self._success_warned
        ):
            return
        self._success_warned = True
        warnings.warn(
            f"{self.spec.name}: reward info-success, but no step of this batch's {n} "
            f"episodes had info[{SUCCESS_KEYS[0]!r}] or info[{SUCCESS_KEYS[1]!r}]: if the "
            "environment never sets them, every episode scores 0 (reward: chooses another "
            "rule)",
            RuntimeWarning,
            stacklevel=2,
        )

    def _env_cap(self) -> int:
        """The most environments this process keeps (:data:`MAX_GL_ENVS` for MuJoCo frames)."""
        if self.n_frames == 0:
            return sys.maxsize
        if self._gl_frames is None:
            self._gl_frames = bool(_mujoco_renderers(self._env_batch(1)[0]))
        return MAX_GL_ENVS if self._gl_frames else sys.maxsize

    def _env_batch(self, n: int) -> list[Any]:
        """The first ``n`` environments of the task, made as needed and kept."""
        if len(self._envs) < n:
            render_mode = "rgb_array" if self.n_frames > 0 else None
            if render_mode is not None:
                _private_runtime_dir()
            while len(self._envs) < n:
                env = self._make_env(render_mode)
                if render_mode is not None:
                    self._shrink_render(env)
                self._envs.append(env)
        return self._envs[:n]

    def _shrink_render(self, env: Any) -> None:
        """Render a MuJoCo environment at :data:`RENDER_PIXELS` (its aspect kept).

        What ``gymnasium.make(..., width=w, height=h)`` does for these environments,
        set on the renderer before its first frame (its viewer is made at the first
        ``render()``), with the offscreen buffer its context allocates cut to that
        size. Left alone: sizes the task options set, sizes already small.
        """
        options = dict(getattr(self._factory, "options", ()))
        if "width" in options or "height" in options:
            return
        for renderer in _mujoco_renderers(env):
            width, height = renderer.width, renderer.height
            if not width or not height or renderer.viewer is not None:
                continue
            scale = RENDER_PIXELS / min(width, height)
            if scale < 1:
                renderer.width = max(1, round(width * scale))
                renderer.height = max(1, round(height * scale))
                # The offscreen buffer the context allocates: no larger than needed.
                visual = renderer.model.vis.global_
                visual.offwidth, visual.offheight = renderer.width, renderer.height

    def _flatten(
        self, observations: list[Any], episodes: np.ndarray, step: int | str
    ) -> np.ndarray:
        """Environments' observations batched as a vector environment does, flattened.

        An observation that does not fit the observation space (another shape,
        ``None``, a string) is a TaskError naming the step and its episode
        (``episodes``: the batch rows of ``observations``), not NumPy's bare error.
        """
        try:
            return self._flatten_batch(observations)
        except Exception as error:
            row = next((j for j, one in enumerate(observations) if not self._fits([one])), 0)
            raise TaskError(
                f"{self.spec.name}: the environment returned an observation that does not fit "
                f"its observation space {self._observation_space} (got "
                f"{_describe(observations[row])}) {_at(step)} (episode {int(episodes[row])} "
                f"of the batch): {type(error).__name__}: {error}"
            ) from error

    def _flatten_batch(self, observations: list[Any]) -> np.ndarray:
        utils = self._gymnasium.vector.utils
        space = self._observation_space
        batch = utils.concatenate(
            space, observations, utils.create_empty_array(space, len(observations))
        )
        return flatten_batch(self._gymnasium.spaces, space, batch)

    def _fits(self, observations: list[Any]) -> bool:
        """Whether ``observations`` batch and flatten without an error."""
        try:
            self._flatten_batch(observations)
        except Exception:
            return False
        return True

    def _check(self, values: np.ndarray, what: str, episodes: np.ndarray, step: int | str) -> None:
        """Refuse non-finite ``values``, whose rows are the batch's ``episodes``."""
        bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
        if bad.any():
            raise TaskError(
                f"{self.spec.name}: the environment returned a non-finite {what} {_at(step)} "
                f"(episode {int(episodes[np.flatnonzero(bad)[0]])} of the batch)"
            )

    def reset(self, n: int, episode_seeds: np.ndarray) -> GymState:
        envs = self._env_batch(n)
        observations = []
        seeds = np.asarray(episode_seeds, dtype=np.int64)
        for episode, (env, seed) in enumerate(zip(envs, seeds, strict=True)):
            try:
                observations.append(env.reset(seed=int(seed))[0])
            except Exception as error:
                raise TaskError(
                    f"{self.spec.name}: the environment raised {type(error).__name__} on "
                    f"reset (episode {episode} of the batch): {error}"
                ) from error
        flat = self._flatten(observations, np.arange(n), "reset")
        self._check(flat, "observation", np.arange(n), "reset")
        return GymState(
            envs=envs,
            observations=flat,
            returns=np.zeros(n),
            positive=np.zeros(n),
            success=np.zeros(n, dtype=bool),
            lengths=np.zeros(n, dtype=np.int64),
            alive=np.ones(n, dtype=bool),
            last_frames=np.zeros((n, FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
            if self.n_frames > 0
            else None,
            rendered=np.zeros(n, dtype=bool),
        )

    def observe(self, state: GymState) -> np.ndarray:
        return state.observations.copy()

    def _env_actions(self, actions: np.ndarray) -> np.ndarray:
        if self._discrete:
            return np.argmax(actions, axis=1) + int(self._action_space.start)
        scaled = self._action_low + (actions + 1.0) * 0.5 * (self._action_high - self._action_low)
        dtype = self._action_space.dtype
        return scaled.reshape((actions.shape[0], *self._action_space.shape)).astype(dtype)

    def step(self, state: GymState, actions: np.ndarray) -> None:
        """One step of the running episodes (``actions``: one row per episode)."""
        live = np.flatnonzero(state.alive)
        if live.size:
            self._step_rows(state, live, actions[live])

    def _step_rows(self, state: GymState, live: np.ndarray, actions: np.ndarray) -> None:
        """One step of the episodes ``live`` (all running), ``actions`` one row each."""
        step = int(state.lengths.max()) + 1
        env_actions = self._env_actions(actions)
        observations = []
        rewards = np.zeros(live.size)
        ended = np.zeros(live.size, dtype=bool)
        success = np.zeros(live.size, dtype=bool)
        read_success = self.reward_rule == "info-success"
        for j, i in enumerate(live):
            try:
                observation, reward, terminated, truncated, info = state.envs[i].step(
                    env_actions[j]
                )
            except Exception as error:
                raise TaskError(
                    f"{self.spec.name}: the environment raised {type(error).__name__} at step "
                    f"{step} (episode {int(i)} of the batch): {error}"
                ) from error
            observations.append(observation)
            self._store_reward(rewards, j, reward, int(i), step)
            ended[j] = self._ended(terminated, truncated, int(i), step)
            if read_success:
                if not isinstance(info, Mapping):
                    raise TaskError(
                        f"{self.spec.name}: the environment returned an info that is not a "
                        f"dict (got {_describe(info)}) at step {step} (episode {int(i)} of "
                        "the batch)"
                    )
                success[j] = _says_success(info)
                if not self._success_signalled:
                    self._success_signalled = any(key in info for key in SUCCESS_KEYS)
        flat = self._flatten(observations, live, step)
        self._check(flat, "observation", live, step)
        self._check(rewards[:, None], "reward", live, step)
        state.returns[live] += rewards
        state.positive[live] += np.maximum(rewards, 0.0)
        state.lengths[live] += 1
        state.observations[live] = flat
        if read_success:
            state.success[live] = success
        # An ended episode is not stepped again: its environment keeps its last state
        # (rendered at the next sampling time, see render).
        state.alive[live[ended]] = False

    def _store_reward(
        self, rewards: np.ndarray, j: int, reward: Any, episode: int, step: int
    ) -> None:
        """``rewards[j] = reward``, as NumPy stores it; a reward that is not a number (None,
        a string, several values) is a TaskError naming the step and the episode."""
        try:
            if reward is None or isinstance(reward, str | bytes):
                raise TypeError(f"a reward is a number, not {type(reward).__name__}")
            rewards[j] = reward
        except (TypeError, ValueError) as error:
            raise TaskError(
                f"{self.spec.name}: the environment returned a reward that is not a number "
                f"(got {_describe(reward)}) at step {step} (episode {episode} of the batch): "
                f"{error}"
            ) from error

    def _ended(self, terminated: Any, truncated: Any, episode: int, step: int) -> bool:
        """Whether a step ended its episode; flags that are not true or false (an array of
        several values) are a TaskError naming the step and the episode."""
        try:
            return bool(terminated) or bool(truncated)
        except (TypeError, ValueError) as error:
            raise TaskError(
                f"{self.spec.name}: the environment returned terminated / truncated flags that "
                f"are not true or false (got {_describe(terminated)}, {_describe(truncated)}) "
                f"at step {step} (episode {episode} of the batch): {error}"
            ) from error

    def advance(self, state: GymState, genomes: np.ndarray, steps: int) -> None:
        """Step the running episodes only, until ``steps`` or every episode has ended.

        The policy runs on the running episodes' rows alone (each row is its own
        network, so its actions are those of the whole batch), which keeps the
        steps of a batch's last long episodes cheap.
        """
        live = np.flatnonzero(state.alive)
        layers = self.policy.unpack(genomes[live])
        for _ in range(steps):
            if live.size == 0:
                return
            actions = self.policy.forward(layers, state.observations[live])
            self._step_rows(state, live, actions)
            running = state.alive[live]
            if not running.all():
                live = live[running]
                layers = self.policy.unpack(genomes[live])

    def _render_envs(self, envs: list[Any], index: np.ndarray) -> np.ndarray:
        images = []
        for i in index:
            try:
                env = envs[int(i)]
                # Each MuJoCo environment renders in its own OpenGL context, which
                # Gymnasium's offscreen viewer does not make current by itself.
                for renderer in _mujoco_renderers(env):
                    if renderer.viewer is not None:
                        renderer.viewer.make_context_current()
                image = env.render()
            except Exception as error:
                hint = ""
                if "mujoco" in sys.modules and not os.environ.get("MUJOCO_GL"):
                    hint = " (MuJoCo without a display renders with EGL: set MUJOCO_GL=egl)"
                first = str(error).splitlines()[0] if str(error) else ""
                raise TaskError(
                    f"{self.spec.name}: render() raised {type(error).__name__}: {first}{hint}"
                ) from error
            if image is None or np.asarray(image).ndim != 3:
                raise TaskError(
                    f"{self.spec.name}: render() returned no rgb_array image; frames need "
                    "an environment that renders in rgb_array mode"
                )
            images.append(np.asarray(image, dtype=np.uint8)[..., :3])
        if len({image.shape for image in images}) > 1:
            raise TaskError(f"{self.spec.name}: render() returned frames of different sizes")
        return area_average(np.stack(images), FRAME_SIZE)

    def render(self, state: GymState) -> np.ndarray:
        """Frames of the running episodes, and the last frames of the ended ones.

        An episode that ended since the last sampling time is rendered now, once: its
        environment has not been stepped since its last step.
        """
        assert state.last_frames is not None
        index = np.flatnonzero(state.alive | ~state.rendered)
        frames = state.last_frames.copy()
        if index.size:
            images = self._render_envs(state.envs, index)
            frames[index] = images
            ended = index[~state.alive[index]]
            state.last_frames[ended] = images[~state.alive[index]]
            state.rendered[ended] = True
        return frames

    def outcome(self, state: GymState) -> tuple[np.ndarray, np.ndarray]:
        final = state.observations
        if self._descriptor is None:
            assert self._descriptor_indices is not None
            low = np.asarray(self.spec.descriptor_low)
            high = np.asarray(self.spec.descriptor_high)
            return np.clip(final[:, self._descriptor_indices], low, high), state.returns
        try:
            descriptors = np.asarray(self._descriptor(final.copy()), dtype=np.float64)
        except Exception as error:
            raise TaskError(
                f"{self.spec.name}: the descriptor function raised {type(error).__name__}: {error}"
            ) from error
        expected = (final.shape[0], self.spec.descriptor_size)
        if descriptors.shape != expected:
            raise TaskError(
                f"{self.spec.name}: the descriptor function must return shape {expected}, "
                f"got {descriptors.shape}"
            )
        self._check(descriptors, "descriptor", np.arange(final.shape[0]), "end")
        return descriptors, state.returns

    def score(self, state: GymState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        descriptors, returns = self.outcome(state)
        if self.reward_rule == "return-threshold":
            threshold = float(self.reward_threshold)  # type: ignore[arg-type]
            reached = returns >= threshold
            # The return itself (as before this rule had a name) unless that could be <= 0.
            shifted = returns if threshold >= 1 else returns + (1.0 - threshold)
            rewards = np.where(reached, shifted, 0.0)
        elif self.reward_rule == "positive-reward":
            reached = state.positive > 0
            rewards = np.where(reached, state.positive, 0.0)
        else:
            reached = state.success.copy()
            rewards = reached.astype(np.float64)
        areas = np.where(reached, 0, -1).astype(np.int64)
        return descriptors, rewards, areas

    def extras(self, state: GymState) -> dict[str, np.ndarray]:
        return {"episode_return": state.returns.copy(), "episode_length": state.lengths.copy()}

    def close(self) -> None:
        """Close every environment."""
        for env in self._envs:
            env.close()
        self._envs.clear()


def _check_grid_size(dims: int, cells: int, env_id: str, descriptor: DescriptorChoice) -> None:
    """Refuse a descriptor whose coverage grid (``cells`` per axis) would be too large.

    Raises:
        ConfigError: named ``descriptor``, the grid would have more than
            :data:`~serendip.archives.grid.MAX_GRID_CELLS` cells.
    """
    total = GRID_CELLS if dims == 2 else cells**dims
    if total <= MAX_GRID_CELLS:
        return
    what = (
        f"the whole flattened observation of {env_id}"
        if descriptor is None
        else ("the descriptor function's output" if callable(descriptor) else repr(descriptor))
    )
    raise ConfigError(
        "descriptor",
        f"{what} has {dims} values: coverage's grid over them (at least 2 cells per value) "
        f"would have {cells}**{dims} = {total:,} cells, more than {MAX_GRID_CELLS:,}; "
        f"choose at most {MAX_DESCRIPTOR_VALUES} values: observation keys or flat indices "
        "(descriptor: [0, 2], --descriptor 0,2), or a descriptor function",
    )


def _at(step: int | str) -> str:
    """Where in an episode: ``on reset``, ``at step 3``, ``at the end``."""
    if step == "reset":
        return "on reset"
    if step == "end":
        return "at the end"
    return f"at step {step}"


def _describe(value: Any) -> str:
    """A short account of a value an environment returned (its type, and shape if any)."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, str | bytes):
        return f"{type(value).__name__} {value[:20]!r}"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of {len(value)} values"
    return type(value).__name__


def _threshold(value: Any) -> float:
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = math.nan
    if isinstance(value, bool) or not math.isfinite(threshold):
        raise ConfigError("reward_threshold", f"must be a finite number, got {value!r}")
    return threshold


def _bounds(bounds: Any, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` as arrays: equal lengths (``size`` when given), finite, high > low."""
    what = "two equal-length sequences [low, high] with high > low"
    try:
        low, high = (np.asarray(b, dtype=np.float64).ravel() for b in bounds)
        valid = (
            low.shape == high.shape
            and low.size > 0
            and bool(np.isfinite(low).all() and np.isfinite(high).all())
            and bool(np.all(high > low))
        )
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ConfigError("descriptor_bounds", f"must be {what}, got {bounds!r}")
    if size is not None and low.size != size:
        raise ConfigError(
            "descriptor_bounds",
            f"must hold {size} values each (one per descriptor value), got {low.size}",
        )
    return low, high


def _takes_render_mode(factory: EnvFactory) -> bool:
    """Whether ``factory`` accepts ``render_mode=`` (assumed when its signature is unknown)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        p.name == "render_mode" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )


def flatten_batch(spaces: Any, space: Any, observations: Any) -> np.ndarray:
    """A vector environment's observations ``(N, ...)`` flattened row by row, ``(N, flatdim)``.

    The same values, in the same order, as ``gymnasium.spaces.flatten`` of each row.
    """
    if isinstance(space, spaces.Dict):
        parts = [flatten_batch(spaces, s, observations[k]) for k, s in space.spaces.items()]
        return np.concatenate(parts, axis=1)
    if isinstance(space, spaces.Tuple):
        parts = [flatten_batch(spaces, s, observations[i]) for i, s in enumerate(space.spaces)]
        return np.concatenate(parts, axis=1)
    values = np.asarray(observations)
    rows = values.shape[0]
    if isinstance(space, spaces.Discrete):
        index = values.astype(np.int64).reshape(rows) - int(space.start)
        return np.eye(int(space.n))[index]
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec, dtype=np.int64).ravel()
        index = values.astype(np.int64).reshape(rows, -1) - np.asarray(space.start).ravel()
        offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
        flat = np.zeros((rows, int(nvec.sum())))
        flat[np.arange(rows)[:, None], offsets + index] = 1.0
        return flat
    return values.astype(np.float64).reshape(rows, -1)


def _says_success(info: Mapping[str, Any]) -> bool:
    """Whether one environment's step info says success (:data:`SUCCESS_KEYS`, in order)."""
    for key in SUCCESS_KEYS:
        if key in info:
            value = np.asarray(info[key]).ravel()
            return bool(value[0]) if value.size else False
    return False


def _mujoco_renderers(env: Any) -> list[Any]:
    """Gymnasium ``MujocoRenderer`` objects of ``env``: its own, or one of its attributes'.

    Gymnasium's MuJoCo environments hold theirs as ``mujoco_renderer``; environments
    built around one (Gymnasium-Robotics' mazes hold a ``point_env`` or ``ant_env``)
    hold it one level down. Without MuJoCo's renderer imported there is none.
    """
    module = sys.modules.get("gymnasium.envs.mujoco.mujoco_rendering")
    if module is None:
        return []
    kind = module.MujocoRenderer
    unwrapped = getattr(env, "unwrapped", env)
    holders = [unwrapped, *getattr(unwrapped, "__dict__", {}).values()]
    found: list[Any] = []
    for holder in holders:
        try:
            renderer = (
                holder if isinstance(holder, kind) else getattr(holder, "mujoco_renderer", None)
            )
        except Exception:  # an attribute that cannot be read is not a renderer
            continue
        if isinstance(renderer, kind) and all(renderer is not r for r in found):
            found.append(renderer)
    return found
