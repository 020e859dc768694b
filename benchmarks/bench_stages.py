"""Cost of each stage of a STAX generation on the arm, at the batch sizes a run uses.

Exploration generations evaluate 200 offspring; emitter generations evaluate 6 (12
in a trial). Each figure is the mean over repeated calls, in milliseconds.

Usage:
    python benchmarks/bench_stages.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np


def timed(function: Callable[[], object], repeats: int) -> float:
    """Mean milliseconds per call, after one warm-up call (compilation, caches)."""
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()

    import torch

    from serendip.behavior.learned import LearnedSpace
    from serendip.behavior.training import AutoencoderConfig
    from serendip.novelty import ReferenceSet, novelty
    from serendip.policies import random_genomes
    from serendip.tasks import make_task, task_spec
    from serendip.tasks.arm import RedundantArm
    from serendip.tasks.base import Task

    class SteppedArm(RedundantArm):
        advance = Task.advance  # the generic NumPy step loop, for comparison

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    genome_size = task_spec("arm").genome_size
    rows = []
    for n in (6, 200):
        genomes = random_genomes(rng, n, genome_size)
        for frames in (0, 2):
            compiled = make_task("arm", n_frames=frames)
            stepped = SteppedArm(n_frames=frames)
            repeats = 200 if n == 6 else 10
            rows.append(
                (
                    f"evaluate {n} agents, S = {frames}",
                    timed(lambda t=compiled, g=genomes: t.evaluate(g), repeats),
                    timed(lambda t=stepped, g=genomes: t.evaluate(g), repeats),
                )
            )
    space = LearnedSpace(n_frames=2, config=AutoencoderConfig(threads=args.threads), seed=0)
    for n in (6, 200):
        frames = make_task("arm", n_frames=2).evaluate(random_genomes(rng, n, genome_size)).frames
        repeats = 50 if n == 6 else 5
        rows.append(
            (
                f"encode {n} agents x 2 frames",
                timed(lambda f=frames: space.encode(f), repeats),
                None,
            )
        )
        rows.append(
            (
                f"encode + surprise {n} agents x 2 frames",
                timed(lambda f=frames: space.encode_with_surprise(f), repeats),
                None,
            )
        )
    for size in (2_000, 13_000, 30_000):
        reference = rng.normal(size=(size, 20))
        ids = np.arange(size)
        prepared = ReferenceSet(reference, ids)
        for n in (6, 300):
            queries, query_ids = rng.normal(size=(n, 20)), np.arange(size, size + n)
            repeats = 100 if n == 6 else 5
            rows.append(
                (
                    f"novelty of {n} vs {size:,} (20-D): prepared set / from scratch",
                    timed(lambda p=prepared, q=queries, i=query_ids: p.novelty(q, i), repeats),
                    timed(
                        lambda q=queries, i=query_ids, r=reference, j=ids: novelty(q, i, r, j),
                        repeats,
                    ),
                )
            )
    print(f"torch threads: {args.threads}\n")
    print("| stage | ms | ms (NumPy steps / unprepared) |")
    print("|---|---:|---:|")
    for name, fast, slow in rows:
        print(f"| {name} | {fast:.2f} | {'-' if slow is None else f'{slow:.2f}'} |")


if __name__ == "__main__":
    main()
