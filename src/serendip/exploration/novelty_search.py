"""Novelty search, the exploration process of NS, TAXONS, SERENE and STAX (spec §1).

One generation: every parent makes ``offspring_per_parent`` Gaussian mutants;
the novelty of population and offspring is measured against population ∪
offspring ∪ novelty archive ∪ reward archive; ``archive_insertions`` offspring
enter the novelty archive; the top ``population_size`` of population ∪
offspring by the selection criterion survive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from serendip.archives import ARCHIVE_SELECTIONS, Agents, NoveltyArchive, RewardArchive
from serendip.behavior import BehaviorSpace
from serendip.exploration.rankers import (
    LOCAL_COMPETITION,
    NOVELTY,
    REWARD,
    SURPRISE,
    Ranker,
    TopRanker,
)
from serendip.novelty import ReferenceSet
from serendip.policies import GENOME_HIGH, GENOME_LOW, random_genomes
from serendip.rng import restore_rng, rng_state
from serendip.tasks import EvaluationBatch

__all__ = ["ARCHIVE_SELECTIONS", "NoveltySearch", "NoveltySearchConfig", "evaluated_agents"]


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
        selection: survivor selection (a ranker of :mod:`serendip.exploration.rankers`);
            ``None`` takes the algorithm's own (novelty for NS and SERENE, the coin
            between novelty and surprise for TAXONS and STAX).
    """

    population_size: int = 100
    offspring_per_parent: int = 2
    mutation_sigma: float = 0.05
    k: int = 15
    archive_insertions: int = 5
    archive_selection: str = "random"
    selection: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        reward_archive: the shared archive of rewarding agents (a reference for novelty).
        rng: this process's generator (initial genomes, mutations, archive draws, coin).
        ranker: survivor selection; one that needs surprise needs a space measuring it.
        n_frames: frames per agent kept with the agents (0 when the space needs none).
        genome_bounds: genes are clipped to ``[low, high]``.
        initial_genomes: the initial population, ``(m, genome_size)``; default:
            ``population_size`` genomes with genes ~ N(0, 1) clipped to the bounds.
    """

    def __init__(
        self,
        *,
        config: NoveltySearchConfig,
        genome_size: int,
        ground_truth_size: int,
        space: BehaviorSpace,
        reward_archive: RewardArchive,
        rng: np.random.Generator,
        ranker: Ranker | None = None,
        n_frames: int = 0,
        genome_bounds: tuple[float, float] = (GENOME_LOW, GENOME_HIGH),
        initial_genomes: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.genome_size = genome_size
        self.space = space
        self.rng = rng
        self.ranker: Ranker = ranker if ranker is not None else TopRanker(NOVELTY)
        if SURPRISE in self.ranker.criteria and not space.measures_surprise:
            raise ValueError(f"ranker {self.ranker.name!r} needs a space that measures surprise")
        self.reward_archive = reward_archive
        self.n_frames = n_frames
        self.genome_bounds = (float(genome_bounds[0]), float(genome_bounds[1]))
        self.initial_genomes = None if initial_genomes is None else np.array(initial_genomes)
        sizes = (genome_size, space.descriptor_size, ground_truth_size, n_frames)
        self.novelty_archive = NoveltyArchive(
            *sizes, insertions=config.archive_insertions, selection=config.archive_selection
        )
        self.population = Agents.empty(*sizes)
        self.population_novelty = np.empty(0)
        self.population_surprise = np.empty(0)
        # The last generation's offspring and pre-selection genomes: the autoencoder
        # trains on the former, candidate emitters take their step size from the latter.
        self.last_offspring = Agents.empty(*sizes)
        self.last_generation_genomes = np.empty((0, genome_size))
        self.last_generation_indices = np.empty(0, dtype=np.int64)
        self.generation = 0
        self.last_criterion = NOVELTY
        self._reference_key: tuple[int, ...] | None = None
        self._reference: ReferenceSet | None = None

    # --- ask / tell ------------------------------------------------------------------
    def ask(self, max_evaluations: int) -> np.ndarray:
        """The initial population first, then the offspring of the population."""
        if len(self.population) == 0:
            if self.initial_genomes is not None:
                return self.initial_genomes[:max_evaluations].copy()
            n = min(self.config.population_size, max_evaluations)
            return random_genomes(self.rng, n, self.genome_size, self.genome_bounds)
        parents = np.repeat(np.arange(len(self.population)), self.config.offspring_per_parent)
        noise = self.rng.normal(0.0, self.config.mutation_sigma, (parents.size, self.genome_size))
        offspring = np.clip(self.population.genomes[parents] + noise, *self.genome_bounds)
        return offspring[:max_evaluations]

    def tell(self, genomes: np.ndarray, batch: EvaluationBatch, indices: np.ndarray) -> Agents:
        """Integrate an evaluated batch (initial population or offspring); returns it as agents."""
        initial = len(self.population) == 0
        # The ranker is drawn before encoding: surprise (a decoder pass) is computed
        # only in generations that select on it, and lazily for survivors that lack it.
        ranker = self.ranker if initial else self._draw_ranker()
        if not initial and SURPRISE in ranker.criteria:
            descriptors, surprise = self.space.describe_with_surprise(batch)  # type: ignore[attr-defined]
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
            self._generation(agents, surprise, ranker)
        # Every exploration agent with a reward is kept (and, in SERENE/STAX, seeds emitters).
        self.reward_archive.offer(agents)
        self.generation += 1
        return agents

    def _draw_ranker(self) -> Ranker:
        """This generation's ranker: TAXONS flips a fair coin between novelty and surprise."""
        ranker = self.ranker.draw(self.rng)
        self.last_criterion = ranker.name
        return ranker

    def _generation(
        self, offspring: Agents, offspring_surprise: np.ndarray, ranker: Ranker
    ) -> None:
        if SURPRISE in ranker.criteria:
            self._fill_population_surprise()
        candidates = Agents.concat(self.population, offspring)
        competition = None
        if LOCAL_COMPETITION in ranker.criteria:
            novelty_scores, competition = self.novelty_and_competition_of(candidates, candidates)
        else:
            novelty_scores = self.novelty_of(candidates, candidates)
        surprise_scores = np.concatenate([self.population_surprise, offspring_surprise])
        self.novelty_archive.add_generation(
            offspring, novelty_scores[len(self.population) :], self.rng
        )
        scores = {NOVELTY: novelty_scores, SURPRISE: surprise_scores, REWARD: candidates.rewards}
        if competition is not None:
            scores[LOCAL_COMPETITION] = competition
        survivors = ranker.select(scores, self.config.population_size)
        self.last_offspring = offspring
        self.last_generation_genomes = candidates.genomes
        self.last_generation_indices = candidates.indices
        self.population = candidates.take(survivors)
        self.population_novelty = novelty_scores[survivors]
        self.population_surprise = surprise_scores[survivors]

    def _fill_population_surprise(self) -> None:
        """Surprise (current space) of the members that entered without one."""
        missing = np.flatnonzero(np.isnan(self.population_surprise))
        if missing.size:
            self.population_surprise[missing] = self.space.surprise(  # type: ignore[attr-defined]
                self.population.frames[missing]
            )

    def reencode(self) -> None:
        """Recompute descriptors of the population, the last offspring and the novelty archive.

        Called after the space changes. The population's novelty is recomputed too,
        since every distance has changed; its surprise is forgotten and measured
        again (lazily) by the next generation that needs it.
        """
        population = self.population
        population.descriptors = self.space.encode(population.frames)
        self.population_surprise = np.full(len(population), np.nan)
        if len(self.novelty_archive):
            archived = self.novelty_archive.agents.frames
            self.novelty_archive.set_descriptors(self.space.encode(archived))
        if len(self.last_offspring):
            self.last_offspring.descriptors = self.space.encode(self.last_offspring.frames)
        self.population_novelty = self.novelty_of(population, population)

    def stored_parts(self) -> list[Agents]:
        """Every set of agents this process holds: novelty archive, population, last offspring."""
        return [self.novelty_archive.agents, self.population, self.last_offspring]

    def reference(self) -> ReferenceSet:
        """Population ∪ novelty archive ∪ reward archive, prepared for novelty queries.

        Emitters query it every generation while it rarely changes (a generation,
        an archive insertion, a new space), so it is rebuilt only then.
        """
        key = (
            self.generation,
            self.novelty_archive.version,
            self.reward_archive.version,
            self.space.version,
        )
        if self._reference_key != key:
            population = self.population
            archive = self.novelty_archive.agents
            rewarded = self.reward_archive.agents
            self._reference = ReferenceSet(
                np.concatenate([population.descriptors, archive.descriptors, rewarded.descriptors]),
                np.concatenate([population.indices, archive.indices, rewarded.indices]),
            )
            self._reference_key = key
        return self._reference

    def _reference_set(self, current: Agents, with_rewards: bool = False) -> ReferenceSet:
        """``current`` (population ∪ offspring) ∪ both archives, as one reference set."""
        parts = (current, self.novelty_archive.agents, self.reward_archive.agents)
        return ReferenceSet(
            np.concatenate([p.descriptors for p in parts]),
            np.concatenate([p.indices for p in parts]),
            np.concatenate([p.rewards for p in parts]) if with_rewards else None,
        )

    def novelty_of(self, queries: Agents, current: Agents) -> np.ndarray:
        """Novelty against ``current`` (population ∪ offspring) ∪ both archives."""
        return self._reference_set(current).novelty(
            queries.descriptors, queries.indices, self.config.k
        )

    def novelty_and_competition_of(self, queries: Agents, current: Agents):
        """Novelty and local competition (NSLC) over the same neighbours as :meth:`novelty_of`."""
        return self._reference_set(current, with_rewards=True).novelty_and_competition(
            queries.descriptors, queries.indices, queries.rewards, self.config.k
        )

    # --- state -------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        """Population, archive, last generation, generator and counters (no pickle)."""
        arrays = {
            **self.population.arrays("population."),
            "population.novelty": self.population_novelty,
            "population.surprise": self.population_surprise,
            **self.novelty_archive.arrays("novelty_archive."),
            **self.last_offspring.arrays("last_offspring."),
            "last_generation_genomes": self.last_generation_genomes,
            "last_generation_indices": self.last_generation_indices,
        }
        data = {
            "rng": rng_state(self.rng),
            "generation": self.generation,
            "last_criterion": self.last_criterion,
        }
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict) -> None:
        self.population = Agents.from_arrays(arrays, "population.")
        self.population_novelty = np.asarray(arrays["population.novelty"])
        self.population_surprise = np.asarray(arrays["population.surprise"])
        archived = {
            k.removeprefix("novelty_archive."): v
            for k, v in arrays.items()
            if k.startswith("novelty_archive.")
        }
        self.novelty_archive.load_state_dict(archived, {})
        self.last_offspring = Agents.from_arrays(arrays, "last_offspring.")
        self.last_generation_genomes = np.asarray(arrays["last_generation_genomes"])
        self.last_generation_indices = np.asarray(arrays["last_generation_indices"])
        self.rng = restore_rng(data["rng"])
        self.generation = int(data["generation"])
        self.last_criterion = data["last_criterion"]
        self._reference_key = None
