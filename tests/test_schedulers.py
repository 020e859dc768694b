import json
import math

import numpy as np
import pytest

from serendip.schedulers import (
    SCHEDULERS,
    AlternatingScheduler,
    BudgetScheduler,
    RandomScheduler,
    UCBScheduler,
    make_scheduler,
)


def choices(scheduler, n: int, *, budget_used: int = 0, budget_total: int = 100) -> list[str]:
    return [scheduler.choose(budget_used=budget_used, budget_total=budget_total) for _ in range(n)]


def test_alternating_starts_with_explore():
    scheduler = AlternatingScheduler()
    assert choices(scheduler, 5) == ["explore", "exploit", "explore", "exploit", "explore"]
    scheduler.update("exploit", delta=3, nothing_to_exploit=False)  # ignored
    assert choices(scheduler, 1) == ["exploit"]


def test_random_is_half_and_half_and_seeded():
    picks = choices(RandomScheduler(np.random.default_rng(0)), 4000)
    assert 0.46 < picks.count("explore") / len(picks) < 0.54
    assert choices(RandomScheduler(np.random.default_rng(3)), 50) == choices(
        RandomScheduler(np.random.default_rng(3)), 50
    )


def test_budget_explores_more_when_much_budget_is_left():
    early = choices(
        BudgetScheduler(np.random.default_rng(0)), 2000, budget_used=100, budget_total=1000
    )
    late = choices(
        BudgetScheduler(np.random.default_rng(0)), 2000, budget_used=900, budget_total=1000
    )
    assert 0.86 < early.count("explore") / 2000 < 0.94
    assert 0.06 < late.count("explore") / 2000 < 0.14
    assert (
        choices(BudgetScheduler(np.random.default_rng(1)), 3, budget_used=1000, budget_total=1000)
        == ["exploit"] * 3
    )
    assert (
        choices(BudgetScheduler(np.random.default_rng(1)), 3, budget_used=0, budget_total=1000)
        == ["explore"] * 3
    )
    first = choices(
        BudgetScheduler(np.random.default_rng(4)), 40, budget_used=500, budget_total=1000
    )
    assert first == choices(
        BudgetScheduler(np.random.default_rng(4)), 40, budget_used=500, budget_total=1000
    )


def test_ucb_tries_both_arms_first_explore_first():
    scheduler = UCBScheduler()
    assert scheduler.choose(budget_used=0, budget_total=10) == "explore"
    scheduler.update("explore", delta=10, nothing_to_exploit=False)  # bad for explore
    assert scheduler.choose(budget_used=0, budget_total=10) == "exploit"
    scheduler.update("exploit", delta=-10, nothing_to_exploit=False)  # bad for exploit too
    np.testing.assert_allclose(scheduler.counts, [0.9, 1.0])
    np.testing.assert_allclose(scheduler.reward_sums, [-0.9 * math.tanh(10), math.tanh(-10)])


def test_ucb_prefers_the_better_arm():
    scheduler = UCBScheduler()
    scheduler.update("explore", delta=0, nothing_to_exploit=False)  # reward 0
    scheduler.update("exploit", delta=2, nothing_to_exploit=False)  # reward tanh(2)
    picks = []
    for _ in range(30):
        choice = scheduler.choose(budget_used=0, budget_total=10)
        picks.append(choice)
        delta = 2 if choice == "exploit" else 0
        scheduler.update(choice, delta=delta, nothing_to_exploit=False)
    assert picks.count("exploit") > 20


def test_ucb_index_formula():
    scheduler = UCBScheduler(c=1.0, discount=0.9)
    scheduler.update("explore", delta=-1, nothing_to_exploit=False)  # +tanh(1) for explore
    scheduler.update("exploit", delta=0, nothing_to_exploit=True)  # -1
    counts = np.array([0.9, 1.0])
    sums = np.array([0.9 * math.tanh(1), -1.0])
    expected = sums / counts + np.sqrt(np.log(counts.sum()) / counts)
    np.testing.assert_allclose(scheduler.indices(), expected)


def test_nothing_to_exploit_drives_ucb_to_explore():
    scheduler = UCBScheduler()
    picks = []
    for _ in range(40):
        choice = scheduler.choose(budget_used=0, budget_total=10)
        picks.append(choice)
        scheduler.update(choice, delta=0, nothing_to_exploit=choice == "exploit")
    assert picks[:2] == ["explore", "exploit"]
    assert picks[2] == "explore"
    assert picks.count("explore") >= 30


def _scripted(scheduler, n: int) -> list[str]:
    picks = []
    for i in range(n):
        choice = scheduler.choose(budget_used=10 * i, budget_total=10 * n)
        picks.append(choice)
        scheduler.update(choice, delta=(i % 5) - 2, nothing_to_exploit=i % 7 == 0)
    return picks


@pytest.mark.parametrize("name", SCHEDULERS)
def test_state_round_trip_reproduces_next_choices(name):
    original = make_scheduler(name, np.random.default_rng(9))
    _scripted(original, 13)
    state = json.loads(json.dumps(original.state()))
    restored = make_scheduler(name, np.random.default_rng(1234))
    restored.load_state(state)
    assert _scripted(restored, 25) == _scripted(original, 25)


def test_make_scheduler_validates():
    assert isinstance(make_scheduler("ucb", np.random.default_rng(0), ucb_c=2.0), UCBScheduler)
    with pytest.raises(ValueError, match="alternating"):
        make_scheduler("greedy", np.random.default_rng(0))
    with pytest.raises(ValueError, match="choice"):
        UCBScheduler().update("rest", delta=0, nothing_to_exploit=False)
    with pytest.raises(ValueError, match="scheduler"):
        AlternatingScheduler().load_state(UCBScheduler().state())
    with pytest.raises(ValueError, match="discount"):
        UCBScheduler(discount=0.0)
