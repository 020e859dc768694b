"""Behavior spaces: where an evaluated agent's descriptor comes from.

A behavior space turns an :class:`~serendip.tasks.EvaluationBatch` into
descriptors. The ground-truth space reads the task's hand-designed outcome; the
learned space (TAXONS, STAX) encodes the agent's frames.
"""

from __future__ import annotations

import numpy as np

from serendip.tasks import EvaluationBatch


class GroundTruthSpace:
    """The task's own low-dimensional outcome (e.g. final x, y) as the behavior space."""

    needs_frames = False

    def __init__(self, descriptor_size: int) -> None:
        self.descriptor_size = descriptor_size

    def describe(self, batch: EvaluationBatch) -> np.ndarray:
        return np.asarray(batch.descriptors, dtype=np.float64)


__all__ = ["GroundTruthSpace"]
