"""Novelty search with local competition (Lehman & Stanley 2011), ground-truth space (spec §5).

Novelty search (§1) whose survivors are chosen by NSGA-II on (novelty, local
competition): the local competition of an agent is how many of its k = 15 nearest
neighbours (``novelty_search.k``, the neighbours its novelty averages over) have a
strictly lower reward. Ties at zero: neighbours with the same reward do not count,
so while every reward is 0 local competition is 0 everywhere and NSLC selects by
novelty alone (see :mod:`serendip.exploration.rankers`).
"""

from __future__ import annotations

from serendip.algorithms.base import BuildContext
from serendip.algorithms.family import ExploreExploit
from serendip.algorithms.ns import ground_truth_novelty_search


def nslc(context: BuildContext) -> ExploreExploit:
    """NSLC: novelty search, survivors by NSGA-II on (novelty, local competition)."""
    return ground_truth_novelty_search(context, "nslc", selection="novelty-local-competition")
