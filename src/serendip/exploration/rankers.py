"""Survivor selection as small ranker objects (pyribs' rankers, for novelty search).

A ranker says which scores it needs (``criteria``) and picks the ``mu``
survivors of population ∪ offspring from them. The scores it can ask for are
``novelty`` (every space), ``reward``, ``local_competition`` (how many of the k
nearest neighbours of the novelty have a strictly lower reward) and ``surprise``
(spaces that measure it, i.e. the autoencoder's reconstruction error), so a ranker
asking for surprise on a space without one is refused when the algorithm is built,
with a one-line error. Novelty search computes only the scores its ranker asks for.

| name                        | what                                                      |
|-----------------------------|-----------------------------------------------------------|
| `novelty`                   | top mu by novelty (NS, SERENE)                            |
| `surprise`                  | top mu by surprise (TAXO-S)                               |
| `novelty-or-surprise`       | a fair coin per generation between the two (TAXONS, STAX) |
| `pareto`                    | NSGA-II on (novelty, surprise) (TAXONS-P, STAX-P)         |
| `novelty-reward`            | NSGA-II on (novelty, reward) (NSGA-II)                    |
| `novelty-local-competition` | NSGA-II on (novelty, local competition) (NSLC)            |

Ties at zero, for the two last: when every agent scores 0 the second objective is
constant, no agent dominates another by it, and NSGA-II ranks by novelty alone
(fronts of equal novelty are cut by crowding distance, then by row order): both
are novelty search until a reward is found.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from serendip.errors import ConfigError
from serendip.pareto import nsga2_select

NOVELTY, SURPRISE = "novelty", "surprise"
REWARD, LOCAL_COMPETITION = "reward", "local_competition"
RANKERS = (
    "novelty",
    "surprise",
    "novelty-or-surprise",
    "pareto",
    "novelty-reward",
    "novelty-local-competition",
)


class Ranker(Protocol):
    """Survivor selection of one generation.

    Attributes:
        name: what the run records as the generation's criterion.
        criteria: the scores :meth:`select` reads (all of them, over the generations).
    """

    name: str
    criteria: tuple[str, ...]

    def draw(self, rng: np.random.Generator) -> Ranker:
        """The ranker this generation uses (a coin draws from ``rng``; others return self)."""
        ...

    def select(self, scores: dict[str, np.ndarray], mu: int) -> np.ndarray:
        """Rows (of population ∪ offspring) that survive, at most ``mu`` of them."""
        ...


class TopRanker:
    """The ``mu`` best by one score (ties: the earlier row)."""

    def __init__(self, criterion: str) -> None:
        self.name = criterion
        self.criteria = (criterion,)

    def draw(self, rng: np.random.Generator) -> TopRanker:
        return self

    def select(self, scores: dict[str, np.ndarray], mu: int) -> np.ndarray:
        return np.argsort(-scores[self.name], kind="stable")[:mu]


class CoinRanker:
    """TAXONS' selection: a fair coin per generation between two rankers."""

    name = "novelty-or-surprise"

    def __init__(self, heads: Ranker, tails: Ranker) -> None:
        self.heads, self.tails = heads, tails
        self.criteria = tuple(dict.fromkeys(heads.criteria + tails.criteria))

    def draw(self, rng: np.random.Generator) -> Ranker:
        return self.heads if rng.random() < 0.5 else self.tails

    def select(self, scores: dict[str, np.ndarray], mu: int) -> np.ndarray:
        raise RuntimeError("a coin ranker selects through the ranker it drew")


class ParetoRanker:
    """NSGA-II (non-dominated fronts, then crowding distance) on two or more scores."""

    name = "pareto"

    def __init__(self, *criteria: str) -> None:
        if len(criteria) < 2:
            raise ValueError(f"a Pareto ranker needs two criteria or more, got {criteria}")
        self.criteria = criteria

    def draw(self, rng: np.random.Generator) -> ParetoRanker:
        return self

    def select(self, scores: dict[str, np.ndarray], mu: int) -> np.ndarray:
        return nsga2_select(np.stack([scores[c] for c in self.criteria], axis=1), mu)


def make_ranker(name: str, *, measures_surprise: bool, field: str = "novelty_search.selection"):
    """The ranker called ``name``; one asking for surprise needs a space that measures it.

    Raises:
        ConfigError: unknown name, or surprise on a space without it (``field`` names
            the setting in the error).
    """
    rankers = {
        "novelty": lambda: TopRanker(NOVELTY),
        "surprise": lambda: TopRanker(SURPRISE),
        "novelty-or-surprise": lambda: CoinRanker(TopRanker(NOVELTY), TopRanker(SURPRISE)),
        "pareto": lambda: ParetoRanker(NOVELTY, SURPRISE),
        "novelty-reward": lambda: ParetoRanker(NOVELTY, REWARD),
        "novelty-local-competition": lambda: ParetoRanker(NOVELTY, LOCAL_COMPETITION),
    }
    if name not in rankers:
        raise ConfigError(field, f"must be one of {', '.join(RANKERS)}; got {name!r}")
    ranker = rankers[name]()
    if SURPRISE in ranker.criteria and not measures_surprise:
        raise ConfigError(
            field,
            f"{name!r} needs surprise, which this algorithm's behavior space does not measure; "
            "accepted here: novelty",
        )
    return ranker
