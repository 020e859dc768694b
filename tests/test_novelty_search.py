"""Novelty search (spec §1) on the arm: generation mechanics, archive, selection, state."""

import numpy as np
import pytest

from serendip.algorithms import make_algorithm
from serendip.experiment.config import RunConfig
from serendip.exploration.novelty_search import NoveltySearch
from serendip.novelty import novelty
from serendip.tasks import make_task, task_spec


def make_ns(seed=0, **novelty_search):
    config = RunConfig.from_dict({"novelty_search": novelty_search})
    return make_algorithm("ns", spec=task_spec("arm"), config=config, n_frames=0, seed=seed)


def step(algorithm, task, done):
    request = algorithm.ask(10**9)
    indices = np.arange(done, done + len(request.genomes))
    batch = task.evaluate(request.genomes, episode_seeds=indices)
    algorithm.tell(request, batch, indices)
    return request, batch, done + len(indices)


@pytest.fixture(scope="module")
def task():
    return make_task("arm")


def test_first_batch_is_the_initial_population_then_two_offspring_per_parent(task):
    ns = make_ns()
    request, _, _done = step(ns, task, 0)
    assert request.genomes.shape == (100, 228) and request.process == "explore"
    assert abs(request.genomes.std() - 1.0) < 0.05  # N(0, 1) genes
    exploration: NoveltySearch = ns.exploration
    parents = exploration.population.genomes.copy()
    offspring = ns.ask(10**9).genomes
    assert offspring.shape == (200, 228)
    # Offspring 2i and 2i+1 are mutants of parent i with N(0, 0.05) on every gene.
    noise = offspring - np.repeat(parents, 2, axis=0)
    assert abs(noise.std() - 0.05) < 0.002 and abs(noise.mean()) < 0.002
    # A budget remainder smaller than lambda truncates the batch.
    assert ns.ask(37).genomes.shape == (37, 228)


def test_mutation_clips_to_the_genome_bounds(task):
    ns = make_ns(mutation_sigma=50.0)
    step(ns, task, 0)
    offspring = ns.ask(10**9).genomes
    assert offspring.min() == -5.0 and offspring.max() == 5.0


def test_archive_gets_five_offspring_per_generation_and_selection_keeps_the_most_novel(task):
    ns = make_ns()
    _, _, done = step(ns, task, 0)
    exploration = ns.exploration
    assert len(exploration.novelty_archive) == 0  # no offspring yet
    for generation in range(1, 4):
        population = exploration.population
        archive_before = exploration.novelty_archive.agents
        rewarded_before = exploration.reward_archive.agents
        _request, batch, done_after = step(ns, task, done)
        offspring_ids = np.arange(done, done_after)
        done = done_after
        archive = exploration.novelty_archive.agents
        assert len(archive) == 5 * generation
        new = archive.indices[-5:]
        assert np.isin(new, offspring_ids).all() and len(set(new)) == 5
        # Recompute the novelty of population ∪ offspring against its reference set
        # independently, and check that the survivors are the top 100.
        descriptors = np.concatenate([population.descriptors, batch.descriptors])
        ids = np.concatenate([population.indices, offspring_ids])
        reference = np.concatenate(
            [descriptors, archive_before.descriptors, rewarded_before.descriptors]
        )
        reference_ids = np.concatenate([ids, archive_before.indices, rewarded_before.indices])
        scores = novelty(descriptors, ids, reference, reference_ids, k=15)
        expected = ids[np.argsort(-scores, kind="stable")[:100]]
        np.testing.assert_array_equal(exploration.population.indices, expected)
        assert exploration.population_novelty.min() >= np.sort(scores)[-100]


def test_most_novel_archive_insertion_option(task):
    ns = make_ns(archive_selection="novel")
    _, _, done = step(ns, task, 0)
    population = ns.exploration.population
    _, batch, _ = step(ns, task, done)
    descriptors = np.concatenate([population.descriptors, batch.descriptors])
    ids = np.concatenate([population.indices, np.arange(done, done + 200)])
    scores = novelty(descriptors, ids, descriptors, ids, k=15)[100:]
    expected = np.sort(np.arange(done, done + 200)[np.argsort(-scores, kind="stable")[:5]])
    np.testing.assert_array_equal(ns.exploration.novelty_archive.agents.indices, expected)


def test_every_rewarding_exploration_agent_enters_the_reward_archive(task):
    ns = make_ns(seed=3)
    done = 0
    rewarded = []
    for _ in range(12):
        _request, batch, new_done = step(ns, task, done)
        rewarded.extend(np.arange(done, new_done)[batch.rewards > 0])
        done = new_done
    archive = ns.reward_archive.agents
    assert len(rewarded) > 0, "expected some reward within 2,300 arm evaluations"
    np.testing.assert_array_equal(archive.indices, rewarded)
    assert np.all(archive.rewards > 0) and np.all(archive.reward_areas >= 0)


def test_state_round_trip_continues_identically(task):
    a = make_ns(seed=7)
    done = 0
    for _ in range(4):
        _, _, done = step(a, task, done)
    arrays, data = a.state_dict()
    b = make_ns(seed=999)  # different seed: everything must come from the state
    b.load_state_dict({k: v.copy() for k, v in arrays.items()}, data)
    done_b = done
    for _ in range(3):
        ra, _, done = step(a, task, done)
        rb, _, done_b = step(b, task, done_b)
        np.testing.assert_array_equal(ra.genomes, rb.genomes)
    for name in ("population", "novelty_archive", "reward_archive"):
        np.testing.assert_array_equal(a.archives()[name].genomes, b.archives()[name].genomes)
        np.testing.assert_array_equal(a.archives()[name].indices, b.archives()[name].indices)


def test_random_search_draws_fresh_genomes_and_keeps_rewarding_ones(task):
    config = RunConfig.from_dict({"algorithm": "random"})
    rs = make_algorithm("random", spec=task_spec("arm"), config=config, n_frames=0, seed=0)
    request = rs.ask(10**9)
    assert request.genomes.shape == (200, 228)
    indices = np.arange(200)
    batch = task.evaluate(request.genomes)
    rs.tell(request, batch, indices)
    assert not np.array_equal(request.genomes, rs.ask(10**9).genomes)  # a new draw every ask
    np.testing.assert_array_equal(rs.reward_archive.agents.indices, indices[batch.rewards > 0])
