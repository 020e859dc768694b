"""Any Gymnasium environment as a serendip task (``gym:<id>``, or an environment factory).

The papers' controller maps the (flattened) observation to an action: ``argmax``
of the outputs for a ``Discrete`` action space, the outputs in (-1, 1) scaled
linearly onto the bounds of a ``Box`` action space (unbounded dimensions get the
raw output). A batch runs as one Gymnasium vector environment (``SyncVectorEnv``,
one sub-environment per genome, each reset with the episode's seed).

Rewards follow the suite's sparse convention: an episode "reaches the reward"
(area 0) when its return is at least the user's threshold, and its reward is
then the return; it is 0 otherwise. A reward counts when it is positive, so the
threshold must be positive (shift the returns of an environment whose successes
score <= 0, e.g. with ``gymnasium.wrappers.TransformReward``). The raw return
and the episode length of every episode are in ``EvaluationBatch.extras``.

Episodes end when the environment terminates or truncates, or at the horizon
(``horizon``, default: the environment's ``max_episode_steps``, else 1000),
whichever comes first. An environment that raises, or returns a NaN observation
or reward, stops the evaluation with a :class:`~serendip.tasks.base.TaskError`
that names the environment and the step.

Frames come from each sub-environment's ``render()`` in ``rgb_array`` mode,
area-averaged down to 64x64 (torch's adaptive average pooling: one batched,
anti-aliased call); an episode that ended before a sampling time shows its last
frame. The ground-truth descriptor is a user function of the final observations
(with its bounds), else the final observation itself within the observation
space's bounds (unbounded dimensions: ``±DEFAULT_BOUND``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.tasks.base import FRAME_SIZE, ReturnThreshold, Task, TaskError, TaskSpec

DEFAULT_HORIZON = 1000
DEFAULT_BOUND = 10.0
GRID_CELLS = 2500  # the default descriptor's grid has about this many cells in all

EnvFactory = Callable[..., Any]
Descriptor = Callable[[np.ndarray], np.ndarray]


def _gymnasium() -> Any:
    try:
        import gymnasium
    except ImportError:  # pragma: no cover - depends on the installation
        raise TaskError("gym:<id> tasks need Gymnasium: pip install 'serendip[gym]'") from None
    return gymnasium


def env_factory_for(env_id: str) -> EnvFactory:
    """A factory ``f(render_mode=...)`` for a registered Gymnasium id, or a clear error."""
    gymnasium = _gymnasium()
    if env_id not in gymnasium.registry:
        close = [name for name in gymnasium.registry if env_id.lower() in name.lower()][:5]
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise TaskError(f"unknown Gymnasium environment {env_id!r}{hint}")

    def factory(render_mode: str | None = None) -> Any:
        return gymnasium.make(env_id, render_mode=render_mode)

    return factory


@dataclass
class GymState:
    """A batch of episodes: the vector environment and what the episode loop tracks."""

    envs: Any  # gymnasium.vector.SyncVectorEnv
    observations: np.ndarray  # (N, obs) flattened; frozen once an episode ends
    returns: np.ndarray  # (N,)
    lengths: np.ndarray  # (N,) steps taken before the episode ended
    alive: np.ndarray  # (N,) bool
    last_frames: np.ndarray | None  # (N, 64, 64, 3) frame at the end of ended episodes


class GymTask(Task):
    """A Gymnasium environment searched by serendip.

    Args:
        env_factory: builds one environment; called as ``env_factory(render_mode=...)``
            when it accepts that argument (needed for frames), else with no argument.
        reward_threshold: episode return that counts as reaching the reward (> 0).
        name: the task's name after ``gym:`` (default: the environment's id).
        n_frames: frames per episode ``S``.
        horizon: step limit per episode (default: ``max_episode_steps``, else 1000).
        descriptor: ground truth for metrics, ``f(final_observations (N, obs)) -> (N, D)``.
        descriptor_bounds: ``(low, high)`` of ``descriptor``'s box (required with it).
        hidden_layers, hidden_width: the controller's shape (the papers': 2 of 5).
    """

    def __init__(
        self,
        env_factory: EnvFactory,
        *,
        reward_threshold: float,
        name: str | None = None,
        n_frames: int = 0,
        horizon: int | None = None,
        descriptor: Descriptor | None = None,
        descriptor_bounds: tuple[Sequence[float], Sequence[float]] | None = None,
        hidden_layers: int = 2,
        hidden_width: int = 5,
    ) -> None:
        gymnasium = _gymnasium()
        self._gymnasium = gymnasium
        self._factory = env_factory
        threshold = float(reward_threshold)
        if not math.isfinite(threshold) or threshold <= 0:
            raise TaskError(
                f"reward_threshold must be a positive number (a reward counts when it is "
                f"positive), got {reward_threshold!r}"
            )
        probe = self._make_env(None)
        try:
            self._observation_space = probe.observation_space
            self._action_space = probe.action_space
            env_id = probe.spec.id if probe.spec is not None else type(probe.unwrapped).__name__
            max_steps = probe.spec.max_episode_steps if probe.spec is not None else None
        finally:
            probe.close()
        self.env_id = env_id
        observation_size = self._observation_size()
        action_size, self._discrete = self._action_layout()
        horizon = int(horizon if horizon is not None else (max_steps or DEFAULT_HORIZON))
        if horizon < 1:
            raise TaskError(f"horizon must be >= 1, got {horizon}")
        self._descriptor = descriptor
        low, high, names = self._descriptor_box(descriptor, descriptor_bounds)
        dims = len(low)
        cells = max(2, round(GRID_CELLS ** (1 / dims)))
        self.spec = TaskSpec(
            name=f"gym:{name or env_id}",
            summary=f"Gymnasium {env_id}: return >= {threshold:g} counts as the reward",
            observation_size=observation_size,
            action_size=action_size,
            horizon=horizon,
            hidden_layers=hidden_layers,
            hidden_width=hidden_width,
            reward_areas=(ReturnThreshold(threshold),),
            descriptor_low=tuple(low),
            descriptor_high=tuple(high),
            descriptor_names=tuple(names),
            grid_shape=(50, 50) if dims == 2 else (cells,) * dims,
        )
        super().__init__(n_frames=n_frames)
        self._vector_envs: dict[int, Any] = {}

    # --- shipping to evaluation workers (serendip.evaluation) -------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Everything but the module and the cached environments: a worker builds its own."""
        state = dict(self.__dict__)
        state["_gymnasium"] = None
        state["_vector_envs"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._gymnasium = _gymnasium()

    # --- construction helpers -------------------------------------------------------
    def _make_env(self, render_mode: str | None) -> Any:
        try:
            return self._factory(render_mode=render_mode)
        except TypeError:
            if render_mode is not None:
                raise TaskError(
                    "the environment factory must accept render_mode='rgb_array' to render "
                    "frames (learned behavior spaces need them)"
                ) from None
            return self._factory()

    def _observation_size(self) -> int:
        spaces = self._gymnasium.spaces
        space = self._observation_space
        if not isinstance(space, spaces.Box | spaces.Discrete):
            raise TaskError(
                f"{self.env_id}: observation space {space} is not supported; "
                "accepted: Box, Discrete"
            )
        return int(spaces.flatdim(space))

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

    def _descriptor_box(
        self,
        descriptor: Descriptor | None,
        bounds: tuple[Sequence[float], Sequence[float]] | None,
    ) -> tuple[list[float], list[float], list[str]]:
        if descriptor is not None:
            if bounds is None:
                raise TaskError("a descriptor function needs descriptor_bounds=(low, high)")
            low, high = (np.asarray(b, dtype=np.float64).ravel() for b in bounds)
            if low.shape != high.shape or low.size == 0 or not np.all(high > low):
                raise TaskError(
                    f"descriptor_bounds must be two equal-length sequences with high > low, "
                    f"got {bounds!r}"
                )
            return list(low), list(high), [f"d{i}" for i in range(low.size)]
        space = self._observation_space
        spaces = self._gymnasium.spaces
        if isinstance(space, spaces.Discrete):
            size = int(space.n)
            return [0.0] * size, [1.0] * size, [f"obs{i}" for i in range(size)]
        low = np.broadcast_to(space.low, space.shape).astype(np.float64).ravel()
        high = np.broadcast_to(space.high, space.shape).astype(np.float64).ravel()
        low = np.where(np.isfinite(low), low, -DEFAULT_BOUND)
        high = np.where(np.isfinite(high), high, DEFAULT_BOUND)
        return list(low), list(high), [f"obs{i}" for i in range(low.size)]

    # --- the Task interface ---------------------------------------------------------
    def _vector_env(self, n: int) -> Any:
        """One vector environment per batch size, kept: a run asks for a few sizes only."""
        if n not in self._vector_envs:
            render_mode = "rgb_array" if self.n_frames > 0 else None
            self._vector_envs[n] = self._gymnasium.vector.SyncVectorEnv(
                [lambda: self._make_env(render_mode) for _ in range(n)],
                copy=False,
                autoreset_mode=self._gymnasium.vector.AutoresetMode.NEXT_STEP,
            )
        return self._vector_envs[n]

    def _flatten(self, observations: Any) -> np.ndarray:
        spaces = self._gymnasium.spaces
        if isinstance(self._observation_space, spaces.Discrete):
            n = int(self._observation_space.n)
            return np.eye(n)[
                np.asarray(observations, dtype=np.int64) - self._observation_space.start
            ]
        flat = np.asarray(observations, dtype=np.float64)
        return flat.reshape(flat.shape[0], -1)

    def _check(self, values: np.ndarray, what: str, rows: np.ndarray, step: int | str) -> None:
        bad = rows & ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
        if bad.any():
            raise TaskError(
                f"{self.spec.name}: the environment returned a non-finite {what} at step "
                f"{step} (episode {int(np.flatnonzero(bad)[0])} of the batch)"
            )

    def reset(self, n: int, episode_seeds: np.ndarray) -> GymState:
        envs = self._vector_env(n)
        seeds = [int(s) for s in np.asarray(episode_seeds, dtype=np.int64)]
        try:
            observations, _ = envs.reset(seed=seeds)
        except Exception as error:
            raise TaskError(
                f"{self.spec.name}: the environment raised {type(error).__name__} on reset: {error}"
            ) from error
        flat = self._flatten(observations).copy()
        self._check(flat, "observation", np.ones(n, dtype=bool), "reset")
        return GymState(
            envs=envs,
            observations=flat,
            returns=np.zeros(n),
            lengths=np.zeros(n, dtype=np.int64),
            alive=np.ones(n, dtype=bool),
            last_frames=np.zeros((n, FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
            if self.n_frames > 0
            else None,
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
        if not state.alive.any():
            return
        step = int(state.lengths.max()) + 1
        try:
            observations, rewards, terminated, truncated, _ = state.envs.step(
                self._env_actions(actions)
            )
        except Exception as error:
            raise TaskError(
                f"{self.spec.name}: the environment raised {type(error).__name__} at step "
                f"{step}: {error}"
            ) from error
        alive = state.alive
        flat = self._flatten(observations)
        rewards = np.asarray(rewards, dtype=np.float64)
        self._check(flat, "observation", alive, step)
        self._check(rewards[:, None], "reward", alive, step)
        state.returns[alive] += rewards[alive]
        state.lengths[alive] += 1
        state.observations[alive] = flat[alive]
        ended = alive & (np.asarray(terminated) | np.asarray(truncated))
        if ended.any() and state.last_frames is not None:
            # Render now: the next step of a vector environment resets ended episodes.
            index = np.flatnonzero(ended)
            state.last_frames[index] = self._render_envs(state.envs, index)
        state.alive = alive & ~ended

    def advance(self, state: GymState, genomes: np.ndarray, steps: int) -> None:
        """The default loop, stopped as soon as every episode of the batch has ended."""
        layers = self.policy.unpack(genomes)
        for _ in range(steps):
            if not state.alive.any():
                return
            self.step(state, self.policy.forward(layers, self.observe(state)))

    def _render_envs(self, envs: Any, index: np.ndarray) -> np.ndarray:
        import torch

        images = []
        for i in index:
            image = envs.envs[int(i)].render()
            if image is None or np.asarray(image).ndim != 3:
                raise TaskError(
                    f"{self.spec.name}: render() returned no rgb_array image; frames need "
                    "an environment that renders in rgb_array mode"
                )
            images.append(np.asarray(image, dtype=np.uint8)[..., :3])
        if len({image.shape for image in images}) > 1:
            raise TaskError(f"{self.spec.name}: render() returned frames of different sizes")
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(torch.float32)
        small = torch.nn.functional.adaptive_avg_pool2d(batch, FRAME_SIZE)
        return small.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

    def render(self, state: GymState) -> np.ndarray:
        assert state.last_frames is not None
        frames = state.last_frames.copy()
        alive = np.flatnonzero(state.alive)
        if alive.size:
            frames[alive] = self._render_envs(state.envs, alive)
        return frames

    def outcome(self, state: GymState) -> tuple[np.ndarray, np.ndarray]:
        final = state.observations
        if self._descriptor is None:
            low = np.asarray(self.spec.descriptor_low)
            high = np.asarray(self.spec.descriptor_high)
            return np.clip(final, low, high), state.returns
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
        self._check(descriptors, "descriptor", np.ones(final.shape[0], dtype=bool), "end")
        return descriptors, state.returns

    def score(self, state: GymState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        descriptors, returns = self.outcome(state)
        threshold = self.spec.reward_areas[0].threshold  # type: ignore[union-attr]
        reached = returns >= threshold
        rewards = np.where(reached, returns, 0.0)
        areas = np.where(reached, 0, -1).astype(np.int64)
        return descriptors, rewards, areas

    def extras(self, state: GymState) -> dict[str, np.ndarray]:
        return {"episode_return": state.returns.copy(), "episode_length": state.lengths.copy()}

    def close(self) -> None:
        """Close every cached vector environment."""
        for envs in self._vector_envs.values():
            envs.close()
        self._vector_envs.clear()
