"""Random search: fresh N(0, 1) genomes every batch, no selection (spec §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.algorithms.base import Algorithm, Request
from serendip.archives import Agents, Archive
from serendip.exploration.novelty_search import evaluated_agents
from serendip.policies import random_genomes
from serendip.rng import restore_rng, rng_state
from serendip.tasks import EvaluationBatch, TaskSpec


@dataclass(frozen=True)
class RandomSearchConfig:
    """Attributes: batch_size: genomes drawn (and evaluated) at a time."""

    batch_size: int = 200


class RandomSearch(Algorithm):
    """The floor every search method must beat."""

    name = "random"

    def __init__(self, *, spec: TaskSpec, config: RandomSearchConfig, rng: np.random.Generator):
        self.config = config
        self.genome_size = spec.genome_size
        self.rng = rng
        self.reward_archive = Archive(spec.genome_size, spec.descriptor_size, spec.descriptor_size)
        self.population = Agents.empty(spec.genome_size, spec.descriptor_size, spec.descriptor_size)
        self.batches = 0

    def ask(self, max_evaluations: int) -> Request:
        n = min(self.config.batch_size, max_evaluations)
        return Request(random_genomes(self.rng, n, self.genome_size))

    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        agents = evaluated_agents(request.genomes, batch, indices, batch.descriptors)
        self.population = agents
        self.reward_archive.add(agents.take(agents.rewards > 0))
        self.batches += 1

    def archives(self) -> dict[str, Agents]:
        return {"population": self.population, "reward_archive": self.reward_archive.agents}

    def status(self) -> dict[str, float | int]:
        return {"reward_archive": len(self.reward_archive)}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            **self.population.arrays("population."),
            **self.reward_archive.arrays("reward_archive."),
        }
        return arrays, {"rng": rng_state(self.rng), "batches": self.batches}

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.population = Agents.from_arrays(arrays, "population.")
        self.reward_archive = Archive.from_agents(Agents.from_arrays(arrays, "reward_archive."))
        self.rng = restore_rng(data["rng"])
        self.batches = int(data["batches"])
