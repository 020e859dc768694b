"""Simulation speed of every task: robot-steps per second, with and without frames.

A robot-step is one control step of one episode, the policy included (what the
issue's 1,000,000-per-second target and Kheperax's figures count). For each task
the script evaluates a batch of random genomes (after a warm-up call that
compiles the kernels), repeats, and prints the best and median rates, for S = 0
and S = 2 frames per episode. CPU time is printed too: on a loaded machine
steps per CPU-second is the steadier figure.

``--gym-compare ID ...`` measures Gymnasium tasks side by side instead (issue
19): for each environment, the same random genomes and episode seeds evaluated by

- ``hand``: a hand-written loop over a Gymnasium ``SyncVectorEnv`` with the same
  policy (what a Gymnasium user writes: reset with the seeds, step every
  sub-environment until every episode has ended or the horizon), no frames;
- ``hand-async``: the same loop over an ``AsyncVectorEnv`` (one process per
  episode; only with ``--async``, for small batches);
- ``task-1``: serendip's ``GymTask`` stepping in process (what a run does with
  ``env_processes: 1``);
- ``task-P``: the run's in-process evaluator stepping the ``GymTask`` in ``P``
  worker processes (``P`` = the cores; ``env_processes: P``);

each at S = 0 and S = 2 frames (``hand`` with frames renders every sub-environment
at full size at the sampling times and pools them as serendip does). Every round
runs every variant once, in an order rotated between rounds (interleaved, so that
a change of the machine's load hits all of them); printed: per variant the
evaluations per second (best, median) and CPU seconds per 1,000 evaluations
(this process and its children: workers included), and per round ratios (min,
median): task / hand (the adapter's efficiency: target >= 0.8), frames / no frames
(target <= 2) and P processes / 1. Results of ``task-1`` and ``task-P`` are checked
to be identical every round. Then the cost of one frame (the environment's
``render()`` and the pooling to 64x64), and how many cores other processes used
meanwhile (from /proc/stat).

Usage:
    python benchmarks/bench_tasks.py [--tasks arm curling maze point] [--batch 1000]
        [--repeats 5] [--gym CartPole-v1 --gym-threshold 200]
    MUJOCO_GL=egl python benchmarks/bench_tasks.py --gym-compare CartPole-v1 Acrobot-v1 \\
        gymnasium_robotics:PointMaze_Large-v3 [--batch 200 ...] [--rounds 5] [--async]
        [--variants hand task-1 task-P]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serendip.evaluation import InProcess
from serendip.policies import random_genomes
from serendip.tasks import make_task
from serendip.tasks.base import frame_times
from serendip.tasks.render import area_average

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ask_tell import busy_seconds, own_seconds, print_shared_load

# Settings per Gymnasium id: make's keyword arguments and the success rule.
# The large point maze of docs/results.md: the ball starts in cell (1, 1) ("r"), the
# goal is fixed in cell (1, 9) ("g").
FIXED_LARGE_MAZE = [
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [1, "r", 0, 0, 0, 1, 0, 0, 0, "g", 0, 1],
    [1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],
    [1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1],
    [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1],
    [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
]
GYM_SETTINGS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"reward_threshold": 200.0},
    "Acrobot-v1": {"reward_threshold": -100.0},
    "gymnasium_robotics:PointMaze_Large-v3": {
        "options": {
            "maze_map": FIXED_LARGE_MAZE,
            "continuing_task": False,
            "reward_type": "sparse",
            "max_episode_steps": 300,
        },
    },
}


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


# --- the Gymnasium comparison -------------------------------------------------------------
@dataclass
class Outcome:
    wall: float
    cpu: float
    steps: int
    batch: Any = None  # the task's EvaluationBatch (task variants)


def pool_frames(images: list[np.ndarray]) -> np.ndarray:
    """Full-size frames to 64x64, as serendip pools them."""
    return area_average(np.stack(images)[..., :3])


class HandLoop:
    """A hand-written loop over a Gymnasium vector environment, with serendip's policy."""

    def __init__(self, env_id: str, options: dict, task, n: int, frames: int, kind: str) -> None:
        import gymnasium

        from serendip.tasks.gym import flatten_batch, split_env_id

        module, name = split_env_id(env_id)
        if module:
            importlib.import_module(module)
        render_mode = "rgb_array" if frames else None
        make = [lambda: gymnasium.make(name, render_mode=render_mode, **options)] * n
        vector = (
            gymnasium.vector.AsyncVectorEnv if kind == "async" else gymnasium.vector.SyncVectorEnv
        )
        self.envs = vector(make, autoreset_mode=gymnasium.vector.AutoresetMode.NEXT_STEP)
        self.task = task
        self.frames = frames
        self.flatten = lambda obs: flatten_batch(
            gymnasium.spaces, self.envs.single_observation_space, obs
        )

    def evaluate(self, genomes: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        policy, task = self.task.policy, self.task
        layers = policy.unpack(genomes)
        obs, _ = self.envs.reset(seed=[int(s) for s in seeds])
        n = len(genomes)
        returns = np.zeros(n)
        lengths = np.zeros(n, dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        samples = set((frame_times(task.spec.horizon, self.frames) + 1).tolist())
        for t in range(1, task.spec.horizon + 1):
            actions = task._env_actions(policy.forward(layers, self.flatten(obs)))
            obs, rewards, terminated, truncated, _ = self.envs.step(actions)
            returns[alive] += rewards[alive]
            lengths[alive] += 1
            alive &= ~(terminated | truncated)
            if t in samples:
                pool_frames(list(self.envs.render()))
            if not alive.any():
                break
        return returns, lengths

    def close(self) -> None:
        self.envs.close()


def gym_variants(
    env_id: str, n: int, cores: int, args
) -> tuple[dict[str, Callable], list[Callable]]:
    """name -> evaluate(genomes, seeds) -> Outcome for the selected variants, and closers."""
    settings = GYM_SETTINGS.get(env_id, {})
    options = settings.get("options", {})
    threshold = settings.get("reward_threshold")
    variants: dict[str, Callable] = {}
    closers: list[Callable] = []
    for frames in (0, 2):
        for processes in (1, cores):
            kind = "task-1" if processes == 1 else "task-P"
            if kind not in args.variants:
                continue
            task = make_task(
                f"gym:{env_id}", n_frames=frames, options=options, reward_threshold=threshold
            )
            evaluator = InProcess(task, workers=processes)
            closers += [evaluator.close, task.close]

            def run_task(genomes, seeds, evaluator=evaluator) -> Outcome:
                batch = evaluator.evaluate(genomes, episode_seeds=seeds)
                return Outcome(0, 0, int(batch.extras["episode_length"].sum()), batch)

            variants[f"{kind} S={frames}"] = run_task
        for kind in ("hand", "hand-async"):
            if kind not in args.variants or (kind == "hand-async" and not args.use_async):
                continue
            reference = make_task(f"gym:{env_id}", options=options, reward_threshold=threshold)
            if frames and n > HAND_GL_ENVS and _renders_with_gl(env_id, options, threshold):
                # One OpenGL context per sub-environment at full size: 200 of them
                # exhausted this machine's 24 GB (serendip keeps 16 per process).
                print(f"{kind} S={frames} skipped: batch {n} > {HAND_GL_ENVS} MuJoCo renderers")
                reference.close()
                continue
            loop = HandLoop(env_id, options, reference, n, frames, kind.removeprefix("hand-"))
            closers += [loop.close, reference.close]

            def run_hand(genomes, seeds, loop=loop) -> Outcome:
                _, lengths = loop.evaluate(genomes, seeds)
                return Outcome(0, 0, int(lengths.sum()))

            variants[f"{kind} S={frames}"] = run_hand
    return variants, closers


HAND_GL_ENVS = 64
"""The most MuJoCo environments with frames the hand-written loop makes (memory)."""


def _renders_with_gl(env_id: str, options: dict, threshold: float | None) -> bool:
    """Whether the environment's frames come from MuJoCo's OpenGL renderer."""
    task = make_task(f"gym:{env_id}", n_frames=1, options=options, reward_threshold=threshold)
    try:
        return task._env_cap() < sys.maxsize
    finally:
        task.close()


def timed(run: Callable, genomes: np.ndarray, seeds: np.ndarray) -> Outcome:
    cpu = own_seconds()
    wall = time.perf_counter()
    outcome = run(genomes, seeds)
    outcome.wall = time.perf_counter() - wall
    outcome.cpu = own_seconds() - cpu
    return outcome


def frame_cost(env_id: str, repeats: int = 40) -> str:
    """ms per frame: the environment's render() (at the size the task uses), and pooling."""
    settings = GYM_SETTINGS.get(env_id, {})
    task = make_task(
        f"gym:{env_id}",
        n_frames=1,
        options=settings.get("options", {}),
        reward_threshold=settings.get("reward_threshold"),
    )
    env = task._env_batch(1)[0]
    env.reset(seed=0)
    env.render()  # the viewer, the surface
    start = time.perf_counter()
    images = [env.render() for _ in range(repeats)]
    render = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for image in images:
        pool_frames([image])
    pool = (time.perf_counter() - start) / repeats
    task.close()
    shape = images[0].shape
    return f"{shape[1]}x{shape[0]} render() {1e3 * render:.2f} ms, pooling {1e3 * pool:.2f} ms"


def compare_gym(args) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    batches = args.batch or [200]
    print(
        f"Gymnasium tasks side by side: batch {' and '.join(map(str, batches))}, "
        f"{args.rounds} rounds (+1 warm-up), "
        f"order rotated each round; P = {cores} processes; cores: {cores}; load average "
        f"before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    started, busy, own = time.perf_counter(), busy_seconds(), own_seconds()
    for env_id, batch in [(e, b) for e in args.gym_compare for b in batches]:
        variants, closers = gym_variants(env_id, batch, cores, args)
        names = list(variants)
        rng = np.random.default_rng(args.seed)
        genome_size = make_task(f"gym:{env_id}", **_make_arguments(env_id)).genome_size
        rounds: list[dict[str, Outcome]] = []
        identical = True
        for r in range(args.rounds + 1):
            genomes = random_genomes(rng, batch, genome_size)
            seeds = np.arange(batch, dtype=np.int64) + r * batch
            order = names[r % len(names) :] + names[: r % len(names)]
            results = {name: timed(variants[name], genomes, seeds) for name in order}
            for frames in (0, 2):
                one, many = results.get(f"task-1 S={frames}"), results.get(f"task-P S={frames}")
                if one is not None and many is not None:
                    identical &= _same(one.batch, many.batch)
            if r > 0:  # round 0 warms up (workers, environments, imports)
                rounds.append(results)
        for close in closers:
            close()
        steps = statistics.median(x[names[0]].steps for x in rounds) / batch
        print(f"\n{env_id}, batch {batch}: mean episode length {steps:.0f} steps")
        print(
            f"{'variant':<18}{'evals/s best':>14}{'median':>10}{'steps/s median':>16}"
            f"{'CPU s/1000 evals':>18}"
        )
        for name in names:
            rates = [batch / x[name].wall for x in rounds]
            step_rates = [x[name].steps / x[name].wall for x in rounds]
            cpu = statistics.median(1000 * x[name].cpu / batch for x in rounds)
            print(
                f"{name:<18}{max(rates):>14,.1f}{statistics.median(rates):>10,.1f}"
                f"{statistics.median(step_rates):>16,.0f}{cpu:>18.2f}"
            )
        print(f"{'ratio per round (evals/s)':<40}{'min':>7}{'median':>8}")
        pairs = [
            ("task-1 / hand, S=0 (target >= 0.8)", "task-1 S=0", "hand S=0"),
            ("task-1 / hand, S=2", "task-1 S=2", "hand S=2"),
            ("task-P / hand, S=0", "task-P S=0", "hand S=0"),
            ("task-P / hand, S=2", "task-P S=2", "hand S=2"),
            ("task-P / task-1, S=0", "task-P S=0", "task-1 S=0"),
            ("task-P / task-1, S=2", "task-P S=2", "task-1 S=2"),
            ("task-P / hand-async, S=0", "task-P S=0", "hand-async S=0"),
            ("hand-async / hand, S=0", "hand-async S=0", "hand S=0"),
        ]
        for title, a, b in pairs:
            if a in names and b in names:
                ratios = [x[b].wall / x[a].wall for x in rounds]
                print(f"  {title:<38}{min(ratios):>7.2f}{statistics.median(ratios):>8.2f}")
        for title, a, b in [
            ("task-1: S=2 time / S=0 time (target <= 2)", "task-1 S=2", "task-1 S=0"),
            ("task-P: S=2 time / S=0 time (target <= 2)", "task-P S=2", "task-P S=0"),
            ("hand: S=2 time / S=0 time", "hand S=2", "hand S=0"),
        ]:
            if a in names and b in names:
                ratios = [x[a].wall / x[b].wall for x in rounds]
                print(f"  {title:<38}{min(ratios):>7.2f}{statistics.median(ratios):>8.2f}")
        if any(n.startswith("task-P") for n in names) and any(
            n.startswith("task-1") for n in names
        ):
            print(f"  task-1 and task-P results identical in every round: {identical}")
        print(f"  one frame: {frame_cost(env_id)}")
    print(
        f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(1, 5, 15 min; {cores} cores)"
    )
    print_shared_load(started, busy, own)


def _make_arguments(env_id: str) -> dict:
    settings = GYM_SETTINGS.get(env_id, {})
    return {
        "options": settings.get("options", {}),
        "reward_threshold": settings.get("reward_threshold"),
    }


def _same(a, b) -> bool:
    return (
        np.array_equal(a.rewards, b.rewards)
        and np.array_equal(a.descriptors, b.descriptors)
        and np.array_equal(a.frames, b.frames)
        and np.array_equal(a.final_observations, b.final_observations)
        and all(np.array_equal(a.extras[k], b.extras[k]) for k in a.extras)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["arm", "curling", "maze", "point"])
    parser.add_argument("--batch", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gym", default=None, help="also a Gymnasium id, e.g. CartPole-v1")
    parser.add_argument("--gym-threshold", type=float, default=200.0)
    parser.add_argument("--gym-compare", nargs="+", metavar="ID", help="Gymnasium ids")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--async", dest="use_async", action="store_true")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["hand", "hand-async", "task-1", "task-P"],
        help="which of hand, hand-async, task-1, task-P to run",
    )
    args = parser.parse_args()
    if args.gym_compare:
        compare_gym(args)
        return
    args.batch = args.batch[0] if args.batch else 1000
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
