"""The ``ray`` backend: Ray actors, each holding a copy of the task, evaluate shares of a batch.

``pip install "serendip[ray]"``. With no address the backend starts a local Ray
cluster for the run, bound to the loopback interface only, and shuts it down at
the end; with ``evaluation.ray_address`` (``"auto"``, ``"host:port"``) it
connects to a running cluster (whose nodes must have serendip installed). When
Ray is already initialised in the process (a notebook, a test), that cluster is
used and left running.

Fault tolerance: an actor that dies mid-batch (its node lost, its process killed)
is replaced by a fresh one that evaluates the same share again, so the batch
comes back complete and identical and the run goes on; after
:data:`MAX_REPLACEMENTS` deaths in one batch the batch fails.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any

import numpy as np

from serendip.evaluation import (
    EvaluationError,
    default_workers,
    dump_task,
    limit_threads,
    load_task,
    shares,
    threads_per_worker,
)
from serendip.tasks import EvaluationBatch, Task

MAX_REPLACEMENTS = 3  # per batch: dead actors replaced before the batch fails
# Ray has no public switch for a loopback-only single-node cluster; this variable
# (read by ``ray._private.ray_constants``) makes it use 127.0.0.1 as the node address,
# as it does on macOS and Windows, and its processes then listen on loopback only.
_LOOPBACK_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray() -> Any:
    """``ray``, or an :class:`EvaluationError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise EvaluationError('the ray backend needs Ray: pip install "serendip[ray]"') from None
    return ray


def connect(address: str | None, *, num_cpus: int | None = None) -> bool:
    """Make sure this process is connected to a Ray cluster.

    Args:
        address: ``None`` starts a local cluster on loopback with ``num_cpus`` CPUs;
            ``"auto"`` or ``"host:port"`` connects to a running one.

    Returns:
        True when this call started or connected (``ray.shutdown()`` is then the
        caller's to call); False when Ray was already initialised.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"configure_logging": False, "include_dashboard": False}
    if address is not None:
        _check_reachable(address)
        try:
            ray.init(address=address, **options)
        except Exception as error:  # no cluster there, or a version mismatch
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise EvaluationError(
                f"cannot connect to the Ray cluster at {address!r}: {type(error).__name__}: {first}"
            ) from None
        return True
    # The constant was read when ray was imported: set it for this process too.
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    saved_variable = os.environ.get(_LOOPBACK_VARIABLE)
    saved_constant = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[_LOOPBACK_VARIABLE] = "0"
    if saved_constant is not None:
        constants.ENABLE_RAY_CLUSTER = False  # type: ignore[union-attr]
    try:
        ray.init(num_cpus=num_cpus or default_workers(), _node_ip_address="127.0.0.1", **options)
    finally:
        if saved_constant is not None:
            constants.ENABLE_RAY_CLUSTER = saved_constant  # type: ignore[union-attr]
        if saved_variable is None:
            os.environ.pop(_LOOPBACK_VARIABLE, None)
        else:
            os.environ[_LOOPBACK_VARIABLE] = saved_variable
    return True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at ``host:port`` (``ray.init`` retries for minutes)."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise EvaluationError(
            f"no Ray cluster answers at {address!r} ({error.strerror or error}); "
            "start one with `ray start --head` or set evaluation.ray_address"
        ) from None


class TaskWorker:
    """What one Ray actor runs: the task, built once from its bytes, evaluating shares."""

    def __init__(self, payload: bytes, threads: int) -> None:
        limit_threads(threads)
        self.task = load_task(payload)

    def evaluate(self, genomes: np.ndarray, episode_seeds: np.ndarray) -> EvaluationBatch:
        return self.task.evaluate(genomes, episode_seeds=episode_seeds)

    def ready(self) -> bool:
        return True


class RayActors:
    """Evaluates each batch on ``workers`` Ray actors, one contiguous share each.

    Args:
        task: the run's task; each actor gets a copy of it.
        workers: number of actors (default: one per core; with ``address``, one
            per CPU of the cluster). Each actor reserves one CPU.
        address: ``None`` starts a local cluster; ``"auto"`` / ``"host:port"`` connects.
        worker_class: the actor's class (a subclass of :class:`TaskWorker`).
    """

    def __init__(
        self,
        task: Task,
        *,
        workers: int | None = None,
        address: str | None = None,
        worker_class: type[TaskWorker] = TaskWorker,
    ) -> None:
        self._ray = ray = import_ray()
        self._owns_cluster = connect(address, num_cpus=workers)
        try:
            if workers is None:
                workers = (
                    int(ray.cluster_resources().get("CPU", 1))
                    if address is not None
                    else default_workers()
                )
            self.workers = max(1, int(workers))
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if self.workers > cpus:
                raise EvaluationError(
                    f"{self.workers} Ray actors need one CPU each and the cluster has {cpus}; "
                    "set evaluation.workers lower"
                )
            self.replacements = 0  # dead actors replaced so far
            threads = 1 if address is not None else threads_per_worker(self.workers)
            self._payload = ray.put(dump_task(task))
            self._actor_class = ray.remote(num_cpus=1)(worker_class)
            self._threads = threads
            self._actors = [self._new_actor() for _ in range(self.workers)]
            # Wait for every actor to be built: a task that cannot be loaded fails here.
            ray.get([actor.ready.remote() for actor in self._actors])
        except BaseException:
            self.close()
            raise

    def _new_actor(self) -> Any:
        return self._actor_class.remote(self._payload, self._threads)

    def evaluate(self, genomes: np.ndarray, *, episode_seeds: np.ndarray) -> EvaluationBatch:
        """Evaluate ``genomes`` (one episode each, seeded by ``episode_seeds``)."""
        ray = self._ray
        genomes = np.asarray(genomes)
        seeds = np.asarray(episode_seeds)
        parts = shares(len(genomes), self.workers)
        futures = [
            self._actors[i].evaluate.remote(genomes[part], seeds[part])
            for i, part in enumerate(parts)
        ]
        results: list[EvaluationBatch] = []
        deaths = 0
        for i, part in enumerate(parts):
            while True:
                try:
                    results.append(ray.get(futures[i]))
                    break
                except ray.exceptions.RayActorError:
                    # The actor died (ActorDiedError) or is unreachable: a new actor
                    # evaluates the share again; the other shares are unaffected.
                    deaths += 1
                    if deaths > MAX_REPLACEMENTS:
                        raise EvaluationError(
                            f"Ray actors died {deaths} times in one batch; giving up"
                        ) from None
                    with contextlib.suppress(Exception):
                        ray.kill(self._actors[i], no_restart=True)
                    self._actors[i] = self._new_actor()
                    self.replacements += 1
                    futures[i] = self._actors[i].evaluate.remote(genomes[part], seeds[part])
        return EvaluationBatch.concat(results)

    @property
    def actors(self) -> list[Any]:
        """The current actor handles, one per worker (replaced ones excluded)."""
        return list(self._actors)

    def close(self) -> None:
        """Release the actors, and the local cluster when this backend started it."""
        ray = self._ray
        for actor in getattr(self, "_actors", []):
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self._actors = []
        if self._owns_cluster and ray.is_initialized():
            ray.shutdown()
        self._owns_cluster = False

    def __enter__(self) -> RayActors:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
