"""Random search: fresh N(0, 1) genomes every batch, no selection (spec §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.algorithms.base import Algorithm, BuildContext, prefixed, unprefixed
from serendip.archives import Agents, RewardArchive
from serendip.exploration.novelty_search import evaluated_agents
from serendip.policies import GENOME_HIGH, GENOME_LOW, random_genomes
from serendip.request import Request
from serendip.rng import restore_rng, rng_state
from serendip.tasks import EvaluationBatch

STATE_VERSION = 2


@dataclass(frozen=True)
class RandomSearchConfig:
    """Attributes: batch_size: genomes drawn (and evaluated) at a time."""

    batch_size: int = 200


class RandomSearch(Algorithm):
    """The floor every search method must beat."""

    name = "random"

    def __init__(
        self,
        *,
        genome_size: int,
        descriptor_size: int,
        config: RandomSearchConfig,
        rng: np.random.Generator,
        genome_bounds: tuple[float, float] = (GENOME_LOW, GENOME_HIGH),
        initial_genomes: np.ndarray | None = None,
    ):
        self.config = config
        self.genome_size = genome_size
        self.rng = rng
        self.genome_bounds = (float(genome_bounds[0]), float(genome_bounds[1]))
        self.initial_genomes = initial_genomes
        sizes = (genome_size, descriptor_size, descriptor_size)
        self.reward_archive = RewardArchive(*sizes)
        self.population = Agents.empty(*sizes)
        self.batches = 0

    def ask(self, max_evaluations: int) -> Request:
        if self.batches == 0 and self.initial_genomes is not None:
            return Request(np.array(self.initial_genomes[:max_evaluations]))
        n = min(self.config.batch_size, max_evaluations)
        return Request(random_genomes(self.rng, n, self.genome_size, self.genome_bounds))

    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        agents = evaluated_agents(request.genomes, batch, indices, batch.descriptors)
        self.population = agents
        self.reward_archive.offer(agents)
        self.batches += 1

    def archives(self) -> dict[str, Agents]:
        return {"population": self.population, "reward_archive": self.reward_archive.agents}

    def status(self) -> dict[str, float | int]:
        return {"reward_archive": len(self.reward_archive)}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            **self.population.arrays("population."),
            **prefixed("reward_archive.", self.reward_archive.state_dict()[0]),
        }
        data = {"state_version": STATE_VERSION, "rng": rng_state(self.rng), "batches": self.batches}
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.population = Agents.from_arrays(arrays, "population.")
        self.reward_archive.load_state_dict(unprefixed("reward_archive.", arrays), {})
        self.rng = restore_rng(data["rng"])
        self.batches = int(data["batches"])


def random_search(context: BuildContext) -> RandomSearch:
    """Random search, drawing from the run's seed's first stream."""
    return RandomSearch(
        genome_size=context.genome_size,
        descriptor_size=context.descriptor_size,
        config=context.config.random_search,
        rng=np.random.default_rng([context.seed, 0]),
        genome_bounds=context.genome_bounds,
        initial_genomes=context.initial_genomes,
    )
