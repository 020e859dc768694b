"""Whole runs against pyribs: ``serendip.run`` NS and MAP-Elites against pyribs' loops.

Both libraries evaluate through one arm task object (``serendip.make_task("arm")``):
its ``evaluate`` is wrapped by a timer (the same wrapper on both sides), so each
run splits into the task's time and the framework's time (everything else).

Parts (``--parts``, both by default):

- ``ns``: ``serendip.run`` with ``algorithm: ns`` (mu 100, lambda 200, k 15,
  N(0, 0.05) mutation, genome bounds [-5, 5], 5 novelty-archive insertions a
  generation, run directory, evaluation log, checkpoints at their defaults, progress
  off) against pyribs' ``ProximityArchive(k_neighbors=15, novelty_threshold=T)`` +
  ``GaussianEmitter(sigma=0.05, batch_size=200, 100 initial genomes N(0, 1)
  clipped)`` + ``Scheduler``. pyribs inserts by a novelty threshold instead of 5
  a generation; ``--novelty-threshold`` (default 0.035) is chosen so that its
  archive grows about as serendip's novelty archive does (2,500 at 100,000
  evaluations); the archive sizes are printed (pyribs' also at each window point
  below; serendip's novelty archive grows by 5 a generation, its reward archive by
  every rewarded agent).
- ``map-elites``: ``serendip.run`` with ``algorithm: map-elites`` and
  ``map_elites: {grid: 50, batch_size: 100, mutation_sigma: 0.05, replace_on_tie:
  false}`` against pyribs' ``GridArchive`` (50 x 50 over the arm's ground-truth
  descriptor bounds) + ``GaussianEmitter(sigma=0.05, batch_size=100, 100 initial
  genomes)`` + ``Scheduler``, elites by the task's reward. One replacement rule on
  both sides: pyribs' ``GridArchive.add`` (default ``learning_rate`` and
  ``threshold_min``) takes a cell only with an objective strictly above its elite's,
  and among a batch's rows of one cell the best, the first on ties; serendip's grid
  does the same with ``replace_on_tie: false`` (its default, ``true``, lets a tie
  take the cell, and on the arm's sparse reward nearly every agent ties at 0).

Each part is repeated ``--repeats`` times, interleaved (serendip then pyribs, the
order alternating between repetitions), after one discarded warm-up run per side
(numba compilation, imports). Per run: evaluations per second, wall seconds,
framework seconds (wall minus the task's ``evaluate``, wall and CPU), coverage on
the metrics' 50 x 50 grid of the ground-truth descriptor, computed with
``serendip.metrics`` from every evaluated descriptor on both sides (serendip's
own summary figure is printed beside it), and the seconds before the first
evaluation (setup) and after the last (finish: a run's results, its last
checkpoint). CPU time is the process's (``time.process_time``: every thread, Arrow's
and NumPy's included); the task's CPU, subtracted from it, is the evaluating
thread's (``time.thread_time``; the arm's rollout is single-threaded). Then per
part: the ratio serendip / pyribs of evaluations per second and per CPU second (the
steadier one when other processes share the cores), and of framework and task
seconds, min, median and max over repetitions, and the same rate ratios with serendip's
framework at zero (its evaluations over its task's seconds alone): the bound the two
searches' different genomes set. pyribs' batches are whole, so its NS run ends at
100,100 evaluations where serendip's last generation is cut to the budget; the rates
are per evaluation.

Growth: the framework time of every generation (from the end of one ``evaluate``
to the start of the next) is kept, and its mean and median are printed in windows
of +-5 % around 10k, 100k and 300k evaluations (those within the budget), with the
task's microseconds per evaluation there (the two searches' genomes cost the arm
different times); ``--growth`` sets the budget to 300,000 so the three windows show.

The benchmark's own bookkeeping (coverage cells, timestamps) is timed and left out
of both sides' framework time. The load average and the CPU other processes used
during the measurement are printed: on a shared machine every figure is inflated.

Usage:
    python benchmarks/bench_vs_pyribs.py [--budget 100000] [--repeats 3] [--seed 0]
        [--parts ns map-elites] [--novelty-threshold 0.035] [--growth] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

import serendip
from serendip.metrics import grid_cells
from serendip.policies import GENOME_HIGH, GENOME_LOW, random_genomes

sys.path.insert(0, str(Path(__file__).parent))
from bench_ask_tell import busy_seconds, own_seconds, print_shared_load

SIGMA = 0.05
K = 15
NS_INITIAL, NS_OFFSPRING = 100, 200
ME_BATCH = 100
GRID = 50
WINDOWS = (10_000, 100_000, 300_000)
WINDOW_SHARE = 0.05


@dataclass
class Record:
    """What the timed ``evaluate`` saw during one run."""

    started: float = 0.0  # the run's start (perf_counter)
    evaluations: int = 0
    evaluate_wall: float = 0.0
    evaluate_cpu: float = 0.0
    bookkeeping: float = 0.0
    starts: list[float] = field(default_factory=list)  # evaluate entered
    ends: list[float] = field(default_factory=list)  # evaluate left (bookkeeping done)
    done_before: list[int] = field(default_factory=list)  # evaluations before each batch
    kept: list[float] = field(default_factory=list)  # bookkeeping seconds of each batch
    filled: np.ndarray = field(default_factory=lambda: np.zeros(GRID * GRID, dtype=bool))


@contextmanager
def timed(task, record: Record):
    """``task.evaluate`` timed into ``record`` (an instance attribute, removed after)."""
    evaluate = type(task).evaluate
    spec = task.spec
    # The task's CPU is the evaluating thread's (the arm's rollout is single-threaded:
    # alone, its thread and process CPU times agree), so what other threads of the
    # library spend meanwhile (a BLAS or Arrow pool) stays in the framework's.
    clock, cpu = time.perf_counter, time.thread_time

    def timed_evaluate(genomes, *, episode_seeds=None):
        c0, t0 = cpu(), clock()
        batch = evaluate(task, genomes, episode_seeds=episode_seeds)
        t1, c1 = clock(), cpu()
        cells = grid_cells(
            batch.descriptors, spec.descriptor_low, spec.descriptor_high, (GRID,) * 2
        )
        record.filled[cells[cells >= 0]] = True
        record.done_before.append(record.evaluations)
        record.evaluations += len(genomes)
        record.evaluate_wall += t1 - t0
        record.evaluate_cpu += c1 - c0
        record.starts.append(t0)
        t2 = clock()
        record.kept.append(t2 - t1)
        record.bookkeeping += t2 - t1
        record.ends.append(t2)
        return batch

    task.evaluate = timed_evaluate
    try:
        yield record
    finally:
        del task.evaluate


@dataclass
class Result:
    wall: float
    cpu: float
    record: Record
    archive: str  # archive sizes, for the printout
    own_coverage: float | None = None  # the library's own figure, where it has one

    @property
    def evaluations(self) -> int:
        return self.record.evaluations

    @property
    def rate(self) -> float:
        return self.evaluations / self.wall

    @property
    def framework(self) -> float:
        return self.wall - self.record.evaluate_wall - self.record.bookkeeping

    @property
    def framework_cpu(self) -> float:
        return self.cpu - self.record.evaluate_cpu - self.record.bookkeeping

    @property
    def coverage(self) -> float:
        return float(self.record.filled.mean())

    @property
    def setup(self) -> float:
        """Seconds before the first evaluation (building the search, the run directory)."""
        return self.record.starts[0] - self.record.started

    @property
    def finish(self) -> float:
        """Seconds after the last evaluation (its tell, then a run's results)."""
        return self.record.started + self.wall - self.record.ends[-1]

    def task_us(self, low: float, high: float) -> float:
        """The task's microseconds per evaluation over the batches starting in [low, high)."""
        r = self.record
        done = np.asarray(r.done_before)
        seconds = np.asarray(r.ends) - np.asarray(r.starts) - np.asarray(r.kept)
        sizes = np.diff(np.append(done, r.evaluations))
        chosen = (done >= low) & (done < high)
        return 1e6 * seconds[chosen].sum() / max(1, sizes[chosen].sum())

    def per_generation(self) -> tuple[np.ndarray, np.ndarray]:
        """Evaluations before each generation and the framework seconds before it."""
        r = self.record
        starts, ends = np.asarray(r.starts), np.asarray(r.ends)
        gaps = starts[1:] - ends[:-1]
        return np.asarray(r.done_before[1:]), gaps


def measure(run: Callable[[Record], tuple[str, float | None]]) -> Result:
    """Wall and CPU time of ``run(record)`` (construction included).

    CPU time is the whole process's (``time.process_time``), so work a library hands
    to other threads (Arrow's Parquet writes, a BLAS pool) counts as its own.
    """
    record = Record()
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    record.started = t0
    archive, own = run(record)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return Result(wall=wall, cpu=cpu, record=record, archive=archive, own_coverage=own)


# --- serendip --------------------------------------------------------------------------------
def serendip_run(task, algorithm: str, sections: dict, budget: int, seed: int, scratch: Path):
    def run(record: Record) -> tuple[str, float | None]:
        out = scratch / f"{algorithm}-{seed}"
        shutil.rmtree(out, ignore_errors=True)
        config = serendip.RunConfig.from_dict(
            {
                "task": "arm",
                "algorithm": algorithm,
                "budget": budget,
                "seed": seed,
                "out": str(out),
                **sections,
            }
        )
        with timed(task, record):
            result = serendip.run(config, progress=False, task=task)
        sizes = ", ".join(f"{name} {len(a):,}" for name, a in result.algorithm.archives().items())
        return sizes, float(result.summary["coverage"])

    return run


# --- pyribs ---------------------------------------------------------------------------------
def pyribs_run(task, part: str, budget: int, seed: int, threshold: float):
    from ribs.archives import GridArchive, ProximityArchive
    from ribs.emitters import GaussianEmitter
    from ribs.schedulers import Scheduler

    def run(record: Record) -> tuple[str, float | None]:
        spec, size = task.spec, task.genome_size
        seeds = np.random.SeedSequence(seed).generate_state(2)
        if part == "ns":
            archive = ProximityArchive(
                solution_dim=size,
                measure_dim=spec.descriptor_size,
                k_neighbors=K,
                novelty_threshold=threshold,
                seed=int(seeds[0]),
            )
            initial, batch_size = NS_INITIAL, NS_OFFSPRING
        else:
            archive = GridArchive(
                solution_dim=size,
                dims=(GRID,) * spec.descriptor_size,
                ranges=list(zip(spec.descriptor_low, spec.descriptor_high, strict=True)),
                seed=int(seeds[0]),
            )
            initial, batch_size = ME_BATCH, ME_BATCH
        emitter = GaussianEmitter(
            archive,
            sigma=SIGMA,
            initial_solutions=random_genomes(np.random.default_rng(seed), initial, size),
            lower_bounds=np.full(size, GENOME_LOW),
            upper_bounds=np.full(size, GENOME_HIGH),
            batch_size=batch_size,
            seed=int(seeds[1]),
        )
        scheduler = Scheduler(archive, [emitter])
        done, sizes = 0, []
        points = [p for p in WINDOWS if p <= budget]
        with timed(task, record):
            while done < budget:  # the last batch may pass the budget (tell takes all)
                genomes = scheduler.ask()
                batch = task.evaluate(genomes, episode_seeds=np.arange(done, done + len(genomes)))
                scheduler.tell(batch.rewards, batch.descriptors)
                done += len(genomes)
                if points and done >= points[0]:
                    sizes.append(f"{len(archive):,} at {points.pop(0):,}")
        growth = f" ({', '.join(sizes)})" if len(sizes) > 1 else ""
        return f"archive {len(archive):,}{growth}", None

    return run


# --- report ---------------------------------------------------------------------------------
def windows(result: Result, budget: int) -> dict[int, tuple[float, float, float]]:
    """Per window point: mean and median framework ms per generation, task us per evaluation."""
    done, gaps = result.per_generation()
    out = {}
    for point in WINDOWS:
        if point > budget:
            continue
        low, high = point * (1 - WINDOW_SHARE), min(point * (1 + WINDOW_SHARE), budget)
        chosen = gaps[(done >= low) & (done < high)]
        if chosen.size:
            task = result.task_us(low, high)
            out[point] = (1e3 * chosen.mean(), 1e3 * float(np.median(chosen)), task)
    return out


LIBRARIES = ("serendip", "pyribs")


def print_runs(r: int, results: dict[str, Result]) -> None:
    for library in LIBRARIES:
        x = results[library]
        own = "" if x.own_coverage is None else f" (own {x.own_coverage:.4f})"
        print(
            f"{r:<4}{library:<10}{x.evaluations:>9,}{x.wall:>8.2f}{x.rate:>9,.0f}"
            f"{x.framework:>9.2f}{x.framework_cpu:>7.2f}{100 * x.framework / x.wall:>6.1f}%"
            f"{x.setup:>7.2f}{x.finish:>7.2f}{x.coverage:>9.4f}  {x.archive}{own}"
        )


def print_summary(rows: list[dict[str, Result]], budget: int, generation: int) -> None:
    median = statistics.median
    print(
        f"\n{'median over repetitions':<26}{'evals/s':>9}{'frame s':>9}{'CPU s':>7}{'coverage':>9}"
    )
    for library in LIBRARIES:
        xs = [row[library] for row in rows]
        print(
            f"  {library:<24}{median(x.rate for x in xs):>9,.0f}"
            f"{median(x.framework for x in xs):>9.2f}{median(x.framework_cpu for x in xs):>7.2f}"
            f"{median(x.coverage for x in xs):>9.4f}"
        )
    print(f"\n{'serendip / pyribs':<26}{'min':>7}{'median':>8}{'max':>7}")
    for title, value in (
        ("evals/s", lambda x: x.rate),
        ("evals per CPU s", lambda x: x.evaluations / x.cpu),
        ("framework s (wall)", lambda x: x.framework),
        ("framework s (CPU)", lambda x: x.framework_cpu),
        ("task evaluate s", lambda x: x.record.evaluate_wall),
        ("task evaluate s (CPU)", lambda x: x.record.evaluate_cpu),
    ):
        ratios = [value(row["serendip"]) / value(row["pyribs"]) for row in rows]
        print(f"  {title:<24}{min(ratios):>7.2f}{median(ratios):>8.2f}{max(ratios):>7.2f}")
    # The bound the task alone sets: serendip's evaluations over its task's seconds only
    # (a framework that cost nothing), against pyribs' whole run; in wall and CPU time.
    for title, task_seconds, pyribs_rate in (
        ("evals/s, framework at 0", lambda x: x.record.evaluate_wall, lambda x: x.rate),
        (
            "evals/CPU s, framework 0",
            lambda x: x.record.evaluate_cpu,
            lambda x: x.evaluations / x.cpu,
        ),
    ):
        bound = [
            row["serendip"].evaluations / task_seconds(row["serendip"]) / pyribs_rate(row["pyribs"])
            for row in rows
        ]
        print(f"  {title:<24}{min(bound):>7.2f}{median(bound):>8.2f}{max(bound):>7.2f}")
    points = [p for p in WINDOWS if p <= budget]
    print(
        f"\nper generation ({generation} evaluations) within +-5 % of each point: framework ms,"
        " mean / median, and the task's us per evaluation"
    )
    print(f"  {'library':<10}" + "".join(f"{p:>24,}" for p in points))
    for library in LIBRARIES:
        cells = []
        for point in points:
            found = [f for row in rows if (f := windows(row[library], budget).get(point))]
            if not found:
                cells.append(f"{'-':>24}")
                continue
            mean, middle, task = (median(f[i] for f in found) for i in range(3))
            cells.append(f"{mean:>9.2f} /{middle:>5.2f} |{task:>6.1f}")
        print(f"  {library:<10}" + "".join(cells))
    print("  (medians over the repetitions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=None, help="100,000 (--growth: 300,000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--parts", nargs="+", default=["ns", "map-elites"], choices=["ns", "map-elites"]
    )
    parser.add_argument("--novelty-threshold", type=float, default=0.035)
    parser.add_argument("--growth", action="store_true", help="budget 300,000: all three windows")
    parser.add_argument("--quick", action="store_true", help="smoke run: budget 3,000, 1 repeat")
    parser.add_argument("--warmup", type=int, default=2_000, help="evaluations, discarded")
    args = parser.parse_args()
    budget = args.budget or (300_000 if args.growth else 100_000)
    repeats, warmup = args.repeats, args.warmup
    if args.quick:
        budget, repeats, warmup = args.budget or 3_000, 1, 600

    task = serendip.make_task("arm")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"serendip {serendip.__version__}, pyribs {version('ribs')}; task arm (one object, "
        f"genome {task.genome_size}); budget {budget:,}, {repeats} repetitions interleaved, "
        f"seed {args.seed}"
    )
    print(f"cores: {cores}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    parts = {
        "ns": (
            {},
            NS_OFFSPRING,
            f"ProximityArchive(k={K}, threshold={args.novelty_threshold}) + "
            f"GaussianEmitter(sigma={SIGMA}, batch {NS_OFFSPRING})",
        ),
        "map-elites": (
            {
                "map_elites": {
                    "grid": GRID,
                    "batch_size": ME_BATCH,
                    "mutation_sigma": SIGMA,
                    "replace_on_tie": False,  # pyribs' rule: a cell changes on > only
                }
            },
            ME_BATCH,
            f"GridArchive({GRID}x{GRID}) + GaussianEmitter(sigma={SIGMA}, batch {ME_BATCH})",
        ),
    }
    started, busy, own = time.perf_counter(), busy_seconds(), own_seconds()
    scratch = Path(tempfile.mkdtemp(prefix="bench_vs_pyribs-"))
    try:
        for name in args.parts:
            sections, generation, pyribs_label = parts[name]

            def sides(b: int, name=name, sections=sections) -> list[tuple[str, Callable]]:
                return [
                    ("serendip", serendip_run(task, name, sections, b, args.seed, scratch)),
                    ("pyribs", pyribs_run(task, name, b, args.seed, args.novelty_threshold)),
                ]

            given = f", {sections}" if sections else ""
            print(f"\n== {name}: serendip.run(algorithm: {name}{given}) vs pyribs {pyribs_label}")
            for _, run in sides(warmup):
                measure(run)  # warm-up, discarded
            print(
                f"{'rep':<4}{'library':<10}{'evals':>9}{'wall s':>8}{'evals/s':>9}{'frame s':>9}"
                f"{'CPU s':>7}{'share':>7}{'setup':>7}{'finish':>7}{'coverage':>9}  archive"
            )
            rows: list[dict[str, Result]] = []
            for r in range(repeats):
                order = sides(budget)
                rows.append({lib: measure(run) for lib, run in (order[::-1] if r % 2 else order)})
                print_runs(r, rows[-1])
            print(
                "(frame s = framework seconds: wall minus the task's evaluate, construction, log,"
                "\n checkpoints and results included; CPU s: its CPU time, every thread of the"
                "\n process; share: of the wall;"
                "\n setup: seconds before the first evaluation; finish: after the last one)"
            )
            print_summary(rows, budget, generation)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(1, 5, 15 min; {cores} cores; this process adds ~1)"
    )
    print_shared_load(started, busy, own)


if __name__ == "__main__":
    main()
