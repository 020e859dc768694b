"""The ``serendip`` command line: a thin layer over the Python API.

Invalid input prints one line on stderr naming the field and what is accepted,
and exits with code 2. Every help page is plain text: each option's default and
accepted values, taken from the run config's defaults and the registries (never
copied here), and the exit codes (:data:`EXIT_CODES`) in its epilog.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from serendip.algorithms import ALGORITHMS, uses_frames
from serendip.archives.grid import MAX_GRID_CELLS
from serendip.errors import RunError, one_line
from serendip.experiment.checkpoint import CheckpointError
from serendip.experiment.config import (
    BACKENDS,
    DEFAULT_LEARNED_FRAMES,
    EPISODE_SEEDS,
    MAX_SEED,
    ConfigError,
    RunConfig,
    parse_yaml,
    read_yaml,
)
from serendip.experiment.runner import RunInterrupted, resume, run
from serendip.experiment.sweep import SWEEP_BACKENDS, Sweep
from serendip.tasks import (
    GYM_SUMMARY,
    REWARD_RULES,
    TASKS,
    TaskError,
    task_names,
    task_option_names,
    task_spec,
)
from serendip.tasks.gym import GOAL_KEY, MAX_DESCRIPTOR_VALUES, MIN_PARALLEL_EPISODES

EXIT_USAGE = 2
EXIT_TASK = 1  # the task failed while running (e.g. a Gymnasium environment raised)
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    0: "success",
    EXIT_TASK: "a run failed while running (a task or environment error, a training that "
    "diverged, a batch past evaluation.timeout, no checkpoint to resume from); a sweep: "
    "some run failed",
    EXIT_USAGE: "bad input (a flag, a config field, a file): one line naming it and what "
    "is accepted; nothing was written",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM): continue it with 'serendip resume "
    "RUN_DIR' from its last checkpoint (taken at the interruption, unless a second signal, "
    "or a batch in flight outlasting the wait, stopped it at once); a sweep: run it again",
}
"""What each exit status means, as every help page's epilog lists it."""
DESCRIPTION = (
    "serendip: quality-diversity search (STAX, SERENE, TAXONS, novelty search and "
    "baselines) on built-in tasks and Gymnasium environments; a thin layer over the "
    "Python API. 'serendip COMMAND --help' shows a command's options."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other input error: no usage dump.
        self.exit(EXIT_USAGE, f"serendip: error: {message} (see '{self.prog} --help')\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's lines; wraps option help at spaces only (never inside a name
    such as per-evaluation or gym:<module>:<id>)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(
            " ".join(text.split()), width, break_on_hyphens=False, break_long_words=False
        )


def _epilog() -> str:
    lines = ["exit codes:"]
    for code, meaning in EXIT_CODES.items():
        wrapped = textwrap.wrap(meaning, 72, break_on_hyphens=False)
        lines.append(f"  {code:<4} {wrapped[0]}")
        lines.extend(f"       {line}" for line in wrapped[1:])
    return "\n".join(lines)


def _choices(values: Sequence[str]) -> str:
    """A metavar listing the accepted values, as argparse writes choices."""
    return "{" + ",".join(values) + "}"


def _algorithm_names() -> str:
    """The registered algorithms, each alias shown with the algorithm it names."""
    canonical: dict[Any, str] = {}
    aliases: dict[str, list[str]] = {}
    for entry in ALGORITHMS.entries():
        key = entry.factory if isinstance(entry.factory, str) else id(entry.factory)
        if key in canonical:
            aliases[canonical[key]].append(entry.name)
        else:
            canonical[key] = entry.name
            aliases[entry.name] = []
    return ", ".join(
        f"{name} (alias: {', '.join(names)})" if names else name for name, names in aliases.items()
    )


def _parser() -> argparse.ArgumentParser:
    """The command line's parser; every help page is built here."""
    defaults = RunConfig()
    sweep_defaults = {field.name: field.default for field in dataclasses.fields(Sweep)}
    epilog = _epilog()
    common = {"formatter_class": _HelpFormatter, "epilog": epilog}
    description = textwrap.fill(DESCRIPTION, 79, break_on_hyphens=False)
    parser = _Parser(prog="serendip", description=description, **common)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary, **common)

    learners = [name for name in ALGORITHMS.names() if uses_frames(name)]
    run_parser = command("run", "run an algorithm on a task and write its run directory")
    run_parser.add_argument(
        "--task",
        help=f"the task: {', '.join(task_names())} (see 'serendip tasks') "
        f"(default: {defaults.task})",
    )
    run_parser.add_argument(
        "--algo",
        dest="algorithm",
        metavar="ALGO",
        help=f"the algorithm: {_algorithm_names()} (see 'serendip algorithms') "
        f"(default: {defaults.algorithm})",
    )
    run_parser.add_argument(
        "--budget",
        metavar="N",
        help=f"evaluations (episodes) to spend (default: {defaults.budget})",
    )
    run_parser.add_argument(
        "--seed",
        metavar="SEED",
        help=f"the run's seed, an integer in [0, {MAX_SEED}]; every random draw derives "
        f"from it (default: {defaults.seed})",
    )
    run_parser.add_argument(
        "--out",
        metavar="DIR",
        help="the run directory, new or empty (default: runs/<task>-<algo>-seed<seed>, "
        "numbered -2, -3, ... when taken)",
    )
    run_parser.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="a YAML config file, any field of the run config; flags override its fields "
        "(default: none, every field at its default)",
    )
    run_parser.add_argument(
        "--frames",
        metavar="S",
        help="S, the frames sampled per episode (at S evenly spaced steps, the last at the "
        "end of the horizon), which a learned behavior space encodes; 0: none (default: "
        f"{DEFAULT_LEARNED_FRAMES} for {', '.join(learners)}, which learn a space from "
        "frames; else 0)",
    )
    run_parser.add_argument(
        "--backend",
        metavar=_choices(BACKENDS),
        help="where batches are evaluated: inprocess, processes (local worker processes) "
        "or ray (Ray actors; a local cluster unless evaluation.ray_address is set); "
        "workers: evaluation.workers in the config; the same results on every backend "
        f"(default: {defaults.backend})",
    )
    run_parser.add_argument(
        "--task-option",
        dest="task_options",
        action="append",
        metavar="KEY=VALUE",
        help="a task option, repeatable, each KEY once (VALUE is read as YAML: 3, true, "
        "[1, 2]): a built-in task's horizon or reward_areas, a gym task's gymnasium.make "
        "keyword arguments; added to the config file's task_options (default: none, the "
        "task as specified)",
    )
    run_parser.add_argument(
        "--reward",
        metavar=_choices(REWARD_RULES),
        help="gym tasks: when an episode succeeds: return-threshold (its return reaches "
        "--reward-threshold), positive-reward (the environment ever gave a positive "
        "reward) or info-success (info['is_success'] at its end) (default: detected from "
        "the environment)",
    )
    run_parser.add_argument(
        "--reward-threshold",
        dest="reward_threshold",
        metavar="R",
        help="gym tasks: the episode return that counts as success, of any sign; implies "
        "--reward return-threshold (default: the threshold the id is registered with)",
    )
    run_parser.add_argument(
        "--episode-seeds",
        dest="episode_seeds",
        metavar=_choices(EPISODE_SEEDS),
        help="how episodes are reset: fixed (every episode with the run's seed) or "
        "per-evaluation (evaluation i with seed * 2**32 + i) (default: fixed for gym "
        "tasks, per-evaluation for the others)",
    )
    run_parser.add_argument(
        "--descriptor",
        metavar="KEYS|INDICES",
        help="gym tasks: the ground truth for coverage: an observation key (achieved_goal), "
        "comma-separated keys, or comma-separated flat observation indices (0,2); at "
        f"most {MAX_DESCRIPTOR_VALUES} values "
        f"(default: {GOAL_KEY} when the observation has it, else the whole flattened "
        "observation)",
    )
    run_parser.add_argument(
        "--env-processes",
        dest="env_processes",
        metavar="N",
        help="gym tasks: worker processes that step a batch's environments; 1: in the "
        "run's process; the same results (default: one per core for batches of "
        f"{MIN_PARALLEL_EPISODES} episodes or more, else 1)",
    )
    run_parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary (default: shown)"
    )

    resume_parser = command(
        "resume", "continue an interrupted run from its last checkpoint, bit for bit"
    )
    resume_parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory")
    resume_parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary (default: shown)"
    )

    sweep_parser = command("sweep", "run tasks x algorithms x seeds from a YAML file, in parallel")
    sweep_parser.add_argument("sweep", metavar="SWEEP.yaml", help="the sweep file")
    sweep_parser.add_argument(
        "--backend",
        metavar=_choices(SWEEP_BACKENDS),
        help="where runs execute: processes (one local process per run) or ray (one Ray "
        f"task per run) (default: the file's backend, else {sweep_defaults['backend']})",
    )
    sweep_parser.add_argument(
        "--jobs",
        metavar="N",
        help="runs at once (default: the file's jobs, else one per core)",
    )
    sweep_parser.add_argument(
        "--quiet", action="store_true", help="no progress lines or table (default: shown)"
    )

    compare_parser = command(
        "compare", "compare runs across algorithms and seeds: figures, tables, rank tests"
    )
    compare_parser.add_argument(
        "runs", metavar="RUN_DIR", nargs="+", help="run directories, or folders of runs (a sweep)"
    )
    compare_parser.add_argument(
        "--out", metavar="DIR", help="output folder (default: <common parent>/compare)"
    )

    report_parser = command("report", "write a self-contained HTML report of a run")
    report_parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory")
    report_parser.add_argument(
        "--out", metavar="FILE", help="HTML file (default: RUN_DIR/report/index.html)"
    )

    command("tasks", "list the tasks, one per line, then how to set them up")
    command("algorithms", "list the algorithms, one per line")
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
    """``--task-option KEY=VALUE`` flags as a mapping; each VALUE read as YAML.

    A KEY given twice, or a VALUE that repeats a key of a mapping, is refused:
    silently keeping the last one would run another experiment than the one typed.
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError("task_options", f"--task-option takes KEY=VALUE, got {item!r}")
        if key in options:
            raise ConfigError(f"task_options.{key}", "given twice by --task-option")
        try:
            options[key] = parse_yaml(text, f"task_options.{key}", f"--task-option {key}")
        except ConfigError as error:
            if error.field == f"task_options.{key}":
                raise ConfigError(error.field, f"{text!r} is not a YAML value") from None
            reason = str(error)[len(error.field) + 2 :]
            raise ConfigError(f"task_options.{key}.{error.field}", reason) from None
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
  ([0, 2]); default: achieved_goal when the observation has it, else the whole observation;
  at most {MAX_DESCRIPTOR_VALUES} values (coverage's grid: 2 cells a value or more,
  {MAX_GRID_CELLS:,} cells at most)
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
    from serendip.experiment.sweep import SweepInterrupted, create_out, outcomes_table, run_sweep

    flags = {key: value for key in ("backend", "jobs") if (value := getattr(args, key)) is not None}
    sweep = Sweep.from_yaml(args.sweep, overrides=flags)
    create_out(sweep.out)  # before the first line: a folder that cannot be made is bad input
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
        print(
            "serendip: stopped at once; what was logged so far is kept (a run continues "
            "from its last checkpoint with 'serendip resume RUN_DIR')",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
