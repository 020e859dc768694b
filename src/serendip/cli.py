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
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.runner import run
from serendip.tasks import GYM_SUMMARY, TASKS, TaskError, task_names

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
    run_parser.add_argument("--backend", help="evaluation backend: inprocess")
    run_parser.add_argument(
        "--reward-threshold",
        dest="reward_threshold",
        help="episode return that counts as a reward (gym:<id> tasks)",
    )
    run_parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")

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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "tasks":
            for name, factory in TASKS.items():
                spec = factory.spec
                print(
                    f"{name:<16} {spec.summary} (genome {spec.genome_size}, horizon {spec.horizon})"
                )
            print(f"{'gym:<id>':<16} {GYM_SUMMARY}")
            return 0
        if args.command == "algorithms":
            for name, summary in ALGORITHMS.items():
                print(f"{name:<16} {summary}")
            return 0
        return _command_run(args)
    except ConfigError as error:
        print(f"serendip: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except TaskError as error:
        print(f"serendip: error: {error}", file=sys.stderr)
        return EXIT_TASK
    except KeyboardInterrupt:
        print("serendip: interrupted; the evaluations logged so far are kept", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
