"""STAX and its family as one explore/exploit loop over a chunked budget.

The loop, as in the papers (SERENE's meta-scheduler, TAXONS' learned space)::

    for every chunk of `chunk_size` evaluations:
        process <- scheduler.choose()               # explore | exploit
        if process is explore:
            run novelty search for chunk_size / lambda generations in the behavior space;
            every new rewarding agent -> reward archive and candidate emitter
            if the space is learned and this exploration chunk is a training chunk:
                train the autoencoder on the frames of every stored agent and
                re-encode everything that holds a descriptor
        else:
            try candidates (most novel first) while > 1/3 of the chunk is left,
            then run emitters picked on the Pareto front of (novelty, improvement);
            emitters add rewarding individuals to the reward archive and, when they
            stop, hand their most novel finds to the novelty archive

A :class:`Recipe` picks the pieces: the behavior space (ground truth or learned),
the survivor selection criterion, whether exploitation runs, whether the
autoencoder trains. NS, SERENE, TAXONS (+ ablations) and STAX are recipes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.algorithms.base import EXPLORE, Algorithm, Request
from serendip.archives import Agents, Archive
from serendip.behavior import GroundTruthSpace
from serendip.behavior.training import is_training_chunk
from serendip.exploitation import Exploitation
from serendip.exploration import NoveltySearch
from serendip.exploration.novelty_search import evaluated_agents
from serendip.novelty import ReferenceSet
from serendip.rng import restore_rng, rng_state
from serendip.schedulers import make_scheduler
from serendip.tasks import EvaluationBatch, TaskSpec

EXPLORE_STREAM, EXPLOIT_STREAM, SCHEDULER_STREAM, TRAINING_STREAM = 0, 1, 2, 3


@dataclass(frozen=True)
class Recipe:
    """Which pieces an algorithm of the family uses."""

    summary: str
    space: str = "ground-truth"  # or "learned"
    selection: str = "novelty"
    exploit: bool = False
    train: bool = True


class ExploreExploitSearch(Algorithm):
    """The family's loop. Build it through :func:`serendip.algorithms.make_algorithm`.

    Args:
        name: the algorithm's registry name (for logs).
        recipe: the pieces to use.
        spec: the task.
        config: the run config (sections ``novelty_search``, ``learned_space``,
            ``exploitation``).
        n_frames: frames per agent the task renders.
        seed: the run's seed; each process draws from its own stream of it.
    """

    def __init__(
        self,
        *,
        name: str,
        recipe: Recipe,
        spec: TaskSpec,
        config: Any,
        n_frames: int,
        seed: int,
    ) -> None:
        self.name = name
        self.recipe = recipe
        self.chunk_size = config.exploitation.chunk_size
        streams = np.random.SeedSequence(seed).spawn(4)
        if recipe.space == "learned":
            from serendip.behavior.learned import LearnedSpace  # imports torch: only when used

            self.space: Any = LearnedSpace(
                n_frames=n_frames, config=config.learned_space, seed=seed
            )
        else:
            self.space = GroundTruthSpace(spec.descriptor_size)
        self.needs_frames = bool(self.space.needs_frames)
        kept_frames = n_frames if self.needs_frames else 0
        self.reward_archive = Archive(
            spec.genome_size, self.space.descriptor_size, spec.descriptor_size, kept_frames
        )
        self.exploration = NoveltySearch(
            config=config.novelty_search,
            genome_size=spec.genome_size,
            ground_truth_size=spec.descriptor_size,
            space=self.space,
            reward_archive=self.reward_archive,
            rng=np.random.default_rng(streams[EXPLORE_STREAM]),
            selection=recipe.selection,
            n_frames=kept_frames,
        )
        offspring = (
            config.novelty_search.population_size * config.novelty_search.offspring_per_parent
        )
        self.generations_per_chunk = max(1, self.chunk_size // offspring)
        self.exploitation: Exploitation | None = None
        self.scheduler = None
        if recipe.exploit:
            self.exploitation = Exploitation(
                config=config.exploitation,
                genome_size=spec.genome_size,
                k=config.novelty_search.k,
                reward_archive=self.reward_archive,
                reference=self._exploration_reference,
                seed=seed,
                rng=np.random.default_rng(streams[EXPLOIT_STREAM]),
            )
            self.scheduler = make_scheduler(
                config.exploitation.scheduler, np.random.default_rng(streams[SCHEDULER_STREAM])
            )
        self.training_rng = np.random.default_rng(streams[TRAINING_STREAM])
        self.budget = int(config.budget)
        self.evaluations = 0
        self.explore_evaluations = 0
        self.chunk: str | None = None
        self.chunk_spent = 0
        self.chunk_generations = 0
        self.chunk_workload = 0
        self.chunks = 0
        self.exploration_chunks = 0
        self.events: list[dict[str, Any]] = []
        self._reference_key: tuple[int, ...] | None = None
        self._reference: ReferenceSet | None = None

    # --- ask / tell -------------------------------------------------------------------
    def ask(self, max_evaluations: int) -> Request:
        while True:
            if self.chunk is None:
                self._start_chunk()
                continue
            if self.chunk == EXPLORE:
                return Request(self.exploration.ask(max_evaluations))
            assert self.exploitation is not None
            request = self.exploitation.next_request(
                chunk_left=self.chunk_size - self.chunk_spent,
                max_evaluations=max_evaluations,
                evaluations=self.evaluations,
            )
            if request is not None:
                return request
            self._end_chunk(nothing_to_exploit=self.chunk_spent == 0)

    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        n = len(indices)
        self.evaluations += n
        self.chunk_spent += n
        if request.process == EXPLORE:
            self._tell_exploration(request, batch, indices)
        else:
            self._tell_exploitation(request, batch, indices)

    def _tell_exploration(self, request: Request, batch: EvaluationBatch, indices: np.ndarray):
        initial = len(self.exploration.population) == 0
        agents = self.exploration.tell(request.genomes, batch, indices)
        self.explore_evaluations += len(indices)
        if self.exploitation is not None:
            rewarded = agents.take(agents.rewards > 0)
            if len(rewarded):
                self.exploitation.add_candidates(
                    rewarded,
                    self.exploration.last_generation_genomes,
                    self.exploration.last_generation_indices,
                    self.evaluations,
                )
        if not initial:
            self.chunk_generations += 1
        if self.chunk_generations >= self.generations_per_chunk:
            self.exploration_chunks += 1
            self._end_chunk()
            if (
                self.recipe.space == "learned"
                and self.recipe.train
                and is_training_chunk(self.exploration_chunks)
            ):
                self._train()

    def _tell_exploitation(self, request: Request, batch: EvaluationBatch, indices: np.ndarray):
        assert self.exploitation is not None
        if self.needs_frames:
            descriptors = self.space.encode(batch.frames)
        else:
            descriptors = self.space.describe(batch)
        evaluated = evaluated_agents(request.genomes, batch, indices, descriptors)
        if not self.needs_frames:
            evaluated.frames = evaluated.frames[:, :0]
        handed_back = self.exploitation.tell(request, evaluated, self.evaluations)
        self.exploration.novelty_archive.add(handed_back)
        if self.chunk_spent >= self.chunk_size:
            self._end_chunk()

    # --- chunks ---------------------------------------------------------------------
    def _start_chunk(self) -> None:
        self.chunk_spent = 0
        self.chunk_generations = 0
        if self.scheduler is None:
            self.chunk = EXPLORE
            return
        self.chunk = self.scheduler.choose(budget_used=self.evaluations, budget_total=self.budget)
        assert self.exploitation is not None
        self.chunk_workload = self.exploitation.workload
        if self.chunk == "exploit" and not self.exploitation.has_work():
            # Nothing to exploit: the chunk spends nothing and the scheduler hears so.
            self._end_chunk(nothing_to_exploit=True)

    def _end_chunk(self, nothing_to_exploit: bool = False) -> None:
        if self.scheduler is not None and self.exploitation is not None:
            self.exploitation.end_chunk()
            self.scheduler.update(
                self.chunk,
                delta=self.exploitation.workload - self.chunk_workload,
                nothing_to_exploit=nothing_to_exploit,
            )
        self.chunks += 1
        self.chunk = None

    # --- the learned space -------------------------------------------------------------
    def _stored_agents(self) -> Agents:
        """Every agent holding a descriptor in the exploration process, once each."""
        parts = [
            self.exploration.novelty_archive.agents,
            self.exploration.population,
            self.exploration.last_offspring,
            self.reward_archive.agents,
        ]
        return Agents.concat(*parts)

    def _train(self) -> None:
        stored = self._stored_agents()
        _, first = np.unique(stored.indices, return_index=True)
        frames = stored.frames[np.sort(first)]
        report = self.space.train(frames, rng=self.training_rng)
        self.exploration.reencode()
        if len(self.reward_archive):
            self.reward_archive.set_descriptors(
                self.space.encode(self.reward_archive.agents.frames)
            )
        if self.exploitation is not None:
            self.exploitation.reencode(self.space.encode)
        self.events.append({"kind": "training", "evaluations": self.evaluations, "report": report})

    def _exploration_reference(self) -> ReferenceSet:
        """Population ∪ novelty archive ∪ reward archive, prepared for novelty queries.

        Emitters query it every generation while it rarely changes (an exploration
        generation, an archive insertion, a training), so it is rebuilt only then.
        """
        key = (
            self.exploration.generation,
            self.exploration.novelty_archive.version,
            self.reward_archive.version,
            getattr(self.space, "trainings", 0),
        )
        if self._reference_key != key:
            population = self.exploration.population
            archive = self.exploration.novelty_archive.agents
            rewarded = self.reward_archive.agents
            self._reference = ReferenceSet(
                np.concatenate([population.descriptors, archive.descriptors, rewarded.descriptors]),
                np.concatenate([population.indices, archive.indices, rewarded.indices]),
            )
            self._reference_key = key
        return self._reference

    # --- outputs and state ---------------------------------------------------------------
    def archives(self) -> dict[str, Agents]:
        return {
            "population": self.exploration.population,
            "novelty_archive": self.exploration.novelty_archive.agents,
            "reward_archive": self.reward_archive.agents,
        }

    def archive_columns(self) -> dict[str, dict[str, np.ndarray]]:
        """Extra columns of the archive tables: which process found each rewarding agent."""
        found_by = self.exploitation.reward_found_by if self.exploitation is not None else {}
        indices = self.reward_archive.agents.indices
        return {
            "reward_archive": {
                "found_by": np.array([found_by.get(int(i), -1) for i in indices], dtype=np.int64)
            }
        }

    def emitter_records(self) -> list[dict[str, Any]]:
        return [] if self.exploitation is None else self.exploitation.open_records()

    def pop_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events

    def status(self) -> dict[str, float | int]:
        status: dict[str, float | int] = {
            "novelty_archive": len(self.exploration.novelty_archive),
            "reward_archive": len(self.reward_archive),
            "explore_share": self.explore_evaluations / max(self.evaluations, 1),
        }
        if self.exploitation is not None:
            status["emitters"] = len(self.exploitation.active)
            status["candidates"] = len(self.exploitation.candidates)
        if self.recipe.space == "learned":
            status["trainings"] = self.space.trainings
        return status

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            **self.exploration.state_arrays(),
            **self.reward_archive.arrays("reward_archive."),
        }
        data = {
            "rng": rng_state(self.exploration.rng),
            "training_rng": rng_state(self.training_rng),
            "generation": self.exploration.generation,
            "evaluations": self.evaluations,
            "explore_evaluations": self.explore_evaluations,
            "chunk": self.chunk,
            "chunk_spent": self.chunk_spent,
            "chunk_generations": self.chunk_generations,
            "chunk_workload": self.chunk_workload,
            "chunks": self.chunks,
            "exploration_chunks": self.exploration_chunks,
            "last_criterion": self.exploration.last_criterion,
        }
        if self.recipe.space == "learned":
            arrays.update(self.space.state_arrays())
        if self.exploitation is not None and self.scheduler is not None:
            exploit_arrays, data["exploitation"] = self.exploitation.state()
            arrays.update(exploit_arrays)
            data["scheduler"] = self.scheduler.state()
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.exploration.load_state_arrays(arrays)
        self._reference_key = None  # the archives are new objects
        self.reward_archive = Archive.from_agents(Agents.from_arrays(arrays, "reward_archive."))
        self.exploration.reward_archive = self.reward_archive
        self.exploration.rng = restore_rng(data["rng"])
        self.training_rng = restore_rng(data["training_rng"])
        self.exploration.generation = int(data["generation"])
        for key in (
            "evaluations",
            "explore_evaluations",
            "chunk_spent",
            "chunk_generations",
            "chunk_workload",
            "chunks",
            "exploration_chunks",
        ):
            setattr(self, key, int(data[key]))
        self.chunk = data["chunk"]
        self.exploration.last_criterion = data["last_criterion"]
        if self.recipe.space == "learned":
            self.space.load_state_arrays(arrays)
        if self.exploitation is not None and self.scheduler is not None:
            self.exploitation.reward_archive = self.reward_archive
            self.exploitation.load_state(arrays, data["exploitation"])
            self.scheduler.load_state(data["scheduler"])

    def at_chunk_boundary(self) -> bool:
        return self.chunk is None
