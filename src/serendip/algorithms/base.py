"""What every algorithm offers the run loop: ``ask`` a batch, ``tell`` its results.

Evaluation happens outside the algorithm (in process today, in a pool or on a
cluster later), and the algorithm's whole state is plain arrays plus a JSON
object, so a run can be saved and restored exactly.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.archives import Agents
from serendip.tasks import EvaluationBatch

EXPLORE = "explore"


@dataclass
class Request:
    """A batch of genomes to evaluate and the process that asks for it (for the log).

    ``target_area`` is the reward area an emitter works on (-1 for exploration):
    a label for the log's budget-per-area metric, never read by a decision.
    """

    genomes: np.ndarray
    process: str = EXPLORE
    target_area: int = -1


class Algorithm(abc.ABC):
    """A search algorithm driven by ask/tell."""

    name: str
    needs_frames: bool = False

    @abc.abstractmethod
    def ask(self, max_evaluations: int) -> Request:
        """Genomes to evaluate next, at most ``max_evaluations`` of them (>= 1)."""

    @abc.abstractmethod
    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        """Results of the last request; ``indices`` are the rows' evaluation indices."""

    @abc.abstractmethod
    def archives(self) -> dict[str, Agents]:
        """What the run returns, by name (population, novelty_archive, reward_archive)."""

    def status(self) -> dict[str, float | int]:
        """Live figures for the progress display."""
        return {}

    def archive_columns(self) -> dict[str, dict[str, np.ndarray]]:
        """Extra per-row columns for archive tables, by archive name."""
        return {}

    def emitter_records(self) -> list[dict[str, Any]]:
        """One log record per emitter (empty for algorithms without emitters)."""
        return []

    def pop_events(self) -> list[dict[str, Any]]:
        """Events since the last call (e.g. an autoencoder training) for the run loop."""
        return []

    def at_chunk_boundary(self) -> bool:
        """Whether the last ``tell`` closed a chunk of the budget (a checkpoint moment)."""
        return True

    @abc.abstractmethod
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The complete state: ``(arrays, json_data)``."""

    @abc.abstractmethod
    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
