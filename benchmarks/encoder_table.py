"""Learned spaces side by side: runs grouped by ``learned_space.encoder``, with tests.

``serendip compare`` groups runs by task and algorithm; comparing encoders needs
the runs of one algorithm grouped by the encoder they used. This prints, per
task and encoder, the median [IQR] over seeds of coverage, uniformity, areas
found, the best reward in each area, the last fidelity error, wall time and
training time, and a two-sided Mann-Whitney U test of each encoder against
``paper`` on coverage and fidelity.

Usage:
    python benchmarks/discovery.py --task maze --budget 20000 --seeds 0 1 2 \\
        --algorithms stax --out runs/encoders20k --set learned_space.encoder=background \\
        --tag background   # and likewise for paper and contrastive
    python benchmarks/encoder_table.py runs/encoders20k/*
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import mannwhitneyu


def median_iqr(values: list[float]) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "-"
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return f"{q2:.3f} [{q1:.3f}, {q3:.3f}]"


def p_value(a: list[float], b: list[float]) -> str:
    a = [v for v in a if v is not None]
    b = [v for v in b if v is not None]
    if len(a) < 2 or len(b) < 2:
        return "-"
    return f"{mannwhitneyu(a, b, alternative='two-sided').pvalue:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
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
        groups[(config["task"], encoder)].append(summary)
    header = (
        "| task | encoder | seeds | areas found | best reward per area | coverage | uniformity "
        "| fidelity error | wall (s) | training (s) | p coverage | p fidelity |"
    )
    print(header)
    print("|" + "---|" * 12)
    for (task, encoder), runs in sorted(groups.items()):
        paper = groups.get((task, "paper"), [])
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
            median_iqr([r.get("fidelity_error") for r in runs]),
            f"{np.median([r['wall_seconds'] for r in runs]):.0f}",
            f"{np.median([r['training_seconds'] for r in runs]):.0f}",
            "-"
            if encoder == "paper"
            else p_value([r["coverage"] for r in runs], [r["coverage"] for r in paper]),
            "-"
            if encoder == "paper"
            else p_value(
                [r.get("fidelity_error") for r in runs], [r.get("fidelity_error") for r in paper]
            ),
        ]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
