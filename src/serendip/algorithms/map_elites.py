"""MAP-Elites (Mouret & Clune 2015) over the task's ground-truth descriptor (spec §5).

::

    first batch: genomes ~ N(0, 1), clipped to the genome bounds
    every batch after: batch_size parents drawn uniformly (with replacement) from the
        elites, each mutated once by N(0, mutation_sigma) on every gene, clipped
    tell: every evaluated agent is offered to the grid; it becomes its cell's elite
        when the cell is empty or its reward is >= the elite's

Ties at zero: with a sparse reward nearly every agent scores 0, so the spec's rule
"replace if reward >= incumbent" makes the newest 0 take a cell from an older 0
(genetic drift inside the cell, as in the reference code); within one batch the
first agent of a cell in batch order competes. ``map_elites.replace_on_tie: false``
keeps the incumbent instead (pyribs' rule). A rewarding agent (> 0) always takes a
cell held by a 0.

The grid is the metrics' grid by default (50 x 50 on the built-in 2-D tasks), so
the run's elites fill exactly the cells its coverage counts. The elites are the
run's only archive: the best agent of every cell, rewarding ones included, so the
best policy of each reward area is among them.
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
from serendip.archives import Agents, GridArchive
from serendip.exploration.novelty_search import evaluated_agents
from serendip.policies import GENOME_HIGH, GENOME_LOW
from serendip.request import Request
from serendip.rng import restore_rng, rng_state
from serendip.tasks import EvaluationBatch

STATE_VERSION = 1


@dataclass(frozen=True)
class MapElitesConfig:
    """Parameters of MAP-Elites (defaults: spec §5).

    Attributes:
        grid: cells per descriptor axis: one integer for every axis, one per axis, or
            None for the metrics' grid of the task (50 x 50 on the built-in tasks).
        batch_size: parents drawn (and offspring evaluated) per batch; also the size
            of the random first batch.
        mutation_sigma: standard deviation of the Gaussian mutation of every gene.
        replace_on_tie: an agent whose reward equals its cell's elite's replaces it.
    """

    grid: int | tuple[int, ...] | None = None
    batch_size: int = 100
    mutation_sigma: float = 0.05
    replace_on_tie: bool = True


class MapElites(Algorithm):
    """MAP-Elites: uniform parents from the grid's elites, Gaussian mutation, elites by reward.

    Args:
        grid: the archive of elites (built over the ground-truth descriptor).
        genome_size: genes per genome.
        config: batch size and mutation.
        rng: every draw (first batch, parents, mutations).
        genome_bounds: genes stay within ``[low, high]``.
        initial_genomes: the first batch, ``(m, genome_size)``, instead of random genomes.
    """

    name = "map-elites"

    def __init__(
        self,
        *,
        grid: GridArchive,
        genome_size: int,
        config: MapElitesConfig,
        rng: np.random.Generator,
        genome_bounds: tuple[float, float] = (GENOME_LOW, GENOME_HIGH),
        initial_genomes: np.ndarray | None = None,
    ) -> None:
        self.grid = grid
        self.genome_size = int(genome_size)
        self.config = config
        self.rng = rng
        self.genome_bounds = (float(genome_bounds[0]), float(genome_bounds[1]))
        self.initial_genomes = initial_genomes
        self.batches = 0

    def ask(self, max_evaluations: int) -> Request:
        n = min(self.config.batch_size, max_evaluations)
        if len(self.grid) == 0:
            return Request(
                first_genomes(
                    self.initial_genomes,
                    self.rng,
                    n,
                    max_evaluations,
                    self.genome_size,
                    self.genome_bounds,
                )
            )
        parents = self.grid.sample(n, self.rng).genomes
        noise = self.rng.normal(0.0, self.config.mutation_sigma, parents.shape)
        return Request(np.clip(parents + noise, *self.genome_bounds))

    def tell(self, request: Request, batch: EvaluationBatch, indices: np.ndarray) -> None:
        agents = evaluated_agents(request.genomes, batch, indices, batch.descriptors)
        agents.frames = agents.frames[:, :0]
        self.grid.add(agents)
        self.batches += 1

    def archives(self) -> dict[str, Agents]:
        return {"elites": self.grid.agents}

    def summary(self) -> dict[str, Any]:
        return {"grid_filled": len(self.grid), "grid_cells": self.grid.n_cells}

    def status(self) -> dict[str, float | int]:
        return {"elites": len(self.grid), "rewarded": int((self.grid.agents.rewards > 0).sum())}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        grid_arrays, grid_data = self.grid.state_dict()
        arrays = prefixed("grid.", grid_arrays)
        data = {
            "state_version": STATE_VERSION,
            "rng": rng_state(self.rng),
            "batches": self.batches,
            "grid": grid_data,
        }
        return arrays, data

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.grid.load_state_dict(unprefixed("grid.", arrays), data["grid"])
        self.rng = restore_rng(data["rng"])
        self.batches = int(data["batches"])


def map_elites(context: BuildContext) -> MapElites:
    """MAP-Elites on the ground-truth descriptor, drawing from the run's first seed stream."""
    section = context.config.map_elites
    return MapElites(
        grid=parts.grid_archive(
            context, section.grid, "map_elites.grid", replace_on_tie=section.replace_on_tie
        ),
        genome_size=context.genome_size,
        config=section,
        rng=parts.Streams.of(context.seed).explore,
        genome_bounds=context.genome_bounds,
        initial_genomes=context.initial_genomes,
    )
