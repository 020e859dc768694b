"""Novelty: k-nearest-neighbour mean distance with agent identity by evaluation index."""

import numpy as np
import pytest

import serendip.novelty as novelty_module
from serendip.archives import Agents, Archive
from serendip.novelty import novelty


def line(values):
    return np.asarray(values, dtype=float)[:, None]


def test_mean_distance_to_k_nearest_others():
    points = line([0.0, 1.0, 3.0, 7.0])
    ids = np.arange(4)
    result = novelty(points, ids, points, ids, k=2)
    # 0: neighbours 1 (d 1), 3 (d 3) -> 2; 1: 0 (1), 3 (2) -> 1.5
    # 3: 1 (2), 0 (3) -> 2.5;              7: 3 (4), 1 (6) -> 5
    np.testing.assert_allclose(result, [2.0, 1.5, 2.5, 5.0])


def test_fewer_references_than_k_uses_all_of_them():
    points = line([0.0, 2.0, 5.0])
    result = novelty(points, np.arange(3), points, np.arange(3), k=15)
    np.testing.assert_allclose(result, [3.5, 2.5, 4.0])
    # Alone in the reference set: nobody to compare to.
    np.testing.assert_allclose(novelty(points[:1], [0], points[:1], [0], k=15), [0.0])


def test_an_agent_in_several_sets_counts_once_and_is_not_its_own_neighbour():
    points = line([0.0, 1.0, 10.0])
    ids = np.array([0, 1, 2])
    # Agent 1 appears twice in the reference (population and archive, say).
    reference = line([0.0, 1.0, 10.0, 1.0])
    reference_ids = np.array([0, 1, 2, 1])
    result = novelty(points, ids, reference, reference_ids, k=1)
    np.testing.assert_allclose(result, [1.0, 1.0, 9.0])


def test_distinct_agents_with_equal_descriptors_are_neighbours_at_zero():
    points = line([0.0, 0.0, 4.0])
    result = novelty(points, np.arange(3), points, np.arange(3), k=1)
    np.testing.assert_allclose(result, [0.0, 0.0, 4.0])


def test_queries_outside_the_reference_set():
    reference = line([0.0, 2.0, 4.0])
    result = novelty(line([1.0]), np.array([99]), reference, np.arange(3), k=2)
    np.testing.assert_allclose(result, [1.0])


@pytest.mark.parametrize("dim", [2, 10, 40])
def test_matches_brute_force_reference_in_any_dimension(rng, dim, monkeypatch):
    reference = rng.normal(size=(600, dim))
    ids = rng.permutation(600)
    queries = reference[:50]
    distances = np.linalg.norm(queries[:, None] - reference[None], axis=-1)
    distances[np.arange(50), np.arange(50)] = np.inf  # self
    expected = np.sort(distances, axis=1)[:, :15].mean(axis=1)
    np.testing.assert_allclose(novelty(queries, ids[:50], reference, ids, k=15), expected)
    # Both neighbour-search paths agree.
    monkeypatch.setattr(novelty_module, "KD_TREE_MAX_DIM", 0 if dim <= 16 else 100)
    np.testing.assert_allclose(novelty(queries, ids[:50], reference, ids, k=15), expected)


def agents(n, start=0, dim=2):
    return Agents(
        genomes=np.arange(n * 3, dtype=float).reshape(n, 3) + start,
        descriptors=np.full((n, dim), float(start)),
        ground_truth=np.zeros((n, 2)),
        rewards=np.zeros(n),
        reward_areas=np.full(n, -1),
        indices=np.arange(start, start + n),
        frames=np.zeros((n, 0, 64, 64, 3), dtype=np.uint8),
    )


