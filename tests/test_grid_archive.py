"""GridArchive and grid_cells: the metrics' cells, batch semantics, sampling and saved state."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serendip import metrics
from serendip.archives.add_info import IMPROVED, NEW, NOT_ADDED, AddInfo
from serendip.archives.agents import AGENT_FIELDS, Agents
from serendip.archives.grid import GridArchive, grid_cells
from serendip.tasks import is_gym, task_names, task_spec

GENOME, GROUND_TRUTH = 3, 2
UNIT = ((0.0, 1.0), (0.0, 1.0))


def make_agents(descriptors, rewards, first_index: int = 0, n_frames: int = 0) -> Agents:
    """Agents whose genome, ground truth and frames all encode their evaluation index."""
    d = np.asarray(descriptors, dtype=np.float64)
    n = len(d)
    idx = np.arange(first_index, first_index + n)
    return Agents(
        genomes=np.repeat(idx[:, None], GENOME, axis=1).astype(np.float64),
        descriptors=d,
        ground_truth=np.repeat(idx[:, None], GROUND_TRUTH, axis=1) * 0.5,
        rewards=np.asarray(rewards, dtype=np.float64),
        reward_areas=idx % 3 - 1,
        indices=idx,
        frames=np.broadcast_to(
            (idx % 256).astype(np.uint8)[:, None, None, None, None], (n, n_frames, 64, 64, 3)
        ).copy(),
    )


def unit_archive(shape=(2, 2), n_frames: int = 0) -> GridArchive:
    return GridArchive(
        bounds=UNIT,
        shape=shape,
        genome_size=GENOME,
        ground_truth_size=GROUND_TRUTH,
        n_frames=n_frames,
    )


def elite_of(archive: GridArchive, cell: int) -> Agents:
    (rows,) = np.nonzero(archive.cells == cell)
    assert len(rows) == 1
    return archive.agents.take(rows)


# --- grid_cells ---------------------------------------------------------------------------


def edge_points(low: np.ndarray, high: np.ndarray, shape: tuple[int, ...], rng) -> np.ndarray:
    """Points on and next to every bin edge, beyond the bounds, at +-inf, and at random."""
    axes = []
    for lo, hi, n in zip(low, high, shape, strict=True):
        edges = lo + np.arange(n + 1) * (hi - lo) / n
        axis = np.concatenate(
            [
                edges,
                np.nextafter(edges, -np.inf),
                np.nextafter(edges, np.inf),
                np.linspace(lo, hi, 4 * n + 1),
                [lo - 1e9, hi + 1e9, -np.inf, np.inf, lo - (hi - lo) / 3, hi + (hi - lo) / 3],
                rng.uniform(lo - (hi - lo), hi + (hi - lo), 64),
            ]
        )
        axes.append(axis)
    count = max(len(a) for a in axes) * 8
    return np.stack([rng.choice(a, count) for a in axes], axis=1)


def spec_bounds(spec) -> tuple[tuple[float, float], ...]:
    """A task's ground-truth descriptor box as (low, high) pairs: the metrics' grid."""
    return tuple(zip(spec.descriptor_low, spec.descriptor_high, strict=True))


GRIDS = [
    *[
        (spec_bounds(task_spec(name)), task_spec(name).grid_shape)
        for name in task_names()
        if not is_gym(name)
    ],
    (((-3.7, 11.2), (1e-3, 2e-3)), (7, 13)),
    (((0.1, 0.7), (-5.0, 5.0), (2.0, 3.0)), (4, 5, 6)),
    (((-1.0, 3.0),), (9,)),
]


@pytest.mark.parametrize(("bounds", "shape"), GRIDS)
def test_cells_are_the_metrics_cells(bounds, shape, rng) -> None:
    b = np.asarray(bounds)
    points = edge_points(b[:, 0], b[:, 1], shape, rng)
    ours = grid_cells(points, bounds, shape)
    theirs = metrics.grid_cells(points, b[:, 0], b[:, 1], shape)
    assert ours.dtype == np.int64 and ours.shape == (len(points),)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.min() >= 0 and ours.max() < np.prod(shape)


def test_cells_clip_and_put_the_upper_bound_in_the_last_bin() -> None:
    points = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [-2.0, 7.0], [0.49, 0.51], [0.5, 1.0]])
    np.testing.assert_array_equal(grid_cells(points, UNIT, (2, 2)), [0, 3, 3, 1, 1, 3])
    np.testing.assert_array_equal(grid_cells(points, UNIT, 2), grid_cells(points, UNIT, (2, 2)))
    assert grid_cells(points, UNIT, (2, 2)).dtype == np.int64


def test_cells_refuse_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        grid_cells(np.array([[0.5, np.nan]]), UNIT, (2, 2))


@pytest.mark.parametrize(
    ("descriptors", "bounds", "shape", "match"),
    [
        (np.zeros((2, 3)), UNIT, (2, 2), "descriptors"),
        (np.zeros(2), UNIT, (2, 2), "descriptors"),
        (np.zeros((2, 2)), ((0.0, 1.0), (1.0, 1.0)), (2, 2), "bounds"),
        (np.zeros((2, 2)), ((0.0, np.inf), (0.0, 1.0)), (2, 2), "bounds"),
        (np.zeros((2, 2)), (0.0, 1.0), (2, 2), "bounds"),
        (np.zeros((2, 2)), UNIT, (2, 0), "shape"),
        (np.zeros((2, 2)), UNIT, (2, 2, 2), "shape"),
        (np.zeros((2, 2)), UNIT, (2.5, 2), "shape"),
    ],
)
def test_cells_argument_errors(descriptors, bounds, shape, match) -> None:
    with pytest.raises(ValueError, match=match):
        grid_cells(descriptors, bounds, shape)


# --- add: batch semantics -------------------------------------------------------------------

A, B = (0.1, 0.1), (0.9, 0.9)  # cells 0 and 3 of the 2 x 2 unit grid


def test_batch_best_per_cell_competes_and_ties_go_to_the_first_row() -> None:
    archive = unit_archive()
    info = archive.add(make_agents([A, A, B, A], [1.0, 3.0, 2.0, 3.0]))
    np.testing.assert_array_equal(info.status, [NOT_ADDED, NEW, NEW, NOT_ADDED])
    np.testing.assert_array_equal(info.value, [1.0 - 3.0, 3.0, 2.0, 0.0])
    np.testing.assert_array_equal(info.added, [False, True, True, False])
    assert info.status.dtype == np.int8 and info.value.dtype == np.float64
    assert len(archive) == 2 and archive.coverage == 0.5 and archive.qd_score == 5.0
    assert elite_of(archive, 0).indices.tolist() == [1]  # row 3 tied, later in the batch
    assert elite_of(archive, 3).indices.tolist() == [2]
    np.testing.assert_array_equal(archive.cells, [0, 3])
    np.testing.assert_array_equal(archive.agents.indices, [1, 2])


def test_new_elites_are_appended_in_batch_order_not_cell_order() -> None:
    archive = unit_archive()
    archive.add(make_agents([B, (0.9, 0.1), B, A], [1.0, 1.0, 2.0, 1.0]))
    # Cell 3's elite is row 2 (the better of rows 0 and 2), so it comes after row 1's cell 2.
    np.testing.assert_array_equal(archive.cells, [2, 3, 0])
    np.testing.assert_array_equal(archive.agents.indices, [1, 2, 3])


def test_status_is_relative_to_the_archive_before_the_batch() -> None:
    archive = unit_archive()
    archive.add(make_agents([A, B], [3.0, 2.0]))
    info = archive.add(
        make_agents([A, A, B, B, (0.1, 0.9)], [4.0, 5.0, 1.0, 2.5, -1.0], first_index=10)
    )
    # A: 5 beats the elite 3 (improvement 2); 4 also beat 3 but lost to 5 in the batch,
    # so it is NOT_ADDED and measured against the elite after the batch (5).
    # B: 2.5 beats 2 by 0.5; 1 loses to the new elite 2.5. The new cell takes -1.
    np.testing.assert_array_equal(info.status, [NOT_ADDED, IMPROVED, NOT_ADDED, IMPROVED, NEW])
    np.testing.assert_allclose(info.value, [4.0 - 5.0, 5.0 - 3.0, 1.0 - 2.5, 2.5 - 2.0, -1.0])
    assert elite_of(archive, 0).indices.tolist() == [11]
    assert elite_of(archive, 3).indices.tolist() == [13]
    assert elite_of(archive, 1).indices.tolist() == [14]
    # Replaced in place: the elites keep their rows, the new cell is appended.
    np.testing.assert_array_equal(archive.cells, [0, 3, 1])
    replaced = elite_of(archive, 0)
    for name in AGENT_FIELDS:
        np.testing.assert_array_equal(
            getattr(replaced, name), getattr(make_agents([A], [5.0], first_index=11), name)
        )


def test_an_equal_reward_does_not_replace_the_elite() -> None:
    archive = unit_archive()
    archive.add(make_agents([A], [3.0]))
    version = archive.version
    info = archive.add(make_agents([A, A], [3.0, 2.0], first_index=5))
    np.testing.assert_array_equal(info.status, [NOT_ADDED, NOT_ADDED])
    np.testing.assert_array_equal(info.value, [0.0, -1.0])
    assert elite_of(archive, 0).indices.tolist() == [0]
    assert archive.version == version  # nothing changed


def test_version_counts_changes_and_an_empty_batch_is_a_no_op() -> None:
    archive = unit_archive()
    info = archive.add(make_agents(np.empty((0, 2)), np.empty(0)))
    assert len(info) == 0 and archive.version == 0
    archive.add(make_agents([A], [1.0]))
    assert archive.version == 1
    archive.add(make_agents([A], [2.0]))
    assert archive.version == 2


def test_add_refuses_nan_descriptors_bad_rewards_and_wrong_shapes() -> None:
    archive = unit_archive()
    with pytest.raises(ValueError, match="NaN"):
        archive.add(make_agents([(0.5, np.nan)], [1.0]))
    with pytest.raises(ValueError, match="rewards"):
        archive.add(make_agents([A], [np.nan]))
    with pytest.raises(ValueError, match="descriptors"):
        archive.add(make_agents([(0.1, 0.2, 0.3)], [1.0]))
    with pytest.raises(ValueError, match="frames"):
        archive.add(make_agents([A], [1.0], n_frames=2))
    assert len(archive) == 0 and archive.version == 0


def test_out_of_bounds_descriptors_go_to_border_cells_with_their_true_descriptor() -> None:
    archive = unit_archive()
    archive.add(make_agents([(-5.0, np.inf), (2.0, 0.3)], [1.0, 1.0]))
    np.testing.assert_array_equal(archive.cells, [1, 2])
    np.testing.assert_array_equal(archive.agents.descriptors, [[-5.0, np.inf], [2.0, 0.3]])


def reference_add(best: dict[int, tuple[float, int]], cells, rewards, indices):
    """One row at a time, the documented semantics: (status, value) and the updated ``best``."""
    before = dict(best)
    status, lead = [], {}
    for c, r, i in zip(cells, rewards, indices, strict=True):
        if c not in lead or r > lead[c][0]:
            lead[c] = (r, i)
    for c, (r, i) in lead.items():
        if c not in before or r > before[c][0]:
            best[c] = (r, i)
    value = []
    for c, r, i in zip(cells, rewards, indices, strict=True):
        if best[c][1] != i:
            status.append(NOT_ADDED)
            value.append(r - best[c][0])
        elif c in before:
            status.append(IMPROVED)
            value.append(r - before[c][0])
        else:
            status.append(NEW)
            value.append(r)
    return status, value


coordinate = st.one_of(
    st.sampled_from([-0.5, 0.0, 1 / 3, 0.5, 2 / 3, 1.0, 1.5]),
    st.floats(-0.25, 1.25, allow_nan=False),
)
offer = st.tuples(coordinate, coordinate, st.integers(-3, 3).map(float) | st.floats(-5, 5))
batches = st.lists(st.lists(offer, max_size=12), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(batches)
def test_each_elite_is_the_best_ever_offered_to_its_cell(batch_list) -> None:
    archive = unit_archive(shape=(3, 2))
    best: dict[int, tuple[float, int]] = {}
    first = 0
    for batch in batch_list:
        points = np.array([(x, y) for x, y, _ in batch]).reshape(-1, 2)
        rewards = np.array([r for *_, r in batch])
        agents = make_agents(points, rewards, first_index=first)
        first += len(batch)
        cells = grid_cells(points, UNIT, (3, 2))
        status, value = reference_add(best, cells.tolist(), rewards.tolist(), agents.indices)
        info = archive.add(agents)
        np.testing.assert_array_equal(info.status, status)
        np.testing.assert_array_equal(info.value, value)
        assert (info.value[info.status == NOT_ADDED] <= 0).all()

        assert len(archive) == len(best) == len(np.unique(archive.cells))
        for cell, (reward, index) in best.items():
            elite = elite_of(archive, cell)
            assert elite.rewards.tolist() == [reward]
            assert elite.indices.tolist() == [index]  # on ties, the first offered stays
            assert elite.genomes.tolist() == [[float(index)] * GENOME]
        np.testing.assert_array_equal(
            archive.cells, grid_cells(archive.agents.descriptors, UNIT, (3, 2))
        )


def test_storage_growth_keeps_elites_and_agrees_with_the_metrics(rng) -> None:
    spec = task_spec("curling")
    archive = GridArchive(
        bounds=spec_bounds(spec),
        shape=spec.grid_shape,
        genome_size=GENOME,
        ground_truth_size=GROUND_TRUTH,
        n_frames=1,
    )
    offered_points, offered_rewards = [], []
    for k in range(12):
        points = rng.uniform(-1.6, 1.6, (300, 2))
        rewards = rng.normal(size=300).round(1)
        archive.add(make_agents(points, rewards, first_index=300 * k, n_frames=1))
        offered_points.append(points)
        offered_rewards.append(rewards)
    cells = metrics.grid_cells(
        np.concatenate(offered_points), spec.descriptor_low, spec.descriptor_high, spec.grid_shape
    )
    rewards = np.concatenate(offered_rewards)
    n_cells = int(np.prod(spec.grid_shape))
    assert archive.n_cells == n_cells
    assert archive.coverage == metrics.coverage(cells, n_cells)
    assert archive.qd_score == pytest.approx(metrics.qd_score(cells, rewards, n_cells))
    elites = archive.agents
    np.testing.assert_array_equal(elites.frames[:, 0, 0, 0, 0], elites.indices % 256)
    np.testing.assert_array_equal(elites.genomes[:, 0], elites.indices)


# --- sample -----------------------------------------------------------------------------------


def test_sample_draws_only_elites_and_repeats_with_the_seed() -> None:
    archive = unit_archive(shape=(4, 4))
    archive.add(make_agents(np.random.default_rng(0).uniform(0, 1, (40, 2)), np.arange(40.0)))
    first = archive.sample(200, np.random.default_rng(7))
    again = archive.sample(200, np.random.default_rng(7))
    assert len(first) == 200
    assert set(first.indices) <= set(archive.agents.indices)
    assert set(first.indices) == set(archive.agents.indices)  # 200 draws over <= 16 elites
    for name in AGENT_FIELDS:
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    for row in range(len(first)):
        elite = elite_of(archive, int(grid_cells(first.descriptors[row : row + 1], UNIT, 4)[0]))
        assert elite.indices[0] == first.indices[row]
    # Copies, not views: changing a sample leaves the archive alone.
    first.rewards[:] = 1e9
    assert archive.agents.rewards.max() < 1e9
    assert len(archive.sample(0, np.random.default_rng(7))) == 0


def test_sample_errors() -> None:
    archive = unit_archive()
    with pytest.raises(ValueError, match="empty"):
        archive.sample(1, np.random.default_rng(0))
    archive.add(make_agents([A], [1.0]))
    with pytest.raises(ValueError, match="n must be"):
        archive.sample(-1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        archive.sample(1, 0)


# --- state ------------------------------------------------------------------------------------


def test_state_round_trips_exactly(rng) -> None:
    archive = unit_archive(shape=(5, 3), n_frames=2)
    for k in range(3):
        archive.add(make_agents(rng.uniform(-0.2, 1.2, (20, 2)), rng.normal(size=20), 20 * k, 2))
    arrays, data = archive.state_dict()
    data = json.loads(json.dumps(data))  # what a run directory holds
    restored = unit_archive(shape=(5, 3), n_frames=2)
    restored.load_state_dict({k: v.copy() for k, v in arrays.items()}, data)

    again, again_data = restored.state_dict()
    assert again_data == data and again.keys() == arrays.keys()
    for key, value in arrays.items():
        assert again[key].dtype == value.dtype, key
        np.testing.assert_array_equal(again[key], value, err_msg=key)
    assert restored.version > 0 and len(restored) == len(archive)

    batch = make_agents(rng.uniform(0, 1, (30, 2)), rng.normal(size=30), 100, 2)
    info, restored_info = archive.add(batch), restored.add(batch)
    np.testing.assert_array_equal(info.status, restored_info.status)
    np.testing.assert_array_equal(info.value, restored_info.value)
    np.testing.assert_array_equal(archive.cells, restored.cells)
    np.testing.assert_array_equal(archive.agents.indices, restored.agents.indices)
    np.testing.assert_array_equal(
        archive.sample(9, np.random.default_rng(3)).indices,
        restored.sample(9, np.random.default_rng(3)).indices,
    )


def test_loading_does_not_alias_the_saved_arrays() -> None:
    archive = unit_archive()
    archive.add(make_agents([A], [1.0]))
    arrays, data = archive.state_dict()
    restored = unit_archive()
    restored.load_state_dict(arrays, data)
    restored.add(make_agents([A], [2.0], first_index=1))
    assert arrays["elites.rewards"].tolist() == [1.0]


def test_load_refuses_another_grid_or_inconsistent_cells() -> None:
    archive = unit_archive()
    archive.add(make_agents([A, B], [1.0, 2.0]))
    arrays, data = archive.state_dict()
    with pytest.raises(ValueError, match="grid"):
        unit_archive(shape=(3, 2)).load_state_dict(arrays, data)
    with pytest.raises(ValueError, match="cells"):
        unit_archive().load_state_dict({**arrays, "cells": arrays["cells"][::-1]}, data)
    twice = {k: np.concatenate([v, v]) for k, v in arrays.items()}
    with pytest.raises(ValueError, match="share a cell"):
        unit_archive().load_state_dict(twice, data)


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"bounds": ((0.0, 1.0), (2.0, 1.0))}, "bounds"),
        ({"bounds": ((0.0, np.nan), (0.0, 1.0))}, "bounds"),
        ({"bounds": (0.0, 1.0)}, "bounds"),
        ({"bounds": (("a", "b"), (0.0, 1.0))}, "bounds"),
        ({"shape": (50,)}, "shape"),
        ({"shape": 0}, "shape"),
        ({"shape": (50, True)}, "shape"),
        ({"genome_size": 0}, "genome_size"),
        ({"genome_size": 2.0}, "genome_size"),
        ({"ground_truth_size": -1}, "ground_truth_size"),
        ({"n_frames": -2}, "n_frames"),
    ],
)
def test_argument_errors_name_the_argument(changes, match) -> None:
    kwargs = {"bounds": UNIT, "shape": (50, 50), "genome_size": 3, "ground_truth_size": 2}
    with pytest.raises(ValueError, match=match):
        GridArchive(**{**kwargs, **changes})


def test_arguments_are_keyword_only_and_shape_defaults_to_the_metrics_grid() -> None:
    with pytest.raises(TypeError):
        GridArchive(UNIT, (50, 50), 3, 2)  # type: ignore[misc]
    archive = GridArchive(bounds=UNIT, genome_size=3, ground_truth_size=2)
    assert archive.shape == (50, 50) and archive.n_cells == 2500 and archive.bounds == UNIT
    assert len(archive) == 0 and archive.coverage == 0.0 and archive.qd_score == 0.0


# --- AddInfo --------------------------------------------------------------------------------


def test_add_info_converts_dtypes_and_checks_lengths() -> None:
    info = AddInfo.of([0, 1, 2], [0, 1, 2])
    assert info.status.dtype == np.int8 and info.value.dtype == np.float64
    np.testing.assert_array_equal(info.added, [False, True, True])
    none = AddInfo.none_added(4)
    assert len(none) == 4 and not none.added.any() and none.status.dtype == np.int8
    with pytest.raises(ValueError, match="same length"):
        AddInfo.of([0, 1], [0.0])
