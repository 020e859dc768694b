"""The batched task interface every task implements.

A task runs one episode for each genome of a batch, stepping the whole batch at
once (no per-agent Python loop), and returns struct-of-arrays results
(:class:`EvaluationBatch`). Subclasses provide ``reset``/``observe``/``step``/
``render`` over a batch state; :meth:`Task.evaluate` owns the episode loop, the
frame sampling and the reward, so every task samples frames and scores rewards
the same way.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from serendip.errors import ConfigError
from serendip.policies import MLPPolicy

FRAME_SIZE = 64
MAX_HORIZON = 10_000_000
"""The longest horizon a task option may set (a typo's 10**12 is refused, not run)."""
MAX_REWARD_AREAS = 64


@dataclass(frozen=True)
class RewardArea:
    """A circular reward area: reward ``(r - d) / r`` at distance ``d < r`` from the centre."""

    center: tuple[float, float]
    radius: float


@dataclass(frozen=True)
class ReturnThreshold:
    """A reward "area" reached when the episode return is at least ``threshold`` (gym tasks)."""

    threshold: float


@dataclass(frozen=True)
class EpisodeSuccess:
    """A reward "area" reached when the environment signals success (gym tasks).

    ``rule`` is ``positive-reward`` (the environment gave a positive reward) or
    ``info-success`` (``info["is_success"]`` or ``info["success"]`` at the end).
    """

    rule: str


class TaskError(RuntimeError):
    """A task cannot be built or an episode cannot be run (bad environment, bad input)."""


@dataclass(frozen=True)
class TaskSpec:
    """Static facts about a task, used by algorithms, metrics and the command line."""

    name: str
    summary: str
    observation_size: int
    action_size: int
    horizon: int
    hidden_layers: int
    hidden_width: int
    reward_areas: tuple[RewardArea | ReturnThreshold | EpisodeSuccess, ...]
    descriptor_low: tuple[float, ...]
    descriptor_high: tuple[float, ...]
    descriptor_names: tuple[str, ...]
    grid_shape: tuple[int, ...] = (50, 50)

    @property
    def descriptor_size(self) -> int:
        return len(self.descriptor_low)

    def policy(self) -> MLPPolicy:
        return MLPPolicy(
            input_size=self.observation_size,
            output_size=self.action_size,
            hidden_layers=self.hidden_layers,
            hidden_width=self.hidden_width,
        )

    @property
    def genome_size(self) -> int:
        return self.policy().genome_size


@dataclass
class EvaluationBatch:
    """Results of one batch of episodes, one row per genome.

    Attributes:
        rewards: ``(N,)`` episode reward.
        reward_areas: ``(N,)`` index of the reward area reached, -1 for none.
        descriptors: ``(N, D)`` ground-truth descriptor (final outcome).
        frames: ``(N, S, 64, 64, 3)`` uint8 frames at the sampling times (S may be 0).
        final_observations: ``(N, obs)`` last observation.
    """

    rewards: np.ndarray
    reward_areas: np.ndarray
    descriptors: np.ndarray
    frames: np.ndarray
    final_observations: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @classmethod
    def concat(cls, batches: Sequence[EvaluationBatch]) -> EvaluationBatch:
        """The batches one after another, in order (the shares of a split batch)."""
        if not batches:
            raise ValueError("concat needs at least one batch")
        if len(batches) == 1:
            return batches[0]
        keys = batches[0].extras.keys()
        if any(batch.extras.keys() != keys for batch in batches):
            raise ValueError("batches to concatenate must have the same extras")
        return cls(
            rewards=np.concatenate([b.rewards for b in batches]),
            reward_areas=np.concatenate([b.reward_areas for b in batches]),
            descriptors=np.concatenate([b.descriptors for b in batches]),
            frames=np.concatenate([b.frames for b in batches]),
            final_observations=np.concatenate([b.final_observations for b in batches]),
            extras={key: np.concatenate([b.extras[key] for b in batches]) for key in keys},
        )


def _number(value: Any) -> float | None:
    """``value`` as a finite float, None when it is not a finite number (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _horizon_option(value: Any) -> int:
    number = _number(value)
    if number is None or not number.is_integer() or not 1 <= number <= MAX_HORIZON:
        raise ConfigError(
            "task_options.horizon", f"must be an integer in [1, {MAX_HORIZON:,}], got {value!r}"
        )
    return int(number)


def _reward_areas_option(
    value: Any, box: tuple[tuple[float, ...], tuple[float, ...]] | None
) -> list[dict[str, Any]]:
    """Reward areas as ``[{center: [x, y], radius: r}, ...]``; centres inside ``box``."""
    name = "task_options.reward_areas"
    shape = "a list of {center: [x, y], radius: r}"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise ConfigError(name, f"must be {shape} (at least one), got {value!r}")
    if len(value) > MAX_REWARD_AREAS:
        raise ConfigError(name, f"at most {MAX_REWARD_AREAS} areas, got {len(value)}")
    areas = []
    for i, area in enumerate(value):
        if isinstance(area, RewardArea):
            area = {"center": list(area.center), "radius": area.radius}
        if not isinstance(area, Mapping) or set(area) != {"center", "radius"}:
            raise ConfigError(
                f"{name}[{i}]", f"must be {{center: [x, y], radius: r}}, got {area!r}"
            )
        center, radius = area["center"], _number(area["radius"])
        if isinstance(center, str | bytes) or not isinstance(center, Sequence):
            center = ()
        xy = [_number(c) for c in center]
        if len(xy) != 2 or None in xy:
            raise ConfigError(
                f"{name}[{i}].center", f"must be two numbers [x, y], got {area['center']!r}"
            )
        if box is not None and not all(lo <= c <= hi for c, lo, hi in zip(xy, *box, strict=True)):
            raise ConfigError(
                f"{name}[{i}].center",
                f"must lie in the task's world [{box[0][0]:g}, {box[1][0]:g}] x "
                f"[{box[0][1]:g}, {box[1][1]:g}], got {list(center)!r}",
            )
        if radius is None or radius <= 0:
            raise ConfigError(
                f"{name}[{i}].radius", f"must be a positive number, got {area['radius']!r}"
            )
        areas.append({"center": xy, "radius": radius})
    return areas


def frame_times(horizon: int, n_frames: int) -> np.ndarray:
    """Steps after which a frame is rendered: ``ceil(linspace(0, T-1, S+1)[1:])``."""
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    return np.ceil(np.linspace(0, horizon - 1, n_frames + 1)[1:]).astype(np.int64)


def area_rewards(
    points: np.ndarray, areas: tuple[RewardArea, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse reward of final points ``(N, 2)``: ``(r - d)/r`` inside an area, else 0.

    Returns ``(rewards, area_index)`` with ``area_index = -1`` outside every area.
    Areas are assumed disjoint; should two overlap, the first listed wins.
    """
    n = points.shape[0]
    rewards = np.zeros(n)
    index = np.full(n, -1, dtype=np.int64)
    for i, area in enumerate(areas):
        d = np.hypot(points[:, 0] - area.center[0], points[:, 1] - area.center[1])
        inside = (d < area.radius) & (index < 0)
        rewards[inside] = (area.radius - d[inside]) / area.radius
        index[inside] = i
    return rewards, index


class Task(abc.ABC):
    """A batched, deterministic sparse-reward task.

    Args:
        n_frames: frames per episode ``S`` (0 skips rendering).
        options: task options (a config's ``task_options``), among
            :attr:`option_names`: ``horizon`` (steps per episode) and ``reward_areas``
            (a list of ``{center: [x, y], radius: r}`` replacing the task's areas, in
            the task's world units). Leaving them out keeps the task as specified,
            bit for bit.
    """

    spec: TaskSpec
    option_names: ClassVar[tuple[str, ...]] = ("horizon", "reward_areas")
    """The task options this task accepts (:meth:`check_options`)."""
    parallel_batch: ClassVar[int | None] = None
    """The smallest batch whose episodes pay for stepping in worker processes when a
    run evaluates in process (:class:`serendip.evaluation.InProcess`); None: never
    (the built-in tasks step whole batches in compiled code)."""

    def __init__(self, *, n_frames: int = 0, **options: Any) -> None:
        if int(n_frames) != n_frames or n_frames < 0:
            raise ValueError(f"n_frames must be an integer >= 0, got {n_frames!r}")
        if options:
            self.spec = type(self).configured_spec(options)
        self.n_frames = int(n_frames)
        self.policy = self.spec.policy()

    # --- task options -------------------------------------------------------------
    @classmethod
    def check_options(cls, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """``options`` validated, as plain data (what a config records).

        Raises:
            ConfigError: an unknown option (the accepted ones listed) or a bad value,
                named ``task_options.<option>``.
        """
        options = dict(options or {})
        for key in options:
            if key not in cls.option_names:
                accepted = ", ".join(cls.option_names) or "none"
                name = getattr(getattr(cls, "spec", None), "name", cls.__name__)
                raise ConfigError(
                    f"task_options.{key}", f"not an option of task {name!r}; accepted: {accepted}"
                )
        checked: dict[str, Any] = {}
        if "horizon" in options:
            checked["horizon"] = _horizon_option(options["horizon"])
        if "reward_areas" in options:
            world = getattr(cls, "viewport", None)
            box = None if world is None else (tuple(world.low), tuple(world.high))
            checked["reward_areas"] = _reward_areas_option(options["reward_areas"], box)
        return checked

    @classmethod
    def configured_spec(cls, options: Mapping[str, Any] | None) -> TaskSpec:
        """The task's spec with ``options`` applied (validated by :meth:`check_options`)."""
        checked = cls.check_options(options)
        changes: dict[str, Any] = {}
        if "horizon" in checked:
            changes["horizon"] = checked["horizon"]
        if "reward_areas" in checked:
            changes["reward_areas"] = tuple(
                RewardArea((area["center"][0], area["center"][1]), area["radius"])
                for area in checked["reward_areas"]
            )
        return dataclasses.replace(cls.spec, **changes) if changes else cls.spec

    @property
    def genome_size(self) -> int:
        return self.policy.genome_size

    # --- what a task implements -------------------------------------------------
    @abc.abstractmethod
    def reset(self, n: int, episode_seeds: np.ndarray) -> Any:
        """Initial state of ``n`` episodes."""

    @abc.abstractmethod
    def observe(self, state: Any) -> np.ndarray:
        """Observations ``(N, observation_size)``."""

    @abc.abstractmethod
    def step(self, state: Any, actions: np.ndarray) -> None:
        """Advance every episode one step, in place. Ended episodes must not change."""

    @abc.abstractmethod
    def render(self, state: Any) -> np.ndarray:
        """Frames ``(N, 64, 64, 3)`` uint8 of the current state."""

    @abc.abstractmethod
    def outcome(self, state: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(ground-truth descriptors (N, D), reward points (N, 2))`` at the end."""

    def score(self, state: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(descriptors, rewards, reward areas)`` at the end of the episodes.

        The default scores ``outcome``'s reward points against the spec's circular
        reward areas; a task whose reward is not a place (gym returns) overrides it.
        """
        descriptors, points = self.outcome(state)
        rewards, areas = area_rewards(points, self.spec.reward_areas)  # type: ignore[arg-type]
        return descriptors, rewards, areas

    def extras(self, state: Any) -> dict[str, np.ndarray]:
        """Per-episode arrays beyond the standard ones (``EvaluationBatch.extras``)."""
        return {}

    def close(self) -> None:
        """Release what the task holds (environments, workers); it may not be used after."""
        return None

    def advance(self, state: Any, genomes: np.ndarray, steps: int) -> None:
        """Run ``steps`` control steps of every episode under its genome's policy, in place.

        The default steps the batch through ``observe``/``policy``/``step``; a task
        whose steps are cheap overrides it with a compiled rollout, which removes
        the per-step NumPy overhead that dominates small batches (emitters ask for 6).
        """
        layers = self.policy.unpack(genomes)
        for _ in range(steps):
            self.step(state, self.policy.forward(layers, self.observe(state)))

    # --- the shared episode loop ---------------------------------------------------
    def evaluate(
        self, genomes: np.ndarray, *, episode_seeds: np.ndarray | None = None
    ) -> EvaluationBatch:
        """Run one episode per genome, all at once.

        Args:
            genomes: ``(N, genome_size)`` policy parameters.
            episode_seeds: ``(N,)`` integers seeding any per-episode randomness
                (tasks that have none ignore them); defaults to ``arange(N)``.
        """
        genomes = self.policy.checked(genomes)
        n = genomes.shape[0]
        if episode_seeds is None:
            episode_seeds = np.arange(n, dtype=np.int64)
        state = self.reset(n, np.asarray(episode_seeds))
        times = frame_times(self.spec.horizon, self.n_frames)
        frames = np.zeros((n, self.n_frames, FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
        done = 0  # steps taken so far; a frame at time t is rendered after step t
        for i, t in enumerate(times):
            if i > 0 and times[i - 1] == t:
                # Several sampling times coincide when S > T: render once, copy.
                frames[:, i] = frames[:, i - 1]
                continue
            self.advance(state, genomes, int(t) + 1 - done)
            done = int(t) + 1
            frames[:, i] = self.render(state)
        self.advance(state, genomes, self.spec.horizon - done)
        descriptors, rewards, areas = self.score(state)
        return EvaluationBatch(
            rewards=rewards,
            reward_areas=areas,
            descriptors=descriptors,
            frames=frames,
            final_observations=self.observe(state),
            extras=self.extras(state),
        )
