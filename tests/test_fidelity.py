"""The fidelity measure on latents whose answer is known."""

import numpy as np
import pytest

from serendip.behavior.fidelity import fidelity_error, prediction_error


@pytest.fixture
def ground_truth():
    return np.random.default_rng(0).random((1500, 2)) * [10.0, 0.1]  # unlike units


def measure(latents, truth, seed=1):
    return fidelity_error(latents, truth, np.random.default_rng(seed))


def test_a_perfect_embedding_is_near_zero(ground_truth):
    scaled = (ground_truth - ground_truth.min(0)) / np.ptp(ground_truth, axis=0)
    rotated = scaled @ np.array([[0.6, -0.8], [0.8, 0.6]]) * 3.0 + 1.0  # an isometry, scaled
    padded = np.hstack([rotated, np.zeros((len(rotated), 8))])  # in a wider latent
    assert measure(padded, ground_truth) < 0.1


def test_shuffled_latents_and_a_constant_encoder_are_near_one(ground_truth):
    scaled = (ground_truth - ground_truth.min(0)) / np.ptp(ground_truth, axis=0)
    shuffled = scaled[np.random.default_rng(5).permutation(len(scaled))]
    assert 0.9 < measure(shuffled, ground_truth) < 1.1
    noise = np.random.default_rng(6).normal(size=(len(scaled), 10))
    assert 0.9 < measure(noise, ground_truth) < 1.1
    constant = np.ones((len(scaled), 10))
    assert measure(constant, ground_truth) > 0.9


def test_a_space_keeping_one_of_two_dimensions_is_in_between(ground_truth):
    scaled = (ground_truth - ground_truth.min(0)) / np.ptp(ground_truth, axis=0)
    half = measure(scaled[:, :1], ground_truth)
    assert 0.3 < half < 0.9


def test_it_is_deterministic_and_leaves_self_out(ground_truth):
    latents = np.random.default_rng(2).normal(size=(len(ground_truth), 4))
    assert measure(latents, ground_truth, 3) == measure(latents, ground_truth, 3)
    # Leave-one-out: with duplicated agents, each one's twin predicts it exactly.
    twins = np.repeat(np.arange(50.0)[:, None], 2, axis=0)
    assert prediction_error(twins, twins, k=1) == 0.0


def test_unmeasurable_cases_give_none():
    rng = np.random.default_rng(0)
    assert fidelity_error(np.zeros((3, 2)), np.zeros((3, 2)), rng) is None  # too few
    assert fidelity_error(np.zeros((50, 2)), np.zeros((50, 0)), rng) is None  # no truth
    assert fidelity_error(rng.random((50, 2)), np.ones((50, 2)), rng) is None  # constant


def test_a_learned_space_run_records_fidelity_after_each_training(tmp_path):
    import json

    import serendip
    from serendip.analysis.compare import final_values
    from serendip.analysis.run_data import open_runs

    values = {
        "task": "point",
        "algorithm": "taxons",
        "budget": 1500,
        "seed": 1,
        "frames": 1,
        "novelty_search": {"population_size": 10},
        "exploitation": {"chunk_size": 200},
        "learned_space": {"threads": 1, "max_epochs": 2, "latent_size": 4},
    }
    learned = serendip.run(
        serendip.RunConfig.from_dict({**values, "out": str(tmp_path / "taxons")}), progress=False
    )
    lines = (tmp_path / "taxons" / "autoencoder" / "trainings.jsonl").read_text().splitlines()
    errors = [json.loads(line)["fidelity_error"] for line in lines]
    assert len(errors) >= 2 and all(0 <= e < 2 for e in errors)
    assert learned.summary["fidelity_error"] == round(errors[-1], 4)
    ground = serendip.run(
        serendip.RunConfig.from_dict(
            {**values, "algorithm": "ns", "frames": None, "out": str(tmp_path / "ns")}
        ),
        progress=False,
    )
    assert "fidelity_error" not in ground.summary
    table = final_values(open_runs([tmp_path / "taxons", tmp_path / "ns"]))
    by_algorithm = dict(zip(table["algorithm"], table["fidelity_error"], strict=True))
    assert by_algorithm["taxons"] == learned.summary["fidelity_error"]
    assert np.isnan(by_algorithm["ns"])
