"""TAXONS (Paolo et al., ICRA 2020): novelty search in a learned space (spec §2).

The behavior space is an autoencoder over the agent's frames, trained on the
frames of the search after exploration chunks 1, 3, 6, 10, ...; survivors are
chosen by novelty or by surprise (the autoencoder's reconstruction error), a
fair coin deciding each generation. TAXONS-P ranks on both with NSGA-II; the
ablations use one criterion, or never train.
"""

from __future__ import annotations

from functools import partial

from serendip.algorithms import parts
from serendip.algorithms.base import BuildContext
from serendip.algorithms.family import ExploreExploit


def taxons(
    context: BuildContext,
    *,
    name: str = "taxons",
    selection: str = "novelty-or-surprise",
    train: bool = True,
) -> ExploreExploit:
    """TAXONS: novelty search in the learned space, novelty or surprise per generation."""
    streams = parts.Streams.of(context.seed)
    space = parts.learned_space(context)
    rewarded = parts.reward_archive(context, space)
    exploration = parts.novelty_search(
        context, space, rewarded, streams.explore, selection=selection
    )
    return ExploreExploit(
        name=name,
        space=space,
        reward_archive=rewarded,
        exploration=exploration,
        train_after=parts.is_training_chunk if train else None,
        chunk_size=context.config.exploitation.chunk_size,
        budget=context.config.budget,
        training_rng=streams.training,
        seed=context.seed,
    )


taxons_p = partial(taxons, name="taxons-p", selection="pareto")
"""TAXONS-P: survivors by NSGA-II on (novelty, surprise)."""
taxo_n = partial(taxons, name="taxo-n", selection="novelty")
"""Ablation: novelty only."""
taxo_s = partial(taxons, name="taxo-s", selection="surprise")
"""Ablation: surprise only."""
taxons_nt = partial(taxons, name="taxons-nt", train=False)
"""Ablation: the autoencoder is never trained (a random projection of the frames)."""
