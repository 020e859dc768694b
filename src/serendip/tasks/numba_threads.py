"""Numba's threading layer for the tasks' ``prange`` kernels (the maze, curling).

Why not numba's default: with torch imported, numba picks its OpenMP layer, which
binds to the libgomp that torch bundles, and after numba's first parallel call
torch's thread count (``torch.get_num_threads()``) reads numba's (2 on a 2-core
machine) whatever ``torch.set_num_threads`` had set. A run pinned to one torch
thread (``learned_space.threads: 1``) then ran its autoencoder on a 2-thread
OpenMP team after its first maze or curling batch: with three runs on 2 cores,
half of a maze STAX process's CPU time went to that team's second thread. The
``workqueue`` layer is numba's own thread pool, shares nothing with torch, and
gives the same results (each agent is stepped by one thread from its own rows).
A ``NUMBA_THREADING_LAYER`` set by the user still wins.

When: not at import. ``numba.config.THREADING_LAYER`` is process-wide, so
importing serendip (or a task module) must leave it alone: a program that only
imports serendip, or uses other tasks, keeps numba's default. The maze and
curling call :func:`use_numba_thread_pool` in their constructors and again just
before launching their parallel rollout kernel (a worker process gets the task
unpickled, without its constructor running). Numba reads the layer once, when it
launches its first parallel region in the process, so selecting it there is in
time as long as no other ``parallel=True`` kernel ran earlier in the process;
after that first launch, changing the setting has no effect.
"""

from __future__ import annotations

import numba


def use_numba_thread_pool() -> None:
    """Select numba's ``workqueue`` layer unless the user (or the program) chose one.

    Cheap and idempotent: called before every parallel rollout; only the call made
    before the process's first parallel launch matters.
    """
    if numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"
