import json

import numpy as np
import pytest

from serendip.emitters import (
    EMITTER_KINDS,
    CMAESEmitter,
    ElitistEmitter,
    emitter_from_state,
    initial_sigma,
    make_emitter,
    stagnated,
    stagnation_window,
)
from serendip.policies import GENOME_HIGH, GENOME_LOW

G = 10
TARGET = np.full(G, 0.5)


def toy_reward(genomes: np.ndarray) -> np.ndarray:
    """Smooth bump around TARGET: exp(-||g - target||^2 / 4)."""
    return np.exp(-((genomes - TARGET) ** 2).sum(axis=1) / 4.0)


def ancestor_at(distance: float) -> np.ndarray:
    direction = np.ones(G) / np.sqrt(G)
    return TARGET + distance * direction


def new_emitter(kind: str, seed: int = 0, **kwargs) -> object:
    options = {
        "emitter_id": 3,
        "ancestor_genome": ancestor_at(3.0),  # reward exp(-9/4) ~ 0.105
        "ancestor_index": 42,
        "sigma0": 0.3,
        "rng": np.random.default_rng(seed),
    }
    options.update(kwargs)
    return make_emitter(kind, **options)


def run(emitter, generations: int, reward=toy_reward) -> None:
    for _ in range(generations):
        genomes = emitter.ask()
        emitter.tell(genomes, reward(genomes))


# --- the two kinds improve on a smooth reward ------------------------------------------
@pytest.mark.parametrize("kind", EMITTER_KINDS)
def test_emitter_improves_on_smooth_reward(kind):
    emitter = new_emitter(kind)
    run(emitter, 60)
    first_best = emitter.history[0].max()
    assert emitter.generations == 60
    assert emitter.best_reward > 0.5 > 2 * first_best
    assert emitter.best_reward == max(h.max() for h in emitter.history)
    np.testing.assert_allclose(toy_reward(emitter.best_genome[None])[0], emitter.best_reward)
    assert emitter.trial_passed()
    assert emitter.improvement() > 0.2
    assert emitter.id == 3 and emitter.ancestor_index == 42 and emitter.sigma0 == 0.3


@pytest.mark.parametrize("kind", EMITTER_KINDS)
def test_initial_population_centred_on_ancestor_with_sigma0(kind):
    ancestor = np.linspace(-1.0, 1.0, 5)
    emitter = make_emitter(
        kind,
        emitter_id=0,
        ancestor_genome=ancestor,
        ancestor_index=0,
        sigma0=0.2,
        rng=np.random.default_rng(1),
        population_size=4000,
    )
    genomes = emitter.ask()
    assert genomes.shape == (4000, 5)
    # Standard error of the mean: 0.2 / sqrt(4000) ~ 0.003; of the std: ~0.0022.
    np.testing.assert_allclose(genomes.mean(axis=0), ancestor, atol=0.015)
    np.testing.assert_allclose(genomes.std(axis=0), 0.2, rtol=0.05)


def test_default_batch_sizes_and_bounds():
    emitter = new_emitter("elitist", ancestor_genome=np.full(G, 4.9), sigma0=1.0)
    first = emitter.ask()
    assert first.shape == (6, G)
    assert first.max() <= GENOME_HIGH and first.min() >= GENOME_LOW
    assert (first == GENOME_HIGH).any()  # clipped
    emitter.tell(first, toy_reward(first))
    assert emitter.ask().shape == (12, G)
    cma_emitter = new_emitter("cma-es", ancestor_genome=np.full(G, 4.9), sigma0=1.0)
    asked = cma_emitter.ask()
    assert asked.shape == (6, G)
    assert asked.max() <= GENOME_HIGH and asked.min() >= GENOME_LOW


def test_ask_is_idempotent_until_tell():
    for kind in EMITTER_KINDS:
        emitter = new_emitter(kind)
        np.testing.assert_array_equal(emitter.ask(), emitter.ask())


@pytest.mark.parametrize("kind", EMITTER_KINDS)
def test_tell_requires_the_asked_genomes(kind):
    emitter = new_emitter(kind)
    with pytest.raises(RuntimeError):
        emitter.tell(np.zeros((6, G)), np.zeros(6))
    genomes = emitter.ask()
    with pytest.raises(ValueError, match="last ask"):
        emitter.tell(genomes[::-1], np.zeros(6))
    with pytest.raises(ValueError, match="rewards"):
        emitter.tell(genomes, np.zeros(5))


