"""Algorithms: short compositions of exploration, behavior spaces, emitters and schedulers.

| name        | composition                                                            |
|-------------|------------------------------------------------------------------------|
| `ns`        | novelty search (§1) in the ground-truth space                          |
| `serene`    | NS + SERENE's emitters and scheduler (§3), ground-truth space          |
| `taxons`    | NS in the learned space, novelty or surprise per generation (§2)       |
| `taxons-p`  | NS in the learned space, NSGA-II on (novelty, surprise)                |
| `taxo-n`    | ablation: learned space, novelty only                                  |
| `taxo-s`    | ablation: learned space, surprise only                                 |
| `taxons-nt` | ablation: untrained autoencoder                                        |
| `stax`      | SERENE's exploitation + TAXONS' learned space (§4)                     |
| `stax-p`    | STAX with NSGA-II selection                                            |
| `random`    | N(0, 1) genomes, no selection                                          |
"""

from __future__ import annotations

from typing import Any

from serendip.algorithms.base import EXPLORE, Algorithm, Request
from serendip.algorithms.random_search import RandomSearch, RandomSearchConfig
from serendip.algorithms.stax import ExploreExploitSearch, Recipe
from serendip.tasks import TaskSpec

RECIPES: dict[str, Recipe] = {
    "ns": Recipe("novelty search on the task's ground-truth descriptor"),
    "serene": Recipe(
        "novelty search + reward emitters and a scheduler (SERENE), ground-truth space",
        exploit=True,
    ),
    "taxons": Recipe(
        "novelty search in a learned space (autoencoder on frames), novelty or surprise",
        space="learned",
        selection="novelty-or-surprise",
    ),
    "taxons-p": Recipe(
        "TAXONS with NSGA-II on (novelty, surprise)", space="learned", selection="pareto"
    ),
    "taxo-n": Recipe("TAXONS ablation: novelty only", space="learned", selection="novelty"),
    "taxo-s": Recipe("TAXONS ablation: surprise only", space="learned", selection="surprise"),
    "taxons-nt": Recipe(
        "TAXONS ablation: untrained (random) autoencoder",
        space="learned",
        selection="novelty-or-surprise",
        train=False,
    ),
    "stax": Recipe(
        "STAX: SERENE's emitters in TAXONS' learned space, novelty or surprise",
        space="learned",
        selection="novelty-or-surprise",
        exploit=True,
    ),
    "stax-p": Recipe(
        "STAX with NSGA-II on (novelty, surprise)",
        space="learned",
        selection="pareto",
        exploit=True,
    ),
}

ALGORITHMS: dict[str, str] = {
    **{name: recipe.summary for name, recipe in RECIPES.items()},
    "random": "random search: N(0, 1) genomes, no selection",
}


def uses_frames(name: str) -> bool:
    """Whether the algorithm looks at frames (its default S is then > 0)."""
    recipe = RECIPES.get(name)
    return recipe is not None and recipe.space == "learned"


def make_algorithm(
    name: str, *, spec: TaskSpec, config: Any, n_frames: int, seed: int
) -> Algorithm:
    """Build algorithm ``name`` for a task from a run config."""
    if name == "random":
        import numpy as np

        return RandomSearch(
            spec=spec, config=config.random_search, rng=np.random.default_rng([seed, 0])
        )
    if name not in RECIPES:
        raise KeyError(f"unknown algorithm {name!r}; accepted: {', '.join(ALGORITHMS)}")
    return ExploreExploitSearch(
        name=name, recipe=RECIPES[name], spec=spec, config=config, n_frames=n_frames, seed=seed
    )


__all__ = [
    "ALGORITHMS",
    "EXPLORE",
    "RECIPES",
    "Algorithm",
    "ExploreExploitSearch",
    "RandomSearchConfig",
    "Recipe",
    "Request",
    "make_algorithm",
    "uses_frames",
]
