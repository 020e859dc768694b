"""The ``processes`` backend: a pool of local worker processes, one share of a batch each.

Workers are started with the ``spawn`` method (the parent holds torch and numba
thread pools, which ``fork`` would copy in an unusable state). Each one loads
the run's task once, caps its thread pools to its share of the cores (BLAS
variables set before it starts, numba and torch after), then answers
``(genomes, episode seeds)`` requests on a pipe. A batch is cut into contiguous
shares, one per worker, and the results are concatenated in order, so a batch
evaluates exactly as in process.

A worker that dies (killed, out of memory) is started again and its share sent
again, up to :data:`MAX_RESTARTS` times per batch; an exception raised by the
task (e.g. a :class:`~serendip.tasks.TaskError`) is raised in the parent.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from serendip.evaluation import (
    THREAD_VARIABLES,
    EvaluationError,
    default_workers,
    dump_task,
    limit_threads,
    load_task,
    shares,
    threads_per_worker,
)
from serendip.tasks import EvaluationBatch, Task

MAX_RESTARTS = 3  # per batch: restarts of dead workers before the batch fails
_STOP = None


def _serve(conn: Connection, payload: bytes, threads: int) -> None:
    """A worker's loop: build the task once, evaluate each share it is sent."""
    # Ctrl-C reaches the whole process group: the parent stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    task: Task | None = None
    failure: tuple[BaseException, str] | None = None
    try:
        task = load_task(payload)
    except Exception as error:  # reported on the first request, not as a silent death
        failure = (error, traceback.format_exc())
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                break
            if message is _STOP:
                break
            genomes, seeds = message
            if failure is not None:
                reply: tuple[Any, ...] = ("error", *failure)
            else:
                try:
                    reply = ("ok", task.evaluate(genomes, episode_seeds=seeds))  # type: ignore[union-attr]
                except Exception as error:
                    reply = ("error", error, traceback.format_exc())
            try:
                conn.send(reply)
            except Exception as error:  # an exception that does not pickle
                conn.send(("error", EvaluationError(repr(error)), traceback.format_exc()))
    finally:
        if task is not None:
            task.close()


def _thread_environment(threads: int) -> contextlib.AbstractContextManager[None]:
    """Set the BLAS/OpenMP thread variables a spawned child inherits, then restore them."""
    return child_environment({name: str(threads) for name in THREAD_VARIABLES})


