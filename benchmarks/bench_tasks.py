"""Simulation speed of every task: robot-steps per second, with and without frames.

A robot-step is one control step of one episode, the policy included (what the
issue's 1,000,000-per-second target and Kheperax's figures count). For each task
the script evaluates a batch of random genomes (after a warm-up call that
compiles the kernels), repeats, and prints the best and median rates, for S = 0
and S = 2 frames per episode. CPU time is printed too: on a loaded machine
steps per CPU-second is the steadier figure.

Usage:
    python benchmarks/bench_tasks.py [--tasks arm curling maze point] [--batch 1000]
        [--repeats 5] [--gym CartPole-v1 --gym-threshold 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from serendip.policies import random_genomes
from serendip.tasks import make_task


def measure(name: str, frames: int, batch: int, repeats: int, threshold: float | None) -> dict:
    task = make_task(name, n_frames=frames, reward_threshold=threshold)
    rng = np.random.default_rng(0)
    task.evaluate(random_genomes(rng, 8, task.genome_size))  # compile, build caches
    rates, cpu_rates = [], []
    steps = batch * task.spec.horizon
    for _ in range(repeats):
        genomes = random_genomes(rng, batch, task.genome_size)
        wall, cpu = time.perf_counter(), time.process_time()
        result = task.evaluate(genomes)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        # Gym episodes end early: count the steps actually simulated.
        lengths = result.extras.get("episode_length")
        taken = int(lengths.sum()) if lengths is not None else steps
        rates.append(taken / wall)
        cpu_rates.append(taken / max(cpu, 1e-9))
    task.close()
    return {
        "task": name,
        "frames": frames,
        "best": max(rates),
        "median": statistics.median(rates),
        "per_cpu_second": statistics.median(cpu_rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["arm", "curling", "maze", "point"])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gym", default=None, help="also a Gymnasium id, e.g. CartPole-v1")
    parser.add_argument("--gym-threshold", type=float, default=200.0)
    args = parser.parse_args()
    print(f"batch {args.batch}, best and median of {args.repeats}; cores: {os.cpu_count()}")
    print(f"{'task':<18}{'S':>3}{'best steps/s':>16}{'median':>14}{'per CPU-s':>14}")
    jobs = [(t, None) for t in args.tasks]
    if args.gym:
        jobs.append((f"gym:{args.gym}", args.gym_threshold))
    for name, threshold in jobs:
        batch = args.batch if threshold is None else min(args.batch, 100)
        for frames in (0, 2):
            r = measure(name, frames, batch, args.repeats, threshold)
            print(
                f"{name:<18}{frames:>3}{r['best']:>16,.0f}{r['median']:>14,.0f}"
                f"{r['per_cpu_second']:>14,.0f}"
            )


if __name__ == "__main__":
    main()