def test_archive_grows_keeps_order_and_replaces_descriptors():
    archive = Archive(3, 2, 2)
    for start in range(0, 500, 5):
        archive.add(agents(5, start))
    assert len(archive) == 500
    np.testing.assert_array_equal(archive.agents.indices, np.arange(500))
    np.testing.assert_array_equal(archive.agents.genomes[7], np.arange(6, 9) + 5)
    archive.set_descriptors(np.ones((500, 2)))
    assert np.all(archive.agents.descriptors == 1)
    with pytest.raises(ValueError):
        archive.set_descriptors(np.ones((3, 2)))
    restored = Archive.from_agents(Agents.from_arrays(archive.arrays("a."), "a."))
    np.testing.assert_array_equal(restored.agents.genomes, archive.agents.genomes)


@pytest.mark.parametrize("layout", ["uniform", "thin", "ties", "two-scales", "one-point"])
def test_the_2d_grid_finds_the_k_d_trees_neighbours_to_the_last_bit(layout):
    """The compiled grid (2-D novelty) gives SciPy's k-d tree distances exactly."""
    from scipy.spatial import cKDTree

    from serendip.novelty import _grid_build, _grid_query

    rng = np.random.default_rng(7)
    for n in (1, 2, 17, 500, 3000):
        if layout == "uniform":
            reference = rng.random((n, 2))
        elif layout == "thin":
            reference = np.stack([rng.normal(size=n), np.full(n, 0.5)], axis=1)
        elif layout == "ties":
            reference = np.round(rng.random((n, 2)) * 4) / 4
        elif layout == "two-scales":
            reference = rng.random((n, 2)) * np.where(rng.random((n, 1)) < 0.5, 1e-6, 1e3)
        else:
            reference = np.zeros((n, 2))
        queries = np.concatenate([reference[:300], rng.random((60, 2)) * 4 - 2])
        m = min(16, n)
        expected, _ = cKDTree(reference).query(queries, k=m)
        found, rows = _grid_query(reference, *_grid_build(reference), queries, m)
        np.testing.assert_array_equal(found, expected.reshape(len(queries), m))
        # ...and the rows it names are at those distances.
        np.testing.assert_allclose(
            np.sqrt(((queries[:, None] - reference[rows]) ** 2).sum(-1)), found, rtol=1e-12
        )


def test_first_occurrences_are_np_uniques_first_rows_in_order():
    """The table of seen indices keeps what np.unique(return_index) then a sort keeps."""
    from serendip.novelty import first_occurrences

    def by_sorting(values):
        _, first = np.unique(values, return_index=True)
        first.sort()
        return first

    rng = np.random.default_rng(7)
    cases = [
        np.array([], dtype=np.int64),
        np.array([4]),
        np.array([3, 3, 3]),
        np.array([-5, 2, -5, 7, 2]),  # negative indices
        np.array([0, 2**40, 0]),  # a span too wide for the table: the sort
        np.array([1.5, 2.0, 1.5]),  # not integers: the sort
        np.arange(10, dtype=np.uint8)[::-1],
    ]
    cases += [rng.integers(-span, span, int(rng.integers(0, 2000))) for span in (3, 500, 10**9)]
    for values in cases:
        np.testing.assert_array_equal(first_occurrences(values), by_sorting(values))


def test_take_by_rows_mask_or_slice_equals_indexing_every_field():
    from serendip.archives.agents import AGENT_FIELDS

    rng = np.random.default_rng(8)
    n = 40
    many = Agents(
        genomes=rng.normal(size=(n, 6)),
        descriptors=rng.random((n, 2)),
        ground_truth=rng.random((n, 2)),
        rewards=rng.random(n),
        reward_areas=rng.integers(-1, 3, n),
        indices=np.arange(n) + 100,
        frames=rng.integers(0, 255, (n, 1, 64, 64, 3), dtype=np.uint8),
    )
    selections = [rng.integers(0, n, 15), rng.random(n) < 0.4, slice(3, 30, 2), [], [2, -1]]
    for rows in selections:
        taken = many.take(rows)
        for name in AGENT_FIELDS:
            expected = getattr(many, name)[rows]
            assert getattr(taken, name).dtype == expected.dtype
            np.testing.assert_array_equal(getattr(taken, name), expected)
    with pytest.raises(IndexError):
        many.take(np.ones(n + 1, dtype=bool))
