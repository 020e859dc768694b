"""What every emitter shares: the ask/tell contract, reward history, trial and stopping tests.

An emitter is a local optimizer seeded at a rewarding solution (its ancestor)
with an initial step size ``sigma0`` (spec §3). The algorithm asks it for a
batch of genomes, evaluates them wherever it likes and tells it the rewards;
the emitter keeps the rewards of every told batch (one batch = one generation,
the initial population being generation 1), from which the trial test, the
improvement used to choose between emitters and the stagnation test follow.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np

from serendip.archives import AddInfo
from serendip.policies import GENOME_HIGH, GENOME_LOW
from serendip.rng import restore_rng, rng_state

DEFAULT_POPULATION_SIZE = 6
FALLBACK_SIGMA = 0.05
TREND_GENERATIONS = 3  # generations compared by improvement() and trial_passed()
STAGNATION_SPAN = 20  # generations at each end of the stagnation window


def initial_sigma(genome: np.ndarray, others: np.ndarray) -> float:
    """Step size of a candidate emitter: a third of the distance to its nearest neighbour.

    Args:
        genome: ``(G,)`` the candidate's genome.
        others: ``(N, G)`` genomes it is compared with (population ∪ offspring, the
            candidate itself excluded by the caller).

    Returns:
        One third of the Euclidean distance to the nearest row of ``others``, or 0.05
        when that distance is 0 or ``others`` is empty (spec §3).
    """
    others = np.asarray(others, dtype=np.float64).reshape(-1, np.asarray(genome).shape[-1])
    if others.shape[0] == 0:
        return FALLBACK_SIGMA
    nearest = float(np.sqrt(((others - np.asarray(genome, dtype=np.float64)) ** 2).sum(1).min()))
    return nearest / 3.0 if nearest > 0 else FALLBACK_SIGMA


def stagnation_window(genome_size: int) -> int:
    """W = floor(20·n/6 + 120) generations for genome size n (880 for n = 228)."""
    return (20 * genome_size) // 6 + 120


def stagnated(history: list[np.ndarray], genome_size: int, *, window: int | None = None) -> bool:
    """SERENE's stagnation test on an emitter's per-generation rewards.

    Once more than ``window`` generations have run, compare the first 20 and the
    last 20 generations of the last ``window``: the emitter has stagnated when the
    early median reward is at least the late one, or the early maximum at least the
    late one. Medians and maxima pool all rewards of those generations.

    Args:
        history: rewards of each generation, oldest first.
        genome_size: n in the default window W = floor(20·n/6 + 120).
        window: overrides W (tests, short runs).
    """
    span = stagnation_window(genome_size) if window is None else int(window)
    if span < 1:
        raise ValueError(f"window must be >= 1, got {span}")
    if len(history) <= span:
        return False
    recent = history[-span:]
    early = np.concatenate(recent[:STAGNATION_SPAN])
    late = np.concatenate(recent[-STAGNATION_SPAN:])
    return bool(np.median(early) >= np.median(late) or early.max() >= late.max())


def saved_history(state: dict[str, Any]) -> list[np.ndarray]:
    """The per-generation rewards an emitter's state holds, oldest first."""
    rewards = np.asarray(state["history_rewards"], dtype=np.float64)
    sizes = np.asarray(state["history_sizes"], dtype=np.int64)
    bounds = np.cumsum(sizes)[:-1]
    return [part.copy() for part in np.split(rewards, bounds)] if sizes.size else []


