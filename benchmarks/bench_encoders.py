"""The learned spaces' inference cost side by side: ``paper`` against the other encoders.

Each space is trained once (2 epochs) on the frames of 200 random agents of a
task, so that spaces with a background have one; then the calls a STAX run
makes are timed, every encoder in turn within each repetition (interleaved), on
those frames: an emitter generation (6 agents x S = 2 frames, encoder only), an
exploration generation (200 agents, encoder only, and with surprise). It prints
frames per second (median over repetitions) and each encoder's speed over the
paper's (min and median of the per-repetition ratios; above 1 is faster).

Usage:
    python benchmarks/bench_encoders.py [--task maze] [--encoders paper keypoints]
        [--threads 2] [--repeats 7]
"""

from __future__ import annotations

import argparse

import numpy as np

from bench_encoder import seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="maze", help="whose frames (a built-in task)")
    parser.add_argument("--encoders", nargs="+", default=["paper", "background", "keypoints"])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repetitions")
    args = parser.parse_args()

    from serendip.behavior import make_learned_space
    from serendip.behavior.training import AutoencoderConfig
    from serendip.policies import random_genomes
    from serendip.tasks import make_task, task_spec

    rng = np.random.default_rng(0)
    task = make_task(args.task, n_frames=2)
    frames = task.evaluate(random_genomes(rng, 200, task_spec(args.task).genome_size)).frames
    spaces = {}
    for name in dict.fromkeys(["paper", *args.encoders]):
        config = AutoencoderConfig(threads=args.threads, max_epochs=2, encoder=name)
        spaces[name] = make_learned_space(name, n_frames=2, config=config, seed=0)
        spaces[name].train(frames, np.random.default_rng(0))
    cases = [
        ("encode 6 agents x 2 frames", frames[:6], False, 100),
        ("encode 200 agents x 2 frames", frames, False, 5),
        ("encode + surprise 200 agents x 2 frames", frames, True, 3),
    ]
    print(f"{args.task} frames; torch threads: {args.threads}; {args.repeats} repetitions")
    print("| call | encoder | frames/s | speed over paper (min, median) |")
    print("|---|---|---:|---|")
    for label, batch, surprise, calls in cases:

        def call(space, b: np.ndarray = batch, s: bool = surprise) -> object:
            return space.encode_with_surprise(b) if s else space.encode(b)

        for space in spaces.values():
            call(space)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in spaces}
        for _ in range(args.repeats):
            for name, space in spaces.items():
                times[name].append(seconds(lambda sp=space: call(sp), calls))
        n = batch.shape[0] * batch.shape[1]
        for name, t in times.items():
            ratios = np.array(times["paper"]) / np.array(t)
            print(
                f"| {label} | {name} | {n / float(np.median(t)):,.0f} | "
                f"{ratios.min():.2f}x, {float(np.median(ratios)):.2f}x |"
            )


if __name__ == "__main__":
    main()
