"""The parts the family's factories put together, each built from its own config section.

Seeding: the run's seed is split into one stream per process
(``SeedSequence(seed).spawn``: exploration, exploitation, scheduler, training),
so adding exploitation to an algorithm does not change its exploration's draws;
each emitter draws from ``(seed, emitter id)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from serendip.algorithms.base import BuildContext
from serendip.archives import GridArchive, RewardArchive
from serendip.archives.grid import MAX_GRID_CELLS
from serendip.behavior import BehaviorSpace, GroundTruthSpace, make_learned_space
from serendip.behavior.training import is_training_chunk
from serendip.errors import ConfigError
from serendip.exploitation import Exploitation
from serendip.exploration import NoveltySearch
from serendip.exploration.rankers import make_ranker
from serendip.schedulers import Scheduler, make_scheduler

__all__ = [
    "MAX_GRID_CELLS",
    "Streams",
    "exploitation",
    "grid_archive",
    "ground_truth_space",
    "is_training_chunk",
    "learned_space",
    "novelty_search",
    "require_descriptor",
    "reward_archive",
]


@dataclass(frozen=True)
class Streams:
    """One generator per process, all from the run's seed."""

    explore: np.random.Generator
    exploit: np.random.Generator
    scheduler: np.random.Generator
    training: np.random.Generator

    @classmethod
    def of(cls, seed: int) -> Streams:
        explore, exploit, scheduler, training = np.random.SeedSequence(seed).spawn(4)
        return cls(*(np.random.default_rng(s) for s in (explore, exploit, scheduler, training)))


def ground_truth_space(context: BuildContext) -> GroundTruthSpace:
    """The task's ground-truth descriptor as the behavior space."""
    return GroundTruthSpace(context.descriptor_size)


def learned_space(context: BuildContext) -> BehaviorSpace:
    """The learned space named by ``learned_space.encoder``, over the task's S frames."""
    if context.n_frames < 1:
        raise ConfigError(
            "frames",
            f"a learned behavior space encodes frames: needs >= 1 per episode, got "
            f"{context.n_frames}",
        )
    section = context.config.learned_space
    return make_learned_space(
        section.encoder, n_frames=context.n_frames, config=section, seed=context.seed
    )


def require_descriptor(context: BuildContext, field: str) -> int:
    """The ground-truth descriptor's size; an algorithm that searches in it needs one."""
    if context.descriptor_size == 0:
        raise ConfigError(
            field, "this algorithm searches the task's ground-truth descriptor; this task has none"
        )
    return context.descriptor_size


def grid_shape(context: BuildContext, grid: int | tuple[int, ...] | None, field: str):
    """Cells per axis of a grid over the ground-truth descriptor (None: the metrics' grid).

    Raises:
        ConfigError: the task has no bounded descriptor, the grid has the wrong number
            of axes, or more than :data:`MAX_GRID_CELLS` cells.
    """
    dims = require_descriptor(context, field)
    if grid is None:
        shape = tuple(context.grid_shape) if len(context.grid_shape) == dims else (50,) * dims
    elif isinstance(grid, int):
        shape = (grid,) * dims
    else:
        shape = tuple(grid)
    if len(shape) != dims:
        raise ConfigError(
            field,
            f"must be one integer or {dims} (one per axis of the task's descriptor), "
            f"got {list(grid)}",
        )
    cells = math.prod(shape)
    if cells > MAX_GRID_CELLS:
        raise ConfigError(field, f"must have at most {MAX_GRID_CELLS:,} cells, got {cells:,}")
    return shape


def grid_archive(
    context: BuildContext,
    grid: int | tuple[int, ...] | None,
    field: str,
    *,
    replace_on_tie: bool = False,
) -> GridArchive:
    """A grid of elites over the task's ground-truth descriptor (MAP-Elites, CMA-ME)."""
    return GridArchive(
        bounds=context.descriptor_bounds,
        shape=grid_shape(context, grid, field),
        genome_size=context.genome_size,
        ground_truth_size=context.descriptor_size,
        replace_on_tie=replace_on_tie,
    )


def reward_archive(context: BuildContext, space: BehaviorSpace) -> RewardArchive:
    """The archive of rewarding agents, holding frames when the space needs them."""
    frames = context.n_frames if space.needs_frames else 0
    return RewardArchive(
        context.genome_size, space.descriptor_size, context.descriptor_size, frames
    )


def novelty_search(
    context: BuildContext,
    space: BehaviorSpace,
    rewarded: RewardArchive,
    rng: np.random.Generator,
    *,
    selection: str,
) -> NoveltySearch:
    """Novelty search in ``space``; ``novelty_search.selection`` overrides ``selection``."""
    section = context.config.novelty_search
    ranker = make_ranker(section.selection or selection, measures_surprise=space.measures_surprise)
    return NoveltySearch(
        config=section,
        genome_size=context.genome_size,
        ground_truth_size=context.descriptor_size,
        space=space,
        reward_archive=rewarded,
        rng=rng,
        ranker=ranker,
        n_frames=context.n_frames if space.needs_frames else 0,
        genome_bounds=context.genome_bounds,
        initial_genomes=context.initial_genomes,
    )


def exploitation(
    context: BuildContext, exploration: NoveltySearch, streams: Streams
) -> tuple[Exploitation, Scheduler]:
    """SERENE's exploitation process and its chunk scheduler."""
    section = context.config.exploitation
    process = Exploitation(
        config=section,
        genome_size=context.genome_size,
        k=context.config.novelty_search.k,
        reward_archive=exploration.reward_archive,
        reference=exploration.reference,
        seed=context.seed,
        rng=streams.exploit,
        genome_bounds=context.genome_bounds,
    )
    return process, make_scheduler(section.scheduler, streams.scheduler)
