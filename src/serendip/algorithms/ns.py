"""NS: novelty search on the task's ground-truth descriptor (spec §1, §5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from serendip.algorithms.base import Algorithm, Request, restore_rng, rng_state
from serendip.archives import Agents, Archive
from serendip.behavior import GroundTruthSpace
from serendip.exploration import NoveltySearch, NoveltySearchConfig
from serendip.tasks import EvaluationBatch, TaskSpec


class NoveltySearchAlgorithm(Algorithm):
    """Novelty search with a hand-designed behavior space: the task's ground truth."""

    name = "ns"

    def __init__(self, *, spec: TaskSpec, config: NoveltySearchConfig, rng: np.random.Generator):
        space = GroundTruthSpace(spec.descriptor_size)
        self.reward_archive = Archive(spec.genome_size, space.descriptor_size, spec.descriptor_size)
        self.exploration = NoveltySearch(
            config=config,
            genome_size=spec.genome_size,
            ground_truth_size=spec.descriptor_size,
            space=space,
            reward_archive=self.reward_archive,
            rng=rng,
        )

    def ask(self, max_evaluations: int) -> Request:
        return Request(self.exploration.ask(max_evaluations))

    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        self.exploration.tell(request.genomes, batch, indices)

    def archives(self) -> dict[str, Agents]:
        return {
            "population": self.exploration.population,
            "novelty_archive": self.exploration.novelty_archive.agents,
            "reward_archive": self.reward_archive.agents,
        }

    def status(self) -> dict[str, float | int]:
        return {
            "generation": self.exploration.generation,
            "novelty_archive": len(self.exploration.novelty_archive),
            "reward_archive": len(self.reward_archive),
        }

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            **self.exploration.state_arrays(),
            **self.reward_archive.arrays("reward_archive."),
        }
        data = {"rng": rng_state(self.exploration.rng), "generation": self.exploration.generation}
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.exploration.load_state_arrays(arrays)
        self.reward_archive = Archive.from_agents(Agents.from_arrays(arrays, "reward_archive."))
        self.exploration.reward_archive = self.reward_archive
        self.exploration.rng = restore_rng(data["rng"])
        self.exploration.generation = int(data["generation"])
