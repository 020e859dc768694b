"""Emitters: local optimizers seeded at rewarding solutions (SERENE's exploitation, spec §3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from serendip.emitters.base import (
    DEFAULT_POPULATION_SIZE,
    Emitter,
    initial_sigma,
    stagnated,
    stagnation_window,
)
from serendip.emitters.cma_es import CMAESEmitter
from serendip.emitters.elitist import ElitistEmitter

EMITTER_KINDS = ("elitist", "cma-es")
_EMITTER_CLASSES: dict[str, type[Emitter]] = {"elitist": ElitistEmitter, "cma-es": CMAESEmitter}


def make_emitter(
    kind: str,
    *,
    emitter_id: int,
    ancestor_genome: np.ndarray,
    ancestor_index: int,
    sigma0: float,
    rng: np.random.Generator,
    population_size: int = DEFAULT_POPULATION_SIZE,
    genome_bounds: tuple[float, float] | None = None,
) -> Emitter:
    """A new emitter of ``kind`` (one of :data:`EMITTER_KINDS`) around an ancestor."""
    if kind not in _EMITTER_CLASSES:
        raise ValueError(f"kind must be one of {EMITTER_KINDS}, got {kind!r}")
    return _EMITTER_CLASSES[kind](
        emitter_id=emitter_id,
        ancestor_genome=ancestor_genome,
        ancestor_index=ancestor_index,
        sigma0=sigma0,
        rng=rng,
        population_size=population_size,
        **({} if genome_bounds is None else {"genome_bounds": genome_bounds}),
    )


def emitter_from_state(state: dict[str, Any]) -> Emitter:
    """Rebuild an emitter from its :meth:`Emitter.state` (dispatches on ``state["kind"]``)."""
    kind = state.get("kind")
    if kind not in _EMITTER_CLASSES:
        raise ValueError(f"state['kind'] must be one of {EMITTER_KINDS}, got {kind!r}")
    return _EMITTER_CLASSES[kind].from_state(state)


__all__ = [
    "EMITTER_KINDS",
    "CMAESEmitter",
    "ElitistEmitter",
    "Emitter",
    "emitter_from_state",
    "initial_sigma",
    "make_emitter",
    "stagnated",
    "stagnation_window",
]
