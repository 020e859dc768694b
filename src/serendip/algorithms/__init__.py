"""Algorithms: short factories that put parts together, registered by name.

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
| `nslc`      | NS, survivors by NSGA-II on (novelty, local competition)               |
| `nsga-ii`   | NS, survivors by NSGA-II on (novelty, reward) (also `nsga2`)           |
| `map-elites`| grid of elites over the ground-truth descriptor, Gaussian mutation     |
| `cma-me`    | CMA-ES improvement emitters on that grid, with restarts                |
| `cma-es`    | CMA-ES on the reward with IPOP restarts                                |
| `dns`       | Dominated Novelty Search: a population kept by competition fitness     |

A factory is ``factory(context: BuildContext) -> Algorithm``; it reads the
sections of ``context.config`` its parts need. Register your own with
:func:`register_algorithm` (``frames=True`` when it looks at frames, so that
runs render ``DEFAULT_LEARNED_FRAMES`` of them by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from serendip.algorithms.base import EXPLORE, Algorithm, BuildContext, Request
from serendip.algorithms.cma_es import CMAESConfig
from serendip.algorithms.cma_me import CMAMEConfig
from serendip.algorithms.dns import DNSConfig
from serendip.algorithms.map_elites import MapElitesConfig
from serendip.algorithms.random_search import RandomSearchConfig
from serendip.registry import Registry
from serendip.tasks import TaskSpec

ALGORITHMS = Registry("algorithm")


def register_algorithm(
    name: str,
    factory: Callable[[BuildContext], Algorithm] | str,
    *,
    summary: str = "",
    frames: bool = False,
    replace: bool = False,
) -> None:
    """Add an algorithm: ``factory(context)`` builds it; ``frames``: it looks at frames."""
    ALGORITHMS.register(name, factory, summary=summary, replace=replace, frames=frames)


_BUILT_IN = [
    ("ns", "ns:ns", "novelty search on the task's ground-truth descriptor", False),
    (
        "serene",
        "serene:serene",
        "novelty search + reward emitters and a scheduler (SERENE), ground-truth space",
        False,
    ),
    (
        "taxons",
        "taxons:taxons",
        "novelty search in a learned space (autoencoder on frames), novelty or surprise",
        True,
    ),
    ("taxons-p", "taxons:taxons_p", "TAXONS with NSGA-II on (novelty, surprise)", True),
    ("taxo-n", "taxons:taxo_n", "TAXONS ablation: novelty only", True),
    ("taxo-s", "taxons:taxo_s", "TAXONS ablation: surprise only", True),
    ("taxons-nt", "taxons:taxons_nt", "TAXONS ablation: untrained (random) autoencoder", True),
    (
        "stax",
        "stax:stax",
        "STAX: SERENE's emitters in TAXONS' learned space, novelty or surprise",
        True,
    ),
    ("stax-p", "stax:stax_p", "STAX with NSGA-II on (novelty, surprise)", True),
    (
        "random",
        "random_search:random_search",
        "random search: N(0, 1) genomes, no selection",
        False,
    ),
    (
        "nslc",
        "nslc:nslc",
        "novelty search with local competition (NSGA-II on novelty, local competition)",
        False,
    ),
    ("nsga-ii", "nsga_ii:nsga_ii", "NSGA-II on (novelty, reward), ground-truth space", False),
    ("nsga2", "nsga_ii:nsga_ii", "alias of nsga-ii", False),
    (
        "map-elites",
        "map_elites:map_elites",
        "MAP-Elites: a grid of elites over the ground-truth descriptor",
        False,
    ),
    (
        "cma-me",
        "cma_me:cma_me",
        "CMA-ME: CMA-ES improvement emitters on the MAP-Elites grid",
        False,
    ),
    ("cma-es", "cma_es:cma_es", "CMA-ES on the reward, with IPOP restarts", False),
    ("dns", "dns:dns", "Dominated Novelty Search: local competition without a grid", False),
]
for _name, _factory, _summary, _frames in _BUILT_IN:
    register_algorithm(_name, f"serendip.algorithms.{_factory}", summary=_summary, frames=_frames)


def uses_frames(name: str) -> bool:
    """Whether the algorithm looks at frames (its default S is then > 0)."""
    return name in ALGORITHMS and bool(ALGORITHMS[name].traits.get("frames"))


def make_algorithm(
    name: str,
    *,
    spec: TaskSpec,
    config: Any,
    n_frames: int,
    seed: int,
    **options: Any,
) -> Algorithm:
    """Build the algorithm registered as ``name`` for a task from a run config.

    ``options``: ``genome_bounds``, ``initial_genomes`` (see :class:`BuildContext`).
    """
    context = BuildContext.for_task(spec, config=config, n_frames=n_frames, seed=seed, **options)
    return build_algorithm(name, context)


def build_algorithm(name: str, context: BuildContext) -> Algorithm:
    """The algorithm registered as ``name``, built by its factory from ``context``."""
    return ALGORITHMS[name].load()(context)


__all__ = [
    "ALGORITHMS",
    "EXPLORE",
    "Algorithm",
    "BuildContext",
    "CMAESConfig",
    "CMAMEConfig",
    "DNSConfig",
    "MapElitesConfig",
    "RandomSearchConfig",
    "Request",
    "build_algorithm",
    "make_algorithm",
    "register_algorithm",
    "uses_frames",
]
