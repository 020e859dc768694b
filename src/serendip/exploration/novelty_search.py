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
from serendip.pareto import nsga2_select
from serendip.policies import GENOME_HIGH, GENOME_LOW, random_genomes
from serendip.tasks import EvaluationBatch

ARCHIVE_SELECTIONS = ("random", "novel")
# Survivor selection criteria: NS and SERENE use novelty; TAXONS/STAX flip a fair coin
# between novelty and surprise every generation; the -P variants run NSGA-II on both;
# the ablations use one of the two.
SELECTIONS = ("novelty", "surprise", "novelty-or-surprise", "pareto")


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
    needs_frames: bool

    def describe(self, batch: EvaluationBatch) -> np.ndarray: ...


class SurpriseSpace(BehaviorSpace, Protocol):
    def encode(self, frames: np.ndarray) -> np.ndarray: ...

    def encode_with_surprise(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


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
        frames=batch.frames,
    )


class NoveltySearch:
    """The novelty-search exploration process over a behavior space.

    Args:
        config: the process's parameters.
        genome_size: policy genome length.
        ground_truth_size: size of the task's ground-truth descriptor.
        space: where descriptors come from.
        reward_archive: shared archive of rewarding agents (a reference for novelty).
        rng: this process's generator (mutations, archive draws, criterion coin).
        selection: survivor selection criterion, one of :data:`SELECTIONS`; the
            criteria other than ``"novelty"`` need a space that measures surprise.
        n_frames: frames per agent kept with the agents (0 for hand-designed spaces).
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
        selection: str = "novelty",
        n_frames: int = 0,
    ) -> None:
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        self.config = config
        self.genome_size = genome_size
        self.space = space
        self.rng = rng
        self.selection = selection
        self.reward_archive = reward_archive
        self.n_frames = n_frames
        sizes = (genome_size, space.descriptor_size, ground_truth_size, n_frames)
        self.novelty_archive = Archive(*sizes)
        self.population = Agents.empty(*sizes)
        self.population_novelty = np.empty(0)
        self.population_surprise = np.empty(0)
        # The last generation's offspring and pre-selection genomes: the autoencoder
        # trains on the former, candidate emitters take their step size from the latter.
        self.last_offspring = Agents.empty(*sizes)
        self.last_generation_genomes = np.empty((0, genome_size))
        self.last_generation_indices = np.empty(0, dtype=np.int64)
        self.generation = 0
        self.last_criterion = "novelty"

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
        initial = len(self.population) == 0
        # The criterion is drawn before encoding: surprise (a decoder pass) is computed
        # only in generations that select on it, and lazily for survivors that lack it.
        criterion = "novelty" if initial else self._draw_criterion()
        if criterion != "novelty":
            descriptors, surprise = self.space.encode_with_surprise(batch.frames)  # type: ignore[attr-defined]
        else:
            descriptors, surprise = self.space.describe(batch), np.full(len(genomes), np.nan)
        agents = evaluated_agents(genomes, batch, indices, descriptors)
        # Keep frames only when the space needs them (a hand-designed space run with
        # frames on, e.g. for a report, must not hold them, nor mix frame counts).
        agents.frames = agents.frames[:, : self.n_frames]
        if initial:
            self.population = agents
            self.population_novelty = self.novelty_of(agents, self.population)
            self.population_surprise = surprise
            self.last_generation_genomes = agents.genomes
            self.last_generation_indices = agents.indices
        else:
            self._generation(agents, surprise, criterion)
        # Every exploration agent with a reward is kept (and, in SERENE/STAX, seeds emitters).
        self.reward_archive.add(agents.take(agents.rewards > 0))
        self.generation += 1
        return agents

    def _draw_criterion(self) -> str:
        """This generation's criterion: TAXONS flips a fair coin between novelty and surprise."""
        criterion = self.selection
        if criterion == "novelty-or-surprise":
            criterion = "novelty" if self.rng.random() < 0.5 else "surprise"
        self.last_criterion = criterion
        return criterion

    def _generation(
        self, offspring: Agents, offspring_surprise: np.ndarray, criterion: str
    ) -> None:
        if criterion != "novelty":
            self._fill_population_surprise()
        candidates = Agents.concat(self.population, offspring)
        novelty_scores = self.novelty_of(candidates, candidates)
        surprise_scores = np.concatenate([self.population_surprise, offspring_surprise])
        self._insert_into_archive(offspring, novelty_scores[len(self.population) :])
        survivors = self.select(novelty_scores, surprise_scores, criterion)
        self.last_offspring = offspring
        self.last_generation_genomes = candidates.genomes
        self.last_generation_indices = candidates.indices
        self.population = candidates.take(survivors)
        self.population_novelty = novelty_scores[survivors]
        self.population_surprise = surprise_scores[survivors]

    def _fill_population_surprise(self) -> None:
        """Surprise (current autoencoder) of the members that entered without one."""
        missing = np.flatnonzero(np.isnan(self.population_surprise))
        if missing.size:
            self.population_surprise[missing] = self.space.surprise(  # type: ignore[attr-defined]
                self.population.frames[missing]
            )

    def select(
        self, novelty_scores: np.ndarray, surprise_scores: np.ndarray, criterion: str
    ) -> np.ndarray:
        """Rows of population ∪ offspring that survive: (mu + lambda) by ``criterion``."""
        mu = self.config.population_size
        if criterion == "pareto":
            return nsga2_select(np.stack([novelty_scores, surprise_scores], axis=1), mu)
        scores = novelty_scores if criterion == "novelty" else surprise_scores
        return np.argsort(-scores, kind="stable")[:mu]

    def reencode(self) -> None:
        """Recompute descriptors of the population, the last offspring and the novelty archive.

        Called after the learned space changes. The population's novelty is
        recomputed too, since every distance has changed; its surprise is
        forgotten and measured again (lazily) by the next generation that needs it.
        """
        population = self.population
        population.descriptors = self.space.encode(population.frames)  # type: ignore[attr-defined]
        self.population_surprise = np.full(len(population), np.nan)
        if len(self.novelty_archive):
            archived = self.novelty_archive.agents.frames
            self.novelty_archive.set_descriptors(self.space.encode(archived))  # type: ignore[attr-defined]
        if len(self.last_offspring):
            self.last_offspring.descriptors = self.space.encode(self.last_offspring.frames)  # type: ignore[attr-defined]
        self.population_novelty = self.novelty_of(population, population)

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
            "population.surprise": self.population_surprise,
            **self.novelty_archive.arrays("novelty_archive."),
            **self.last_offspring.arrays("last_offspring."),
            "last_generation_genomes": self.last_generation_genomes,
            "last_generation_indices": self.last_generation_indices,
        }

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.population = Agents.from_arrays(arrays, "population.")
        self.population_novelty = np.asarray(arrays["population.novelty"])
        self.population_surprise = np.asarray(arrays["population.surprise"])
        self.novelty_archive = Archive.from_agents(Agents.from_arrays(arrays, "novelty_archive."))
        self.last_offspring = Agents.from_arrays(arrays, "last_offspring.")
        self.last_generation_genomes = np.asarray(arrays["last_generation_genomes"])
        self.last_generation_indices = np.asarray(arrays["last_generation_indices"])
