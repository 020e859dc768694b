import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from serendip.pareto import crowding_distance, first_front, non_dominated_fronts, nsga2_select

# 0:(1,5) 1:(2,4) 2:(3,3) 3:(2,2) 4:(1,1) 5:(3,1) 6:(1,3), both objectives maximised.
POINTS = np.array([[1, 5], [2, 4], [3, 3], [2, 2], [1, 1], [3, 1], [1, 3]], dtype=float)


# --- brute-force references ---------------------------------------------------------
def _dominates(a, b) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True)
    )


def _reference_fronts(points) -> list[list[int]]:
    remaining = list(range(len(points)))
    fronts = []
    while remaining:
        front = [
            i for i in remaining if not any(_dominates(points[j], points[i]) for j in remaining)
        ]
        fronts.append(front)
        remaining = [i for i in remaining if i not in front]
    return fronts


def _reference_crowding(points) -> list[float]:
    n, m = len(points), len(points[0]) if len(points) else 0
    if n <= 2:
        return [float("inf")] * n
    distance = [0.0] * n
    for k in range(m):
        order = sorted(range(n), key=lambda i: (points[i][k], i))
        span = points[order[-1]][k] - points[order[0]][k]
        if span == 0:
            continue
        distance[order[0]] = distance[order[-1]] = float("inf")
        for pos in range(1, n - 1):
            i = order[pos]
            distance[i] += (points[order[pos + 1]][k] - points[order[pos - 1]][k]) / span
    return distance


def _reference_select(points, n) -> list[int]:
    chosen: list[int] = []
    for front in _reference_fronts(points):
        if len(chosen) + len(front) <= n:
            chosen += front
            continue
        crowd = _reference_crowding([points[i] for i in front])
        ranked = sorted(range(len(front)), key=lambda j: (-crowd[j], j))
        chosen += [front[j] for j in ranked[: n - len(chosen)]]
        break
    return chosen


# --- hand-made cases ----------------------------------------------------------------
def test_fronts_hand_made():
    fronts = non_dominated_fronts(POINTS)
    assert [f.tolist() for f in fronts] == [[0, 1, 2], [3, 5, 6], [4]]


def test_fronts_minimise_and_mixed():
    fronts = non_dominated_fronts(POINTS, maximise=False)
    assert fronts[0].tolist() == [4]
    mixed = non_dominated_fronts(POINTS, maximise=[True, False])
    assert mixed[0].tolist() == [5]  # (3, 1): largest first objective, smallest second


def test_first_front():
    assert first_front(POINTS).tolist() == [0, 1, 2]
    assert first_front(np.array([[1.0, 1.0], [1.0, 1.0]])).tolist() == [0, 1]  # equal: no dominance


def test_crowding_hand_made():
    front = np.array([[0, 10], [1, 6], [4, 5], [10, 0]], dtype=float)
    distance = crowding_distance(front)
    assert np.isinf(distance[[0, 3]]).all()
    np.testing.assert_allclose(distance[1:3], [0.4 + 0.5, 0.9 + 0.6])


def test_crowding_zero_range_and_small_fronts():
    np.testing.assert_array_equal(
        crowding_distance(np.array([[1, 1], [2, 1], [3, 1.0]])), [np.inf, 1.0, np.inf]
    )
    assert np.isinf(crowding_distance(np.array([[1.0, 2.0], [1.0, 2.0]]))).all()
    assert crowding_distance(np.empty((0, 2))).shape == (0,)


def test_nsga2_select_fills_whole_fronts_then_crowding():
    assert nsga2_select(POINTS, 3).tolist() == [0, 1, 2]
    # Front 2 is (2,2) crowding 2, (3,1) inf, (1,3) inf: the two extremes survive.
    assert nsga2_select(POINTS, 5).tolist() == [0, 1, 2, 5, 6]
    assert nsga2_select(POINTS, 4).tolist() == [0, 1, 2, 5]  # inf tie: lower index
    assert sorted(nsga2_select(POINTS, 7).tolist()) == list(range(7))
    assert sorted(nsga2_select(POINTS, 50).tolist()) == list(range(7))
    assert nsga2_select(POINTS, 0).size == 0


def test_nsga2_truncates_by_crowding_distance():
    front = np.array([[0, 10], [1, 6], [4, 5], [10, 0], [5, 4.8]], dtype=float)
    # Crowding: inf, 0.4 + 0.5, 0.4 + 0.12, inf, 0.6 + 0.5 -> (4, 5) is the most crowded.
    np.testing.assert_allclose(crowding_distance(front), [np.inf, 0.9, 0.52, np.inf, 1.1])
    assert nsga2_select(front, 4).tolist() == [0, 3, 4, 1]


def test_nan_rejected():
    with pytest.raises(ValueError, match="NaN"):
        non_dominated_fronts(np.array([[np.nan, 1.0]]))


# --- properties against the brute-force references -----------------------------------
point_sets = st.integers(1, 3).flatmap(
    lambda m: arrays(
        np.float64,
        st.tuples(st.integers(0, 30), st.just(m)),
        elements=st.integers(-4, 4).map(float),  # small integers: many ties
    )
)


@settings(max_examples=100, deadline=None)
@given(point_sets)
def test_fronts_match_brute_force(points):
    fronts = non_dominated_fronts(points)
    assert [f.tolist() for f in fronts] == _reference_fronts(points.tolist())
    expected_first = _reference_fronts(points.tolist())[0] if len(points) else []
    assert first_front(points).tolist() == expected_first


@settings(max_examples=100, deadline=None)
@given(point_sets)
def test_crowding_matches_brute_force(points):
    np.testing.assert_allclose(crowding_distance(points), _reference_crowding(points.tolist()))


@settings(max_examples=100, deadline=None)
@given(point_sets, st.integers(0, 35))
def test_nsga2_select_matches_brute_force(points, n):
    assert nsga2_select(points, n).tolist() == _reference_select(points.tolist(), n)