@contextlib.contextmanager
def child_environment(variables: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``variables`` set while processes that inherit it start."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _main_hidden(hide: bool) -> Iterator[None]:
    """While ``hide``, a spawned child does not run the parent's ``__main__`` again.

    multiprocessing's spawn runs the parent's main script (as ``__mp_main__``) in
    each child, so that objects pickled by reference to it can be found, and a
    script without an ``if __name__ == "__main__":`` guard runs again in every
    child. The task reaches a worker by cloudpickle, which carries the functions
    and classes of ``__main__`` by value, so a worker does not need the script.
    The child is told nothing about it while its preparation data is read, in
    ``start()``.
    """
    main = sys.modules.get("__main__")
    if not hide or main is None:
        yield
        return
    saved = {
        name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__
    }
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class ProcessPool:
    """Evaluates each batch in ``workers`` local processes, one contiguous share each.

    Args:
        task: the run's task; each worker gets a copy of it.
        workers: number of processes (default: one per core).
        threads: numba/torch/BLAS threads per worker (default: its share of the cores).
        run_main: whether each worker runs the parent's ``__main__`` module again, as
            multiprocessing's spawn does (needed when the task names things defined
            in it by reference); False for the pool that
            :class:`~serendip.evaluation.InProcess` starts on its own for a gym
            task's environments, so that a script without a main guard works.
    """

    def __init__(
        self,
        task: Task,
        *,
        workers: int | None = None,
        threads: int | None = None,
        run_main: bool = True,
    ):
        self.run_main = run_main
        self.workers = int(workers or default_workers())
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.threads = int(threads or threads_per_worker(self.workers))
        self.restarts = 0  # dead workers replaced so far
        self.aborted = False  # set by abort(): a worker's death is then no reason to restart
        self._context = multiprocessing.get_context("spawn")
        self._payload = dump_task(task)
        self._processes: list[Any] = []
        self._connections: list[Connection] = []
        try:
            for _ in range(self.workers):
                process, conn = self._start()
                self._processes.append(process)
                self._connections.append(conn)
        except BaseException:
            self.close()
            raise

    def _start(self) -> tuple[Any, Connection]:
        parent, child = self._context.Pipe()
        with _thread_environment(self.threads), _main_hidden(not self.run_main):
            process = self._context.Process(
                target=_serve,
                args=(child, self._payload, self.threads),
                name="serendip-evaluation",
                daemon=True,
            )
            process.start()
        child.close()  # the parent keeps only its end, so a dead worker reads as EOF
        return process, parent

    def _replace(self, index: int) -> None:
        old = self._processes[index]
        with contextlib.suppress(OSError):
            self._connections[index].close()
        if old.is_alive():
            old.kill()
        old.join(timeout=5)
        self._processes[index], self._connections[index] = self._start()
        self.restarts += 1

    def evaluate(self, genomes: np.ndarray, *, episode_seeds: np.ndarray) -> EvaluationBatch:
        """Evaluate ``genomes`` (one episode each, seeded by ``episode_seeds``)."""
        if self.aborted or not self._connections:
            raise EvaluationError("the process pool is closed")
        genomes = np.asarray(genomes)
        seeds = np.asarray(episode_seeds)
        parts = shares(len(genomes), self.workers)
        pending = []
        for index, part in enumerate(parts):
            pending.append(self._send(index, (genomes[part], seeds[part])))
        results: list[EvaluationBatch] = []
        error: tuple[BaseException, str] | None = None
        restarts = 0
        for index, part in enumerate(parts):
            while True:
                try:
                    if not pending[index]:
                        raise EOFError
                    reply = self._connections[index].recv()
                    break
                except (EOFError, OSError):
                    if self.aborted:  # killed by abort(): nobody waits for this batch
                        raise EvaluationError("the evaluation workers were stopped") from None
                    # The worker died mid-share: a fresh one evaluates the share again.
                    restarts += 1
                    if restarts > MAX_RESTARTS:
                        raise EvaluationError(
                            f"evaluation workers died {restarts} times in one batch; giving up "
                            "(a script that uses the processes backend must run its entry point "
                            "under `if __name__ == '__main__':`)"
                        ) from None
                    self._replace(index)
                    pending[index] = self._send(index, (genomes[part], seeds[part]))
            if reply[0] == "ok":
                results.append(reply[1])
            elif error is None:  # keep reading the other shares: the pipes stay in step
                error = (reply[1], reply[2])
        if error is not None:
            exception, remote = error
            exception.add_note(f"in an evaluation worker:\n{remote}")
            raise exception
        return EvaluationBatch.concat(results)

    def _send(self, index: int, message: tuple[np.ndarray, np.ndarray]) -> bool:
        """Send a share; False when the worker is already gone (handled as a death)."""
        try:
            self._connections[index].send(message)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return False
        return True

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        for conn in self._connections:
            with contextlib.suppress(OSError, ValueError):
                conn.send(_STOP)
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.close()
        self._processes, self._connections = [], []

    def abort(self) -> None:
        """Kill every worker now, even mid-share (a second Ctrl-C; an abandoned batch).

        A thread still waiting in :meth:`evaluate` then gets an
        :class:`EvaluationError` instead of starting workers again. The pipes are
        left to that thread (closing them under it could block it); they go with
        the pool.
        """
        self.aborted = True
        for process in self._processes:
            if process.is_alive():
                process.kill()
        for process in self._processes:
            process.join(timeout=5)

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
