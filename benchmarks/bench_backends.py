"""Per-generation wall time of the evaluation backends: inprocess, processes, ray.

For each task and frame count, every backend evaluates the same batches (an
exploration generation of 200 genomes, and an emitter generation of 6): after a
warm-up batch (workers import serendip and load the compiled kernels), the
median wall time of ``--generations`` batches is printed, with the difference to
in process, which is the backend's overhead per generation when negative
speed-ups are set aside. The start-up time of each backend (processes spawned,
a local Ray cluster on loopback started, actors built) is printed too; it is
paid once per run. Results are checked equal to in process.

Usage:
    python benchmarks/bench_backends.py [--tasks arm point] [--frames 0 2]
        [--batches 200 6] [--workers 2] [--generations 20] [--backends inprocess processes ray]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from serendip.evaluation import InProcess
from serendip.evaluation.processes import ProcessPool
from serendip.policies import random_genomes
from serendip.tasks import make_task


def build(backend: str, task, workers: int):
    if backend == "inprocess":
        return InProcess(task)
    if backend == "processes":
        return ProcessPool(task, workers=workers)
    from serendip.evaluation.ray_actors import RayActors

    return RayActors(task, workers=workers)


def measure(backend, task, workers, batches, generations) -> list[dict]:
    started = time.perf_counter()
    evaluator = build(backend, task, workers)
    rng = np.random.default_rng(0)
    first = random_genomes(rng, batches[0], task.genome_size)
    evaluator.evaluate(first, episode_seeds=np.arange(len(first)))  # warm-up
    startup = time.perf_counter() - started
    rows = []
    try:
        for size in batches:
            times = []
            for generation in range(generations):
                genomes = random_genomes(rng, size, task.genome_size)
                seeds = np.arange(size) + generation * size
                tick = time.perf_counter()
                batch = evaluator.evaluate(genomes, episode_seeds=seeds)
                times.append(time.perf_counter() - tick)
                if generation == 0:  # same results as in process
                    expected = task.evaluate(genomes, episode_seeds=seeds)
                    assert np.array_equal(batch.descriptors, expected.descriptors)
                    assert np.array_equal(batch.frames, expected.frames)
            rows.append(
                {"batch": size, "median_ms": 1000 * statistics.median(times), "startup": startup}
            )
    finally:
        evaluator.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["arm", "point"])
    parser.add_argument("--frames", nargs="+", type=int, default=[0, 2])
    parser.add_argument("--batches", nargs="+", type=int, default=[200, 6])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--backends", nargs="+", default=["inprocess", "processes", "ray"])
    args = parser.parse_args()
    if "ray" in args.backends:
        # One local cluster for the whole benchmark (its start-up is printed apart).
        from serendip.evaluation.ray_actors import connect

        tick = time.perf_counter()
        connect(None, num_cpus=args.workers)
        print(
            f"local Ray cluster (loopback, {args.workers} CPUs) started in "
            f"{time.perf_counter() - tick:.1f} s"
        )
    print(f"{os.cpu_count()} cores, {args.workers} workers, {args.generations} generations each")
    print(
        f"{'task':<6} {'S':>2} {'batch':>5} {'backend':<10} {'start-up s':>10} "
        f"{'ms/generation':>13} {'vs inprocess':>12}"
    )
    for name in args.tasks:
        for frames in args.frames:
            task = make_task(name, n_frames=frames)
            task.evaluate(random_genomes(np.random.default_rng(1), 8, task.genome_size))
            reference: dict[int, float] = {}
            for backend in args.backends:
                for row in measure(backend, task, args.workers, args.batches, args.generations):
                    if backend == "inprocess":
                        reference[row["batch"]] = row["median_ms"]
                    base = reference.get(row["batch"])
                    delta = "" if base is None else f"{row['median_ms'] - base:+.1f} ms"
                    print(
                        f"{name:<6} {frames:>2} {row['batch']:>5} {backend:<10} "
                        f"{row['startup']:>10.1f} {row['median_ms']:>13.1f} {delta:>12}",
                        flush=True,
                    )
            task.close()


if __name__ == "__main__":
    main()
