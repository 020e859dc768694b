"""SERENE (Paolo et al., EvoStar 2021): novelty search + reward emitters (spec §3)."""

from __future__ import annotations

from serendip.algorithms import parts
from serendip.algorithms.base import BuildContext
from serendip.algorithms.family import ExploreExploit


def serene(context: BuildContext) -> ExploreExploit:
    """SERENE: NS in the ground-truth space; emitters refine every reward found,
    a scheduler splits the budget between the two processes chunk by chunk."""
    streams = parts.Streams.of(context.seed)
    space = parts.ground_truth_space(context)
    rewarded = parts.reward_archive(context, space)
    exploration = parts.novelty_search(
        context, space, rewarded, streams.explore, selection="novelty"
    )
    exploitation, scheduler = parts.exploitation(context, exploration, streams)
    return ExploreExploit(
        name="serene",
        space=space,
        reward_archive=rewarded,
        exploration=exploration,
        exploitation=exploitation,
        scheduler=scheduler,
        chunk_size=context.config.exploitation.chunk_size,
        budget=context.config.budget,
        training_rng=streams.training,
        seed=context.seed,
    )
