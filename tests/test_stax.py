"""STAX and the learned-space family, end to end on the arm (small and cheap settings)."""

import numpy as np
import pandas as pd
import pytest

import serendip
from run_checks import assert_same_frame
from serendip.algorithms import make_algorithm
from serendip.tasks import make_task, task_spec

# A cheap autoencoder regime so that a run takes seconds: few frames, few epochs.
CHEAP = {"max_epochs": 3, "max_training_frames": 400, "threads": 1}


def config(algorithm, budget, out=None, seed=0, **sections):
    values = {
        "task": "arm",
        "algorithm": algorithm,
        "budget": budget,
        "seed": seed,
        "frames": 1,
        "metrics_every": 500,
        "learned_space": CHEAP,
        **sections,
    }
    if out is not None:
        values["out"] = str(out)
    return serendip.RunConfig.from_dict(values)


def drive(algorithm, task, budget, seed=0, done=0):
    """Evaluate the algorithm's requests until ``budget`` evaluations are done."""
    while done < budget:
        request = algorithm.ask(budget - done)
        indices = np.arange(done, done + len(request.genomes))
        batch = task.evaluate(request.genomes, episode_seeds=seed * 2**32 + indices)
        algorithm.tell(request, batch, indices)
        done += len(indices)
    return done


def test_training_after_the_first_chunk_reencodes_every_descriptor():
    run_config = config("taxons", 1100)
    algorithm = make_algorithm(
        "taxons", spec=task_spec("arm"), config=run_config, n_frames=1, seed=0
    )
    task = make_task("arm", n_frames=1)
    done = drive(algorithm, task, 900)  # the initial population and 4 generations
    assert algorithm.space.trainings == 0
    before = algorithm.exploration.novelty_archive.agents.descriptors.copy()
    drive(algorithm, task, 1100, done=done)  # the 5th generation ends chunk 1: training
    assert algorithm.space.trainings == 1
    assert algorithm.pop_events()[0]["kind"] == "training"
    archive = algorithm.exploration.novelty_archive.agents
    assert not np.allclose(archive.descriptors[: len(before)], before)
    np.testing.assert_allclose(archive.descriptors, algorithm.space.encode(archive.frames))
    population = algorithm.exploration.population
    np.testing.assert_allclose(population.descriptors, algorithm.space.encode(population.frames))
    rewarded = algorithm.reward_archive.agents
    if len(rewarded):
        np.testing.assert_allclose(rewarded.descriptors, algorithm.space.encode(rewarded.frames))


def test_training_schedule_follows_exploration_chunks():
    run_config = config("taxons", 6100, novelty_search={"population_size": 20})
    algorithm = make_algorithm(
        "taxons", spec=task_spec("arm"), config=run_config, n_frames=1, seed=0
    )
    task = make_task("arm", n_frames=1)
    trained_at = []
    done = 0
    while done < 6100 + 20:
        request = algorithm.ask(10**9)
        indices = np.arange(done, done + len(request.genomes))
        algorithm.tell(request, task.evaluate(request.genomes), indices)
        done += len(indices)
        trained_at += [algorithm.exploration_chunks for e in algorithm.pop_events()]
    # Chunks of 1000 evaluations = 25 generations of 40 offspring here.
    assert trained_at == [1, 3, 6]


def test_surprise_is_measured_only_in_generations_that_select_on_it():
    mu = 20
    run_config = config("taxons", 10**6, novelty_search={"population_size": mu})
    algorithm = make_algorithm(
        "taxons", spec=task_spec("arm"), config=run_config, n_frames=1, seed=3
    )
    task = make_task("arm", n_frames=1)
    space = algorithm.space
    decoded = []
    forward = space._forward

    def counting_forward(flat):
        decoded.append(len(flat))
        return forward(flat)

    space._forward = counting_forward
    done = drive(algorithm, task, mu)  # the initial population is never scored on surprise
    assert decoded == []
    criteria = []
    for _ in range(12):  # 12 generations of 40 offspring: no training yet
        before = algorithm.exploration.population
        decoded.clear()
        request = algorithm.ask(10**9)
        indices = np.arange(done, done + len(request.genomes))
        batch = task.evaluate(request.genomes)
        algorithm.tell(request, batch, indices)
        done += len(indices)
        criterion = algorithm.exploration.last_criterion
        criteria.append(criterion)
        if criterion == "novelty":
            assert decoded == [], "a novelty generation needs no decoder pass"
            continue
        # Surprise generation: the survivors are the most surprising of population ∪
        # offspring under the current autoencoder, members that lacked a score included.
        frames = np.concatenate([before.frames, batch.frames])
        ids = np.concatenate([before.indices, indices])
        scores = space.surprise(frames)
        survivors = np.isin(ids, algorithm.exploration.population.indices)
        assert survivors.sum() == mu
        assert scores[survivors].min() >= scores[~survivors].max() - 1e-6
        population_ids = algorithm.exploration.population.indices
        order = np.argsort(population_ids)
        np.testing.assert_allclose(
            algorithm.exploration.population_surprise[order],
            scores[survivors][np.argsort(ids[survivors])],
            rtol=1e-5,
        )
    assert set(criteria) == {"novelty", "surprise"}


