"""Meta-schedulers: which process, exploration or exploitation, gets the next budget chunk.

SERENE spends its budget in chunks (spec §3). Before each chunk the scheduler
chooses ``"explore"`` (novelty search) or ``"exploit"`` (emitters); after it,
:meth:`Scheduler.update` reports how the chunk went, which only the bandit uses.
Every scheduler's state is plain data (``state()`` / ``load_state()``); the
random ones include their generator's state, so give each scheduler its own
generator.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import numpy as np

EXPLORE = "explore"
EXPLOIT = "exploit"
CHOICES = (EXPLORE, EXPLOIT)
SCHEDULERS = ("alternating", "random", "budget", "ucb")


def _check_choice(choice: str) -> int:
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {CHOICES}, got {choice!r}")
    return CHOICES.index(choice)


class Scheduler(abc.ABC):
    """Chooses the process of each chunk."""

    name: ClassVar[str]

    @abc.abstractmethod
    def choose(self, *, budget_used: int, budget_total: int) -> str:
        """``"explore"`` or ``"exploit"`` for the next chunk."""

    def update(self, choice: str, *, delta: int, nothing_to_exploit: bool) -> None:
        """How the last chunk went.

        Args:
            choice: what the chunk did.
            delta: change over the chunk of (#active emitters + #candidates).
            nothing_to_exploit: the exploit chunk found neither emitter nor candidate.
        """
        _check_choice(choice)

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """The complete state as JSON-able data."""

    @abc.abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned (in place, including the generator's state)."""

    def state_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The part contract's ``(arrays, json data)``: a scheduler has no arrays."""
        return {}, self.state()

    def load_state_dict(self, arrays: dict[str, Any], data: dict[str, Any]) -> None:
        self.load_state(data)

    def _check_state(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"state is of scheduler {state.get('name')!r}, not {self.name!r}")


class AlternatingScheduler(Scheduler):
    """Explore, exploit, explore, ... starting with explore (SERENE's default)."""

    name: ClassVar[str] = "alternating"

    def __init__(self) -> None:
        self.chunks = 0

    def choose(self, *, budget_used: int, budget_total: int) -> str:
        choice = CHOICES[self.chunks % 2]
        self.chunks += 1
        return choice

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "chunks": self.chunks}

    def load_state(self, state: dict[str, Any]) -> None:
        self._check_state(state)
        self.chunks = int(state["chunks"])


class _RandomScheduler(Scheduler):
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def explore_probability(self, *, budget_used: int, budget_total: int) -> float:
        raise NotImplementedError

    def choose(self, *, budget_used: int, budget_total: int) -> str:
        p = self.explore_probability(budget_used=budget_used, budget_total=budget_total)
        return EXPLORE if self.rng.random() < p else EXPLOIT

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "rng": self.rng.bit_generator.state}

    def load_state(self, state: dict[str, Any]) -> None:
        self._check_state(state)
        self.rng.bit_generator.state = state["rng"]


class RandomScheduler(_RandomScheduler):
    """Explore or exploit with probability 1/2 each."""

    name: ClassVar[str] = "random"

    def explore_probability(self, *, budget_used: int, budget_total: int) -> float:
        return 0.5


class BudgetScheduler(_RandomScheduler):
    """Explore with probability equal to the fraction of the budget left.

    Early chunks mostly explore, late chunks mostly exploit what was found.
    """

    name: ClassVar[str] = "budget"

    def explore_probability(self, *, budget_used: int, budget_total: int) -> float:
        if budget_total <= 0:
            raise ValueError(f"budget_total must be > 0, got {budget_total}")
        return float(np.clip((budget_total - budget_used) / budget_total, 0.0, 1.0))


class UCBScheduler(Scheduler):
    """Discounted UCB1 bandit over the two processes.

    Each arm is played once first (explore first). Then the arm with the highest
    index ``mean + c·sqrt(ln(total count) / count)`` is chosen (ties: explore),
    where counts and reward sums are multiplied by ``discount`` at every update so
    that recent chunks weigh more. Rewards: explore gets −tanh(Δ), exploit
    +tanh(Δ), Δ being the change of (#active emitters + #candidates) over the
    chunk, and an exploit chunk with nothing to exploit gets −1. Exploration pays
    off when it produces candidates, exploitation when it consumes them.

    Args:
        c: exploration weight of the bandit.
        discount: factor in (0, 1] applied to counts and sums at every update.
    """

    name: ClassVar[str] = "ucb"

    def __init__(self, *, c: float = 1.0, discount: float = 0.9) -> None:
        if c < 0:
            raise ValueError(f"c must be >= 0, got {c}")
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        self.c = float(c)
        self.discount = float(discount)
        self.counts = np.zeros(2)
        self.reward_sums = np.zeros(2)
        self.played = np.zeros(2, dtype=bool)

    def indices(self) -> np.ndarray:
        """The UCB index of each arm (explore, exploit); inf for an arm never played."""
        if not self.played.all():
            return np.where(self.played, -np.inf, np.inf)
        total = max(float(self.counts.sum()), 1.0)
        means = self.reward_sums / self.counts
        return means + self.c * np.sqrt(math.log(total) / self.counts)

    def choose(self, *, budget_used: int, budget_total: int) -> str:
        return CHOICES[int(np.argmax(self.indices()))]

    def update(self, choice: str, *, delta: int, nothing_to_exploit: bool) -> None:
        arm = _check_choice(choice)
        if arm == 1 and nothing_to_exploit:
            reward = -1.0
        else:
            reward = math.tanh(delta) if arm == 1 else -math.tanh(delta)
        self.counts *= self.discount
        self.reward_sums *= self.discount
        self.counts[arm] += 1.0
        self.reward_sums[arm] += reward
        self.played[arm] = True

    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "c": self.c,
            "discount": self.discount,
            "counts": self.counts.tolist(),
            "reward_sums": self.reward_sums.tolist(),
            "played": self.played.tolist(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._check_state(state)
        self.c = float(state["c"])
        self.discount = float(state["discount"])
        self.counts = np.asarray(state["counts"], dtype=np.float64)
        self.reward_sums = np.asarray(state["reward_sums"], dtype=np.float64)
        self.played = np.asarray(state["played"], dtype=bool)


def make_scheduler(
    name: str,
    rng: np.random.Generator,
    *,
    ucb_c: float = 1.0,
    ucb_discount: float = 0.9,
) -> Scheduler:
    """The scheduler called ``name`` (one of :data:`SCHEDULERS`).

    Args:
        name: scheduler name.
        rng: the scheduler's own generator (used by ``"random"`` and ``"budget"``).
        ucb_c: exploration weight of ``"ucb"``.
        ucb_discount: discount of ``"ucb"``.
    """
    if name == "alternating":
        return AlternatingScheduler()
    if name == "random":
        return RandomScheduler(rng)
    if name == "budget":
        return BudgetScheduler(rng)
    if name == "ucb":
        return UCBScheduler(c=ucb_c, discount=ucb_discount)
    raise ValueError(f"name must be one of {SCHEDULERS}, got {name!r}")
