"""What every algorithm offers the run loop, and what its factory is given.

An algorithm is driven by ``ask`` (a batch to evaluate) and ``tell`` (its
results). Evaluation happens outside it (in process, in a pool, on a cluster),
and its whole state is plain arrays plus a JSON object, so a run can be saved
and restored exactly. The run loop knows nothing else about it: what a run
writes beyond the common outputs (the evaluation log, metrics, summary) comes
from the algorithm (:meth:`Algorithm.archives`, :meth:`Algorithm.tables`,
:meth:`Algorithm.save_artifacts`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serendip.archives import Agents
from serendip.policies import GENOME_HIGH, GENOME_LOW, random_genomes
from serendip.request import EXPLORE, Request
from serendip.tasks import EvaluationBatch, TaskSpec

__all__ = ["EXPLORE", "Algorithm", "BuildContext", "Request"]


@dataclass(frozen=True)
class BuildContext:
    """What an algorithm's factory builds from: the problem, the config, the seed.

    Attributes:
        genome_size: genes per genome.
        descriptor_bounds: ``((low, high), ...)`` of the ground-truth descriptor, one
            pair per dimension (empty when the user gives no descriptor).
        config: the run config; a factory hands each part its own section.
        n_frames: frames per agent the task renders (S).
        seed: the run's seed; every random draw derives from it.
        genome_bounds: genes stay within ``[low, high]``.
        initial_genomes: the first genomes to evaluate, ``(m, genome_size)``, or None.
        grid_shape: cells per dimension of the descriptor grid (metrics, MAP-Elites).
        spec: the task's spec when a run has a task (None under ``Search``).
    """

    genome_size: int
    descriptor_bounds: tuple[tuple[float, float], ...]
    config: Any
    n_frames: int
    seed: int
    genome_bounds: tuple[float, float] = (GENOME_LOW, GENOME_HIGH)
    initial_genomes: np.ndarray | None = None
    grid_shape: tuple[int, ...] = ()
    spec: TaskSpec | None = None

    @property
    def descriptor_size(self) -> int:
        return len(self.descriptor_bounds)

    @classmethod
    def for_task(cls, spec: TaskSpec, **fields: Any) -> BuildContext:
        """The context of a run on a task: its genome size, descriptor bounds and grid."""
        bounds = tuple(zip(spec.descriptor_low, spec.descriptor_high, strict=True))
        return cls(
            genome_size=spec.genome_size,
            descriptor_bounds=bounds,
            grid_shape=tuple(spec.grid_shape),
            spec=spec,
            **fields,
        )


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
        """What the run returns, by name (e.g. population, novelty_archive, reward_archive)."""

    def archive_columns(self) -> dict[str, dict[str, np.ndarray]]:
        """Extra per-row columns for archive tables, by archive name."""
        return {}

    def summary(self) -> dict[str, Any]:
        """Figures of the algorithm added to ``summary.json`` (beyond the log's metrics)."""
        return {}

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Extra tables of the run directory, ``<name>.parquet``: rows as dicts."""
        return {}

    def status(self) -> dict[str, float | int]:
        """Live figures for the progress display, by short name."""
        return {}

    def status_text(self) -> str:
        """:meth:`status` in a few words for the progress line (counts by name)."""
        return " ".join(
            f"{name} {value:,}" if isinstance(value, int) else f"{name} {value:.3g}"
            for name, value in self.status().items()
        )

    def pop_events(self) -> list[dict[str, Any]]:
        """Events since the last call (``{"kind": ..., "evaluations": ...}``), for loggers."""
        return []

    def save_artifacts(self, run_dir: Path) -> None:  # noqa: B027 (optional hook)
        """Write files of the run directory that grow during the run (after each batch)."""

    def restore_artifacts(self, run_dir: Path) -> None:  # noqa: B027 (optional hook)
        """After a resume: drop such files written after the loaded state."""

    def checkpoint_ready(self) -> bool:
        """Whether now is a moment to checkpoint (e.g. between two chunks of the budget)."""
        return True

    @abc.abstractmethod
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The complete state: ``(arrays, json_data)``."""

    @abc.abstractmethod
    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def first_genomes(
    initial_genomes: np.ndarray | None,
    rng: np.random.Generator,
    n: int,
    max_evaluations: int,
    genome_size: int,
    genome_bounds: tuple[float, float],
) -> np.ndarray:
    """A first batch: the user's initial genomes, or ``n`` with genes ~ N(0, 1), clipped."""
    if initial_genomes is not None:
        return np.array(initial_genomes[:max_evaluations])
    return random_genomes(rng, min(n, max_evaluations), genome_size, genome_bounds)


def prefixed(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` with every key prefixed (composing parts' states)."""
    return {prefix + key: value for key, value in arrays.items()}


def unprefixed(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays under ``prefix``, with it removed."""
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
