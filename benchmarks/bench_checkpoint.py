"""What checkpoints cost: time per checkpoint, share of the run, bytes on disk.

Usage:
    python benchmarks/bench_checkpoint.py --task arm --algo stax --budget 100000

Runs one run with checkpoints due every ``--every`` evaluations and taken within
``--share`` of the wall time (the run config's ``checkpoint_share``; 1 takes every
due one), timing every ``CheckpointWriter.save`` call, and prints the count,
total and largest times, their share of the run's wall time, and the sizes of
the last state file and of the genome/frame store.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import serendip
from serendip.experiment import checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arm")
    parser.add_argument("--algo", default="stax")
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--share", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    seconds: list[float] = []
    save = checkpoint.CheckpointWriter.save

    def timed_save(self, *a, **k):
        started = time.perf_counter()
        path = save(self, *a, **k)
        seconds.append(time.perf_counter() - started)
        return path

    checkpoint.CheckpointWriter.save = timed_save  # type: ignore[method-assign]
    out = Path(tempfile.mkdtemp(prefix="bench-checkpoint-")) / "run"
    config = serendip.RunConfig.from_dict(
        {
            "task": args.task,
            "algorithm": args.algo,
            "budget": args.budget,
            "seed": args.seed,
            "checkpoint_every": args.every,
            "checkpoint_share": args.share,
            "learned_space": {"threads": 1},
            "out": str(out),
        }
    )
    started = time.perf_counter()
    serendip.run(config, progress=False)
    wall = time.perf_counter() - started
    directory = out / "checkpoint"
    store = sum(p.stat().st_size for p in (directory / "store").glob("*.npz"))
    last = max(directory.glob("state-*.npz"), key=lambda p: p.name).stat().st_size
    print(f"{args.algo} on {args.task}, {args.budget:,} evaluations: {wall:.1f} s")
    total, mean = sum(seconds), 1000 * sum(seconds) / len(seconds)
    print(
        f"{len(seconds)} checkpoints: {total:.2f} s in all ({100 * total / wall:.1f}% of the run), "
        f"mean {mean:.0f} ms, max {1000 * max(seconds):.0f} ms"
    )
    print(f"last state file {last / 1e6:.1f} MB, genome/frame store {store / 1e6:.1f} MB")
    print(f"run directory: {out}")


if __name__ == "__main__":
    main()
