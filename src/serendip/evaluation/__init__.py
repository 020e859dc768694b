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
import multiprocessing
import os
import pickle
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from serendip.errors import RunError
from serendip.tasks import TASKS, EvaluationBatch, Task, TaskError

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
    timeout: float | None = None


DEFAULT_TIMEOUT = 600.0
"""Seconds a batch of a ``gym:`` or user task may take when ``evaluation.timeout`` is null."""


def batch_timeout(options: EvaluationConfig, task_name: str) -> float | None:
    """Seconds a batch may take, None for no limit.

    ``evaluation.timeout``: a number of seconds (0: no limit), or null: no limit
    for the built-in tasks (their code is ours and cannot block), and
    :data:`DEFAULT_TIMEOUT` for ``gym:`` and user tasks, whose environments can.
    """
    if options.timeout is not None:
        return options.timeout or None
    builtin = task_name in TASKS and TASKS[task_name].traits.get("builtin", False)
    return None if builtin else DEFAULT_TIMEOUT


class BatchTimeout(RunError):
    """A batch did not finish within ``evaluation.timeout`` seconds."""


class TimeLimited:
    """An evaluator whose batches run on a helper thread, each within ``timeout`` seconds.

    Why a thread: an environment's ``step`` that blocks (a simulator waiting on a
    socket, a deadlock) cannot be interrupted from Python, but the run can stop
    waiting for it. The run then stops with one line naming the task and the
    batch, its last checkpoint intact; the stuck thread is abandoned (a daemon,
    gone when the process ends). The main thread waits in short slices, so
    Ctrl-C and SIGTERM are handled at once even while a batch runs. One thread
    serves every batch, so an environment that binds state to its thread (an
    OpenGL context, say) sees a single thread, as without a timeout.
    """

    def __init__(self, inner: Evaluator, *, timeout: float, task_name: str) -> None:
        self.inner = inner
        self.timeout = timeout
        self.task_name = task_name
        self.batches = 0
        self.busy = False
        self._jobs: queue.Queue[tuple[np.ndarray, np.ndarray] | None] = queue.Queue()
        self._results: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            genomes, seeds = job
            try:
                self._results.put(("batch", self.inner.evaluate(genomes, episode_seeds=seeds)))
            except BaseException as error:  # handed to the waiting thread
                self._results.put(("error", error))

    def evaluate(self, genomes: np.ndarray, *, episode_seeds: np.ndarray) -> EvaluationBatch:
        if self.busy:
            raise BatchTimeout(f"task {self.task_name!r}: an earlier batch is still running")
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="serendip-batch", daemon=True)
            self._thread.start()
        self.busy = True
        self._jobs.put((genomes, episode_seeds))
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BatchTimeout(
                    f"task {self.task_name!r}: batch {self.batches} ({len(genomes)} episodes) "
                    f"did not finish within evaluation.timeout = {self.timeout:g} s; the run "
                    "stopped at its last checkpoint (raise evaluation.timeout, or 0 for none)"
                )
            try:
                kind, value = self._results.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            break
        self.busy = False
        self.batches += 1
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop the helper thread and close the backend; a batch still running is abandoned.

        The helper thread of an abandoned batch stays (it may be stuck in the task);
        the backend's worker processes, if any, are stopped at once, so that none
        is still evaluating, or started again, while the process exits.
        """
        if self.busy:
            abort = getattr(self.inner, "abort", None)
            if abort is not None:
                abort()
            return
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=5)
            self._thread = None
        self.inner.close()

    def abort(self) -> None:
        """Stop at once (after a second Ctrl-C): as :meth:`close`, without waiting for workers."""
        if self.busy:
            self.close()
            return
        abort = getattr(self.inner, "abort", None)
        if abort is not None:
            abort()
        self.close()


class Evaluator(Protocol):
    """Evaluates batches of genomes; ``close()`` releases workers."""

    def evaluate(self, genomes: np.ndarray, *, episode_seeds: np.ndarray) -> EvaluationBatch: ...

    def close(self) -> None: ...


class InProcess:
    """The default backend: the run's own task, in the run's process.

    A task whose large batches pay for worker processes (``task.parallel_batch``:
    a gym task, whose environments step one by one in Python) has those batches
    evaluated by a :class:`~serendip.evaluation.processes.ProcessPool` of
    ``workers`` processes, made at the first such batch and kept; the results are
    what the task gives in process.

    Args:
        task: the run's task.
        workers: processes for a batch (a run's ``env_processes``): None, one per
            core for batches of at least ``task.parallel_batch`` episodes; ``k``,
            ``k`` for every batch of two episodes or more; 1, always in process.
            Tasks without ``parallel_batch`` always evaluate in process.
    """

    def __init__(self, task: Task, *, workers: int | None = None) -> None:
        self.task = task
        self.workers = workers
        self._pool: Any = None  # processes.ProcessPool, made when a batch needs it

    def workers_for(self, n: int) -> int:
        """Processes for a batch of ``n`` episodes (1: in process)."""
        threshold = self.task.parallel_batch
        if threshold is None or n < 2 or multiprocessing.current_process().daemon:
            return 1  # a daemonic process (someone's worker) may not start processes
        if self.workers is not None:
            return self.workers
        return default_workers() if n >= threshold else 1

    def evaluate(self, genomes: np.ndarray, *, episode_seeds: np.ndarray) -> EvaluationBatch:
        workers = self.workers_for(len(genomes))
        if workers == 1:
            return self.task.evaluate(genomes, episode_seeds=episode_seeds)
        if self._pool is None or self._pool.workers != workers:
            from serendip.evaluation.processes import ProcessPool

            self.close()
            # One thread each: the workers share the cores. A script without a main
            # guard works: the workers get the task by value, not by running it again.
            self._pool = ProcessPool(self.task, workers=workers, threads=1, run_main=False)
        return self._pool.evaluate(genomes, episode_seeds=episode_seeds)

    def close(self) -> None:
        """Stop the worker processes, if any (the run closes its task)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def abort(self) -> None:
        """Kill the worker processes, if any, without waiting for the batch they hold."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.abort()


def make_evaluator(config: Any, task: Task) -> Evaluator:
    """The backend ``config.backend`` names, for ``task``; options: ``config.evaluation``."""
    options = getattr(config, "evaluation", None) or EvaluationConfig()
    evaluator = _backend(config, options, task)
    timeout = batch_timeout(options, task.spec.name)
    if timeout is None:
        return evaluator
    return TimeLimited(evaluator, timeout=timeout, task_name=task.spec.name)


def _backend(config: Any, options: EvaluationConfig, task: Task) -> Evaluator:
    if config.backend == "inprocess":
        return InProcess(task, workers=getattr(config, "env_processes", None))
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
