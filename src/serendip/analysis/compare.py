"""``serendip compare``: runs grouped by (task, algorithm), final values, rank tests, figures.

Runs are grouped by task and algorithm (seeds are the repetitions). For each
task it writes the field's figures (curves with median and interquartile band
across seeds, budget per area, final archives in the ground-truth space, the
learned space projected), and over all tasks three tables: the final values of
every run, their median and quartiles per group, and two-sided Mann-Whitney U
tests between every pair of algorithms on the same task, per metric.

An area a run never reached counts as a best reward of 0 (the reward outside
every area), so runs that missed an area are compared with those that found it.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from serendip.algorithms import ALGORITHMS
from serendip.experiment.config import ConfigError
from serendip.experiment.storage import atomic_write, write_text

from .figures import archive_panel, projection_panel
from .plots import (
    archive_figure,
    budget_figure,
    curve_panels,
    curves_figure,
    figure_png,
    projection_figure,
)
from .run_data import RUN_FIELD, RunData, open_runs

BASE_METRICS = ("coverage", "uniformity", "reward_areas_found")
"""Final values compared between algorithms, with ``best_reward_area_<i>`` per area."""


LEARNED_METRICS = ("fidelity_error",)
"""Compared where some run has them: how much ground truth a learned space keeps."""


def metric_names(n_areas: int) -> list[str]:
    """The compared metrics of a task with ``n_areas`` reward areas."""
    return [*BASE_METRICS, *(f"best_reward_area_{i}" for i in range(n_areas)), *LEARNED_METRICS]


def _algorithm_order(names: Sequence[str]) -> list[str]:
    """Registry order (ns, serene, ... as in ``serendip algorithms``), then by name."""
    registry = list(ALGORITHMS)
    return sorted(
        set(names), key=lambda n: (registry.index(n) if n in registry else len(registry), n)
    )


def final_values(runs: Sequence[RunData]) -> pd.DataFrame:
    """One row per run: its identity and final value of each compared metric.

    Finished runs give their ``summary.json``; interrupted ones the same figures
    recomputed from their log (``finished`` says which). Uniformity without any
    exploration agent is NaN; an area never reached has best reward 0.
    """
    rows = []
    for run in runs:
        summary = run.summary
        row: dict[str, object] = {
            "task": run.task,
            "algorithm": run.algorithm,
            "seed": run.seed,
            "run": run.path.name,
            "finished": run.finished,
            "evaluations": int(summary["evaluations"]),
            "budget": run.config.budget,
            "coverage": float(summary["coverage"]),
            "uniformity": np.nan if summary["uniformity"] is None else float(summary["uniformity"]),
            "reward_areas_found": int(summary["reward_areas_found"]),
            "reward_areas_total": int(summary["reward_areas_total"]),
        }
        fidelity = summary.get("fidelity_error")
        row["fidelity_error"] = np.nan if fidelity is None else float(fidelity)
        for area, best in summary["best_reward_per_area"].items():
            row[f"best_reward_area_{area}"] = 0.0 if best is None else float(best)
        row["path"] = str(run.path)
        rows.append(row)
    values = pd.DataFrame(rows)
    if values.empty:
        return values
    order = {name: k for k, name in enumerate(_algorithm_order(values["algorithm"].tolist()))}
    values = values.assign(_order=values["algorithm"].map(order))
    values = values.sort_values(["task", "_order", "seed", "run"], kind="stable")
    return values.drop(columns="_order").reset_index(drop=True)


def _task_metrics(values: pd.DataFrame, task: str) -> list[str]:
    rows = values[values["task"] == task]
    n_areas = int(rows["reward_areas_total"].max())
    return [
        m
        for m in metric_names(n_areas)
        if m in rows.columns and (m not in LEARNED_METRICS or rows[m].notna().any())
    ]


def group_summary(values: pd.DataFrame) -> pd.DataFrame:
    """Median and quartiles of each metric per (task, algorithm), one row per metric.

    Columns: ``task``, ``algorithm``, ``metric``, ``runs`` (values counted: NaN
    ones are left out), ``median``, ``q25``, ``q75``.
    """
    rows = []
    for task in values["task"].unique():
        for metric in _task_metrics(values, task):
            for algorithm in values.loc[values["task"] == task, "algorithm"].unique():
                x = _sample(values, task, algorithm, metric)
                q25, median, q75 = np.percentile(x, [25, 50, 75]) if x.size else (np.nan,) * 3
                rows.append(
                    {
                        "task": task,
                        "algorithm": algorithm,
                        "metric": metric,
                        "runs": int(x.size),
                        "median": float(median),
                        "q25": float(q25),
                        "q75": float(q75),
                    }
                )
    return pd.DataFrame(
        rows, columns=["task", "algorithm", "metric", "runs", "median", "q25", "q75"]
    )


def _sample(values: pd.DataFrame, task: str, algorithm: str, metric: str) -> np.ndarray:
    rows = values[(values["task"] == task) & (values["algorithm"] == algorithm)]
    x = rows[metric].to_numpy(np.float64)
    return x[~np.isnan(x)]


def rank_tests(values: pd.DataFrame) -> pd.DataFrame:
    """Two-sided Mann-Whitney U tests between every pair of algorithms on the same task.

    One row per (task, metric, pair): ``algorithm_a``, ``algorithm_b``, their
    sample sizes and medians, ``u`` (the statistic of ``a``, as
    :func:`scipy.stats.mannwhitneyu` returns it) and ``p_value``. A pair with an
    empty sample has NaN. With few seeds no p-value can be small (two runs
    against two: at least 1/3), so read the sizes too.
    """
    rows = []
    for task in values["task"].unique():
        algorithms = values.loc[values["task"] == task, "algorithm"].unique().tolist()
        for metric in _task_metrics(values, task):
            for a, b in itertools.combinations(algorithms, 2):
                x, y = (_sample(values, task, name, metric) for name in (a, b))
                if x.size and y.size:
                    test = mannwhitneyu(x, y, alternative="two-sided")
                    u, p = float(test.statistic), float(test.pvalue)
                else:
                    u = p = math.nan
                rows.append(
                    {
                        "task": task,
                        "metric": metric,
                        "algorithm_a": a,
                        "algorithm_b": b,
                        "n_a": int(x.size),
                        "n_b": int(y.size),
                        "median_a": float(np.median(x)) if x.size else math.nan,
                        "median_b": float(np.median(y)) if y.size else math.nan,
                        "u": u,
                        "p_value": p,
                    }
                )
    columns = ["task", "metric", "algorithm_a", "algorithm_b", "n_a", "n_b"]
    return pd.DataFrame(rows, columns=[*columns, "median_a", "median_b", "u", "p_value"])


# --- markdown -------------------------------------------------------------------------


def _number(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if float(x).is_integer() and abs(x) < 1e6:
        return f"{int(x)}"
    return f"{x:.{digits}g}" if abs(x) < 1e-3 else f"{x:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def comparison_markdown(values: pd.DataFrame, summary: pd.DataFrame, tests: pd.DataFrame) -> str:
    """The comparison as markdown: per task, median [q25, q75] per algorithm, then the tests."""
    parts = ["# Comparison", ""]
    for task in values["task"].unique():
        rows = values[values["task"] == task]
        metrics = _task_metrics(values, task)
        parts += [f"## {task}", ""]
        budgets = sorted(set(rows["budget"].tolist()))
        unfinished = int((~rows["finished"]).sum())
        parts.append(
            f"{len(rows)} runs; budget {', '.join(f'{b:,}' for b in budgets)} evaluations"
            + (f"; {unfinished} interrupted (figures from their log)" if unfinished else "")
            + ". Median [interquartile range] over seeds."
        )
        parts.append("")
        table = []
        for algorithm in rows["algorithm"].unique():
            cells = [algorithm, str(int((rows["algorithm"] == algorithm).sum()))]
            for metric in metrics:
                s = summary[
                    (summary["task"] == task)
                    & (summary["algorithm"] == algorithm)
                    & (summary["metric"] == metric)
                ].iloc[0]
                cells.append(f"{_number(s['median'])} [{_number(s['q25'])}, {_number(s['q75'])}]")
            table.append(cells)
        parts += [markdown_table(["algorithm", "runs", *metrics], table), ""]
        task_tests = tests[tests["task"] == task]
        if len(task_tests):
            parts += ["Two-sided Mann-Whitney U tests (p-values):", ""]
            pairs = list(
                dict.fromkeys(
                    zip(task_tests["algorithm_a"], task_tests["algorithm_b"], strict=True)
                )
            )
            table = []
            for a, b in pairs:
                pair = task_tests[
                    (task_tests["algorithm_a"] == a) & (task_tests["algorithm_b"] == b)
                ]
                p = dict(zip(pair["metric"], pair["p_value"], strict=True))
                table.append([f"{a} vs {b}", *(_number(p.get(m, math.nan)) for m in metrics)])
            parts += [markdown_table(["pair", *metrics], table), ""]
    return "\n".join(parts)


# --- figures and files ----------------------------------------------------------------


def _file_stem(task: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", task).strip("-") or "task"


def representative(runs: Sequence[RunData]) -> RunData:
    """The run of median final coverage (the lower of the two middles; ties by seed)."""
    ranked = sorted(runs, key=lambda r: (float(r.summary["coverage"]), r.seed, r.path.name))
    return ranked[(len(ranked) - 1) // 2]


def default_out(runs: Sequence[RunData]) -> Path:
    """``<common parent of the runs>/compare``."""
    parent = Path(os.path.commonpath([str(r.path.resolve().parent) for r in runs]))
    return parent / "compare"


@dataclass
class Comparison:
    """What :func:`compare` wrote and computed."""

    out: Path
    runs: list[RunData]
    values: pd.DataFrame
    summary: pd.DataFrame
    tests: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _write_png(path: Path, figure_bytes: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(figure_bytes))


def task_figures(task: str, runs: Sequence[RunData]) -> dict[str, bytes]:
    """The PNG figures of one task's runs, by file name."""
    stem = _file_stem(task)
    groups: dict[str, list[RunData]] = {}
    for name in _algorithm_order([r.algorithm for r in runs]):
        groups[name] = sorted((r for r in runs if r.algorithm == name), key=lambda r: r.seed)
    n_areas = max(r.n_areas for r in runs)
    spec = next((r.spec for r in runs if r.spec is not None), None)
    curves = {name: [r.curves for r in group] for name, group in groups.items()}
    figures = {
        f"{stem}-curves.png": curves_figure(
            curves, curve_panels(n_areas, best_reward=False), title=f"{task}: exploration"
        ),
        f"{stem}-best-reward.png": curves_figure(
            curves,
            curve_panels(n_areas, basic=False),
            title=f"{task}: best reward per area (0 until reached)",
        ),
        f"{stem}-budget.png": budget_figure(
            {n: [r.summary["budget_per_process"] for r in g] for n, g in groups.items()},
            n_areas,
            title=f"{task}: budget per area",
        ),
    }
    chosen = {name: representative(group) for name, group in groups.items()}
    figures[f"{stem}-archives.png"] = archive_figure(
        [archive_panel(r, f"{name} (seed {r.seed})") for name, r in chosen.items()],
        spec,
        title=f"{task}: final archives (run of median coverage)",
    )
    learned = [
        p for name, r in chosen.items() if (p := projection_panel(r, f"{name} (seed {r.seed})"))
    ]
    if learned:
        figures[f"{stem}-learned-space.png"] = projection_figure(
            learned, spec, title=f"{task}: learned space, final archives (PCA)"
        )
    return {name: figure_png(figure) for name, figure in figures.items()}


