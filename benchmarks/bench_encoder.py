"""The learned space's inference paths side by side: ``eager`` against ``compiled``.

Part 1 times the calls a STAX run makes (emitter generations: 6 agents x S = 2
frames, encoder only; exploration generations: 200 agents, encoder only and with
surprise) on real arm frames, the two paths interleaved and repeated; it prints
frames per second, the ratio compiled / eager (min and median over the
repetitions) and the largest difference between the two paths' outputs.

Part 2 (``--budget N``, optional) runs the same STAX run on the arm with each path,
alternating, ``--repeats`` times, and prints wall times and their ratio: the
figure that matters, since encoding is only part of a run.

Usage:
    python benchmarks/bench_encoder.py [--threads 2] [--repeats 7] [--budget 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable

import numpy as np


def seconds(function: Callable[[], object], calls: int) -> float:
    """Seconds per call over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def ratio_text(eager: list[float], compiled: list[float]) -> str:
    """Speed-up of compiled over eager: from the best times and from the medians."""
    return (
        f"{min(eager) / min(compiled):.2f}x (min) "
        f"{float(np.median(eager)) / float(np.median(compiled)):.2f}x (median)"
    )


def part_calls(threads: int, repeats: int) -> None:
    from serendip.behavior.learned import LearnedSpace
    from serendip.behavior.training import AutoencoderConfig
    from serendip.policies import random_genomes
    from serendip.tasks import make_task, task_spec

    rng = np.random.default_rng(0)
    task = make_task("arm", n_frames=2)
    frames = task.evaluate(random_genomes(rng, 200, task_spec("arm").genome_size)).frames
    config = AutoencoderConfig(threads=threads)
    spaces = {
        "eager": LearnedSpace(n_frames=2, config=config, seed=0),
        "compiled": LearnedSpace(
            n_frames=2, config=dataclasses.replace(config, inference="compiled"), seed=0
        ),
    }
    spaces["compiled"].load_state_arrays(spaces["eager"].state_arrays())
    cases = [
        ("encode 6 agents x 2 frames", frames[:6], False, 100),
        ("encode 200 agents x 2 frames", frames, False, 5),
        ("encode + surprise 6 agents x 2 frames", frames[:6], True, 50),
        ("encode + surprise 200 agents x 2 frames", frames, True, 3),
    ]
    print(f"torch threads: {threads}; {repeats} interleaved repetitions per case")
    print("| call | eager frames/s | compiled frames/s | compiled / eager | max difference |")
    print("|---|---:|---:|---:|---:|")
    for name, batch, surprise, calls in cases:

        def call(space: LearnedSpace, b: np.ndarray = batch, s: bool = surprise) -> object:
            return space.encode_with_surprise(b) if s else space.encode(b)

        outputs = {path: call(space) for path, space in spaces.items()}  # warm-up, compile
        if surprise:
            difference = max(
                float(np.abs(outputs["eager"][i] - outputs["compiled"][i]).max()) for i in (0, 1)
            )
        else:
            difference = float(np.abs(outputs["eager"] - outputs["compiled"]).max())
        times: dict[str, list[float]] = {path: [] for path in spaces}
        for _ in range(repeats):
            for path, space in spaces.items():
                times[path].append(seconds(lambda sp=space: call(sp), calls))
        n = batch.shape[0] * batch.shape[1]
        rates = {path: n / float(np.median(t)) for path, t in times.items()}
        print(
            f"| {name} | {rates['eager']:,.0f} | {rates['compiled']:,.0f} | "
            f"{ratio_text(times['eager'], times['compiled'])} | {difference:.1e} |"
        )


def part_runs(threads: int, budget: int, repeats: int) -> None:
    import serendip

    walls: dict[str, list[float]] = {"eager": [], "compiled": []}
    directory = tempfile.mkdtemp(prefix="bench_encoder-")
    try:
        for repeat in range(repeats):
            for path in walls:
                out = f"{directory}/{path}-{repeat}"
                config = serendip.RunConfig.from_dict(
                    {
                        "algorithm": "stax",
                        "task": "arm",
                        "budget": budget,
                        "seed": 0,
                        "out": out,
                        "learned_space": {"threads": threads, "inference": path},
                    }
                )
                start = time.perf_counter()
                serendip.run(config, progress=False)
                walls[path].append(time.perf_counter() - start)
                print(f"  {path} run {repeat}: {walls[path][-1]:.1f} s", flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(f"STAX on the arm, {budget:,} evaluations, seed 0, {repeats} runs per path:")
    for path, wall in walls.items():
        print(f"  {path}: min {min(wall):.1f} s, median {float(np.median(wall)):.1f} s")
    print(f"  compiled / eager speed-up: {ratio_text(walls['eager'], walls['compiled'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repetitions")
    parser.add_argument("--budget", type=int, default=0, help="also time whole STAX runs")
    parser.add_argument("--run-repeats", type=int, default=2, help="whole runs per path")
    args = parser.parse_args()
    part_calls(args.threads, args.repeats)
    if args.budget:
        part_runs(args.threads, args.budget, args.run_repeats)


if __name__ == "__main__":
    main()