# --- elitist selection -----------------------------------------------------------------
def test_elitist_keeps_best_of_parents_and_offspring():
    emitter = new_emitter("elitist", sigma0=0.5)

    def reward(genomes):
        return genomes.sum(axis=1)

    initial = emitter.ask()
    emitter.tell(initial, reward(initial))
    np.testing.assert_array_equal(emitter.parents, initial[np.argsort(-reward(initial))])
    for _ in range(5):
        parents, parent_rewards = emitter.parents.copy(), emitter.parent_rewards.copy()
        offspring = emitter.ask()
        np.testing.assert_array_equal(offspring.shape, (12, G))
        emitter.tell(offspring, reward(offspring))
        pool = np.concatenate([parents, offspring])
        pool_rewards = np.concatenate([parent_rewards, reward(offspring)])
        best = np.argsort(-pool_rewards, kind="stable")[:6]
        np.testing.assert_array_equal(emitter.parents, pool[best])
        np.testing.assert_array_equal(emitter.parent_rewards, pool_rewards[best])
        np.testing.assert_array_equal(emitter.history[-1], reward(offspring))


def test_elitist_offspring_are_two_mutants_per_parent():
    emitter = new_emitter("elitist", sigma0=1e-6)
    initial = emitter.ask()
    emitter.tell(initial, np.arange(6.0))
    offspring = emitter.ask()
    np.testing.assert_allclose(offspring, np.repeat(emitter.parents, 2, axis=0), atol=1e-4)


# --- history tests -----------------------------------------------------------------------
def with_history(history) -> ElitistEmitter:
    emitter = new_emitter("elitist")
    emitter.history = [np.asarray(h, dtype=float) for h in history]
    return emitter


def test_improvement_and_trial_on_hand_made_histories():
    rising = with_history([[1, 1], [2, 2, 2, 2], [3], [4], [5, 5], [6]])
    # First 3 generations pooled: 13/7; last 3: (4 + 5 + 5 + 6)/4 = 5.
    assert rising.improvement() == pytest.approx(5 - 13 / 7)
    assert rising.trial_passed()
    falling = with_history([[6], [5], [4], [3], [2], [1]])
    assert falling.improvement() == 0.0
    assert not falling.trial_passed()
    flat = with_history([[2, 2]] * 6)
    assert flat.improvement() == 0.0
    assert not flat.trial_passed()  # strictly better required
    empty = with_history([])
    assert empty.improvement() == 0.0 and not empty.trial_passed()


def test_default_stagnation_window():
    assert stagnation_window(228) == 880
    assert stagnation_window(6) == 140
    assert stagnation_window(10) == 153  # floor(200/6 + 120)


def test_flat_history_stops_right_after_window():
    flat = [np.zeros(6)] * 30
    assert not stagnated(flat, G, window=30)
    assert stagnated([*flat, np.zeros(12)], G, window=30)
    assert not stagnated([np.zeros(6)] * 880, 228)
    assert stagnated([np.zeros(6)] * 881, 228)


def test_improving_history_does_not_stop():
    history = [np.full(12, float(i)) + np.linspace(0, 0.5, 12) for i in range(200)]
    assert not any(stagnated(history[:k], G, window=45) for k in range(1, 201))


def test_stagnation_by_maximum_alone():
    # Late median rises but the early maximum is never beaten: stagnation.
    early = [np.array([0.0, 0.0, 9.0])] * 20
    late = [np.array([5.0, 5.0, 5.0])] * 20
    assert stagnated(early + late, G, window=40) is False  # not more than W generations yet
    assert stagnated([np.zeros(3), *early, *late], G, window=40)


def test_should_stop_on_stagnation_and_cap():
    emitter = new_emitter("elitist")
    run(emitter, 30, reward=lambda g: np.zeros(len(g)))
    assert not emitter.should_stop(window=30)
    run(emitter, 1, reward=lambda g: np.zeros(len(g)))
    assert emitter.should_stop(window=30)
    assert not emitter.should_stop()  # default window is 153 generations for G = 10
    capped = new_emitter("elitist")
    run(capped, 4)
    assert not capped.should_stop(max_generations=5)
    run(capped, 1)
    assert capped.should_stop(max_generations=5)


def test_cma_stops_on_its_own_termination():
    emitter = new_emitter("cma-es")
    run(emitter, 3, reward=lambda g: np.zeros(len(g)))  # flat fitness
    assert emitter.termination()
    assert emitter.should_stop()
    healthy = new_emitter("cma-es")
    run(healthy, 3)
    assert not healthy.should_stop()


