"""CMA-ME (Fontaine et al., GECCO 2020): CMA-ES improvement emitters on a MAP-Elites grid.

::

    first batch: initial_batch genomes ~ N(0, 1), clipped (the grid starts empty)
    then every emitter starts a CMA-ES (``cma`` package, told ranks, sigma 0.5, population 6,
        spec §5) at an elite drawn uniformly from the grid
    every batch: each emitter asks one CMA-ES generation; the whole batch is offered
        to the grid at once; each emitter ranks its own rows by improvement:
        new cells first (by reward), then improved cells (by reward gained), then the
        rest (by reward minus the cell's elite's), and tells CMA-ES those ranks
    an emitter whose generation added nothing to the grid, or whose CMA-ES meets one
        of cma's termination criteria, restarts at a random elite

The grid keeps an elite unless a newcomer's reward is strictly higher (a tie is
not an improvement, so that a batch that only ties "inserts nothing" and restarts).

Ties at zero: with a sparse reward, new cells reached with reward 0 all rank
first, tied; rows equal on (status, value) are ordered at random by the run's
generator, as in :mod:`serendip.algorithms.cma_es`. The ranks are what CMA-ES is
told, so cma's own truncation to its best half (its default weights) selects,
pyribs' ``selection_rule="truncation"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from serendip.algorithms import parts
from serendip.algorithms.base import (
    Algorithm,
    BuildContext,
    first_genomes,
    prefixed,
    unprefixed,
)
from serendip.algorithms.cma_es import ranks_with_random_ties
from serendip.archives import Agents, GridArchive
from serendip.emitters.base import join_state, split_state
from serendip.emitters.cma_es import RankedCMAESEmitter
from serendip.exploration.novelty_search import evaluated_agents
from serendip.policies import GENOME_HIGH, GENOME_LOW
from serendip.request import Request
from serendip.rng import restore_rng, rng_state
from serendip.tasks import EvaluationBatch

STATE_VERSION = 1
_EMITTER_STREAM = 0xC3E  # emitter e draws from (seed, _EMITTER_STREAM, e)


@dataclass(frozen=True)
class CMAMEConfig:
    """Parameters of CMA-ME (defaults: spec §5).

    Attributes:
        grid: cells per descriptor axis (see :class:`MapElitesConfig`); None: the metrics'.
        emitters: improvement emitters, each asking one CMA-ES generation per batch.
        population_size: lambda of each emitter's CMA-ES.
        sigma0: step size of each (re)started CMA-ES.
        initial_batch: random genomes evaluated first, to seed the empty grid.
    """

    grid: int | tuple[int, ...] | None = None
    emitters: int = 10
    population_size: int = 6
    sigma0: float = 0.5
    initial_batch: int = 100


class CMAME(Algorithm):
    """CMA-ME with improvement emitters and restarts from random elites.

    Args:
        grid: the archive of elites over the ground-truth descriptor.
        genome_size: genes per genome.
        config: emitters, CMA-ES population and step size.
        seed: the run's seed (each emitter's CMA-ES draws from its own stream of it).
        rng: the first batch, the elites emitters start from, and tie-breaking.
        genome_bounds: genes stay within ``[low, high]``.
        initial_genomes: the first batch, ``(m, genome_size)``, instead of random genomes.
    """

    name = "cma-me"

    def __init__(
        self,
        *,
        grid: GridArchive,
        genome_size: int,
        config: CMAMEConfig,
        seed: int,
        rng: np.random.Generator,
        genome_bounds: tuple[float, float] = (GENOME_LOW, GENOME_HIGH),
        initial_genomes: np.ndarray | None = None,
    ) -> None:
        self.grid = grid
        self.genome_size = int(genome_size)
        self.config = config
        self.seed = int(seed)
        self.rng = rng
        self.genome_bounds = (float(genome_bounds[0]), float(genome_bounds[1]))
        self.initial_genomes = initial_genomes
        self.emitters: list[RankedCMAESEmitter] = []
        self.started = 0  # emitters started so far, restarts included (their ids)

    def _start_emitter(self) -> RankedCMAESEmitter:
        """A CMA-ES around an elite drawn uniformly from the grid."""
        elite = self.grid.sample(1, self.rng)
        emitter = RankedCMAESEmitter(
            emitter_id=self.started,
            ancestor_genome=elite.genomes[0],
            ancestor_index=int(elite.indices[0]),
            sigma0=self.config.sigma0,
            rng=np.random.default_rng([self.seed, _EMITTER_STREAM, self.started]),
            population_size=self.config.population_size,
            genome_bounds=self.genome_bounds,
        )
        self.started += 1
        return emitter

    def ask(self, max_evaluations: int) -> Request:
        if len(self.grid) == 0:
            return Request(
                first_genomes(
                    self.initial_genomes,
                    self.rng,
                    self.config.initial_batch,
                    max_evaluations,
                    self.genome_size,
                    self.genome_bounds,
                )
            )
        while len(self.emitters) < self.config.emitters:
            self.emitters.append(self._start_emitter())
        genomes = np.concatenate([emitter.ask() for emitter in self.emitters])
        return Request(genomes[:max_evaluations])

    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        agents = evaluated_agents(request.genomes, batch, indices, batch.descriptors)
        agents.frames = agents.frames[:, :0]
        before = len(self.grid)
        info = self.grid.add(agents)
        if before == 0 and not self.emitters:
            return  # the first, random batch
        start = 0
        for slot, emitter in enumerate(self.emitters):
            rows = slice(start, start + emitter.population_size)
            start += emitter.population_size
            if start > len(agents):
                break  # the budget's partial last batch: this emitter is never told
            ranks = ranks_with_random_ties(self.rng, info.status[rows], info.value[rows])
            emitter.tell(agents.genomes[rows], -ranks.astype(np.float64))
            if not info.added[rows].any() or emitter.termination():
                self.emitters[slot] = self._start_emitter()

    @property
    def restarts(self) -> int:
        """Emitters replaced so far: every one started beyond the slots it fills."""
        return self.started - len(self.emitters)

    def archives(self) -> dict[str, Agents]:
        return {"elites": self.grid.agents}

    def summary(self) -> dict[str, Any]:
        return {
            "grid_filled": len(self.grid),
            "grid_cells": self.grid.n_cells,
            "restarts": self.restarts,
        }

    def status(self) -> dict[str, float | int]:
        return {"elites": len(self.grid), "restarts": self.restarts}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        grid_arrays, grid_data = self.grid.state_dict()
        arrays = prefixed("grid.", grid_arrays)
        emitters = []
        for slot, emitter in enumerate(self.emitters):
            emitter_arrays, emitter_data = split_state(emitter.state())
            arrays.update(prefixed(f"emitter{slot}.", emitter_arrays))
            emitters.append(emitter_data)
        data = {
            "state_version": STATE_VERSION,
            "rng": rng_state(self.rng),
            "grid": grid_data,
            "emitters": emitters,
            "started": self.started,
        }
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.grid.load_state_dict(unprefixed("grid.", arrays), data["grid"])
        self.emitters = [
            RankedCMAESEmitter.from_state(join_state(unprefixed(f"emitter{slot}.", arrays), saved))
            for slot, saved in enumerate(data["emitters"])
        ]
        self.rng = restore_rng(data["rng"])
        self.started = int(data["started"])


def cma_me(context: BuildContext) -> CMAME:
    """CMA-ME on the ground-truth descriptor's grid."""
    section = context.config.cma_me
    return CMAME(
        grid=parts.grid_archive(context, section.grid, "cma_me.grid"),
        genome_size=context.genome_size,
        config=section,
        seed=context.seed,
        rng=parts.Streams.of(context.seed).explore,
        genome_bounds=context.genome_bounds,
        initial_genomes=context.initial_genomes,
    )
