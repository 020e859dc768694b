"""Overhead of the ask/tell loop itself: serendip's novelty search against pyribs'.

What is measured: the wall time a search library spends per iteration in ``ask``
and ``tell`` (its own overhead), as opposed to the user's evaluation,
``task.evaluate``, which both libraries call on the same task object
(``serendip.make_task("arm")``, 200 genomes per iteration, episode seeds = the
running evaluation count). Both loops are driven by the same function, timing
each call with ``time.perf_counter``.

- serendip: ``serendip.Search("ns", genome_size=..., descriptor_bounds=...,
  genome_bounds=(GENOME_LOW, GENOME_HIGH), seed=...)``, ``search.ask()`` then
  ``search.tell(rewards=..., descriptors=...)`` (tell validates its arguments, so
  that cost is included).
- pyribs: ``ProximityArchive(k_neighbors=15, novelty_threshold=...)`` +
  ``GaussianEmitter(sigma=0.05, batch_size=200, bounds = the genome bounds)`` +
  ``Scheduler``, ``scheduler.ask()`` then ``scheduler.tell(rewards, descriptors)``.

Alike: 100 initial genomes N(0, 1) clipped to the genome bounds, then 200 offspring
per iteration, Gaussian mutation sigma 0.05 clipped to [GENOME_LOW, GENOME_HIGH],
novelty = mean distance to the k = 15 nearest neighbours (a k-d tree in both).
What differs (the algorithms, not only the code):

- serendip's NS keeps a population of 100 selected by novelty ((mu + lambda),
  2 offspring per parent); novelty is measured against population + offspring +
  novelty archive + reward archive, and 5 random offspring enter the novelty
  archive per iteration (+ every rewarded agent enters the reward archive).
- pyribs has no population: parents are drawn uniformly from the archive, and an
  offspring enters the archive when its novelty against the archive alone is
  >= ``--novelty-threshold``. The default 0.035 makes both archives end about the
  same size after 500 iterations (about 2,500 agents), but pyribs' grows fast
  early and slowly late, serendip's by 5 per iteration. Archive sizes are printed.
- ``--result-archive`` adds the 50 x 50 GridArchive result archive pyribs' docs use
  for coverage (off by default: serendip keeps no grid in its loop).

How: one warm-up round of ``--warmup`` iterations per library (numba compilation,
imports, caches) is discarded; then ``--rounds`` rounds, each running both libraries
for ``--iterations`` iterations from a fresh search with the same seed (so every
round repeats the same work), the order of the two alternating between rounds.
Printed: per round and library the ask, tell and evaluate ms per iteration (wall)
and the CPU time of ask + tell (``time.process_time``: every thread of the process,
so work a library hands to a thread pool counts; steadier on a shared machine);
per library the framework (ask + tell) ms per iteration, wall and CPU, min and
median over rounds, and evaluations per second through the whole loop (best and median); the
serendip/pyribs ratios of each round, min and median; the archive sizes; the load
average before and after (this process itself adds about 1 while it runs) and, from
/proc/stat, the cores other processes used meanwhile (they inflate every figure).

Usage:
    python benchmarks/bench_ask_tell.py [--iterations 500] [--rounds 5] [--warmup 50]
        [--seed 0] [--novelty-threshold 0.035] [--result-archive]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np

import serendip
from serendip.policies import GENOME_HIGH, GENOME_LOW, random_genomes

OFFSPRING = 200  # per iteration, both libraries
INITIAL = 100  # serendip's initial population; pyribs' initial solutions
SIGMA = 0.05
K = 15


@dataclass
class Loop:
    """One library's search, as the benchmark drives it."""

    ask: Callable[[], np.ndarray]
    tell: Callable[[object], None]  # takes the task's EvaluationBatch
    archive_size: Callable[[], int]


# --- serendip ---------------------------------------------------------------------------
def serendip_loop(task, seed: int, args) -> Loop:
    """serendip's public ask/tell API."""
    spec = task.spec
    search = serendip.Search(
        "ns",
        genome_size=task.genome_size,
        descriptor_bounds=list(zip(spec.descriptor_low, spec.descriptor_high, strict=True)),
        seed=seed,
        genome_bounds=(GENOME_LOW, GENOME_HIGH),
    )

    def tell(batch) -> None:
        search.tell(rewards=batch.rewards, descriptors=batch.descriptors)

    return Loop(
        ask=search.ask,
        tell=tell,
        archive_size=lambda: len(search.archive("novelty_archive").descriptors),
    )


