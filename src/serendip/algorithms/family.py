"""The family's loop: exploration and exploitation alternating over a chunked budget.

As in the papers (SERENE's meta-scheduler, TAXONS' learned space)::

    for every chunk of `chunk_size` evaluations:
        process <- scheduler.choose()               # explore | exploit (explore without one)
        if process is explore:
            run the exploration process for chunk_size / lambda generations;
            every new rewarding agent -> reward archive and candidate emitter
            if this exploration chunk is a training chunk:
                train the behavior space on the frames of every stored agent and
                describe everything that holds a descriptor again
        else:
            the exploitation process spends the chunk on its candidates and emitters,
            which add rewarding individuals to the reward archive and, when they
            stop, hand their most novel finds to the novelty archive

The loop receives its parts; the algorithm factories (``ns.py``, ``serene.py``,
``taxons.py``, ``stax.py``) say which. It saves and restores each part's own
state and composes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from serendip.algorithms.base import Algorithm, prefixed, unprefixed
from serendip.archives import Agents, RewardArchive
from serendip.behavior import BehaviorSpace
from serendip.behavior.fidelity import fidelity_error
from serendip.exploitation import Exploitation
from serendip.exploration import NoveltySearch
from serendip.exploration.novelty_search import evaluated_agents
from serendip.request import EXPLORE, Request
from serendip.rng import restore_rng, rng_state
from serendip.schedulers import Scheduler
from serendip.tasks import EvaluationBatch

STATE_VERSION = 2
"""Layout of the composed state; 0.1.0 wrote one without this key (version 1)."""


class ExploreExploit(Algorithm):
    """The family's chunk loop over the parts it is given.

    Args:
        name: the algorithm's registry name (for logs).
        space: the behavior space every part describes agents in.
        reward_archive: the archive of rewarding agents the processes share.
        exploration: the exploration process (novelty search).
        chunk_size: evaluations per chunk (one explore or exploit decision each).
        budget: the run's evaluations (a scheduler may split by what is left).
        training_rng: the generator of the space's trainings.
        train_after: whether the space trains after exploration chunk ``c`` (1-based);
            None: it never trains.
        exploitation: the exploitation process, or None (exploration only).
        scheduler: chooses explore or exploit per chunk (with ``exploitation``).
        seed: the run's seed, for the fidelity measure's own draws (never the search's).
    """

    def __init__(
        self,
        *,
        name: str,
        space: BehaviorSpace,
        reward_archive: RewardArchive,
        exploration: NoveltySearch,
        chunk_size: int,
        budget: int,
        training_rng: np.random.Generator,
        train_after: Callable[[int], bool] | None = None,
        exploitation: Exploitation | None = None,
        scheduler: Scheduler | None = None,
        seed: int = 0,
    ) -> None:
        if (exploitation is None) != (scheduler is None):
            raise ValueError("exploitation and its scheduler come together")
        self.name = name
        self.space = space
        self.needs_frames = bool(space.needs_frames)
        self.reward_archive = reward_archive
        self.exploration = exploration
        self.exploitation = exploitation
        self.scheduler = scheduler
        self.train_after = train_after
        self.seed = int(seed)
        self.training_rng = training_rng
        self.chunk_size = int(chunk_size)
        self.budget = int(budget)
        offspring = exploration.config.population_size * exploration.config.offspring_per_parent
        self.generations_per_chunk = max(1, self.chunk_size // offspring)
        self.evaluations = 0
        self.explore_evaluations = 0
        self.chunk: str | None = None
        self.chunk_spent = 0
        self.chunk_generations = 0
        self.chunk_workload = 0
        self.chunks = 0
        self.exploration_chunks = 0
        self.events: list[dict[str, Any]] = []

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
            if self.train_after is not None and self.train_after(self.exploration_chunks):
                self._train()

    def _tell_exploitation(self, request: Request, batch: EvaluationBatch, indices: np.ndarray):
        assert self.exploitation is not None
        descriptors = self.space.describe(batch)
        evaluated = evaluated_agents(request.genomes, batch, indices, descriptors)
        evaluated.frames = evaluated.frames[:, : self.exploration.n_frames]
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

    # --- training the behavior space ---------------------------------------------------
    def _train(self) -> None:
        """Train on the frames of every stored agent (once each), then describe all again.

        Only a space whose descriptors changed (its ``version``) is asked to describe
        the stored agents again: a fixed space (a hand-designed one registered as a
        learned space) need not encode frames at all.
        """
        stored = Agents.concat(*self._stored_parts())
        _, first = np.unique(stored.indices, return_index=True)
        version = self.space.version
        report = self.space.train(stored.frames[np.sort(first)], rng=self.training_rng)
        if self.space.version != version:
            self.exploration.reencode()
            if len(self.reward_archive):
                self.reward_archive.set_descriptors(
                    self.space.encode(self.reward_archive.agents.frames)
                )
            if self.exploitation is not None:
                self.exploitation.reencode(self.space.encode)
        if report is not None and hasattr(report, "fidelity_error"):
            report.fidelity_error = self._fidelity(report)
        if report is not None:
            self.events.append(
                {"kind": "training", "evaluations": self.evaluations, "report": report}
            )

    def _stored_parts(self) -> list[Agents]:
        """Every set of agents holding a descriptor: the exploration's, then the reward archive."""
        return [*self.exploration.stored_parts(), self.reward_archive.agents]

    def _fidelity(self, report: Any) -> float | None:
        """How much ground truth the new space keeps, on every stored agent (read-only)."""
        parts = self._stored_parts()  # concatenated field by field: frames are not copied
        indices = np.concatenate([p.indices for p in parts])
        _, first = np.unique(indices, return_index=True)
        first.sort()
        latents = np.concatenate([p.descriptors for p in parts])[first]
        truth = np.concatenate([p.ground_truth for p in parts])[first]
        rng = np.random.default_rng([self.seed, int(getattr(report, "training", 0)), 0xF1DE])
        return fidelity_error(latents, truth, rng)

    # --- outputs ---------------------------------------------------------------------
    def archives(self) -> dict[str, Agents]:
        return {
            "population": self.exploration.population,
            "novelty_archive": self.exploration.novelty_archive.agents,
            "reward_archive": self.reward_archive.agents,
        }

    def archive_columns(self) -> dict[str, dict[str, np.ndarray]]:
        """Which process found each rewarding agent (-1: exploration)."""
        found_by = self.exploitation.reward_found_by if self.exploitation is not None else {}
        indices = self.reward_archive.agents.indices
        return {
            "reward_archive": {
                "found_by": np.array([found_by.get(int(i), -1) for i in indices], dtype=np.int64)
            }
        }

    def summary(self) -> dict[str, Any]:
        """The last training's fidelity error (learned spaces that trained)."""
        reports = getattr(self.space, "reports", None)
        if not reports or getattr(reports[-1], "fidelity_error", None) is None:
            return {}
        return {"fidelity_error": round(float(reports[-1].fidelity_error), 4)}

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        if self.exploitation is None:
            return {}
        return {"emitters": self.exploitation.open_records()}

    def pop_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events

    def save_artifacts(self, run_dir: Path) -> None:
        self.space.save_artifacts(run_dir, evaluations=self.evaluations)

    def restore_artifacts(self, run_dir: Path) -> None:
        self.space.restore_artifacts(run_dir)

    def status(self) -> dict[str, float | int]:
        status: dict[str, float | int] = {
            "novelty_archive": len(self.exploration.novelty_archive),
            "reward_archive": len(self.reward_archive),
        }
        if self.exploitation is not None:
            status["emitters"] = len(self.exploitation.active)
            status["candidates"] = len(self.exploitation.candidates)
            status["explore_share"] = self.explore_evaluations / max(self.evaluations, 1)
        return {**status, **self.space.status()}

    def status_text(self) -> str:
        """``emitters 8+41c explore 52%`` (active + candidates), then the space's figures."""
        parts = []
        if self.exploitation is not None:
            parts.append(
                f"emitters {len(self.exploitation.active)}+{len(self.exploitation.candidates)}c"
            )
            parts.append(f"explore {self.explore_evaluations / max(self.evaluations, 1):.0%}")
        parts += [f"{name} {value}" for name, value in self.space.status().items()]
        return " ".join(parts)

    def checkpoint_ready(self) -> bool:
        """Between two chunks."""
        return self.chunk is None

    # --- state: each part's own, composed ------------------------------------------------
    def _parts(self) -> dict[str, Any]:
        parts: dict[str, Any] = {
            "space": self.space,
            "reward_archive": self.reward_archive,
            "exploration": self.exploration,
        }
        if self.exploitation is not None and self.scheduler is not None:
            parts["exploitation"] = self.exploitation
            parts["scheduler"] = self.scheduler
        return parts

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        data: dict[str, Any] = {
            "state_version": STATE_VERSION,
            "training_rng": rng_state(self.training_rng),
            "evaluations": self.evaluations,
            "explore_evaluations": self.explore_evaluations,
            "chunk": self.chunk,
            "chunk_spent": self.chunk_spent,
            "chunk_generations": self.chunk_generations,
            "chunk_workload": self.chunk_workload,
            "chunks": self.chunks,
            "exploration_chunks": self.exploration_chunks,
        }
        for name, part in self._parts().items():
            part_arrays, data[name] = part.state_dict()
            arrays.update(prefixed(name + ".", part_arrays))
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        for name, part in self._parts().items():
            part.load_state_dict(unprefixed(name + ".", arrays), data[name])
        self.training_rng = restore_rng(data["training_rng"])
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
