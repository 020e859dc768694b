"""Algorithms: short compositions of exploration, behavior spaces and archives.

| name     | composition                                                    |
|----------|----------------------------------------------------------------|
| `ns`     | novelty search (§1) + ground-truth space                       |
| `random` | N(0, 1) genomes, no selection                                  |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from serendip.algorithms.base import EXPLORE, Algorithm, Request
from serendip.algorithms.ns import NoveltySearchAlgorithm
from serendip.algorithms.random_search import RandomSearch, RandomSearchConfig
from serendip.tasks import TaskSpec


@dataclass(frozen=True)
class AlgorithmEntry:
    summary: str
    build: Callable[..., Algorithm]
    config_section: str


ALGORITHMS: dict[str, AlgorithmEntry] = {
    "ns": AlgorithmEntry(
        "novelty search on the task's ground-truth descriptor",
        NoveltySearchAlgorithm,
        "novelty_search",
    ),
    "random": AlgorithmEntry(
        "random search: N(0, 1) genomes, no selection", RandomSearch, "random_search"
    ),
}


def make_algorithm(name: str, *, spec: TaskSpec, config, rng: np.random.Generator) -> Algorithm:
    """Build algorithm ``name`` for a task from a run config (its own section of it)."""
    if name not in ALGORITHMS:
        raise KeyError(f"unknown algorithm {name!r}; accepted: {', '.join(ALGORITHMS)}")
    entry = ALGORITHMS[name]
    return entry.build(spec=spec, config=getattr(config, entry.config_section), rng=rng)


__all__ = [
    "ALGORITHMS",
    "EXPLORE",
    "Algorithm",
    "RandomSearchConfig",
    "Request",
    "make_algorithm",
]