# --- pyribs -------------------------------------------------------------------------------
def pyribs_loop(task, seed: int, args) -> Loop:
    """pyribs' novelty search: ProximityArchive + GaussianEmitter + Scheduler."""
    from ribs.archives import GridArchive, ProximityArchive
    from ribs.emitters import GaussianEmitter
    from ribs.schedulers import Scheduler

    spec, size = task.spec, task.genome_size
    seeds = np.random.SeedSequence(seed).generate_state(3)
    archive = ProximityArchive(
        solution_dim=size,
        measure_dim=spec.descriptor_size,
        k_neighbors=K,
        novelty_threshold=args.novelty_threshold,
        seed=int(seeds[0]),
    )
    emitter = GaussianEmitter(
        archive,
        sigma=SIGMA,
        initial_solutions=random_genomes(np.random.default_rng(seed), INITIAL, size),
        lower_bounds=np.full(size, GENOME_LOW),
        upper_bounds=np.full(size, GENOME_HIGH),
        batch_size=OFFSPRING,
        seed=int(seeds[1]),
    )
    result = None
    if args.result_archive:
        result = GridArchive(
            solution_dim=size,
            dims=spec.grid_shape,
            ranges=list(zip(spec.descriptor_low, spec.descriptor_high, strict=True)),
            seed=int(seeds[2]),
        )
    scheduler = Scheduler(archive, [emitter], result_archive=result)

    def tell(batch) -> None:
        scheduler.tell(batch.rewards, batch.descriptors)

    return Loop(ask=scheduler.ask, tell=tell, archive_size=lambda: len(scheduler.archive))


# --- measurement ----------------------------------------------------------------------------
def drive(loop: Loop, task, iterations: int) -> dict:
    """Run ``iterations`` ask/evaluate/tell iterations; seconds in each part."""
    ask = tell = evaluate = cpu = 0.0
    done = 0
    clock, cpu_clock = time.perf_counter, time.process_time  # every thread's CPU
    start = clock()
    for _ in range(iterations):
        c0, t0 = cpu_clock(), clock()
        genomes = loop.ask()
        t1, c1 = clock(), cpu_clock()
        batch = task.evaluate(genomes, episode_seeds=np.arange(done, done + len(genomes)))
        c2, t2 = cpu_clock(), clock()
        loop.tell(batch)
        t3, c3 = clock(), cpu_clock()
        ask += t1 - t0
        evaluate += t2 - t1
        tell += t3 - t2
        cpu += (c1 - c0) + (c3 - c2)
        done += len(genomes)
    wall = clock() - start
    return {
        "ask": ask,
        "tell": tell,
        "evaluate": evaluate,
        "cpu": cpu,
        "wall": wall,
        "evaluations": done,
        "archive": loop.archive_size(),
    }


def run_round(sides, task, iterations: int, seed: int, args, reverse: bool) -> dict:
    results = {}
    for name, build in reversed(sides) if reverse else sides:
        loop = build(task, seed, args)  # construction is not timed
        gc.collect()
        results[name] = drive(loop, task, iterations)
    return results


def busy_seconds() -> float | None:
    """CPU-seconds every process has used so far (all cores), from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is in user


def own_seconds() -> float:
    """CPU-seconds of this process and every process below it, live or reaped (/proc)."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    try:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return total
    me = os.getpid()
    for pid in cpu:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, me):
            ancestor = parents.get(ancestor)
        if ancestor == me:
            total += cpu[pid]
    return total


def print_shared_load(started: float, busy: float | None, own: float) -> None:
    """How many cores other processes used since ``started`` (``busy``/``own`` read then)."""
    busy_after = busy_seconds()
    if busy is None or busy_after is None:
        return
    wall = time.perf_counter() - started
    others = max(0.0, (busy_after - busy) - (own_seconds() - own)) / wall
    print(f"other processes used {others:.2f} cores on average during the measurement")
    if others > 0.1:
        print(
            "note: other processes shared the cores; the wall-time figures are inflated"
            " and noisy, the min and the CPU-time figures less so"
        )


