"""A sweep of 4 runs on the process backend against the same runs one after another.

Sequential: each run is a ``serendip run`` process, started when the previous one
ends, with the default thread settings (a user running them by hand), or with
``--sequential-threads 1`` the sweep's own settings (one torch and numba thread),
which separates the sweep's parallel efficiency from what a lone run already gets
from its second thread. Parallel:
``serendip sweep`` with ``--jobs`` (default 2) on the process backend, each run
in its own process with one torch thread. The script prints both wall times and
their ratio (the target on 2 cores: at most 0.6), and checks that every run of
the sweep found the same reward areas and coverage as its sequential twin.

Usage:
    python benchmarks/bench_sweep.py [--task point] [--algorithms stax] [--seeds 0 1 2 3]
        [--budget 3000] [--jobs 2] [--sequential-threads N] [--out /tmp/bench-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from serendip.evaluation import THREAD_VARIABLES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="point")
    parser.add_argument("--algorithms", nargs="+", default=["stax"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--sequential-threads",
        type=int,
        default=None,
        help="threads of the sequential runs (default: a run's own default)",
    )
    parser.add_argument("--out", default="/tmp/bench-sweep")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    serendip = [sys.executable, "-m", "serendip"]
    extra: list[str] = []
    env = dict(os.environ)
    if args.sequential_threads is not None:
        threads = str(args.sequential_threads)
        config = out / "threads.yaml"
        config.write_text(yaml.safe_dump({"learned_space": {"threads": int(threads)}}))
        extra = ["--config", str(config)]
        env.update(dict.fromkeys((*THREAD_VARIABLES, "NUMBA_NUM_THREADS"), threads))

    runs = [(algorithm, seed) for algorithm in args.algorithms for seed in args.seeds]
    tick = time.perf_counter()
    sequential = {}
    for algorithm, seed in runs:
        run_dir = out / "sequential" / f"{args.task}-{algorithm}-seed{seed}"
        started = time.perf_counter()
        subprocess.run(
            [
                *serendip,
                "run",
                "--task",
                args.task,
                "--algo",
                algorithm,
                "--seed",
                str(seed),
                "--budget",
                str(args.budget),
                "--out",
                str(run_dir),
                "--quiet",
                *extra,
            ],
            check=True,
            env=env,
        )
        sequential[run_dir.name] = json.loads((run_dir / "summary.json").read_text())
        print(f"  sequential {run_dir.name}: {time.perf_counter() - started:.1f} s", flush=True)
    sequential_seconds = time.perf_counter() - tick

    sweep_file = out / "sweep.yaml"
    sweep_file.write_text(
        yaml.safe_dump(
            {
                "out": str(out / "sweep"),
                "tasks": [args.task],
                "algorithms": args.algorithms,
                "seeds": args.seeds,
                "budget": args.budget,
                "jobs": args.jobs,
            }
        )
    )
    tick = time.perf_counter()
    subprocess.run([*serendip, "sweep", str(sweep_file), "--quiet"], check=True)
    sweep_seconds = time.perf_counter() - tick
    for name, summary in sequential.items():
        swept = json.loads((out / "sweep" / name / "summary.json").read_text())
        for key in ("reward_areas_found", "coverage"):
            if swept[key] != summary[key]:
                print(f"  note: {name} {key}: sequential {summary[key]}, sweep {swept[key]}")

    print(f"{len(runs)} runs of {args.algorithms} on {args.task}, budget {args.budget}")
    threads = args.sequential_threads or "default"
    print(f"one after another ({threads} threads): {sequential_seconds:.1f} s")
    print(f"sweep, {args.jobs} jobs (processes): {sweep_seconds:.1f} s")
    print(f"ratio: {sweep_seconds / sequential_seconds:.2f}")


if __name__ == "__main__":
    main()
