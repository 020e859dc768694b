"""STAX (Paolo et al., Evolutionary Computation 2024): SERENE's emitters in TAXONS' space.

Explore with TAXONS (novelty search in an autoencoder's latent space, novelty
or surprise per generation, trainings after exploration chunks 1, 3, 6, ...);
exploit with SERENE (every reward found seeds a candidate emitter, tried and
then run while it improves, under a scheduler that splits the budget).
"""

from __future__ import annotations

from functools import partial

from serendip.algorithms import parts
from serendip.algorithms.base import BuildContext
from serendip.algorithms.family import ExploreExploit


def stax(
    context: BuildContext, *, name: str = "stax", selection: str = "novelty-or-surprise"
) -> ExploreExploit:
    """STAX: the learned space, its exploration, SERENE's exploitation and scheduler."""
    streams = parts.Streams.of(context.seed)
    space = parts.learned_space(context)
    rewarded = parts.reward_archive(context, space)
    exploration = parts.novelty_search(
        context, space, rewarded, streams.explore, selection=selection
    )
    exploitation, scheduler = parts.exploitation(context, exploration, streams)
    return ExploreExploit(
        name=name,
        space=space,
        reward_archive=rewarded,
        exploration=exploration,
        exploitation=exploitation,
        scheduler=scheduler,
        train_after=parts.is_training_chunk,
        chunk_size=context.config.exploitation.chunk_size,
        budget=context.config.budget,
        training_rng=streams.training,
        seed=context.seed,
    )


stax_p = partial(stax, name="stax-p", selection="pareto")
"""STAX-P: survivors by NSGA-II on (novelty, surprise)."""
