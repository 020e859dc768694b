import numpy as np
import pytest

from serendip.policies import GENOME_HIGH, GENOME_LOW, MLPPolicy, random_genomes
from serendip.policies.mlp import forward_one
from serendip.tasks import task_spec


def sigmoid_squash(x):
    return 2.0 / (1.0 + np.exp(-x)) - 1.0


@pytest.mark.parametrize(
    ("inputs", "outputs", "layers", "width", "expected"),
    [
        (20, 20, 2, 5, 228),  # the redundant arm
        (6, 2, 3, 5, 94),  # curling
        (29, 8, 3, 10, 574),  # ant maze
        (5, 2, 2, 5, 63),  # hard maze: 25+1 + 26 + 10+1
    ],
)
def test_genome_size_formula(inputs, outputs, layers, width, expected):
    policy = MLPPolicy(inputs, outputs, layers, width)
    formula = inputs * width + 1 + (width * width + 1) * (layers - 1) + width * outputs + 1
    assert policy.genome_size == formula == expected


def test_arm_spec_genome_is_228():
    assert task_spec("arm").genome_size == 228


def test_genome_layout_matches_hand_written_network(rng):
    """Rebuild the network by hand from the documented layout and compare."""
    policy = MLPPolicy(3, 2, hidden_layers=2, hidden_width=4)
    genome = rng.normal(size=policy.genome_size)
    x = rng.normal(size=3)
    offset = 0
    w1 = genome[offset : offset + 12].reshape(3, 4)
    offset += 12
    b1 = genome[offset]
    offset += 1
    w2 = genome[offset : offset + 16].reshape(4, 4)
    offset += 16
    b2 = genome[offset]
    offset += 1
    w3 = genome[offset : offset + 8].reshape(4, 2)
    offset += 8
    b3 = genome[offset]
    offset += 1
    assert offset == policy.genome_size
    h = sigmoid_squash(x @ w1 + b1)  # one scalar bias shared by the layer
    h = sigmoid_squash(h @ w2 + b2)
    expected = sigmoid_squash(h @ w3 + b3)
    np.testing.assert_allclose(policy(genome[None], x[None])[0], expected, rtol=1e-12)


def test_batched_forward_equals_one_by_one(rng):
    policy = MLPPolicy(20, 20)
    genomes = random_genomes(rng, 7, policy.genome_size)
    obs = rng.normal(size=(7, 20))
    batched = policy(genomes, obs)
    single = np.concatenate([policy(genomes[i : i + 1], obs[i : i + 1]) for i in range(7)])
    np.testing.assert_allclose(batched, single, rtol=1e-12, atol=1e-15)
    assert np.all(np.abs(batched) < 1.0)


def test_random_genomes_are_clipped_standard_normal(rng):
    genomes = random_genomes(rng, 4000, 50)
    assert genomes.min() >= GENOME_LOW and genomes.max() <= GENOME_HIGH
    assert abs(genomes.mean()) < 0.01
    assert abs(genomes.std() - 1.0) < 0.01


def test_wrong_genome_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, 228\)"):
        MLPPolicy(20, 20).unpack(np.zeros((3, 227)))


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_compiled_forward_equals_the_batched_one(rng, layers):
    policy = MLPPolicy(input_size=7, output_size=4, hidden_layers=layers, hidden_width=5)
    genomes = 3.0 * rng.standard_normal((20, policy.genome_size))  # some layers saturate
    observations = rng.uniform(-1, 1, (20, 7))
    expected = policy(genomes, observations)
    scratch, out = np.empty((2, 5)), np.empty(4)
    for genome, observation, want in zip(genomes, observations, expected, strict=True):
        forward_one(genome, observation, policy.shape, scratch, out)
        np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)