# --- initial sigma -----------------------------------------------------------------------
def test_initial_sigma():
    genome = np.array([0.0, 0.0])
    assert initial_sigma(genome, np.array([[3.0, 4.0], [6.0, 8.0]])) == pytest.approx(5 / 3)
    assert initial_sigma(genome, np.array([[6.0, 8.0], [0.0, 0.0]])) == 0.05
    assert initial_sigma(genome, np.empty((0, 2))) == 0.05


# --- determinism and state -------------------------------------------------------------
@pytest.mark.parametrize("kind", EMITTER_KINDS)
def test_same_seed_same_asks(kind):
    a, b = new_emitter(kind, seed=7), new_emitter(kind, seed=7)
    for _ in range(10):
        asked_a, asked_b = a.ask(), b.ask()
        np.testing.assert_array_equal(asked_a, asked_b)
        a.tell(asked_a, toy_reward(asked_a))
        b.tell(asked_b, toy_reward(asked_b))
    assert not np.array_equal(new_emitter(kind, seed=8).ask(), new_emitter(kind, seed=7).ask())


def test_cma_uses_only_its_own_generator():
    before = np.random.get_state()  # noqa: NPY002 (the legacy global RNG is what we check)
    rng = np.random.default_rng(5)
    emitter = new_emitter("cma-es", rng=rng)
    start = rng.bit_generator.state
    run(emitter, 20)
    emitter.should_stop()
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]
    assert rng.bit_generator.state != start  # draws came from the emitter's generator


def _json_round_trip(state: dict) -> dict:
    """What a checkpoint does: arrays kept as arrays, the rest through JSON."""
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    data = json.loads(json.dumps({k: v for k, v in state.items() if k not in arrays}))
    return {**data, **{k: v.copy() for k, v in arrays.items()}}


@pytest.mark.parametrize("pending", [False, True])
def test_elitist_state_round_trip_continues_identically(pending):
    original = new_emitter("elitist", seed=11)
    run(original, 7)
    if pending:
        original.ask()
    restored = emitter_from_state(_json_round_trip(original.state()))
    assert isinstance(restored, ElitistEmitter)
    assert restored.generations == original.generations == 7
    assert restored.best_reward == original.best_reward
    for a, b in zip(restored.history, original.history, strict=True):
        np.testing.assert_array_equal(a, b)
    for _ in range(5):
        asked = original.ask()
        np.testing.assert_array_equal(restored.ask(), asked)
        original.tell(asked, toy_reward(asked))
        restored.tell(asked, toy_reward(asked))
    np.testing.assert_array_equal(restored.parents, original.parents)
    assert restored.improvement() == original.improvement()


def test_fresh_elitist_state_round_trip():
    original = new_emitter("elitist")
    restored = ElitistEmitter.from_state(_json_round_trip(original.state()))
    assert restored.best_reward == -np.inf and restored.generations == 0
    np.testing.assert_array_equal(restored.ask(), original.ask())


@pytest.mark.parametrize("pending", [False, True])
def test_cma_state_round_trip_replays_identically(pending):
    """The CMA-ES emitter's state is its initial generator and told rewards; replay is exact."""
    original = new_emitter("cma-es", seed=4)
    for generation in range(12):
        asked = original.ask()
        original.tell(asked, toy_reward(asked))
        if generation % 3 == 0:
            original.should_stop()  # termination checks on the way must not matter
    if pending:
        original.ask()
    restored = emitter_from_state(_json_round_trip(original.state()))
    assert isinstance(restored, CMAESEmitter)
    assert restored.generations == original.generations == 12
    assert restored.sigma == original.sigma
    np.testing.assert_array_equal(restored.es.mean, original.es.mean)
    np.testing.assert_array_equal(restored.best_genome, original.best_genome)
    for _ in range(5):
        asked = original.ask()
        np.testing.assert_array_equal(restored.ask(), asked)
        original.tell(asked, toy_reward(asked))
        restored.tell(asked, toy_reward(asked))
    assert restored.sigma == original.sigma


def test_cma_state_that_replay_cannot_reach_is_refused():
    emitter = new_emitter("cma-es", seed=4)
    asked = emitter.ask()
    emitter.tell(asked, toy_reward(asked))
    state = _json_round_trip(emitter.state())
    state["rng"] = new_emitter("cma-es", seed=5).rng.bit_generator.state  # does not match
    with pytest.raises(ValueError, match="replay"):
        CMAESEmitter.from_state(state)


def test_make_emitter_validates_kind():
    with pytest.raises(ValueError, match="elitist"):
        new_emitter("map-elites")
