"""``serendip.Search``: ask/tell for anyone, with every misuse one clear ValueError."""

import re
from pathlib import Path

import numpy as np
import pytest

import serendip


def readme_example() -> str:
    """The ask/tell example of the README, verbatim."""
    text = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    examples = [b for b in blocks if "serendip.Search(" in b]
    assert examples, "the README has no ask/tell example"
    return examples[0]


def test_the_readme_example_runs_verbatim():
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    search = namespace["search"]
    descriptors = search.archive("novelty_archive").descriptors
    assert descriptors.ndim == 2 and descriptors.shape[1] == 2 and len(descriptors) > 0
    assert search.evaluations > 0


def ring(genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A toy problem: descriptor = tanh of the first two genes, reward near (0.8, 0.8)."""
    descriptors = np.tanh(genomes[:, :2])
    rewards = np.where(np.linalg.norm(descriptors - 0.8, axis=1) < 0.15, 1.0, 0.0)
    return rewards, descriptors


def make(algorithm="ns", **options) -> serendip.Search:
    return serendip.Search(
        algorithm, genome_size=6, descriptor_bounds=[(-1, 1), (-1, 1)], seed=3, **options
    )


def step(search: serendip.Search) -> None:
    rewards, descriptors = ring(search.ask())
    search.tell(rewards=rewards, descriptors=descriptors)


def test_indices_are_kept_by_the_search_and_never_repeat():
    search = make(
        "serene", exploitation={"chunk_size": 100}, novelty_search={"population_size": 10}
    )
    for _ in range(60):
        step(search)
    kept = np.concatenate([a.indices for a in search.archives().values()])
    assert kept.max() < search.evaluations
    population = search.archive("population").indices
    assert len(np.unique(population)) == len(population)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"rewards": np.ones(3), "descriptors": np.zeros((3, 2))}, "rewards"),
        ({"rewards": "many", "descriptors": None}, "rewards"),
        ({"rewards": None, "descriptors": None}, "rewards"),
        ({"rewards": "ROWS", "descriptors": np.zeros((3, 2))}, "descriptors"),
        ({"rewards": "ROWS", "descriptors": "WIDE"}, "descriptors"),
        ({"rewards": "NAN", "descriptors": "ROWS"}, "rewards"),
        ({"rewards": "ROWS", "descriptors": "INF"}, "descriptors"),
        ({"rewards": "ROWS", "descriptors": None}, "descriptors"),
        ({"rewards": "ROWS", "descriptors": "ROWS", "frames": "FRAMES"}, "frames"),
        ({"rewards": "ROWS", "descriptors": "ROWS", "reward_areas": [0.5]}, "reward_areas"),
    ],
)
def test_a_bad_tell_is_one_value_error_naming_the_argument_and_the_search_goes_on(kwargs, argument):
    search = make()
    twin = make()
    genomes = search.ask()
    n = len(genomes)
    rewards, descriptors = ring(genomes)
    replace = {
        "ROWS": None,
        "WIDE": np.zeros((n, 3)),
        "NAN": np.where(np.arange(n) == 2, np.nan, rewards),
        "INF": np.where(np.arange(n)[:, None] == 1, np.inf, descriptors),
        "FRAMES": np.zeros((n, 1, 64, 64, 3), dtype=np.uint8),
    }
    call = {}
    for key, value in kwargs.items():
        if isinstance(value, str) and value in replace:
            value = replace[value]
            if value is None:
                value = rewards if key == "rewards" else descriptors
        call[key] = value
    with pytest.raises(ValueError, match=rf"^{argument}: ") as caught:
        search.tell(**call)
    assert "\n" not in str(caught.value)
    # The same ask is still pending, and the search continues as if nothing happened.
    np.testing.assert_array_equal(search.ask(), genomes)
    search.tell(rewards=rewards, descriptors=descriptors)
    twin_genomes = twin.ask()
    twin.tell(**dict(zip(("rewards", "descriptors"), ring(twin_genomes), strict=True)))
    np.testing.assert_array_equal(search.ask(), twin.ask())


def test_tell_without_ask_and_twice_for_one_ask_are_refused():
    search = make()
    with pytest.raises(ValueError, match="no pending ask"):
        search.tell(rewards=np.zeros(1), descriptors=np.zeros((1, 2)))
    rewards, descriptors = ring(search.ask())
    search.tell(rewards=rewards, descriptors=descriptors)
    with pytest.raises(ValueError, match="no pending ask"):
        search.tell(rewards=rewards, descriptors=descriptors)
    step(search)  # still usable


def test_frames_of_a_learned_space_algorithm_are_checked():
    search = make("taxo-n", frames=1, learned_space={"threads": 1})
    genomes = search.ask()
    n = len(genomes)
    rewards, descriptors = ring(genomes)
    good = np.zeros((n, 1, 64, 64, 3), dtype=np.uint8)
    for frames, message in [
        (None, "frames: .* needs"),
        (good.astype(np.float32), "frames: expected dtype uint8"),
        (np.zeros((n, 2, 64, 64, 3), np.uint8), rf"frames: expected shape \({n}, 1, 64"),
        (np.zeros((n, 1, 32, 32, 3), np.uint8), "frames: expected shape"),
    ]:
        with pytest.raises(ValueError, match=message):
            search.tell(rewards=rewards, descriptors=descriptors, frames=frames)
    search.tell(rewards=rewards, descriptors=descriptors, frames=good)
    assert search.evaluations == n


def test_genome_bounds_and_initial_genomes_are_honoured():
    initial = np.full((7, 6), 0.25)
    search = make(genome_bounds=(-0.5, 0.5), initial_genomes=initial)
    np.testing.assert_array_equal(search.ask(), initial)
    step(search)
    for _ in range(5):
        genomes = search.ask()
        assert genomes.min() >= -0.5 and genomes.max() <= 0.5
        step(search)
    with pytest.raises(ValueError, match="initial_genomes"):
        make(initial_genomes=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="genome_bounds"):
        make(genome_bounds=(1, -1))
    with pytest.raises(ValueError, match="descriptor_bounds"):
        serendip.Search("ns", genome_size=6, descriptor_bounds=[(1, 0)])
    with pytest.raises(serendip.ConfigError, match="algorithm"):
        serendip.Search("no-such", genome_size=6, descriptor_bounds=[(0, 1)])
    with pytest.raises(serendip.ConfigError, match=r"novelty_search\.k"):
        make(novelty_search={"k": 0})


@pytest.mark.parametrize("algorithm", ["ns", "serene", "random", "stax"])
def test_state_round_trip_continues_bit_for_bit(algorithm):
    options = {"exploitation": {"chunk_size": 60}, "novelty_search": {"population_size": 10}}
    if algorithm == "stax":
        options |= {"frames": 1, "learned_space": {"threads": 1, "max_epochs": 1}}

    def drive(search, batches, pending=False):
        rng = np.random.default_rng(search.evaluations)
        for _ in range(batches):
            genomes = search.ask()
            rewards, descriptors = ring(genomes)
            frames = None
            if search.algorithm.needs_frames:
                frames = rng.integers(0, 256, (len(genomes), 1, 64, 64, 3), dtype=np.uint8)
            search.tell(rewards=rewards, descriptors=descriptors, frames=frames)
        if pending:
            search.ask()

    search = make(algorithm, **options)
    drive(search, 25, pending=True)
    arrays, data = search.state_dict()
    assert all(isinstance(v, np.ndarray) for v in arrays.values())
    restored = serendip.Search.from_state_dict(arrays, data)
    drive(search, 10)
    drive(restored, 10)
    a, _ = search.state_dict()
    b, _ = restored.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
