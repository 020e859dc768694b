"""Speed and memory of the redundant arm and of whole novelty-search runs.

Prints, for the record in docs/benchmarks.md:
- evaluations per second of the arm task alone, for batch sizes 200 and 1000 and
  S = 0 (no frames) and S = 1 (final frame rendered);
- wall time, evaluations per second and peak memory (max RSS) of whole
  ``serendip run`` processes: novelty search and random search on the arm;
- the final coverage of both runs, for the NS-versus-random comparison.

Usage: python benchmarks/bench_arm.py [--budget 100000] [--seed 0] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from serendip.policies import random_genomes
from serendip.tasks import make_task


def task_throughput(batch: int, frames: int, repeats: int) -> tuple[float, float]:
    """Median and best evaluations per second of ``task.evaluate`` on random genomes."""
    task = make_task("arm", n_frames=frames)
    rng = np.random.default_rng(0)
    task.evaluate(random_genomes(rng, 8, task.genome_size))  # compile the kernels
    rates = []
    for _ in range(repeats):
        genomes = random_genomes(rng, batch, task.genome_size)
        start = time.perf_counter()
        task.evaluate(genomes)
        rates.append(batch / (time.perf_counter() - start))
    return statistics.median(rates), max(rates)


def whole_run(algorithm: str, budget: int, seed: int, out: Path) -> dict:
    """Run ``serendip run`` in a child process; wall time and its peak memory."""
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "serendip",
            "run",
            "--task",
            "arm",
            "--algo",
            algorithm,
            "--budget",
            str(budget),
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--quiet",
        ],
        check=True,
    )
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = json.loads((out / "summary.json").read_text())
    return {"wall": wall, "peak_mib": peak_mib, **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    print("arm task alone (evaluations per second; median / best of", args.repeats, "batches)")
    print(f"{'batch':>6} {'S':>2} {'median':>10} {'best':>10}")
    for batch in (200, 1000):
        for frames in (0, 1):
            median, best = task_throughput(batch, frames, args.repeats)
            print(f"{batch:>6} {frames:>2} {median:>10,.0f} {best:>10,.0f}")

    print(f"\nwhole runs on the arm, budget {args.budget:,}, seed {args.seed} (one process each)")
    print(
        f"{'algorithm':>9} {'wall s':>8} {'evals/s':>9} {'peak MiB':>9} {'coverage':>9} "
        f"{'uniform.':>9} {'areas':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for algorithm in ("ns", "random"):
            # Children's max RSS is a running maximum, so the random run goes second and
            # reports max(ns, random); both are printed as the bound they are.
            figures = whole_run(algorithm, args.budget, args.seed, Path(tmp) / algorithm)
            print(
                f"{algorithm:>9} {figures['wall']:>8.1f} "
                f"{figures['evaluations'] / figures['wall']:>9,.0f} "
                f"{figures['peak_mib']:>9.0f} {figures['coverage']:>9.4f} "
                f"{figures['uniformity']:>9.4f} "
                f"{figures['reward_areas_found']}/{figures['reward_areas_total']:<4}"
            )


if __name__ == "__main__":
    main()
