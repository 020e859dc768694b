"""The elitist emitter, SERENE's default: a (mu + lambda) evolution strategy around the ancestor."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from serendip.archives import AddInfo
from serendip.emitters.base import Emitter


class ElitistEmitter(Emitter):
    """(mu + lambda) elitist emitter (spec §3).

    The first batch is ``population_size`` mutants of the ancestor, N(0, sigma0) on
    every gene; each later batch holds ``offspring_per_parent`` mutants of every
    parent; the best ``population_size`` of parents ∪ offspring by reward become
    the parents (stable sort: on ties parents win, then earlier rows). Genomes are
    clipped to the genome bounds.

    Asking twice without telling returns the same batch again, so a checkpoint
    taken between ask and tell continues identically.

    Args:
        offspring_per_parent: mutants of each parent per generation.
        (others as in :class:`~serendip.emitters.base.Emitter`)
    """

    kind: ClassVar[str] = "elitist"

    def __init__(self, *, offspring_per_parent: int = 2, **emitter_args: Any) -> None:
        super().__init__(**emitter_args)
        if offspring_per_parent < 1:
            raise ValueError(f"offspring_per_parent must be >= 1, got {offspring_per_parent}")
        self.offspring_per_parent = int(offspring_per_parent)
        self.parents = np.empty((0, self.genome_size))
        self.parent_rewards = np.empty(0)
        self._pending: np.ndarray | None = None

    def _mutants(self, sources: np.ndarray) -> np.ndarray:
        noise = self.rng.normal(0.0, self.sigma0, sources.shape)
        return np.clip(sources + noise, *self.genome_bounds)

    def ask(self) -> np.ndarray:
        if self._pending is None:
            if self.parents.shape[0] == 0:
                sources = np.repeat(self.ancestor_genome[None], self.population_size, axis=0)
            else:
                sources = np.repeat(self.parents, self.offspring_per_parent, axis=0)
            self._pending = self._mutants(sources)
        return self._pending.copy()

    def tell(
        self, genomes: np.ndarray, rewards: np.ndarray, add_info: AddInfo | None = None
    ) -> None:
        genomes = np.asarray(genomes, dtype=np.float64)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if self._pending is None:
            raise RuntimeError("tell() without a pending ask()")
        if genomes.shape != self._pending.shape or not np.array_equal(genomes, self._pending):
            raise ValueError("tell() must receive the genomes of the last ask(), in order")
        if rewards.shape != (genomes.shape[0],):
            raise ValueError(f"rewards must have shape ({genomes.shape[0]},), got {rewards.shape}")
        self._pending = None
        self._record(genomes, rewards)
        pool = np.concatenate([self.parents, genomes])
        pool_rewards = np.concatenate([self.parent_rewards, rewards])
        keep = np.argsort(-pool_rewards, kind="stable")[: self.population_size]
        self.parents = pool[keep]
        self.parent_rewards = pool_rewards[keep]

    # --- state -----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The complete state: NumPy arrays and JSON-able values, no pickle needed."""
        pending = self._pending
        return {
            **self._base_state(),
            "offspring_per_parent": self.offspring_per_parent,
            "parents": self.parents.copy(),
            "parent_rewards": self.parent_rewards.copy(),
            "has_pending": pending is not None,
            "pending": np.empty((0, self.genome_size)) if pending is None else pending.copy(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ElitistEmitter:
        """The emitter exactly as it was when :meth:`state` was called."""
        emitter = cls(
            **cls._state_arguments(state),
            offspring_per_parent=int(state["offspring_per_parent"]),
        )
        emitter._load_base_state(state)
        emitter.parents = np.asarray(state["parents"], dtype=np.float64).copy()
        emitter.parent_rewards = np.asarray(state["parent_rewards"], dtype=np.float64).copy()
        if state["has_pending"]:
            emitter._pending = np.asarray(state["pending"], dtype=np.float64).copy()
        return emitter
