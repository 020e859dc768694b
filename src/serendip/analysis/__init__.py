"""Analysis of runs: metrics recomputed from the evaluation log, comparisons, reports.

``serendip.analysis.compare.compare`` and ``serendip.analysis.report.write_report``
(the ``compare`` and ``report`` commands) are imported from their modules: they
need matplotlib, which ``import serendip`` does not load.
"""

from __future__ import annotations

from serendip.metrics import (
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
