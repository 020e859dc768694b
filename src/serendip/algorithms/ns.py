"""Novelty search (Lehman & Stanley 2011), in the task's ground-truth space (spec §1)."""

from __future__ import annotations

from serendip.algorithms import parts
from serendip.algorithms.base import BuildContext
from serendip.algorithms.family import ExploreExploit


def ns(context: BuildContext) -> ExploreExploit:
    """NS: novelty search on the ground-truth descriptor, survivors by novelty."""
    return ground_truth_novelty_search(context, "ns", selection="novelty")


def ground_truth_novelty_search(
    context: BuildContext, name: str, *, selection: str
) -> ExploreExploit:
    """Novelty search on the ground-truth descriptor, survivors by the ranker ``selection``.

    NS, NSLC and NSGA-II differ only there (``novelty_search.selection`` overrides it).
    """
    streams = parts.Streams.of(context.seed)
    space = parts.ground_truth_space(context)
    rewarded = parts.reward_archive(context, space)
    exploration = parts.novelty_search(
        context, space, rewarded, streams.explore, selection=selection
    )
    return ExploreExploit(
        name=name,
        space=space,
        reward_archive=rewarded,
        exploration=exploration,
        chunk_size=context.config.exploitation.chunk_size,
        budget=context.config.budget,
        training_rng=streams.training,
        seed=context.seed,
    )
