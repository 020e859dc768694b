"""CMA-ES on the reward, with IPOP restarts (spec §5; Auger & Hansen 2005).

::

    mean 0, sigma 0.05, population 6 (spec §5); one generation per batch
    tell: rank the batch by reward and pass the ranks to CMA-ES (the ``cma`` package)
    restart when cma's own termination criteria fire, or when the best reward has not
        improved for ``patience`` generations: a new CMA-ES from the best genome found
        so far, sigma 0.05 again, population times ``population_growth`` (IPOP), at most
        ``max_population_size``

Ties at zero: with a sparse reward most batches score 0 everywhere, which gives
CMA-ES nothing to rank by. Ties are broken uniformly at random by the run's
generator (cma is told the ranks of ``(reward, random key)``), so a flat batch is a
random selection. cma's criteria on f-values are off (ranks are the same numbers
every generation; see :class:`~serendip.emitters.cma_es.RankedCMAESEmitter`), so a
search that finds nothing restarts after ``patience`` generations, or earlier when
its step size or covariance degenerates. "The best
genome found" is the earliest evaluated of those with the highest reward (the very
first genome while every reward is 0).

The reference code's CMA-ES baseline crashed on two tasks; this one is the
maintained ``cma`` package behind serendip's CMA-ES emitter (its state saved by
replay, see :mod:`serendip.emitters.cma_es`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.algorithms import parts
from serendip.algorithms.base import Algorithm, BuildContext, prefixed, unprefixed
from serendip.archives import Agents, RewardArchive
from serendip.emitters import stagnation_window
from serendip.emitters.base import join_state, split_state
from serendip.emitters.cma_es import RankedCMAESEmitter
from serendip.errors import ConfigError
from serendip.exploration.novelty_search import evaluated_agents
from serendip.policies import GENOME_HIGH, GENOME_LOW
from serendip.request import Request
from serendip.rng import restore_rng, rng_state
from serendip.tasks import EvaluationBatch

STATE_VERSION = 1
_RESTART_STREAM = 0xC3A  # emitters of restart r draw from (seed, _RESTART_STREAM, r)


@dataclass(frozen=True)
class CMAESConfig:
    """Parameters of the CMA-ES baseline (defaults: spec §5).

    Attributes:
        population_size: lambda of the first CMA-ES.
        sigma0: initial step size of every restart.
        population_growth: lambda's factor at each restart (2: IPOP; 1: plain restarts).
        max_population_size: lambda never grows past this.
        patience: generations without a new best reward before a restart; None:
            SERENE's stagnation window W = floor(20 n / 6 + 120) for genome size n.
    """

    population_size: int = 6
    sigma0: float = 0.05
    population_growth: float = 2.0
    max_population_size: int = 384
    patience: int | None = None


def ranks_with_random_ties(rng: np.random.Generator, *keys: np.ndarray) -> np.ndarray:
    """Rank of each row by ``keys`` (maximised, the first most significant), 0 for the best.

    Rows equal on every key are ordered at random (one draw of ``n`` uniforms from
    ``rng``). Returns ``(n,)`` int64, a permutation of ``0..n-1``.
    """
    n = len(keys[0])
    columns = [-np.asarray(key, dtype=np.float64) for key in reversed(keys)]
    order = np.lexsort((rng.random(n), *columns))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n)
    return ranks


class CMAES(Algorithm):
    """CMA-ES on the reward with restarts: the objective-only baseline.

    Args:
        genome_size: genes per genome.
        descriptor_size: size of the ground-truth descriptor (stored with the agents).
        config: population, step size, restarts.
        seed: the run's seed (each restart's CMA-ES draws from its own stream of it).
        rng: the tie-breaking draws.
        genome_bounds: genes stay within ``[low, high]``.
        initial_mean: the first CMA-ES's mean (default: the zero genome).
    """

    name = "cma-es"

    def __init__(
        self,
        *,
        genome_size: int,
        descriptor_size: int,
        config: CMAESConfig,
        seed: int,
        rng: np.random.Generator,
        genome_bounds: tuple[float, float] = (GENOME_LOW, GENOME_HIGH),
        initial_mean: np.ndarray | None = None,
    ) -> None:
        self.genome_size = int(genome_size)
        self.config = config
        self.seed = int(seed)
        self.rng = rng
        self.genome_bounds = (float(genome_bounds[0]), float(genome_bounds[1]))
        self.patience = (
            stagnation_window(self.genome_size) if config.patience is None else config.patience
        )
        self.reward_archive = RewardArchive(self.genome_size, descriptor_size, descriptor_size)
        self.population = Agents.empty(self.genome_size, descriptor_size, descriptor_size)
        mean = np.zeros(self.genome_size) if initial_mean is None else np.asarray(initial_mean)
        self.best_reward = -np.inf
        self.best_genome = np.clip(mean, *self.genome_bounds).astype(np.float64)
        self.restarts = 0
        self.since_improvement = 0
        self.es = self._new_es(self.best_genome, config.population_size)

    def _new_es(self, mean: np.ndarray, population_size: int) -> RankedCMAESEmitter:
        return RankedCMAESEmitter(
            emitter_id=self.restarts,
            ancestor_genome=mean,
            ancestor_index=-1,
            sigma0=self.config.sigma0,
            rng=np.random.default_rng([self.seed, _RESTART_STREAM, self.restarts]),
            population_size=population_size,
            genome_bounds=self.genome_bounds,
        )

    def ask(self, max_evaluations: int) -> Request:
        genomes = self.es.ask()
        if len(genomes) > max_evaluations:
            # The budget's last, partial generation: evaluated, never told to cma.
            return Request(genomes[:max_evaluations])
        return Request(genomes)

    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        agents = evaluated_agents(request.genomes, batch, indices, batch.descriptors)
        agents.frames = agents.frames[:, :0]
        self.population = agents
        best = int(np.argmax(agents.rewards))
        improved = agents.rewards > max(self.best_reward, 0.0)
        if improved.any():
            self.reward_archive.offer(agents.take(improved))
        if agents.rewards[best] > self.best_reward:
            self.best_reward = float(agents.rewards[best])
            self.best_genome = agents.genomes[best].copy()
            self.since_improvement = 0
        else:
            self.since_improvement += 1
        if len(agents) < self.es.population_size:
            return  # the partial last generation
        ranks = ranks_with_random_ties(self.rng, agents.rewards)
        # RankedCMAESEmitter maximises what it is told: the negated rank (0 = best).
        self.es.tell(request.genomes, -ranks.astype(np.float64))
        if self.es.termination() or self.since_improvement >= self.patience:
            self._restart()

    def _restart(self) -> None:
        """IPOP: a larger population around the best genome found, from sigma0 again."""
        self.restarts += 1
        self.since_improvement = 0
        size = min(
            round(self.es.population_size * self.config.population_growth),
            self.config.max_population_size,
        )
        self.es = self._new_es(self.best_genome, max(size, self.config.population_size))

    def archives(self) -> dict[str, Agents]:
        return {"population": self.population, "reward_archive": self.reward_archive.agents}

    def summary(self) -> dict[str, Any]:
        return {"restarts": self.restarts, "population_size": self.es.population_size}

    def status(self) -> dict[str, float | int]:
        return {"restarts": self.restarts, "lambda": self.es.population_size}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        es_arrays, es_data = split_state(self.es.state())
        arrays = {
            **self.population.arrays("population."),
            **prefixed("reward_archive.", self.reward_archive.state_dict()[0]),
            **prefixed("es.", es_arrays),
            "best_genome": self.best_genome,
        }
        data = {
            "state_version": STATE_VERSION,
            "rng": rng_state(self.rng),
            "es": es_data,
            "best_reward": None if np.isneginf(self.best_reward) else self.best_reward,
            "restarts": self.restarts,
            "since_improvement": self.since_improvement,
        }
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.population = Agents.from_arrays(arrays, "population.")
        self.reward_archive.load_state_dict(unprefixed("reward_archive.", arrays), {})
        self.es = RankedCMAESEmitter.from_state(join_state(unprefixed("es.", arrays), data["es"]))
        self.best_genome = np.asarray(arrays["best_genome"], dtype=np.float64).copy()
        self.best_reward = -np.inf if data["best_reward"] is None else float(data["best_reward"])
        self.rng = restore_rng(data["rng"])
        self.restarts = int(data["restarts"])
        self.since_improvement = int(data["since_improvement"])


def cma_es(context: BuildContext) -> CMAES:
    """CMA-ES on the reward from the zero genome (or the first initial genome)."""
    section = context.config.cma_es
    if section.max_population_size < section.population_size:
        raise ConfigError(
            "cma_es.max_population_size",
            f"must be >= cma_es.population_size ({section.population_size}), got "
            f"{section.max_population_size}",
        )
    initial = None if context.initial_genomes is None else context.initial_genomes[0]
    return CMAES(
        genome_size=context.genome_size,
        descriptor_size=context.descriptor_size,
        config=section,
        seed=context.seed,
        rng=parts.Streams.of(context.seed).explore,
        genome_bounds=context.genome_bounds,
        initial_mean=initial,
    )
