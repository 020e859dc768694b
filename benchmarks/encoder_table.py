"""Learned spaces side by side: runs grouped by ``learned_space.encoder``, with tests.

``serendip compare`` groups runs by task and algorithm; comparing encoders needs
the runs of one algorithm grouped by the encoder they used. This prints, per
task and encoder, the median [IQR] over seeds of coverage, uniformity, areas
found, the best reward in each area, how many (seed, area) pairs were refined to
at least 0.9, the evaluations to the first reward, the last fidelity error, wall
time and training time, and a two-sided Mann-Whitney U test of each encoder
against a reference encoder (``--reference``, ``paper`` unless told) on coverage
and fidelity. ``--per-seed`` adds one row per run. Runs with another number of
frames per episode than the default, or another survivor selection, are their
own group (``paper S=1``, ``paper selection=novelty``).

Usage:
    python benchmarks/discovery.py --task maze --budget 20000 --seeds 0 1 2 \\
        --algorithms stax --out runs/encoders20k --set learned_space.encoder=background \\
        --tag background   # and likewise for paper and contrastive
    python benchmarks/encoder_table.py runs/encoders20k/*
    python benchmarks/encoder_table.py runs/encoders200k/* --reference keypoints --per-seed
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import mannwhitneyu

from serendip.experiment.config import DEFAULT_LEARNED_FRAMES


def median_iqr(values: list[float], form: str = "{:.3f}") -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "-"
    q1, q2, q3 = (form.format(q) for q in np.percentile(values, [25, 50, 75]))
    return f"{q2} [{q1}, {q3}]"


def p_value(a: list[float], b: list[float]) -> str:
    a = [v for v in a if v is not None]
    b = [v for v in b if v is not None]
    if len(a) < 2 or len(b) < 2:
        return "-"
    return f"{mannwhitneyu(a, b, alternative='two-sided').pvalue:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument(
        "--reference", default="paper", help="the encoder the others are tested against"
    )
    parser.add_argument("--per-seed", action="store_true", help="also print one row per run")
    args = parser.parse_args()
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run in args.runs:
        if not (run / "summary.json").is_file():
            continue
        config = yaml.safe_load((run / "config.yaml").read_text())
        summary = json.loads((run / "summary.json").read_text())
        trainings = run / "autoencoder" / "trainings.jsonl"
        lines = trainings.read_text().splitlines() if trainings.exists() else []
        summary["training_seconds"] = sum(json.loads(line)["seconds"] for line in lines)
        encoder = config.get("learned_space", {}).get("encoder", "paper")
        frames = config.get("frames")
        if frames not in (None, DEFAULT_LEARNED_FRAMES):  # another S is another space
            encoder = f"{encoder} S={frames}"
        selection = config.get("novelty_search", {}).get("selection")
        if selection is not None:  # survivors chosen otherwise than the algorithm's way
            encoder = f"{encoder} selection={selection}"
        groups[(config["task"], encoder)].append(summary)
    header = (
        "| task | encoder | seeds | areas found | best reward per area | coverage | uniformity "
        "| pairs >= 0.9 | first reward (evals) | fidelity error | wall (s) | training (s) "
        f"| p coverage vs {args.reference} | p fidelity vs {args.reference} |"
    )
    print(header)
    print("|" + "---|" * 14)
    for (task, encoder), runs in sorted(groups.items()):
        reference = groups.get((task, args.reference), [])
        is_reference = encoder == args.reference
        areas = sorted({a for r in runs for a in r["best_reward_per_area"]})
        best = " / ".join(
            median_iqr([r["best_reward_per_area"].get(a) for r in runs]) for a in areas
        )
        found = [r["reward_areas_found"] for r in runs]
        row = [
            task,
            encoder,
            str(len(runs)),
            f"{np.median(found):g} of {runs[0]['reward_areas_total']}",
            best,
            median_iqr([r["coverage"] for r in runs]),
            median_iqr([r["uniformity"] for r in runs]),
            f"{refined_pairs(runs, areas)} of {len(runs) * len(areas)}",
            median_iqr([r.get("evaluations_to_first_reward_overall") for r in runs], "{:.0f}"),
            median_iqr([r.get("fidelity_error") for r in runs]),
            f"{np.median([r['wall_seconds'] for r in runs]):.0f}",
            f"{np.median([r['training_seconds'] for r in runs]):.0f}",
            "-"
            if is_reference
            else p_value([r["coverage"] for r in runs], [r["coverage"] for r in reference]),
            "-"
            if is_reference
            else p_value(
                [r.get("fidelity_error") for r in runs],
                [r.get("fidelity_error") for r in reference],
            ),
        ]
        print("| " + " | ".join(row) + " |")
    if args.per_seed:
        print_per_seed(groups)


def refined_pairs(runs: list[dict], areas: list[str], threshold: float = 0.9) -> int:
    """How many (seed, area) pairs reached ``threshold``; an unfound area has not."""
    return sum(
        1 for r in runs for a in areas if (r["best_reward_per_area"].get(a) or 0.0) >= threshold
    )


def print_per_seed(groups: dict[tuple[str, str], list[dict]]) -> None:
    """One row per run: the values the medians above are taken over."""
    print()
    print(
        "| task | encoder | seed | coverage | uniformity | best reward per area "
        "| first reward (evals) | fidelity error | wall (s) |"
    )
    print("|" + "---|" * 9)
    for (task, encoder), runs in sorted(groups.items()):
        for r in sorted(runs, key=lambda r: r["seed"]):
            areas = sorted(r["best_reward_per_area"])
            best = " / ".join(
                "-"
                if r["best_reward_per_area"][a] is None
                else f"{r['best_reward_per_area'][a]:.3f}"
                for a in areas
            )
            fidelity = r.get("fidelity_error")
            row = [
                task,
                encoder,
                str(r["seed"]),
                f"{r['coverage']:.3f}",
                f"{r['uniformity']:.3f}",
                best,
                str(r.get("evaluations_to_first_reward_overall") or "-"),
                "-" if fidelity is None else f"{fidelity:.3f}",
                f"{r['wall_seconds']:.0f}",
            ]
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
