"""The eager inference path before and after three changes, side by side.

The changes (``serendip.behavior.learned``), each giving the same values bit for
bit (checked here on every call and run):

- ``frames``: uint8 frames become floats by a NumPy table lookup (before: torch's
  ``.to(float32).div_(255)``, two OpenMP regions per call);
- ``decoder``: the decoder's transposed convolutions run on a ``channels_last``
  tensor (before: ``nn.Unflatten`` handed them a contiguous NCHW one);
- ``threads``: each kind of call runs on 1 or all torch threads, whichever has
  been faster (``serendip.behavior.threads``; before: every call on all threads).

Part 1 times the calls a STAX run makes (emitter generations: 6 agents x S = 2
frames; exploration generations: 200 agents; encoder only and with surprise) on
real arm frames, "before" (none of the changes) and "after" (all three)
interleaved and repeated, and prints frames per second and the speed-up (min
and median over the repetitions). Part 2 (``--budget N``) times whole STAX runs
on the arm, alternating. Both say how much of the machine other processes used
meanwhile: an OpenMP barrier waits for a descheduled thread, so these changes
matter most on a busy machine.

Usage:
    python benchmarks/bench_inference.py [--threads 2] [--repeats 7] [--budget 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask_tell import busy_seconds, own_seconds, print_shared_load

VARIANTS = ("before", "after")


@contextlib.contextmanager
def variant(name: str) -> Iterator[None]:
    """The code as it is (``after``), or with none of the three changes (``before``)."""
    import torch

    from serendip.behavior import learned
    from serendip.behavior.threads import InferenceThreads

    saved_choose = InferenceThreads.choose
    saved_forward = learned.UnflattenChannelsLast.forward
    saved_conversion = learned.frames_to_tensor

    def nchw(self: learned.UnflattenChannelsLast, flat: torch.Tensor) -> torch.Tensor:
        return flat.reshape(flat.shape[0], *self.shape)  # what nn.Unflatten gives

    def all_threads(self: InferenceThreads, kind: object) -> int:
        return self.counts[0]

    def torch_division(frames: np.ndarray) -> torch.Tensor:
        images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        images = images.to(torch.float32).div_(255.0)
        return images.contiguous(memory_format=torch.channels_last)

    try:
        if name == "before":
            InferenceThreads.choose = all_threads  # type: ignore[method-assign]
            learned.UnflattenChannelsLast.forward = nchw  # type: ignore[method-assign]
            learned.frames_to_tensor = torch_division
        yield
    finally:
        InferenceThreads.choose = saved_choose  # type: ignore[method-assign]
        learned.UnflattenChannelsLast.forward = saved_forward  # type: ignore[method-assign]
        learned.frames_to_tensor = saved_conversion


def seconds(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def speedup(before: list[float], after: list[float]) -> str:
    return (
        f"{min(before) / min(after):.2f}x (min) "
        f"{float(np.median(before)) / float(np.median(after)):.2f}x (median)"
    )


def part_calls(threads: int, repeats: int) -> None:
    from serendip.behavior.learned import LearnedSpace
    from serendip.behavior.training import AutoencoderConfig
    from serendip.policies import random_genomes
    from serendip.tasks import make_task, task_spec

    rng = np.random.default_rng(0)
    task = make_task("arm", n_frames=2)
    frames = task.evaluate(random_genomes(rng, 200, task_spec("arm").genome_size)).frames
    space = LearnedSpace(n_frames=2, config=AutoencoderConfig(threads=threads), seed=0)
    cases = [
        ("encode 6 agents x 2 frames", frames[:6], False, 60),
        ("encode + surprise 6 agents x 2 frames", frames[:6], True, 30),
        ("encode 200 agents x 2 frames", frames, False, 3),
        ("encode + surprise 200 agents x 2 frames", frames, True, 2),
    ]
    print(f"torch threads: {threads}; {repeats} interleaved repetitions per case")
    print("| call | " + " | ".join(f"{v} frames/s" for v in VARIANTS) + " | after / before |")
    print("|---|" + "---:|" * (len(VARIANTS) + 1))
    started, busy, own = time.perf_counter(), busy_seconds(), own_seconds()
    for name, batch, surprise, calls in cases:

        def call(b: np.ndarray = batch, s: bool = surprise) -> tuple[np.ndarray, ...]:
            return space.encode_with_surprise(b) if s else (space.encode(b),)

        outputs = {}
        for v in VARIANTS:
            with variant(v):
                outputs[v] = call()
        for v in VARIANTS[1:]:
            same = all(
                np.array_equal(a, b) for a, b in zip(outputs["before"], outputs[v], strict=True)
            )
            if not same:
                raise SystemExit(f"{name}: variant {v!r} differs from 'before'")
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(repeats):
            for v in VARIANTS:
                with variant(v):
                    times[v].append(seconds(call, calls))
        n = batch.shape[0] * batch.shape[1]
        rates = " | ".join(f"{n / float(np.median(times[v])):,.0f}" for v in VARIANTS)
        print(f"| {name} | {rates} | {speedup(times['before'], times['after'])} |", flush=True)
    print("every variant's outputs equal the 'before' ones bit for bit")
    print_shared_load(started, busy, own)


def run_digest(run: object) -> str:
    """SHA-256 of a run's log and of every archive's descriptors."""
    digest = hashlib.sha256(run.evaluations.to_csv().encode())  # type: ignore[attr-defined]
    for name in run.archive_names:  # type: ignore[attr-defined]
        digest.update(run.archive(name).descriptors.tobytes())  # type: ignore[attr-defined]
    return digest.hexdigest()


def part_runs(threads: int, budget: int, repeats: int) -> None:
    import serendip

    walls: dict[str, list[float]] = {"before": [], "after": []}
    digests: dict[str, set[str]] = {"before": set(), "after": set()}
    directory = tempfile.mkdtemp(prefix="bench_inference-")
    started, busy, own = time.perf_counter(), busy_seconds(), own_seconds()
    try:
        for repeat in range(repeats):
            for v in walls:
                out = f"{directory}/{v}-{repeat}"
                config = serendip.RunConfig.from_dict(
                    {
                        "algorithm": "stax",
                        "task": "arm",
                        "budget": budget,
                        "seed": 0,
                        "out": out,
                        "learned_space": {"threads": threads},
                    }
                )
                with variant(v):
                    start = time.perf_counter()
                    serendip.run(config, progress=False)
                    walls[v].append(time.perf_counter() - start)
                digests[v].add(run_digest(serendip.load_run(out)))
                print(f"  {v} run {repeat}: {walls[v][-1]:.1f} s", flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(f"STAX on the arm, {budget:,} evaluations, seed 0, {repeats} runs per variant:")
    for v, wall in walls.items():
        print(f"  {v}: min {min(wall):.1f} s, median {float(np.median(wall)):.1f} s")
    print(f"  after / before speed-up: {speedup(walls['before'], walls['after'])}")
    same = len(digests["before"] | digests["after"]) == 1
    print(f"  every run's descriptors identical: {same}")
    print_shared_load(started, busy, own)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repetitions")
    parser.add_argument("--budget", type=int, default=0, help="also time whole STAX runs")
    parser.add_argument("--run-repeats", type=int, default=2, help="whole runs per variant")
    args = parser.parse_args()
    part_calls(args.threads, args.repeats)
    if args.budget:
        part_runs(args.threads, args.budget, args.run_repeats)


if __name__ == "__main__":
    main()
