"""The novelty archive: a sample of past offspring, the memory of where search has been."""

from __future__ import annotations

import numpy as np

from serendip.archives.add_info import NEW, NOT_ADDED, AddInfo
from serendip.archives.agents import Agents, Archive

ARCHIVE_SELECTIONS = ("random", "novel")


class NoveltyArchive(Archive):
    """Novelty search's archive: it decides which offspring of a generation enter.

    Args:
        insertions: offspring that enter per generation (the papers: 5).
        selection: ``"random"`` (uniformly, the papers) or ``"novel"`` (the most novel).
        sizes: genome, descriptor, ground-truth sizes and frames per agent.
    """

    def __init__(
        self,
        genome_size: int,
        descriptor_size: int,
        ground_truth_size: int,
        n_frames: int = 0,
        *,
        insertions: int = 5,
        selection: str = "random",
    ) -> None:
        if selection not in ARCHIVE_SELECTIONS:
            raise ValueError(f"selection must be one of {ARCHIVE_SELECTIONS}, got {selection!r}")
        super().__init__(genome_size, descriptor_size, ground_truth_size, n_frames)
        self.insertions = int(insertions)
        self.selection = selection

    def add_generation(
        self, offspring: Agents, novelty: np.ndarray, rng: np.random.Generator
    ) -> AddInfo:
        """Add ``insertions`` of a generation's offspring; ``value`` is each one's novelty.

        ``"random"`` draws them from ``rng`` (the exploration's stream); ``"novel"``
        takes the most novel (ties: the earlier row).
        """
        n = min(self.insertions, len(offspring))
        if self.selection == "novel":
            chosen = np.argsort(-novelty, kind="stable")[:n]
        else:
            chosen = rng.choice(len(offspring), size=n, replace=False)
        chosen = np.sort(chosen)
        self.add(offspring.take(chosen))
        status = np.full(len(offspring), NOT_ADDED, dtype=np.int8)
        status[chosen] = NEW
        return AddInfo.of(status, novelty)
