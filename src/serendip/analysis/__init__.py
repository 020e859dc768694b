"""Analysis of runs: metrics recomputed from the evaluation log."""

from __future__ import annotations

from serendip.analysis.metrics import (
    LiveMetrics,
    best_reward_per_area,
    budget_per_process,
    coverage,
    evaluation_points,
    evaluations_to_first_reward,
    grid_cells,
    metric_curves,
    qd_score,
    summary_metrics,
    uniformity,
)

__all__ = [
    "LiveMetrics",
    "best_reward_per_area",
    "budget_per_process",
    "coverage",
    "evaluation_points",
    "evaluations_to_first_reward",
    "grid_cells",
    "metric_curves",
    "qd_score",
    "summary_metrics",
    "uniformity",
]
