"""The behavior-space contract, and the task's ground truth as the simplest space.

A behavior space turns an evaluated batch into descriptors, the points novelty
is measured between. Every part of the search talks to a space only through
:class:`BehaviorSpace`, so a new space (another encoder, a hand-designed
feature) is one module registered by name
(:func:`serendip.behavior.register_behavior_space`) and selected with
``learned_space.encoder: NAME``: algorithms, the run loop, reports and the
config need no change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from serendip.tasks import EvaluationBatch


@runtime_checkable
class BehaviorSpace(Protocol):
    """Where descriptors come from.

    Attributes:
        descriptor_size: D, the width of every descriptor.
        needs_frames: whether :meth:`describe` reads ``batch.frames``; the search then
            keeps every stored agent's frames, to train on and describe them again.
        measures_surprise: whether :meth:`describe_with_surprise` and :meth:`surprise`
            exist (a ranker that needs surprise is refused on other spaces).
        version: bumped whenever descriptors of the same frames change (a training):
            whoever caches descriptors describes them again when it changes.
    """

    descriptor_size: int
    needs_frames: bool
    measures_surprise: bool
    version: int

    def describe(self, batch: EvaluationBatch) -> np.ndarray:
        """Descriptors ``(N, D)`` float64 of an evaluated batch."""
        ...

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Descriptors ``(N, D)`` of stored frames ``(N, S, 64, 64, 3)`` (``needs_frames`` only)."""
        ...

    def train(self, frames: np.ndarray, rng: np.random.Generator) -> Any | None:
        """Learn from frames ``(M, S, 64, 64, 3)``; a report (a dataclass), or None."""
        ...

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The space's complete state as ``(arrays, json data)``: no pickle."""
        ...

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave."""
        ...

    def save_artifacts(self, run_dir: Path, *, evaluations: int) -> None:
        """Write what the run directory keeps of the space (e.g. weights per training).

        Called after every batch; ``evaluations`` done so far, for the record.
        """
        ...

    def restore_artifacts(self, run_dir: Path) -> None:
        """After a resume: drop artefacts written after the state that was loaded."""
        ...

    def status(self) -> dict[str, float | int]:
        """Live figures for the progress display."""
        ...


class SurpriseSpace(BehaviorSpace, Protocol):
    """A space that also measures surprise (how badly it reconstructs an agent)."""

    def describe_with_surprise(self, batch: EvaluationBatch) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors ``(N, D)`` and surprise ``(N,)`` from one pass."""
        ...

    def surprise(self, frames: np.ndarray) -> np.ndarray:
        """Surprise ``(N,)`` of stored frames."""
        ...


class GroundTruthSpace:
    """The task's own low-dimensional outcome (e.g. final x, y) as the behavior space.

    It never changes, keeps no state and writes nothing: every method of the
    contract but :meth:`describe` is a no-op.
    """

    needs_frames = False
    measures_surprise = False
    version = 0

    def __init__(self, descriptor_size: int) -> None:
        self.descriptor_size = int(descriptor_size)

    def describe(self, batch: EvaluationBatch) -> np.ndarray:
        return np.asarray(batch.descriptors, dtype=np.float64)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        raise TypeError("the ground-truth space describes evaluated batches, not frames")

    def train(self, frames: np.ndarray, rng: np.random.Generator) -> None:
        return None

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        return None

    def save_artifacts(self, run_dir: Path, *, evaluations: int) -> None:
        return None

    def restore_artifacts(self, run_dir: Path) -> None:
        return None

    def status(self) -> dict[str, float | int]:
        return {}