def compare(paths: Sequence[str | Path], out: str | Path | None = None) -> Comparison:
    """Compare the runs in ``paths`` (run directories or folders of them) and write the results.

    Writes into ``out`` (default ``<common parent>/compare``): per task the
    figures ``<task>-curves.png``, ``-best-reward.png``, ``-budget.png``,
    ``-archives.png`` and ``-learned-space.png`` (when an algorithm learned its
    space), and the tables ``final-values.csv``, ``summary.csv``, ``tests.csv``
    and ``comparison.md``.

    Raises:
        ConfigError: no path given, a path holds no run, or the output folder
            cannot be written.
    """
    if not paths:
        raise ConfigError(RUN_FIELD, "give at least one run directory or folder of runs")
    skipped: list[str] = []
    runs = open_runs(paths, skipped)
    if not runs:
        raise ConfigError(RUN_FIELD, "no run with evaluations to compare")
    target = Path(out) if out is not None else default_out(runs)
    if target.exists() and not target.is_dir():
        raise ConfigError("out", f"{str(target)!r} exists and is not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError("out", f"cannot write to {str(target)!r}: {error.strerror}") from None
    values = final_values(runs)
    summary = group_summary(values)
    tests = rank_tests(values)
    result = Comparison(target, runs, values, summary, tests, skipped=skipped)
    for task in values["task"].unique():
        for name, png in task_figures(task, [r for r in runs if r.task == task]).items():
            _write_png(target / name, png)
            result.files.append(target / name)
    tables = {
        "final-values.csv": values.to_csv(index=False, float_format="%.6g"),
        "summary.csv": summary.to_csv(index=False, float_format="%.6g"),
        "tests.csv": tests.to_csv(index=False, float_format="%.6g"),
        "comparison.md": comparison_markdown(values, summary, tests) + "\n",
    }
    for name, text in tables.items():
        write_text(target / name, text)
        result.files.append(target / name)
    return result
