"""Novelty search, the exploration process of NS, TAXONS, SERENE and STAX (spec §1).

One generation: every parent makes ``offspring_per_parent`` Gaussian mutants;
the novelty of population and offspring is measured against population ∪
offspring ∪ novelty archive ∪ reward archive; ``archive_insertions`` offspring
enter the novelty archive; the top ``population_size`` of population ∪
offspring by the selection criterion survive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from serendip.archives import Agents, Archive
from serendip.novelty import novelty
from serendip.policies import GENOME_HIGH, GENOME_LOW, random_genomes
from serendip.tasks import EvaluationBatch

ARCHIVE_SELECTIONS = ("random", "novel")


@dataclass(frozen=True)
class NoveltySearchConfig:
    """Parameters of novelty search (defaults: the papers').

    Attributes:
        population_size: mu.
        offspring_per_parent: lambda / mu.
        mutation_sigma: standard deviation of the Gaussian mutation of every gene.
        k: nearest neighbours in the novelty.
        archive_insertions: offspring added to the novelty archive per generation.
        archive_selection: ``"random"`` (uniform) or ``"novel"`` (the most novel).
    """

    population_size: int = 100
    offspring_per_parent: int = 2
    mutation_sigma: float = 0.05
    k: int = 15
    archive_insertions: int = 5
    archive_selection: str = "random"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class BehaviorSpace(Protocol):
    descriptor_size: int

    def describe(self, batch: EvaluationBatch) -> np.ndarray: ...


def evaluated_agents(
    genomes: np.ndarray, batch: EvaluationBatch, indices: np.ndarray, descriptors: np.ndarray
) -> Agents:
    """Bundle one evaluated batch as :class:`Agents`."""
    return Agents(
        genomes=np.asarray(genomes, dtype=np.float64),
        descriptors=np.asarray(descriptors, dtype=np.float64),
        ground_truth=np.asarray(batch.descriptors, dtype=np.float64),
        rewards=np.asarray(batch.rewards, dtype=np.float64),
        reward_areas=np.asarray(batch.reward_areas, dtype=np.int64),
        indices=np.asarray(indices, dtype=np.int64),
    )


class NoveltySearch:
    """The novelty-search exploration process over a behavior space.

    Args:
        config: the process's parameters.
        genome_size: policy genome length.
        ground_truth_size: size of the task's ground-truth descriptor.
        space: where descriptors come from.
        reward_archive: shared archive of rewarding agents (a reference for novelty).
        rng: this process's generator (mutations and archive draws).
    """

    def __init__(
        self,
        *,
        config: NoveltySearchConfig,
        genome_size: int,
        ground_truth_size: int,
        space: BehaviorSpace,
        reward_archive: Archive,
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.genome_size = genome_size
        self.space = space
        self.rng = rng
        self.reward_archive = reward_archive
        self.novelty_archive = Archive(genome_size, space.descriptor_size, ground_truth_size)
        self.population = Agents.empty(genome_size, space.descriptor_size, ground_truth_size)
        self.population_novelty = np.empty(0)
        self.generation = 0

    # --- ask / tell ------------------------------------------------------------------
    def ask(self, max_evaluations: int) -> np.ndarray:
        """The initial population first, then the offspring of the population."""
        if len(self.population) == 0:
            n = min(self.config.population_size, max_evaluations)
            return random_genomes(self.rng, n, self.genome_size)
        parents = np.repeat(np.arange(len(self.population)), self.config.offspring_per_parent)
        noise = self.rng.normal(0.0, self.config.mutation_sigma, (parents.size, self.genome_size))
        offspring = np.clip(self.population.genomes[parents] + noise, GENOME_LOW, GENOME_HIGH)
        return offspring[:max_evaluations]

    def tell(self, genomes: np.ndarray, batch: EvaluationBatch, indices: np.ndarray) -> Agents:
        """Integrate an evaluated batch (initial population or offspring); returns it as agents."""
        agents = evaluated_agents(genomes, batch, indices, self.space.describe(batch))
        if len(self.population) == 0:
            self.population = agents
            self.population_novelty = self.novelty_of(agents, self.population)
        else:
            self._generation(agents)
        # Every exploration agent with a reward is kept (and, in SERENE/STAX, seeds emitters).
        self.reward_archive.add(agents.take(agents.rewards > 0))
        self.generation += 1
        return agents

    def _generation(self, offspring: Agents) -> None:
        candidates = Agents.concat(self.population, offspring)
        scores = self.novelty_of(candidates, candidates)
        self._insert_into_archive(offspring, scores[len(self.population) :])
        survivors = self.select(candidates, scores)
        self.population = candidates.take(survivors)
        self.population_novelty = scores[survivors]

    # --- pieces the learned-space variants replace ------------------------------------
    def select(self, candidates: Agents, novelty_scores: np.ndarray) -> np.ndarray:
        """Rows of ``candidates`` that survive: (mu + lambda), top mu by novelty."""
        order = np.argsort(-novelty_scores, kind="stable")
        return order[: self.config.population_size]

    def novelty_of(self, queries: Agents, current: Agents) -> np.ndarray:
        """Novelty against ``current`` (population ∪ offspring) ∪ both archives."""
        archive = self.novelty_archive.agents
        rewarded = self.reward_archive.agents
        reference = np.concatenate([current.descriptors, archive.descriptors, rewarded.descriptors])
        ids = np.concatenate([current.indices, archive.indices, rewarded.indices])
        return novelty(queries.descriptors, queries.indices, reference, ids, k=self.config.k)

    def _insert_into_archive(self, offspring: Agents, offspring_novelty: np.ndarray) -> None:
        n = min(self.config.archive_insertions, len(offspring))
        if self.config.archive_selection == "novel":
            chosen = np.argsort(-offspring_novelty, kind="stable")[:n]
        else:
            chosen = self.rng.choice(len(offspring), size=n, replace=False)
        self.novelty_archive.add(offspring.take(np.sort(chosen)))

    # --- state -------------------------------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        return {
            **self.population.arrays("population."),
            "population.novelty": self.population_novelty,
            **self.novelty_archive.arrays("novelty_archive."),
        }

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.population = Agents.from_arrays(arrays, "population.")
        self.population_novelty = np.asarray(arrays["population.novelty"])
        self.novelty_archive = Archive.from_agents(Agents.from_arrays(arrays, "novelty_archive."))
