"""SIGKILL a run at random moments, resume it each time, compare with an uninterrupted run.

Usage (issue 5's figure: the arm, 500k evaluations, 20 kills):
    python benchmarks/kill_resume.py --task arm --algo stax --budget 500000 --kills 20 \\
        --out runs/kill-resume

It runs the reference (uninterrupted) run first, unless ``--out/reference`` has
finished already, then the killed run: each kill lands at a moment drawn
uniformly over the reference's wall time (seeded by ``--seed-kills``), i.e. at a
random point of the run, not at a checkpoint. Printed per kill: the evaluations
logged on disk and in the last checkpoint (what is on disk beyond the checkpoint
is redone after the kill, a lower bound of the work lost; the time lost is the
total against the reference's). At the end the
evaluation log, the archives and the emitter log are compared with the
reference's, and the total time is reported against the reference's.

Both runs use one torch thread, so that they are comparable bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from serendip.experiment.checkpoint import checkpoint_files, load_checkpoint


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "serendip", *args]


def logged_rows(run_dir: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in run_dir.glob("evaluations.parquet/*"))


def same_run(a: Path, b: Path) -> list[str]:
    """Names of what differs between two finished runs (empty: identical)."""
    differences = []
    log_a = pd.read_parquet(a / "evaluations.parquet").sort_values("index", ignore_index=True)
    log_b = pd.read_parquet(b / "evaluations.parquet").sort_values("index", ignore_index=True)
    if not log_a.equals(log_b):
        differences.append("evaluation log")
    for path in sorted((a / "archives").glob("*.parquet")):
        if not pq.read_table(path).equals(pq.read_table(b / "archives" / path.name)):
            differences.append(f"archive {path.stem}")
    if (a / "emitters.parquet").exists() and not pq.read_table(a / "emitters.parquet").equals(
        pq.read_table(b / "emitters.parquet")
    ):
        differences.append("emitter log")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arm")
    parser.add_argument("--algo", default="stax")
    parser.add_argument("--budget", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed-kills", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/kill-resume"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = args.out / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "task": args.task,
                "algorithm": args.algo,
                "budget": args.budget,
                "seed": args.seed,
                "learned_space": {"threads": 1},
            }
        )
    )
    reference, killed = args.out / "reference", args.out / "killed"
    timing_file = args.out / "reference-seconds.txt"
    if not (reference / "summary.json").exists():
        started = time.perf_counter()
        base = ["run", "--config", str(config), "--out", str(reference), "--quiet"]
        subprocess.run(command(*base), check=True)
        timing_file.write_text(f"{time.perf_counter() - started:.3f}\n")
    reference_seconds = float(timing_file.read_text())
    print(f"reference: {reference_seconds:.1f} s")

    rng = np.random.default_rng(args.seed_kills)
    moments = np.sort(rng.uniform(0.02, 0.98, args.kills)) * reference_seconds
    if killed.exists():
        raise SystemExit(f"{killed} exists: remove it to measure again")
    total = 0.0
    lost = []
    first = command("run", "--config", str(config), "--out", str(killed), "--quiet")
    previous_moment = 0.0
    for number, moment in enumerate(moments, start=1):
        argv = first if number == 1 else command("resume", str(killed), "--quiet")
        started = time.perf_counter()
        process = subprocess.Popen(argv)
        # Run until this kill's moment of the uninterrupted run's timeline.
        deadline = started + (moment - previous_moment)
        while time.perf_counter() < deadline and process.poll() is None:
            time.sleep(0.01)
        if process.poll() is not None:
            raise SystemExit(f"run ended before kill {number} (exit {process.returncode})")
        os.kill(process.pid, 9)
        process.wait()
        total += time.perf_counter() - started
        previous_moment = moment
        on_disk = logged_rows(killed)
        saved = load_checkpoint(killed)[1]["evaluations"] if checkpoint_files(killed) else 0
        lost.append(max(on_disk, saved) - saved)
        print(
            f"kill {number:2d} at {moment:7.1f} s: {on_disk:,} evaluations logged, "
            f"checkpoint at {saved:,}"
        )
    started = time.perf_counter()
    subprocess.run(command("resume", str(killed), "--quiet"), check=True)
    total += time.perf_counter() - started
    differences = same_run(reference, killed)
    print(f"killed {args.kills} times: {total:.1f} s in all vs {reference_seconds:.1f} s")
    print(
        "evaluations on disk beyond the last checkpoint at a kill (redone after it): "
        f"max {max(lost):,}, mean {np.mean(lost):,.0f}"
    )
    print("identical to the uninterrupted run" if not differences else f"DIFFERENT: {differences}")


if __name__ == "__main__":
    main()