def split_state(state: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """An emitter's :meth:`Emitter.state` as ``(arrays, json data)`` for a checkpoint."""
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    return arrays, {k: v for k, v in state.items() if k not in arrays}


def join_state(arrays: dict[str, np.ndarray], data: dict[str, Any]) -> dict[str, Any]:
    """The state :func:`split_state` split, whole again."""
    return {**data, **arrays}


class Emitter(abc.ABC):
    """A local optimizer around a rewarding ancestor, driven by ask/tell.

    Args:
        emitter_id: identity of the emitter within a run.
        ancestor_genome: ``(G,)`` genome of the rewarding solution it starts from.
        ancestor_index: evaluation index of that solution.
        sigma0: initial step size.
        rng: the emitter's own generator; every random draw of the emitter uses it.
        population_size: individuals per generation (parents for the elitist emitter).

    Attributes:
        history: rewards of each told batch, oldest first.
        best_reward: highest reward told so far (-inf before the first tell).
        best_genome: genome that got ``best_reward`` (the ancestor before the first tell).
    """

    kind: ClassVar[str]

    def __init__(
        self,
        *,
        emitter_id: int,
        ancestor_genome: np.ndarray,
        ancestor_index: int,
        sigma0: float,
        rng: np.random.Generator,
        population_size: int = DEFAULT_POPULATION_SIZE,
        genome_bounds: tuple[float, float] = (GENOME_LOW, GENOME_HIGH),
    ) -> None:
        genome = np.asarray(ancestor_genome, dtype=np.float64)
        if genome.ndim != 1:
            raise ValueError(f"ancestor_genome must be 1-D, got shape {genome.shape}")
        if not sigma0 > 0:
            raise ValueError(f"sigma0 must be > 0, got {sigma0}")
        if population_size < 1:
            raise ValueError(f"population_size must be >= 1, got {population_size}")
        self.id = int(emitter_id)
        self.ancestor_genome = genome.copy()
        self.ancestor_index = int(ancestor_index)
        self.sigma0 = float(sigma0)
        self.rng = rng
        self.population_size = int(population_size)
        self.genome_bounds = (float(genome_bounds[0]), float(genome_bounds[1]))
        self.history: list[np.ndarray] = []
        self.best_reward = -np.inf
        self.best_genome = genome.copy()
        self._start()

    def _start(self) -> None:  # noqa: B027 (an optional hook: a no-op unless overridden)
        """Kind-specific set-up, once the common attributes exist."""

    @property
    def genome_size(self) -> int:
        return int(self.ancestor_genome.shape[0])

    @property
    def generations(self) -> int:
        """Generations told so far (the initial population is generation 1)."""
        return len(self.history)

    # --- ask / tell ------------------------------------------------------------------
    @abc.abstractmethod
    def ask(self) -> np.ndarray:
        """The next batch of genomes to evaluate, ``(n, G)``, within the genome bounds."""

    @abc.abstractmethod
    def tell(
        self, genomes: np.ndarray, rewards: np.ndarray, add_info: AddInfo | None = None
    ) -> None:
        """Rewards of the batch the last :meth:`ask` returned (the same genomes, same order).

        ``add_info``: what the reward archive did with each of them (pyribs' pattern),
        for emitters that rank by it; SERENE's emitters rank by reward alone.
        """

    def _record(self, genomes: np.ndarray, rewards: np.ndarray) -> None:
        self.history.append(rewards.copy())
        best = int(np.argmax(rewards))
        if rewards[best] > self.best_reward:
            self.best_reward = float(rewards[best])
            self.best_genome = genomes[best].copy()

    # --- tests on the history --------------------------------------------------------
    def _trend(self) -> tuple[float, float]:
        first = np.concatenate(self.history[:TREND_GENERATIONS])
        last = np.concatenate(self.history[-TREND_GENERATIONS:])
        return float(first.mean()), float(last.mean())

    def improvement(self) -> float:
        """max(mean reward of the last 3 generations − mean of the first 3, 0)."""
        if not self.history:
            return 0.0
        first, last = self._trend()
        return max(last - first, 0.0)

    def trial_passed(self) -> bool:
        """Whether the mean reward of the last 3 generations beats (>) the first 3's."""
        if not self.history:
            return False
        first, last = self._trend()
        return last > first

    def stagnated(self, *, window: int | None = None) -> bool:
        """SERENE's stagnation test on this emitter's history (see :func:`stagnated`)."""
        return stagnated(self.history, self.genome_size, window=window)

    def should_stop(self, max_generations: int | None = None, *, window: int | None = None) -> bool:
        """Stagnation, or the optimizer's own termination, or the optional generation cap."""
        if max_generations is not None and self.generations >= max_generations:
            return True
        return self.stagnated(window=window)

    # --- state -----------------------------------------------------------------------
    def _base_state(self) -> dict[str, Any]:
        sizes = np.array([h.size for h in self.history], dtype=np.int64)
        rewards = np.concatenate(self.history) if self.history else np.empty(0)
        return {
            "kind": self.kind,
            "id": self.id,
            "ancestor_index": self.ancestor_index,
            "sigma0": self.sigma0,
            "population_size": self.population_size,
            "genome_bounds": list(self.genome_bounds),
            "rng": rng_state(self.rng),
            "best_reward": None if np.isneginf(self.best_reward) else self.best_reward,
            "ancestor_genome": self.ancestor_genome.copy(),
            "best_genome": self.best_genome.copy(),
            "history_rewards": rewards,
            "history_sizes": sizes,
        }

    @classmethod
    def _state_arguments(cls, state: dict[str, Any], rng_key: str = "rng") -> dict[str, Any]:
        """Constructor arguments saved by :meth:`_base_state` (the generator from ``rng_key``)."""
        if state["kind"] != cls.kind:
            raise ValueError(f"state is of a {state['kind']!r} emitter, not {cls.kind!r}")
        return {
            "emitter_id": int(state["id"]),
            "ancestor_genome": np.asarray(state["ancestor_genome"]),
            "ancestor_index": int(state["ancestor_index"]),
            "sigma0": float(state["sigma0"]),
            "rng": restore_rng(state[rng_key]),
            "population_size": int(state["population_size"]),
            "genome_bounds": tuple(state.get("genome_bounds", (GENOME_LOW, GENOME_HIGH))),
        }

    def _load_base_state(self, state: dict[str, Any]) -> None:
        self.history = saved_history(state)
        best = state["best_reward"]
        self.best_reward = -np.inf if best is None else float(best)
        self.best_genome = np.asarray(state["best_genome"], dtype=np.float64).copy()

    def state(self) -> dict[str, Any]:
        """The complete state as plain data: NumPy arrays and JSON-able values."""
        raise NotImplementedError(f"{type(self).__name__} does not export its state")

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Emitter:
        """The emitter exactly as it was when :meth:`state` was called."""
        raise NotImplementedError(f"{cls.__name__} does not restore its state")
