"""NSGA-II on (novelty, reward) (Deb et al. 2002; Mouret 2011), ground-truth space (spec §5).

Novelty search (§1) whose survivors are chosen by NSGA-II with novelty and the
reward as two objectives: the paper's multi-objective baseline. Ties at zero: while
every reward is 0 the reward objective is constant and selection is by novelty
alone; a rewarding agent is never dominated by an agent at 0 that is less novel
(see :mod:`serendip.exploration.rankers`).
"""

from __future__ import annotations

from serendip.algorithms.base import BuildContext
from serendip.algorithms.family import ExploreExploit
from serendip.algorithms.ns import ground_truth_novelty_search


def nsga_ii(context: BuildContext) -> ExploreExploit:
    """NSGA-II: novelty search, survivors by NSGA-II on (novelty, reward)."""
    return ground_truth_novelty_search(context, "nsga-ii", selection="novelty-reward")