def ms(seconds: float, iterations: int) -> float:
    return 1e3 * seconds / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=50, help="iterations, discarded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--novelty-threshold", type=float, default=0.035)
    parser.add_argument(
        "--result-archive", action="store_true", help="pyribs: add a GridArchive result archive"
    )
    args = parser.parse_args()

    label = 'Search("ns") ask/tell'
    sides = [("serendip", serendip_loop), ("pyribs", pyribs_loop)]
    task = serendip.make_task("arm")
    n = args.iterations
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"arm, {OFFSPRING} offspring per iteration ({INITIAL} initial), sigma {SIGMA}, k = {K}; "
        f"{args.rounds} rounds x {n} iterations, +{args.warmup} warm-up iterations discarded"
    )
    print(f"serendip {serendip.__version__}: {label}")
    grid = " + GridArchive result archive" if args.result_archive else ""
    print(
        f"pyribs {version('ribs')}: ProximityArchive(k_neighbors={K}, novelty_threshold="
        f"{args.novelty_threshold}) + GaussianEmitter + Scheduler{grid}"
    )
    print(f"cores: {cores}; load average before: {load}")

    before = os.getloadavg()
    started, busy, own = time.perf_counter(), busy_seconds(), own_seconds()
    run_round(sides, task, args.warmup, args.seed, args, reverse=False)  # warm-up, discarded
    rounds = []
    print(f"\n{'round':<7}{'library':<10}{'ask':>8}{'tell':>8}{'CPU':>8}{'evaluate':>10}")
    for r in range(args.rounds):
        rounds.append(run_round(sides, task, n, args.seed, args, reverse=r % 2 == 1))
        for name, _ in sides:
            x = rounds[-1][name]
            print(
                f"{r:<7}{name:<10}{ms(x['ask'], n):>8.3f}{ms(x['tell'], n):>8.3f}"
                f"{ms(x['cpu'], n):>8.3f}{ms(x['evaluate'], n):>10.3f}"
            )
    print("(ms per iteration, wall time; CPU = ask + tell CPU time of the calling thread)")

    def framework(x: dict) -> float:
        return ms(x["ask"] + x["tell"], n)

    def cpu(x: dict) -> float:
        return ms(x["cpu"], n)

    def rate(x: dict) -> float:
        return x["evaluations"] / x["wall"]

    def median_of(rows: list[dict], value: Callable[[dict], float]) -> float:
        return statistics.median(value(x) for x in rows)

    print(
        f"\n{'':<10}{'framework ms/it':>16}{'':>8}{'CPU ms/it':>11}{'':>8}"
        f"{'ask':>8}{'tell':>8}{'evaluate':>10}{'share':>7}{'evals/s':>9}{'':>8}{'archive':>9}"
    )
    print(
        f"{'library':<10}{'min':>16}{'median':>8}{'min':>11}{'median':>8}"
        f"{'median':>8}{'median':>8}{'median':>10}{'':>7}{'best':>9}{'median':>8}{'size':>9}"
    )
    for name, _ in sides:
        rows = [x[name] for x in rounds]
        share = median_of(rows, lambda x: framework(x) / ms(x["wall"], n))
        print(
            f"{name:<10}{min(map(framework, rows)):>16.3f}{median_of(rows, framework):>8.3f}"
            f"{min(map(cpu, rows)):>11.3f}{median_of(rows, cpu):>8.3f}"
            f"{median_of(rows, lambda x: ms(x['ask'], n)):>8.3f}"
            f"{median_of(rows, lambda x: ms(x['tell'], n)):>8.3f}"
            f"{median_of(rows, lambda x: ms(x['evaluate'], n)):>10.3f}"
            f"{100 * share:>6.1f}%{max(map(rate, rows)):>9,.0f}{median_of(rows, rate):>8,.0f}"
            f"{rows[0]['archive']:>9,}"
        )
    print(
        "(framework = ask + tell; share = framework / whole loop; evals/s = evaluations / whole"
        "\n loop, which the evaluation dominates: the arm's cost depends on the genomes, frozen"
        "\n arms end early, so the two libraries' different genomes cost different times)"
    )
    evaluations = {name: rounds[0][name]["evaluations"] for name, _ in sides}
    if len(set(evaluations.values())) > 1:
        print(f"note: evaluations per round differ: {evaluations}")

    print(f"\n{'serendip / pyribs, per round':<30}{'min':>7}{'median':>8}")
    for title, value in (
        ("framework (wall)", framework),
        ("framework (CPU)", cpu),
        ("ask", lambda x: x["ask"]),
        ("tell", lambda x: x["tell"]),
        ("evaluate", lambda x: x["evaluate"]),
        ("evals/s, whole loop", rate),
    ):
        ratios = [value(x["serendip"]) / value(x["pyribs"]) for x in rounds]
        print(f"  {title:<28}{min(ratios):>7.2f}{statistics.median(ratios):>8.2f}")
    after = os.getloadavg()
    print(
        f"\nload average before: {' '.join(f'{x:.2f}' for x in before)}, after: "
        f"{' '.join(f'{x:.2f}' for x in after)} (1, 5, 15 min; {cores} cores; this process adds ~1)"
    )
    print_shared_load(started, busy, own)


if __name__ == "__main__":
    main()
