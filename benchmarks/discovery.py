"""The discovery table: algorithms x seeds on a task, summarised as in docs/results.md.

Each run is a separate ``serendip run`` process; ``--jobs`` of them run at once,
each with one torch thread (two single-threaded runs use 2 cores better than one
run with two threads). Runs already finished in ``--out`` are reused and
interrupted ones resumed (``serendip resume``), so an interrupted sweep continues
where it stopped.

Usage:
    python benchmarks/discovery.py --task arm --budget 200000 --seeds 0 1 2 3 4 \\
        --algorithms ns serene taxons stax stax-p --jobs 2 --out runs/discovery

Config overrides compare regimes: ``--set learned_space.max_epochs=10 --tag e10``
(the tag keeps the runs of each regime apart in ``--out``); top-level fields too
(``--set task_options.max_episode_steps=300 --set reward=info-success``). A gym
task's runs step their environments in their own process (``env_processes: 1``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml


def run_one(
    task: str, algorithm: str, seed: int, budget: int, out: Path, config: Path, tag: str
) -> dict:
    label = task.replace(":", "_")  # gym:<module>:<id> as a folder name
    directory = out / f"{label}-{algorithm}-seed{seed}-{budget}{'-' + tag if tag else ''}"
    summary_path = directory / "summary.json"
    if not summary_path.exists() and (directory / "config.yaml").exists():
        # An interrupted run (a killed sweep, the end of a session) continues from its
        # last checkpoint, with the identical result.
        resume = [sys.executable, "-m", "serendip", "resume", str(directory), "--quiet"]
        subprocess.run(resume, check=True)
    elif not summary_path.exists():
        command = [
            sys.executable,
            "-m",
            "serendip",
            "run",
            "--task",
            task,
            "--algo",
            algorithm,
            "--seed",
            str(seed),
            "--budget",
            str(budget),
            "--out",
            str(directory),
            "--config",
            str(config),
            "--quiet",
        ]
        subprocess.run(command, check=True)
    summary = json.loads(summary_path.read_text())
    trainings = directory / "autoencoder" / "trainings.jsonl"
    lines = trainings.read_text().splitlines() if trainings.exists() else []
    summary["training_seconds"] = sum(json.loads(line)["seconds"] for line in lines)
    return summary


def overrides(settings: list[str], task: str) -> dict:
    """``section.key=value`` or ``key=value`` (value in YAML) to a config dict.

    Always 1 torch thread, and a gym task's environments stepped in the run's own
    process (``env_processes: 1``): the runs share the cores.
    """
    config: dict = {"learned_space": {"threads": 1}}
    if task.startswith("gym:"):
        config["env_processes"] = 1
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep:
            raise SystemExit(f"--set expects section.key=value or key=value, got {setting!r}")
        section, dot, field = key.partition(".")
        if dot:
            config.setdefault(section, {})[field] = yaml.safe_load(value)
        else:
            config[key] = yaml.safe_load(value)
    return config


def median_iqr(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    q = statistics.quantiles(values, n=4, method="inclusive")
    return f"{statistics.median(values):.{digits}f} [{q[0]:.{digits}f}, {q[2]:.{digits}f}]"


def table(summaries: dict[str, list[dict]]) -> str:
    first = next(iter(summaries.values()))[0]
    areas = sorted(first["best_reward_per_area"], key=int)
    header = (
        ["algorithm", "seeds", "areas found"]
        + [f"best reward area {a}" for a in areas]
        + ["coverage", "uniformity", "first reward (evals)", "wall (s)", "training (s)"]
    )
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for algorithm, runs in summaries.items():
        found = [r["reward_areas_found"] for r in runs]
        all_found = sum(f == len(areas) for f in found)
        cells = [
            algorithm,
            str(len(runs)),
            f"{statistics.median(found):g} (all {len(areas)} in {all_found})",
        ]
        for a in areas:
            best = [r["best_reward_per_area"][a] for r in runs]
            missing = sum(b is None for b in best)
            text = median_iqr([b if b is not None else 0.0 for b in best])
            cells.append(text + (f" ({missing} not found)" if missing else ""))
        cells.append(median_iqr([r["coverage"] for r in runs]))
        cells.append(median_iqr([r["uniformity"] for r in runs]))
        firsts = [r["evaluations_to_first_reward_overall"] for r in runs]
        cells.append(median_iqr([f for f in firsts if f is not None], digits=0))
        cells.append(f"{statistics.median(r['wall_seconds'] for r in runs):.0f}")
        cells.append(f"{statistics.median(r['training_seconds'] for r in runs):.0f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arm")
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--algorithms", nargs="+", default=["ns", "serene", "taxons", "stax", "stax-p"]
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/discovery"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--tag", default="", help="suffix of the run directories")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sweep.yaml"
        config.write_text(yaml.safe_dump(overrides(args.set, args.task)))
        # Learned-space runs take many times longer than ground-truth ones: start
        # them first so the pool's two slots finish together.
        learned = {"taxons", "stax", "stax-p"}
        order = sorted(args.algorithms, key=lambda a: a not in learned)
        jobs = [(a, s) for a in order for s in args.seeds]
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(
                pool.map(
                    lambda job: run_one(
                        args.task, job[0], job[1], args.budget, args.out, config, args.tag
                    ),
                    jobs,
                )
            )
    summaries: dict[str, list[dict]] = {a: [] for a in args.algorithms}
    for (algorithm, _), summary in zip(jobs, results, strict=True):
        summaries[algorithm].append(summary)
    print(f"task {args.task}, budget {args.budget:,} evaluations, seeds {args.seeds}")
    if args.set:
        print("overrides: " + ", ".join(args.set))
    print("median [interquartile range] over seeds\n")
    print(table(summaries))


if __name__ == "__main__":
    main()
