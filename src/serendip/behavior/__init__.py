"""Behavior spaces: where an evaluated agent's descriptor comes from.

Spaces follow one contract (:class:`~serendip.behavior.base.BehaviorSpace`) and
are registered by name. ``ground-truth`` reads the task's hand-designed outcome;
the learned spaces (``learned_space.encoder``, TAXONS and STAX) encode the
agent's frames: ``paper`` is the papers' convolutional autoencoder,
``background`` the same over frames minus their static background,
``contrastive`` the same trained with a contrastive loss as well,
``keypoints`` the image positions of spatial-softmax keypoints on the
background-free frame, ``weighted`` the paper's trained on an error that gives
the pixels differing from the background half of each frame's weight (the
default: the highest median coverage of the five on the arm, curling and the
maze over 5 seeds, though not significantly above ``paper``'s on the arm and
the maze, and the worst fidelity error on the maze; ``docs/results.md``).

A learned space's factory is called as
``factory(n_frames=S, config=<the learned_space section>, seed=run seed)``; the
ground-truth space's as ``factory(descriptor_size=D)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from serendip.behavior.base import BehaviorSpace, GroundTruthSpace, SurpriseSpace
from serendip.registry import Registry

BEHAVIOR_SPACES = Registry("behavior space")
BEHAVIOR_SPACES.register(
    "ground-truth", GroundTruthSpace, summary="the task's ground-truth descriptor", learned=False
)
BEHAVIOR_SPACES.register(
    "paper",
    "serendip.behavior.learned:LearnedSpace",  # imports torch: only when a run uses it
    summary="TAXONS' convolutional autoencoder over 64x64 frames (latents of S frames)",
    learned=True,
)
BEHAVIOR_SPACES.register(
    "background",
    "serendip.behavior.background:BackgroundSpace",
    summary="the paper's autoencoder over frames minus their per-pixel median background",
    learned=True,
)
BEHAVIOR_SPACES.register(
    "keypoints",
    "serendip.behavior.keypoints:KeypointSpace",
    summary="positions of latent_size/2 spatial-softmax keypoints on the background-free frame",
    learned=True,
)
BEHAVIOR_SPACES.register(
    "contrastive",
    "serendip.behavior.contrastive:ContrastiveSpace",
    summary="the paper's autoencoder trained on NT-Xent over translated views plus its MSE",
    learned=True,
)
BEHAVIOR_SPACES.register(
    "weighted",
    "serendip.behavior.weighted:WeightedSpace",
    summary="the paper's autoencoder on an error balanced between foreground and background",
    learned=True,
)


def register_behavior_space(
    name: str,
    factory: Callable[..., Any] | str,
    *,
    summary: str = "",
    replace: bool = False,
) -> None:
    """Add a learned behavior space, selected by ``learned_space.encoder: NAME``.

    ``factory(n_frames=S, config=AutoencoderConfig, seed=int)`` returns an object
    following :class:`BehaviorSpace`. A space that learns from frames sets
    ``needs_frames`` and bumps ``version`` at each training; a fixed space (one
    that reads ``final_observations``, say) may do neither, and is then never
    asked to ``encode`` stored frames.
    """
    BEHAVIOR_SPACES.register(name, factory, summary=summary, replace=replace, learned=True)


def learned_space_names() -> list[str]:
    """Names ``learned_space.encoder`` accepts."""
    return [e.name for e in BEHAVIOR_SPACES.entries() if e.traits.get("learned")]


def make_learned_space(name: str, *, n_frames: int, config: Any, seed: int) -> BehaviorSpace:
    """The learned space registered as ``name``."""
    return BEHAVIOR_SPACES[name].load()(n_frames=n_frames, config=config, seed=seed)


__all__ = [
    "BEHAVIOR_SPACES",
    "BehaviorSpace",
    "GroundTruthSpace",
    "SurpriseSpace",
    "learned_space_names",
    "make_learned_space",
    "register_behavior_space",
]
