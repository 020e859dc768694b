"""The ``serendip`` command line: a thin layer over the Python API.

Invalid input prints one line on stderr naming the field and what is accepted,
and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from rich.console import Console
from rich.table import Table

from serendip.algorithms import ALGORITHMS
from serendip.errors import RunError, one_line
from serendip.experiment.checkpoint import CheckpointError
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.runner import RunInterrupted, resume, run
from serendip.tasks import GYM_SUMMARY, TASKS, TaskError, task_names, task_spec

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
        "--reward-threshold",
        dest="reward_threshold",
        help="episode return that counts as a reward (gym:<id> tasks)",
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
            "reward_threshold",
        )
        if (value := getattr(args, key)) is not None
    }
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
            for name in TASKS:
                spec = task_spec(name)
                print(
                    f"{name:<16} {spec.summary} (genome {spec.genome_size}, horizon {spec.horizon})"
                )
            print(f"{'gym:<id>':<16} {GYM_SUMMARY}")
            return 0
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