@pytest.mark.parametrize("algorithm", ["taxons-p", "taxo-s", "taxons-nt"])
def test_learned_space_variants_run(algorithm, tmp_path):
    result = serendip.run(config(algorithm, 1500, tmp_path / algorithm), progress=False)
    assert result.summary["evaluations"] == 1500
    trainings = (tmp_path / algorithm / "autoencoder").glob("*.safetensors")
    assert len(list(trainings)) == (0 if algorithm == "taxons-nt" else 1)


@pytest.fixture(scope="module")
def stax_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("stax") / "run"
    return serendip.run(config("stax", 6000, out), progress=False)


def test_stax_finds_and_exploits_a_reward_area(stax_run):
    summary = stax_run.summary
    assert summary["reward_areas_found"] >= 1
    log = pd.read_parquet(stax_run.path / "evaluations.parquet")
    emitter_rows = log[log["process"] != "explore"]
    assert len(emitter_rows) > 0, "STAX should spend exploit chunks on emitters"
    # Emitters work on areas that exploration found first.
    assert set(emitter_rows["emitter_area"]) <= set(log.loc[log["reward"] > 0, "reward_area"])
    emitters = pd.read_parquet(stax_run.path / "emitters.parquet")
    assert {"emitter", "ancestor_index", "area", "trial_passed", "mean_rewards"} <= set(
        emitters.columns
    )
    assert set(emitter_rows["process"]) <= {f"emitter-{i}" for i in emitters["emitter"]}
    rewarded = serendip.load_run(stax_run.path).archive_frame("reward_archive")
    assert (rewarded["reward"] > 0).all()
    assert set(rewarded["found_by"]) - {-1} <= set(emitters["emitter"])
    assert summary["budget_per_process"]["exploit"] > 0
    metrics = pd.read_parquet(stax_run.path / "metrics.parquet")
    assert {"budget_area_0", "budget_area_1", "budget_area_2"} <= set(metrics.columns)


def test_autoencoder_weights_are_saved_at_every_training(stax_run):
    from safetensors.numpy import load_file

    weights = sorted((stax_run.path / "autoencoder").glob("training-*.safetensors"))
    assert [w.name for w in weights][:2] == ["training-001.safetensors", "training-002.safetensors"]
    tensors = load_file(weights[0])  # no pickle, no code
    assert tensors["encoder.0.weight"].shape == (32, 3, 4, 4)
    lines = (stax_run.path / "autoencoder" / "trainings.jsonl").read_text().splitlines()
    assert len(lines) == len(weights)


def test_stax_is_identical_when_run_twice(stax_run, tmp_path):
    again = serendip.run(config("stax", 6000, tmp_path / "again"), progress=False)
    first = pd.read_parquet(stax_run.path / "evaluations.parquet")
    second = pd.read_parquet(again.path / "evaluations.parquet")
    assert_same_frame(first, second)
    for name in ("novelty_archive", "reward_archive"):
        a = serendip.load_run(stax_run.path).archive(name)
        b = serendip.load_run(again.path).archive(name)
        np.testing.assert_array_equal(a.genomes, b.genomes)
        np.testing.assert_array_equal(a.descriptors, b.descriptors)


def test_exploration_reference_is_rebuilt_exactly_when_it_changes():
    run_config = config("serene", 10**6, novelty_search={"population_size": 20})
    algorithm = make_algorithm(
        "serene", spec=task_spec("arm"), config=run_config, n_frames=0, seed=0
    )
    task = make_task("arm")
    done = drive(algorithm, task, 60)  # initial population and one generation
    reference = algorithm.exploration.reference()
    assert algorithm.exploration.reference() is reference  # nothing changed: reused
    expected = np.unique(
        np.concatenate(
            [
                algorithm.exploration.population.indices,
                algorithm.exploration.novelty_archive.agents.indices,
                algorithm.reward_archive.agents.indices,
            ]
        )
    )
    np.testing.assert_array_equal(np.sort(reference.indices), expected)
    handed_back = algorithm.exploration.last_offspring.take(np.array([0]))
    handed_back.indices = np.array([10**9])
    algorithm.exploration.novelty_archive.add(handed_back)  # as an emitter's hand-back does
    rebuilt = algorithm.exploration.reference()
    assert rebuilt is not reference and 10**9 in rebuilt.indices
    drive(algorithm, task, done + 40, done=done)  # an exploration generation
    assert algorithm.exploration.reference() is not rebuilt
