"""Where emitters find their rewards: the area of each emitter's ancestor against the
area of the rewards its offspring reach, from the evaluation logs of finished runs.

An elitist emitter keeps the best of parents and offspring by reward, whatever
area the reward is in, so an emitter seeded in one area can move to another when
a mutant there beats its parents. The metrics attribute an emitter's budget to its
ancestor's area (``emitter_area`` in the evaluation log); this script shows how
far that label and the areas actually refined agree, and which process found the
best reward of each area.

Usage:
    python benchmarks/emitter_areas.py runs/discovery200k/arm-stax-seed*-200000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq


def describe(run: Path) -> str:
    log = pq.read_table(
        run / "evaluations.parquet", columns=["reward", "reward_area", "emitter_area"]
    ).to_pandas()
    rewarded = log[log.reward > 0]
    areas = sorted(set(rewarded.reward_area) | set(log.emitter_area[log.emitter_area >= 0]))
    lines = [f"{run.name}: {len(log):,} evaluations, {len(rewarded):,} with a reward"]
    header = f"  {'ancestor area / reward area':>28} | " + " | ".join(f"{a:>14}" for a in areas)
    lines.append(header + " | emitter evaluations")
    for source in [-1, *[a for a in areas if a >= 0]]:
        label = "exploration" if source == -1 else f"emitters of area {source}"
        cells = []
        for target in areas:
            hits = rewarded[(rewarded.emitter_area == source) & (rewarded.reward_area == target)]
            cells.append(f"{len(hits):>6} / {hits.reward.max():.3f}" if len(hits) else f"{'-':>14}")
        spent = "" if source == -1 else f"{int((log.emitter_area == source).sum()):,}"
        lines.append(f"  {label:>28} | " + " | ".join(cells) + f" | {spent}")
    best = []
    for target in areas:
        hits = rewarded[rewarded.reward_area == target]
        top = hits.loc[hits.reward.idxmax()]
        source = int(top.emitter_area)
        who = "exploration" if source == -1 else f"an emitter of area {source}"
        best.append(f"area {target} {top.reward:.3f} by {who}")
    lines.append("  best: " + "; ".join(best))
    on_target = rewarded[rewarded.emitter_area >= 0]
    if len(on_target):
        share = np.mean(on_target.emitter_area == on_target.reward_area)
        lines.append(f"  emitter rewards in their ancestor's area: {share:.0%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="finished run directories")
    args = parser.parse_args()
    print("cells: rewarding evaluations / best reward\n")
    for run in args.runs:
        print(describe(run) + "\n")


if __name__ == "__main__":
    main()
