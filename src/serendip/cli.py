"""The ``serendip`` command line: a thin layer over the Python API.

Invalid input prints one line on stderr naming the field and what is accepted,
and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml
from rich.console import Console
from rich.table import Table

from serendip.algorithms import ALGORITHMS
from serendip.errors import RunError, one_line
from serendip.experiment.checkpoint import CheckpointError
from serendip.experiment.config import ConfigError, RunConfig, read_yaml
from serendip.experiment.runner import RunInterrupted, resume, run
from serendip.tasks import (
    GYM_SUMMARY,
    REWARD_RULES,
    TASKS,
    TaskError,
    task_names,
    task_option_names,
    task_spec,
)

EXIT_USAGE = 2
EXIT_TASK = 1  # the task failed while running (e.g. a Gymnasium environment raised)
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other input error: no usage dump.
        self.exit(EXIT_USAGE, f"serendip: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="serendip", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run_parser = commands.add_parser("run", help="run an algorithm on a task")
    run_parser.add_argument("--task", help=f"task name: {', '.join(task_names())}")
    run_parser.add_argument("--algo", dest="algorithm", help=f"algorithm: {', '.join(ALGORITHMS)}")
    run_parser.add_argument("--budget", help="evaluations (episodes) to spend")
    run_parser.add_argument("--seed", help="the run's seed (integer)")
    run_parser.add_argument("--out", help="run directory (default: runs/<task>-<algo>-seed<seed>)")
    run_parser.add_argument("--config", help="YAML config file; flags override its fields")
    run_parser.add_argument("--frames", help="frames per episode S (0: none)")
    run_parser.add_argument(
        "--backend",
        help="evaluation backend: inprocess (default), processes (local worker processes) "
        "or ray (Ray actors; a local cluster unless evaluation.ray_address is set); "
        "workers: evaluation.workers in the config; same results on every backend",
    )
    run_parser.add_argument(
        "--task-option",
        dest="task_options",
        action="append",
        metavar="KEY=VALUE",
        help="a task option (repeatable; VALUE is read as YAML: 3, true, [1, 2]): a built-in "
        "task's horizon or reward_areas, a gym task's gymnasium.make keyword arguments; "
        "added to the config file's task_options",
    )
    run_parser.add_argument(
        "--reward",
        help=f"gym tasks: when an episode succeeds: {', '.join(REWARD_RULES)} "
        "(default: detected from the environment)",
    )
    run_parser.add_argument(
        "--reward-threshold",
        dest="reward_threshold",
        help="gym tasks: the episode return that counts as success, any sign "
        "(reward return-threshold)",
    )
    run_parser.add_argument(
        "--episode-seeds",
        dest="episode_seeds",
        help="fixed (every episode reset with the run's seed; default for gym tasks) or "
        "per-evaluation (one seed per evaluation; default for the built-in tasks)",
    )
    run_parser.add_argument(
        "--descriptor",
        help="gym tasks: the ground truth for coverage: an observation key (achieved_goal) "
        "or comma-separated keys or flat observation indices (0,2)",
    )
    run_parser.add_argument(
        "--env-processes",
        dest="env_processes",
        metavar="N",
        help="gym tasks: worker processes that step a batch's environments (default: one "
        "per core for batches of 32 episodes or more; 1: in the run's process); same results",
    )
    run_parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    resume_parser = commands.add_parser(
        "resume", help="continue an interrupted run from its last checkpoint"
    )
    resume_parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory")
    resume_parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    sweep_parser = commands.add_parser(
        "sweep", help="run tasks x algorithms x seeds from a YAML file, in parallel"
    )
    sweep_parser.add_argument("sweep", metavar="SWEEP.yaml", help="the sweep file")
    sweep_parser.add_argument("--backend", help="where runs execute: processes (default) or ray")
    sweep_parser.add_argument(
        "--jobs", help="runs at once (default: the file's, else one per core)"
    )
    sweep_parser.add_argument("--quiet", action="store_true", help="no progress lines or table")

    compare_parser = commands.add_parser(
        "compare", help="compare runs across algorithms and seeds: figures, tables, rank tests"
    )
    compare_parser.add_argument(
        "runs", metavar="RUN_DIR", nargs="+", help="run directories, or folders of runs (a sweep)"
    )
    compare_parser.add_argument("--out", help="output folder (default: <common parent>/compare)")

    report_parser = commands.add_parser(
        "report", help="write a self-contained HTML report of a run"
    )
    report_parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory")
    report_parser.add_argument("--out", help="HTML file (default: RUN_DIR/report/index.html)")

    commands.add_parser("tasks", help="list the tasks, one per line")
    commands.add_parser("algorithms", help="list the algorithms, one per line")
    return parser


def _print_summary(console: Console, path, summary: dict) -> None:
    table = Table(title=f"{summary['algorithm']} on {summary['task']} (seed {summary['seed']})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("evaluations", f"{summary['evaluations']:,}")
    table.add_row("coverage", f"{summary['coverage']:.4f}")
    table.add_row("uniformity", f"{summary['uniformity']:.4f}")
    table.add_row(
        "reward areas found", f"{summary['reward_areas_found']}/{summary['reward_areas_total']}"
    )
    for area, best in summary["best_reward_per_area"].items():
        first = summary["evaluations_to_first_reward"].get(area)
        text = "not found" if best is None else f"{best:.3f} (first at evaluation {first:,})"
        table.add_row(f"best reward, area {area}", text)
    table.add_row("wall time", f"{summary['wall_seconds']:.1f} s")
    console.print(table)
    console.print(f"run directory: {path}")


def _command_run(args: argparse.Namespace) -> int:
    flags = {
        key: value
        for key in (
            "task",
            "algorithm",
            "budget",
            "seed",
            "out",
            "frames",
            "backend",
            "reward",
            "reward_threshold",
            "episode_seeds",
            "env_processes",
        )
        if (value := getattr(args, key)) is not None
    }
    if args.descriptor is not None:
        flags["descriptor"] = _descriptor_flag(args.descriptor)
    if args.task_options:
        base = {}
        if args.config:
            values = read_yaml(Path(args.config), "config")
            if isinstance(values, dict) and isinstance(values.get("task_options"), dict):
                base = values["task_options"]
        flags["task_options"] = {**base, **_task_option_flags(args.task_options)}
    config = (
        RunConfig.from_yaml(args.config, overrides=flags)
        if args.config
        else RunConfig.from_dict(flags)
    )
    console = Console(stderr=True)
    result = run(config, progress=not args.quiet, console=console)
    if not args.quiet:
        _print_summary(Console(), result.path, result.summary)
    return 0


def _task_option_flags(items: list[str]) -> dict[str, Any]:
    """``--task-option KEY=VALUE`` flags as a mapping; each VALUE read as YAML."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("task_options", f"--task-option takes KEY=VALUE, got {item!r}")
        try:
            options[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(
                f"task_options.{key.strip()}", f"{text!r} is not a YAML value"
            ) from None
    return options


def _descriptor_flag(text: str) -> str | list[str] | list[int]:
    """``--descriptor achieved_goal``, ``--descriptor x,y`` or ``--descriptor 0,2``."""
    items = [item.strip() for item in text.split(",")]
    if all(item.isdigit() for item in items):
        return [int(item) for item in items]
    return items[0] if len(items) == 1 else items


TASK_NOTES = f"""
task options: task_options: {{KEY: VALUE}} in the config, or --task-option KEY=VALUE
  built-in tasks: horizon (steps per episode), reward_areas ([{{center: [x, y], radius: r}}, ...])
  gym tasks: gymnasium.make's keyword arguments (max_episode_steps, continuing_task, maze maps, ...)
gym ids: gym:<id> (Gymnasium's registry), gym:<module>:<id> imports <module> first
  (gym:gymnasium_robotics:PointMaze_UMaze-v3); needs pip install -e ".[gym]"
gym reward (reward:, --reward): {", ".join(REWARD_RULES)}
  return-threshold: the return reaches reward_threshold (any sign); positive-reward: the
  environment ever gave a positive reward; info-success: info["is_success"] or info["success"]
  at the end; default: detected (success in info, a sparse reward_type, a registered threshold)
gym descriptor (descriptor:, --descriptor): observation keys (achieved_goal) or flat indices
  ([0, 2]); default: achieved_goal when the observation has it, else the whole observation
gym env_processes (env_processes:, --env-processes): processes that step a batch's
  environments; default: one per core for batches of 32 episodes or more; same results
episode_seeds: fixed (every episode reset with the run's seed; gym tasks' default) or
  per-evaluation (seed * 2**32 + evaluation index; the built-in tasks' default)"""


def _command_tasks() -> int:
    for name in TASKS:
        spec = task_spec(name)
        options = task_option_names(name)
        accepted = "any" if options is None else ", ".join(options) or "none"
        print(
            f"{name:<16} {spec.summary} (genome {spec.genome_size}, horizon {spec.horizon}; "
            f"options: {accepted})"
        )
    print(f"{'gym:<id>':<16} {GYM_SUMMARY}")
    print(TASK_NOTES)
    return 0


def _command_resume(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    result = resume(args.run_dir, progress=not args.quiet, console=console)
    if not args.quiet:
        _print_summary(Console(), result.path, result.summary)
    return 0


def _command_sweep(args: argparse.Namespace) -> int:
    from serendip.experiment.sweep import Sweep, SweepInterrupted, outcomes_table, run_sweep

    flags = {key: value for key in ("backend", "jobs") if (value := getattr(args, key)) is not None}
    sweep = Sweep.from_yaml(args.sweep, overrides=flags)
    console = Console(stderr=True, quiet=args.quiet, highlight=False)
    console.print(
        f"sweep: {len(sweep.runs)} runs, {sweep.jobs} at a time ({sweep.backend}) in {sweep.out}"
    )

    def report(outcome, finished: int, total: int) -> None:
        error = f": {outcome.error}" if outcome.error else ""
        console.print(
            f"[{finished}/{total}] {outcome.run.path.name} {outcome.status}{error}",
            markup=False,
            soft_wrap=True,
        )

    try:
        outcomes = run_sweep(sweep, on_outcome=report)
    except SweepInterrupted:
        print(
            "serendip: sweep interrupted; the running runs are checkpointed: run the same "
            "sweep again to resume them",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if not args.quiet:
        Console().print(outcomes_table(outcomes, title=f"sweep {args.sweep}"))
        print(f"results: {sweep.out / 'sweep.json'}")
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    for outcome in failed:
        print(f"serendip: run {outcome.run.path} failed: {outcome.error}", file=sys.stderr)
    if failed:
        return EXIT_TASK
    if any(outcome.status == "interrupted" for outcome in outcomes):
        print(
            "serendip: runs were interrupted: run the same sweep again to resume them",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return 0


def _command_compare(args: argparse.Namespace) -> int:
    from serendip.analysis.compare import compare

    result = compare(args.runs, out=args.out)
    for line in result.skipped:
        print(f"serendip: {line}", file=sys.stderr)
    print((result.out / "comparison.md").read_text().rstrip())
    print(f"\n{len(result.runs)} runs compared; figures and tables in {result.out}")
    return 0


def _command_report(args: argparse.Namespace) -> int:
    from serendip.analysis.report import write_report

    report = write_report(args.run_dir, out=args.out)
    print(f"report: {report.path} ({len(report.figures)} figures; animation {report.animation})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "tasks":
            return _command_tasks()
        if args.command == "algorithms":
            for entry in ALGORITHMS.entries():
                print(f"{entry.name:<16} {entry.summary}")
            return 0
        if args.command == "resume":
            return _command_resume(args)
        if args.command == "sweep":
            return _command_sweep(args)
        if args.command == "compare":
            return _command_compare(args)
        if args.command == "report":
            return _command_report(args)
        return _command_run(args)
    except ConfigError as error:
        print(f"serendip: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except (TaskError, RunError) as error:
        print(f"serendip: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_TASK
    except CheckpointError as error:
        print(f"serendip: error: cannot resume: {one_line(str(error))}", file=sys.stderr)
        return EXIT_TASK
    except RunInterrupted as interrupted:
        print(
            "serendip: interrupted; the run is checkpointed: continue it with "
            f"'serendip resume {interrupted.path}'",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("serendip: interrupted; the evaluations logged so far are kept", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
