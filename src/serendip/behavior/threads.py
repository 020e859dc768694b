"""How many torch threads each inference call uses, chosen by how fast each count has been.

Why: an OpenMP parallel region ends at a barrier that waits for every thread. On
a 2-core machine whose cores are also busy with anything else (another run, a
test suite), a descheduled thread stalls every layer: an emitter generation's
12 frames took 10-15x longer on 2 threads than on 1 while the cores were shared,
and up to 1.35x longer on 1 thread than on 2 when they were not
(``benchmarks/bench_inference.py``). No fixed count is right for both, so each
kind of call tries both counts and keeps the faster, trying the other again now
and then as the load changes.

This changes no result: on the machines measured, inference gives the same values
bit for bit on any number of threads (each frame is computed by one thread), so
the choice, which depends on timings, only decides how fast a run goes. That is
checked, not assumed: the first call of each kind runs on every count and is
compared bit for bit (:meth:`InferenceThreads.unchecked`); a kind whose results
differ keeps the space's count for good, so a run stays deterministic on a
machine whose kernels are not thread-invariant. Trainings keep the space's fixed
count (a gradient sum is split across threads, and its bits change).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Hashable


class InferenceThreads:
    """Picks 1 or ``most`` threads per kind of call from recent timings of each.

    A kind of call is any hashable key (the space uses the chunk's frame count and
    whether the decoder runs). Until :meth:`checked` says a kind gives the same
    bits on every count, it gets ``most``. Each count is then tried ``warmup`` times; then
    the count with the lower median over its last ``window`` calls is used, and
    every ``explore_every``-th call of that kind tries the other one.

    Args:
        most: the space's thread count; with 1 there is nothing to choose.
        adaptive: False: every call gets ``most`` (the compiled path, whose kernels
            are built for one thread count).
        window: recent calls per count whose median decides.
        warmup: calls of each count before choosing.
        explore_every: one call in this many tries the count not chosen.
    """

    def __init__(
        self,
        most: int,
        *,
        adaptive: bool = True,
        window: int = 7,
        warmup: int = 2,
        explore_every: int = 25,
    ) -> None:
        if most < 1:
            raise ValueError(f"most must be >= 1, got {most}")
        self.counts = (most, 1) if most > 1 and adaptive else (most,)
        self.window = window
        self.warmup = warmup
        self.explore_every = explore_every
        self._times: dict[Hashable, dict[int, deque[float]]] = {}
        self._calls: dict[Hashable, int] = {}
        self._invariant: dict[Hashable, bool] = {}

    def unchecked(self, kind: Hashable) -> bool:
        """Whether calls of ``kind`` must first be run on every count and compared."""
        return len(self.counts) > 1 and kind not in self._invariant

    def checked(self, kind: Hashable, same: bool) -> None:
        """Every count gave the same bits for ``kind`` (else it keeps ``most`` for good)."""
        self._invariant[kind] = same

    def choose(self, kind: Hashable) -> int:
        """Threads for the next call of ``kind``."""
        if len(self.counts) == 1 or not self._invariant.get(kind, False):
            return self.counts[0]
        times = self._times.setdefault(kind, {n: deque(maxlen=self.window) for n in self.counts})
        for n in self.counts:
            if len(times[n]) < self.warmup:
                return n
        calls = self._calls[kind] = self._calls.get(kind, 0) + 1
        best = min(self.counts, key=lambda n: statistics.median(times[n]))
        if calls % self.explore_every == 0:
            return next(n for n in self.counts if n != best)
        return best

    def record(self, kind: Hashable, threads: int, seconds: float) -> None:
        """How long a call of ``kind`` took on ``threads`` threads."""
        if len(self.counts) > 1 and threads in self.counts:
            self._times.setdefault(kind, {n: deque(maxlen=self.window) for n in self.counts})[
                threads
            ].append(seconds)
