"""Evaluation backends: where the genomes of a batch are evaluated.

Every backend returns exactly what ``task.evaluate(genomes, episode_seeds=...)``
returns in process: each episode is seeded by its own integer seed, so splitting
a batch into contiguous shares and concatenating the results in order changes
nothing. The same seed gives the same run on every backend.

- ``inprocess`` (default): the run's own task, in the run's process.
- ``processes`` (``processes.py``): a pool of local worker processes, one share each.
- ``ray`` (``ray_actors.py``): Ray actors on a local or running cluster; the share
  of an actor that dies is evaluated again by a replacement.

Workers get the run's task object itself (serialised with cloudpickle once, when
the backend starts), so a task built by the caller, e.g. a ``GymTask`` over an
environment factory, is evaluated by the workers as it is in process. Each
worker limits its numba and torch threads to its share of the cores.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from serendip.tasks import EvaluationBatch, Task, TaskError

# Environment variables that size the thread pools of libraries a worker may load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class EvaluationError(TaskError):
    """A backend could not evaluate a batch (workers kept dying, no Ray cluster).

    A :class:`TaskError`, so a run stops with one line, as when a task fails.
    """


@dataclass(frozen=True)
class EvaluationConfig:
    """Options of the evaluation backends (the ``evaluation`` section of a run config).

    Attributes:
        workers: worker processes (``processes``) or Ray actors (``ray``); ``None``:
            one per core (``os.cpu_count()``; with ``ray_address``, the cluster's CPUs).
        ray_address: ``None`` starts a local Ray cluster on the loopback interface for
            the run; ``"auto"`` or ``"host:port"`` connects to a running cluster.
    """

    workers: int | None = None
    ray_address: str | None = None


class Evaluator(Protocol):
    """Evaluates batches of genomes; ``close()`` releases workers."""

    def evaluate(self, genomes: np.ndarray, *, episode_seeds: np.ndarray) -> EvaluationBatch: ...

    def close(self) -> None: ...


class InProcess:
    """The default backend: the run's own task, in the run's process."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def evaluate(self, genomes: np.ndarray, *, episode_seeds: np.ndarray) -> EvaluationBatch:
        return self.task.evaluate(genomes, episode_seeds=episode_seeds)

    def close(self) -> None:
        """Nothing to release: the run closes its task."""


def make_evaluator(config: Any, task: Task) -> Evaluator:
    """The backend ``config.backend`` names, for ``task``; options: ``config.evaluation``."""
    options = getattr(config, "evaluation", None) or EvaluationConfig()
    if config.backend == "inprocess":
        return InProcess(task)
    if config.backend == "processes":
        from serendip.evaluation.processes import ProcessPool

        return ProcessPool(task, workers=options.workers)
    if config.backend == "ray":
        from serendip.evaluation.ray_actors import RayActors

        return RayActors(task, workers=options.workers, address=options.ray_address)
    raise ValueError(f"unknown backend {config.backend!r}")


# --- helpers shared by the backends ----------------------------------------------------


def shares(n: int, parts: int) -> list[slice]:
    """``n`` rows cut into at most ``parts`` contiguous, non-empty, near-equal slices.

    An empty batch is one empty slice, so a backend still answers with an empty batch.
    """
    if n <= 0:
        return [slice(0, 0)]
    parts = max(1, min(parts, n))
    bounds = np.linspace(0, n, parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def default_workers() -> int:
    return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Each worker's share of the cores (at least 1), so workers do not oversubscribe."""
    return max(1, default_workers() // max(1, workers))


def dump_task(task: Task) -> bytes:
    """The task as bytes for a worker: cloudpickle (closures, modules) when installed.

    Sent over IPC to the workers only; nothing is pickled into a run directory.
    """
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle is a dependency
        return pickle.dumps(task)
    return cloudpickle.dumps(task)


def load_task(payload: bytes) -> Task:
    return pickle.loads(payload)


def limit_threads(threads: int) -> None:
    """Cap this process's numba and torch thread pools (called in each worker)."""
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


__all__ = [
    "EvaluationConfig",
    "EvaluationError",
    "Evaluator",
    "InProcess",
    "make_evaluator",
    "shares",
]
