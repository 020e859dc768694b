"""Tests of serendip.metrics on small hand-built evaluation logs."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from serendip import metrics
from serendip.metrics import (
    LiveMetrics,
    best_reward_per_area,
    budget_per_process,
    coverage,
    evaluation_points,
    evaluations_to_first_reward,
    grid_cells,
    metric_curves,
    qd_score,
    summary_metrics,
    uniformity,
)
from serendip.tasks.base import RewardArea, TaskSpec

# The arm task's facts: unit box, 50 x 50 grid, three reward areas.
SPEC = TaskSpec(
    name="test",
    summary="metrics test task",
    observation_size=2,
    action_size=2,
    horizon=10,
    hidden_layers=1,
    hidden_width=2,
    reward_areas=(
        RewardArea((0.25, 0.25), 0.05),
        RewardArea((0.85, 0.85), 0.05),
        RewardArea((0.25, 0.90), 0.05),
    ),
    descriptor_low=(0.0, 0.0),
    descriptor_high=(1.0, 1.0),
    descriptor_names=("x", "y"),
)
K = 2500  # 50 x 50 cells


def make_log(rows: list[tuple[str, float, int, float, float]]) -> pd.DataFrame:
    """Log from ``(process, reward, reward_area, gt_0, gt_1)`` rows, index 0, 1, ..."""
    process, reward, area, x, y = zip(*rows, strict=True) if rows else ([],) * 5
    n = len(rows)
    return pd.DataFrame(
        {
            "index": np.arange(n, dtype=np.int64),
            "process": pd.array(list(process), dtype="string"),
            "generation": np.zeros(n, dtype=np.int64),
            "reward": np.asarray(reward, dtype=np.float64),
            "reward_area": np.asarray(area, dtype=np.int64),
            "gt_0": np.asarray(x, dtype=np.float64),
            "gt_1": np.asarray(y, dtype=np.float64),
        }
    )


def random_log(n: int, seed: int = 0) -> pd.DataFrame:
    """A random log: half exploration, descriptors partly outside the box, some NaN."""
    rng = np.random.default_rng(seed)
    explore = rng.random(n) < 0.5
    area = np.where(rng.random(n) < 0.05, rng.integers(0, 3, n), -1)
    reward = np.where(area >= 0, rng.random(n), 0.0)
    x = rng.random((n, 2)) * 1.2 - 0.1
    x[rng.random(n) < 0.02] = np.nan
    return make_log(
        [
            ("explore" if e else f"emitter-{i % 4}", r, a, p[0], p[1])
            for i, (e, r, a, p) in enumerate(zip(explore, reward, area, x, strict=True))
        ]
    )


# A hand-built log, sampled every 2 evaluations -> points 2, 4, 6, 7.
#   idx process    reward area  descriptor     explore cell (row*50 + col)
#   0   explore    0.0    -1    (0.01, 0.01)   0
#   1   emitter-0  0.5     1    (0.85, 0.85)   (not counted: emitter)
#   2   explore    0.0    -1    (0.01, 0.015)  0 (duplicate)
#   3   explore    0.4     0    (0.25, 0.25)   12*50 + 12 = 612
#   4   emitter-1  0.8     1    (0.86, 0.85)   (emitter)
#   5   explore    0.2     0    (0.27, 0.25)   13*50 + 12 = 662
#   6   explore    0.0    -1    (nan, nan)     -1 (ignored)
HAND = make_log(
    [
        ("explore", 0.0, -1, 0.01, 0.01),
        ("emitter-0", 0.5, 1, 0.85, 0.85),
        ("explore", 0.0, -1, 0.01, 0.015),
        ("explore", 0.4, 0, 0.25, 0.25),
        ("emitter-1", 0.8, 1, 0.86, 0.85),
        ("explore", 0.2, 0, 0.27, 0.25),
        ("explore", 0.0, -1, np.nan, np.nan),
    ]
)


def js_one_cell(n: int) -> float:
    """JS divergence (nats) between a one-hot p and uniform q over n cells, by hand.

    m = (p + q) / 2 is (1 + 1/n) / 2 on the hot cell and 1 / (2n) elsewhere, so
    KL(p||m) = log(2n / (n + 1)) and
    KL(q||m) = (1/n) log(2 / (n + 1)) + ((n - 1)/n) log 2.
    """
    kl_p = math.log(2 * n / (n + 1))
    kl_q = (1 / n) * math.log(2 / (n + 1)) + ((n - 1) / n) * math.log(2)
    return 0.5 * kl_p + 0.5 * kl_q


# --- grid_cells ---------------------------------------------------------------------


def test_grid_cells_corners_edges_outside_and_nan():
    points = np.array(
        [
            [0.0, 0.0],  # low corner -> (0, 0) -> 0
            [1.0, 1.0],  # high corner clipped into the last cell -> (49, 49) -> 2499
            [0.999, 0.0],  # -> (49, 0) -> 49 * 50 = 2450
            [0.0, 1.0],  # -> (0, 49) -> 49
            [-5.0, 0.5],  # below the box -> (0, 25) -> 25
            [2.0, -3.0],  # outside on both sides -> (49, 0) -> 2450
            [0.5, np.inf],  # +inf clipped -> (25, 49) -> 1299
            [0.011, 0.031],  # -> (0, 1) -> 1
            [np.nan, 0.5],  # NaN -> -1
        ]
    )
    cells = grid_cells(points, (0.0, 0.0), (1.0, 1.0))
    assert cells.dtype == np.int64
    assert cells.tolist() == [0, 2499, 2450, 49, 25, 2450, 1299, 1, -1]


def test_grid_cells_non_square_box_and_shape():
    # box [-1, 1] x [0, 10], shape (4, 5): (0.1, 3.0) -> floor(1.1/2*4)=2, floor(3/10*5)=1
    # -> 2 * 5 + 1 = 11.
    cells = grid_cells(np.array([[0.1, 3.0]]), (-1.0, 0.0), (1.0, 10.0), (4, 5))
    assert cells.tolist() == [11]


def test_grid_cells_empty_and_bad_input():
    assert grid_cells(np.empty((0, 2)), (0, 0), (1, 1)).shape == (0,)
    with pytest.raises(ValueError):
        grid_cells(np.zeros((3, 3)), (0, 0), (1, 1))
    with pytest.raises(ValueError):
        grid_cells(np.zeros((3, 2)), (0, 1), (1, 1))


# --- coverage / uniformity / QD score ---------------------------------------------------


def test_coverage_counts_distinct_cells():
    # Distinct valid cells {0, 5, 7}: 3 / 2500; -1 is ignored.
    assert coverage(np.array([0, 0, 5, 5, 5, 7, -1]), K) == pytest.approx(3 / K)
    assert coverage(np.array([], dtype=np.int64), K) == 0.0
    with pytest.raises(ValueError):
        coverage(np.array([K]), K)


def test_uniformity_perfectly_uniform_is_one():
    # One (or two) agent(s) in every cell: the histogram is the uniform distribution.
    assert uniformity(np.arange(K), K) == pytest.approx(1.0, abs=1e-12)
    assert uniformity(np.tile(np.arange(K), 2), K) == pytest.approx(1.0, abs=1e-12)


def test_uniformity_one_cell_matches_hand_formula():
    expected = 1.0 - math.sqrt(js_one_cell(K))
    assert uniformity(np.full(100, 17), K) == pytest.approx(expected, rel=1e-12)
    # The JS distance (natural log) is at most sqrt(log 2), so the value stays above 0.
    assert 1 - math.sqrt(math.log(2)) < expected < 0.2


def test_uniformity_increases_when_agents_spread():
    one = uniformity(np.zeros(100, dtype=np.int64), K)
    ten = uniformity(np.repeat(np.arange(10), 10), K)
    hundred = uniformity(np.arange(100), K)
    assert one < ten < hundred < 1.0


def test_uniformity_empty_is_nan():
    assert math.isnan(uniformity(np.array([], dtype=np.int64), K))
    assert math.isnan(uniformity(np.array([-1, -1]), K))


def test_qd_score_best_per_cell():
    # Cell 3: best 0.5; cell 7: 0.1; cell 9: 0.0; the -1 agent (reward 0.9) is ignored.
    cells = np.array([3, 3, 7, -1, 9])
    rewards = np.array([0.2, 0.5, 0.1, 0.9, 0.0])
    assert qd_score(cells, rewards, K) == pytest.approx(0.6)
    assert qd_score(np.array([], dtype=np.int64), np.array([]), K) == 0.0


# --- evaluation_points ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "every", "expected"),
    [
        (0, 1000, []),
        (2500, 1000, [1000, 2000, 2500]),  # last point appended
        (2000, 1000, [1000, 2000]),  # already ends at n: no duplicate
        (5, 10, [5]),  # fewer evaluations than the step
        (3, 1, [1, 2, 3]),
    ],
)
def test_evaluation_points(n, every, expected):
    points = evaluation_points(n, every)
    assert points.dtype == np.int64
    assert points.tolist() == expected


def test_evaluation_points_rejects_bad_step():
    with pytest.raises(ValueError):
        evaluation_points(10, 0)


# --- the hand log -----------------------------------------------------------------------


def test_first_reward_best_reward_and_budget_on_hand_log():
    # Area 0 first at index 3, area 1 at 1 (an emitter), area 2 never; overall 1.
    assert evaluations_to_first_reward(HAND, 3) == {"0": 3, "1": 1, "2": None, "overall": 1}
    assert best_reward_per_area(HAND, 3) == {"0": 0.4, "1": 0.8, "2": None}
    # 5 exploration rows, 2 emitter rows.
    # Without an emitter_area column the areas cannot be told: shares stay 0.
    budget = budget_per_process(HAND, 3)
    assert budget["explore"] == pytest.approx(5 / 7) and budget["exploit"] == pytest.approx(2 / 7)
    assert budget["areas"] == {"0": 0.0, "1": 0.0, "2": 0.0}
    # Both emitters worked on area 1 (their ancestors' area): 2 of 7 evaluations.
    labelled = HAND.assign(emitter_area=[-1, 1, -1, -1, 1, -1, -1])
    assert budget_per_process(labelled, 3)["areas"] == pytest.approx(
        {"0": 0.0, "1": 2 / 7, "2": 0.0}
    )
    curves = metric_curves(labelled, SPEC, every=2)
    # After 2 evaluations: 1 of 2 on area 1; after all 7: 2 of 7.
    assert curves["budget_area_1"].tolist() == pytest.approx([1 / 2, 1 / 4, 2 / 6, 2 / 7])
    assert curves["budget_area_0"].eq(0).all()


def test_summary_on_hand_log():
    s = summary_metrics(HAND, SPEC)
    # Explore cells {0, 612, 662} (emitter cells and the NaN row not counted).
    assert s["evaluations"] == 7
    assert s["coverage"] == pytest.approx(3 / K)
    # Histogram [2, 1, 1] over cells 0, 612, 662.
    assert s["uniformity"] == pytest.approx(uniformity(np.array([0, 0, 612, 662]), K))
    # QD: cell 0 best 0.0, cell 612 0.4, cell 662 0.2.
    assert s["qd_score"] == pytest.approx(0.6)
    assert s["reward_areas_found"] == 2
    assert s["reward_areas_total"] == 3
    assert s["best_reward_per_area"] == {"0": 0.4, "1": 0.8, "2": None}
    assert s["evaluations_to_first_reward"] == {"0": 3, "1": 1, "2": None}
    assert s["evaluations_to_first_reward_overall"] == 1
    json.dumps(s, allow_nan=False)


def test_curves_on_hand_log():
    c = metric_curves(HAND, SPEC, every=2)
    assert list(c.columns) == [
        "evaluations",
        "coverage",
        "uniformity",
        "qd_score",
        "reward_areas_found",
        "best_reward",
        "best_reward_area_0",
        "best_reward_area_1",
        "best_reward_area_2",
        "explore_fraction",
        "budget_area_0",
        "budget_area_1",
        "budget_area_2",
    ]
    assert c["evaluations"].tolist() == [2, 4, 6, 7]
    # n=2: cell {0}; n=4: {0, 612}; n=6 and 7: {0, 612, 662}.
    np.testing.assert_allclose(c["coverage"] * K, [1, 2, 3, 3])
    # QD: 0; 0.4 (cell 612); 0.4 + 0.2 (cell 662); unchanged by the NaN row.
    np.testing.assert_allclose(c["qd_score"], [0.0, 0.4, 0.6, 0.6])
    # Area 1 at row 1 (emitter), area 0 at row 3.
    assert c["reward_areas_found"].tolist() == [1, 2, 2, 2]
    np.testing.assert_allclose(c["best_reward"], [0.5, 0.5, 0.8, 0.8])
    np.testing.assert_allclose(c["best_reward_area_0"], [np.nan, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(c["best_reward_area_1"], [0.5, 0.5, 0.8, 0.8])
    assert c["best_reward_area_2"].isna().all()
    np.testing.assert_allclose(c["explore_fraction"], [1 / 2, 3 / 4, 4 / 6, 5 / 7])
    # Uniformity at n=2: one agent in one cell.
    assert c["uniformity"].iloc[0] == pytest.approx(1 - math.sqrt(js_one_cell(K)))


def test_emitters_count_for_rewards_but_not_for_the_grid():
    # Only emitters: coverage 0, uniformity undefined, but the reward counts.
    log = make_log([("emitter-0", 0.7, 2, 0.25, 0.9), ("emitter-1", 0.0, -1, 0.5, 0.5)])
    s = summary_metrics(log, SPEC)
    assert s["coverage"] == 0.0
    assert s["uniformity"] is None
    assert s["qd_score"] == 0.0
    assert s["reward_areas_found"] == 1
    assert s["best_reward_per_area"]["2"] == 0.7
    assert s["evaluations_to_first_reward"] == {"0": None, "1": None, "2": 0}
    c = metric_curves(log, SPEC, every=1)
    assert c["coverage"].tolist() == [0.0, 0.0]
    assert c["uniformity"].isna().all()
    assert c["best_reward"].tolist() == [0.7, 0.7]


def test_no_reward_at_all():
    log = make_log([("explore", 0.0, -1, 0.5, 0.5)] * 3)
    assert evaluations_to_first_reward(log, 3) == {"0": None, "1": None, "2": None, "overall": None}
    c = metric_curves(log, SPEC, every=2)
    assert c["best_reward"].tolist() == [0.0, 0.0]  # 0 when no reward yet
    assert c["reward_areas_found"].tolist() == [0, 0]


def test_empty_log():
    log = make_log([])
    c = metric_curves(log, SPEC)
    assert len(c) == 0
    assert "best_reward_area_2" in c.columns
    s = summary_metrics(log, SPEC)
    assert s["evaluations"] == 0
    assert s["uniformity"] is None
    assert s["evaluations_to_first_reward_overall"] is None
    assert s["budget_per_process"]["explore"] == 0.0 and s["budget_per_process"]["exploit"] == 0.0
    json.dumps(s, allow_nan=False)


def test_descriptor_columns_in_numeric_order():
    # Box [0, 10] x [0, 1] (cell widths 0.2 and 0.02). (gt_0, gt_1) = (0.50, 0.5) and
    # (0.55, 0.5) share cell (2, 25): 0.50/10*50 = 2.5 and 0.55/10*50 = 2.75 both floor to 2.
    # Read swapped, gt_0 would land in dim 1 at 0.50*50 = 25 vs 0.55*50 = 27.5: 2 cells.
    spec = dataclasses.replace(SPEC, descriptor_low=(0.0, 0.0), descriptor_high=(10.0, 1.0))
    log = make_log([("explore", 0.0, -1, 0.50, 0.5), ("explore", 0.0, -1, 0.55, 0.5)])
    log = log[["index", "process", "generation", "reward", "reward_area", "gt_1", "gt_0"]]
    assert summary_metrics(log, spec)["coverage"] == pytest.approx(1 / K)
    frame = pd.DataFrame({f"gt_{i}": [0.0] for i in (10, 2, 0, 1)})
    assert metrics._descriptor_columns(frame) == ["gt_0", "gt_1", "gt_2", "gt_10"]


def test_unsorted_log_is_sorted_by_index():
    shuffled = HAND.sample(frac=1.0, random_state=3)
    assert summary_metrics(shuffled, SPEC) == summary_metrics(HAND, SPEC)


# --- random logs: curves against the summary ---------------------------------------------


def test_curves_match_summary_of_each_prefix():
    log = random_log(1000, seed=1)
    c = metric_curves(log, SPEC, every=137)
    assert c["evaluations"].iloc[-1] == 1000
    for _, row in c.iterrows():
        s = summary_metrics(log.iloc[: int(row["evaluations"])], SPEC)
        assert row["coverage"] == pytest.approx(s["coverage"], abs=1e-15)
        assert row["uniformity"] == pytest.approx(s["uniformity"], rel=1e-12)
        assert row["qd_score"] == pytest.approx(s["qd_score"], rel=1e-12)
        assert row["reward_areas_found"] == s["reward_areas_found"]
        for i in range(3):
            best = s["best_reward_per_area"][str(i)]
            value = row[f"best_reward_area_{i}"]
            assert (math.isnan(value) and best is None) or value == best


def test_curve_blocks_give_the_same_result(monkeypatch):
    log = random_log(2000, seed=2)
    whole = metric_curves(log, SPEC, every=50)
    monkeypatch.setattr(metrics, "_BLOCK_ELEMENTS", 3 * K)  # 3 points per block
    blocked = metric_curves(log, SPEC, every=50)
    pd.testing.assert_frame_equal(whole, blocked, check_exact=True)


def test_best_reward_area_running_max():
    log = random_log(3000, seed=3)
    c = metric_curves(log, SPEC, every=10)
    first = evaluations_to_first_reward(log, 3)
    for i in range(3):
        col = c[f"best_reward_area_{i}"].to_numpy()
        # NaN exactly at the points that do not include the first reward in area i.
        assert first[str(i)] is not None
        np.testing.assert_array_equal(np.isnan(col), c["evaluations"] <= first[str(i)])
        found = col[~np.isnan(col)]
        assert np.all(np.diff(found) >= 0)
    assert np.all(np.diff(c["best_reward"]) >= 0)
    assert np.all(np.diff(c["coverage"]) >= 0)


# --- LiveMetrics -------------------------------------------------------------------------


def test_live_metrics_matches_batch_functions():
    log = random_log(1000, seed=4)
    live = LiveMetrics(SPEC)
    assert live.coverage == 0.0
    assert live.best_reward == 0.0
    explore = (log["process"] == "explore").to_numpy()
    x = log[["gt_0", "gt_1"]].to_numpy()
    r = log["reward"].to_numpy()
    a = log["reward_area"].to_numpy()
    for lo, hi in [(0, 0), (0, 1), (1, 300), (300, 1000)]:
        live.update(explore[lo:hi], x[lo:hi], r[lo:hi], a[lo:hi])
        s = summary_metrics(log.iloc[:hi], SPEC)
        assert live.evaluations == hi
        assert live.coverage == s["coverage"]
        assert live.reward_areas_found == s["reward_areas_found"]
        assert live.best_reward == (r[:hi].max() if hi else 0.0)
    cells = grid_cells(x[explore], SPEC.descriptor_low, SPEC.descriptor_high)
    assert live.coverage == coverage(cells, K)


def test_summary_is_json_serialisable_plain_types():
    s = summary_metrics(random_log(500, seed=5), SPEC)
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text) == s
    assert type(s["evaluations"]) is int
    assert type(s["coverage"]) is float
    assert type(s["reward_areas_found"]) is int


def test_live_metrics_ignore_nan_and_clip_outside_points_like_the_summary():
    rng = np.random.default_rng(9)
    n = 400
    x = rng.uniform(-0.5, 1.5, (n, 2))  # a good share outside the descriptor box
    x[::7] = np.nan
    log = pd.DataFrame(
        {
            "index": np.arange(n),
            "process": np.where(rng.random(n) < 0.7, "explore", "emitter-0"),
            "reward": rng.random(n) * (rng.random(n) < 0.2),
            "reward_area": rng.integers(-1, len(SPEC.reward_areas), n),
            "gt_0": x[:, 0],
            "gt_1": x[:, 1],
        }
    )
    live = LiveMetrics(SPEC)
    live.update((log["process"] == "explore").to_numpy(), x, log["reward"], log["reward_area"])
    assert live.coverage == summary_metrics(log, SPEC)["coverage"] > 0
