"""What an algorithm asks the run loop to evaluate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXPLORE = "explore"
"""The process label of exploration batches in the evaluation log."""


@dataclass
class Request:
    """A batch of genomes to evaluate and the process that asks for it (for the log).

    ``target_area`` is the reward area an emitter works on (-1 for exploration):
    a label for the log's budget-per-area metric, never read by a decision.
    """

    genomes: np.ndarray
    process: str = EXPLORE
    target_area: int = -1
