"""The kNN family (knn_jaccard, mutual_knn, cknna, rank_similarity, second_order_cosine) on its one
neighbour machinery: agreement with their declared reference routes (explicit n x n matrices and loops), the tie
rule (no value depends on the order of the rows), hand-computed cases, row blocks, bad input.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import metrics
import metrics.neighbors as neighbors
import reference
from metrics import _naive
from reference import route
from strategies import PLATFORM_RTOL, assert_refused, correlated_pair

NAMES = ["knn_jaccard", "mutual_knn", "cknna", "rank_similarity", "second_order_cosine"]
SYMMETRIC = [name for name in NAMES if name != "cknna"]
COSINE = [name for name in NAMES if name != "knn_jaccard"]


def _pair(seed: int, n: int, p1: int, p2: int):
    return correlated_pair(np.random.default_rng(seed), n, p1, p2)


def _tied_pair(seed: int):
    """Every row of X twice (and five three times); Y a noisy copy of X with ten exact duplicate rows:
    with k = 10 the k-th and (k+1)-th neighbours of every sample of X are two copies of one row."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(30, 4))
    x = np.vstack([base, base, base[:5]])
    y = x + 0.05 * rng.normal(size=x.shape)
    y[40:50] = y[:10]
    return x, y


# ----------------------------------------------------------------------------------------------------
# Agreement with the references (data without ties)
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape, k", [((60, 5, 7), 10), ((45, 12, 3), 3), ((30, 40, 60), 10), ((80, 2, 9), 25)])
def test_matches_the_explicit_route(name, shape, k):
    x, y = _pair(sum(shape) + k, *shape)
    expected = route(name)(x, y, k)
    assert math.isclose(metrics.get(name)(x, y, k=k), expected, rel_tol=PLATFORM_RTOL, abs_tol=1e-14)


@pytest.mark.parametrize("k", [1, 5, 10, 25])
@pytest.mark.parametrize("name, metric", [("knn_jaccard", "euclidean"), ("mutual_knn", "cosine")])
def test_set_measures_match_sklearn_neighbours(name, metric, k):
    """A second route to the neighbour sets: scikit-learn's NearestNeighbors (no ties in this data)."""
    x, y = _pair(11, 80, 5, 7)
    nx, ny = reference.sklearn_neighbor_lists(x, k, metric), reference.sklearn_neighbor_lists(y, k, metric)
    shared = np.array([len(set(a) & set(b)) for a, b in zip(nx, ny)])
    expected = np.mean(shared / (2 * k - shared)) if name == "knn_jaccard" else np.mean(shared / k)
    assert math.isclose(metrics.get(name)(x, y, k=k), expected, rel_tol=PLATFORM_RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_row_blocks(monkeypatch, name):
    """The search scans the n x n matrix in row blocks; blocks of 7 rows (13 of them, the last one
    short) give the same values, on tied data too."""
    x, y = _tied_pair(12)
    expected = route(name)(x, y)
    monkeypatch.setattr(neighbors, "_BLOCK_ELEMENTS", 7 * len(x))
    assert math.isclose(metrics.get(name)(x, y), expected, rel_tol=PLATFORM_RTOL)


# ----------------------------------------------------------------------------------------------------
# Ties: the value depends on the set of samples, not on their order
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tie_breaking_by_index_depends_on_the_row_order(seed):
    """The data of the regression test below has ties that matter: with ties broken by index (the old
    rule), knn_jaccard takes different values on the same samples in two orders."""
    x, y = _tied_pair(seed)
    p = np.random.default_rng(seed).permutation(len(x))
    before, after = (
        _naive.jaccard_of_lists(*_naive.pair_lists(a, b, 10, "euclidean", by_index=True))
        for a, b in ((x, y), (x[p], y[p]))
    )
    assert before != after


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_value_does_not_depend_on_the_order_of_the_rows(name, seed):
    """m(PX, PY) == m(X, Y) on data with duplicated rows, and both agree with the reference. A tie broken
    differently would move the value by 1 / (n k) or more; rows in another order only round the kernel
    sums of cknna differently (far below PLATFORM_RTOL)."""
    x, y = _tied_pair(seed)
    m = metrics.get(name)
    value = m(x, y)
    for p in (np.random.default_rng(seed).permutation(len(x)), np.arange(len(x))[::-1]):
        assert m(x[p], y[p]) == pytest.approx(value, rel=PLATFORM_RTOL)
    assert math.isclose(value, route(name)(x, y), rel_tol=PLATFORM_RTOL)


@pytest.mark.parametrize("name", SYMMETRIC)
def test_symmetric_under_ties(name):
    x, y = _tied_pair(3)
    assert metrics.get(name)(y, x) == pytest.approx(metrics.get(name)(x, y), rel=PLATFORM_RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_duplicated_samples_and_an_isometry_of_tied_data(name):
    """Every sample twice (in X and in Y): with Y an exact rotation of X the ties fall in the same
    places, both sides break them alike, and the value is that of X with itself."""
    rng = np.random.default_rng(4)
    base = rng.normal(size=(20, 3))
    x = np.vstack([base, base])
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # exact in floating point
    m = metrics.get(name)
    # the rotation permutes columns, so the distances are summed in another order: equal to rounding
    # (a tie broken differently would move the value by 1 / (n k) or more)
    assert m(x, x @ rotation) == pytest.approx(m(x, x), rel=PLATFORM_RTOL)
    assert math.isclose(m(x, x @ rotation), 1.0, rel_tol=PLATFORM_RTOL)


def test_tie_rule_is_the_same_for_both_sides_on_a_line():
    """Six points on a line and k = 1: the two inner neighbours of 1, 2, 3, 4 tie. Y = -X breaks the
    ties in the same samples (both sides use one order), so the lists agree: 1."""
    line = np.arange(6.0)[:, None]
    assert metrics.get("knn_jaccard")(line, -line, k=1) == 1.0


# ----------------------------------------------------------------------------------------------------
# Hand-computed cases
# ----------------------------------------------------------------------------------------------------
def test_knn_jaccard_by_hand_on_a_line():
    """X = 0..5 on a line, Y = (5 - x)^2, k = 1. X's sorted rows come first (2 < 4 at the third row),
    so ties go to the lower x: N_X = 1, 0, 1, 2, 3, 4. Y = 25, 16, 9, 4, 1, 0 has no ties:
    N_Y = 1, 2, 3, 4, 5, 4. Samples 0 and 5 agree: 2/6, either way round."""
    x = np.arange(6.0)[:, None]
    y = (5.0 - x) ** 2
    m = metrics.get("knn_jaccard")
    assert m(x, y, k=1) == m(y, x, k=1) == pytest.approx(1 / 3, rel=PLATFORM_RTOL)


# Points on the unit circle at these angles (degrees); cosine neighbours are the nearest angles.
ANGLES_X = [0, 10, 32, 60, 100, 150]
ANGLES_Y = [0, 20, 32, 70, 100, 160]
# Their k = 2 neighbour lists, by hand from the angle differences (no ties).
HAND_X = [[1, 2], [0, 2], [1, 3], [2, 4], [3, 5], [4, 3]]
HAND_Y = [[1, 2], [2, 0], [1, 0], [4, 2], [3, 5], [4, 3]]


def _circle(degrees):
    radians = np.deg2rad(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_hand_lists_on_the_circle():
    nx, ny = _naive.pair_lists(_circle(ANGLES_X), _circle(ANGLES_Y), 2, "cosine")
    assert nx.tolist() == HAND_X and ny.tolist() == HAND_Y


@pytest.mark.parametrize(
    "name, k, expected",
    [
        ("mutual_knn", 2, 11 / 12),  # shared 2, 2, 1, 2, 2, 2 of k = 2
        # per point 1, (1/3 + 1/3) / (1 + 1/2) = 4/9, 1 (one shared, both rank 1), 4/9, 1, 1
        ("rank_similarity", 2, 22 / 27),
        # k = 1: N_X = 1, 0, 1, 2, 3, 4 and N_Y = 1, 2, 1, 4, 3, 4; shared (value 1) at 0, 2, 4, 5, none
        # shared (value 0) at 1 and 3
        ("rank_similarity", 1, 2 / 3),
        ("mutual_knn", 1, 2 / 3),
    ],
)
def test_cosine_measures_by_hand_on_a_circle(name, k, expected):
    x, y = _circle(ANGLES_X), _circle(ANGLES_Y)
    assert metrics.get(name)(x, y, k=k) == pytest.approx(expected, rel=PLATFORM_RTOL)
    assert metrics.get(name)(3.0 * x, y, k=k) == pytest.approx(expected, rel=PLATFORM_RTOL)  # norms do not matter


def test_second_order_cosine_by_hand_on_a_circle():
    """Per point, over U = N_X(i) | N_Y(i) from the hand lists, the cosine between the profiles
    (cos(theta_i - theta_j))_j and (cos(phi_i - phi_j))_j."""
    theta, phi = np.deg2rad(ANGLES_X), np.deg2rad(ANGLES_Y)
    values = []
    for i in range(6):
        union = sorted(set(HAND_X[i]) | set(HAND_Y[i]))
        a, b = np.cos(theta[i] - theta[union]), np.cos(phi[i] - phi[union])
        values.append(a @ b / np.sqrt((a @ a) * (b @ b)))
    value = metrics.get("second_order_cosine")(_circle(ANGLES_X), _circle(ANGLES_Y), k=2)
    assert math.isclose(value, np.mean(values), rel_tol=PLATFORM_RTOL)


def test_cknna_is_asymmetric_and_unbounded_like_platonic_rep():
    """platonic-rep's estimator on masked (asymmetric) kernels: cknna(X, Y) != cknna(Y, X), and values
    above 1 occur (here Y = X plus a little noise, n = 14, k = 5); both agree with the dense route."""
    x, y = _pair(5, 60, 5, 7)
    m = metrics.get("cknna")
    forward, backward = m(x, y), m(y, x)
    assert abs(forward - backward) > 1e-4
    assert math.isclose(backward, route("cknna")(y, x), rel_tol=PLATFORM_RTOL)
    above = _cknna_above_one()
    assert above is not None, "no case above 1 among the seeds tried"
    x, y, k = above
    assert m(x, y, k=k) > 1.0
    assert math.isclose(m(x, y, k=k), route("cknna")(x, y, k), rel_tol=PLATFORM_RTOL)


def _cknna_above_one():
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(14, 3)) + rng.normal(size=3)
        y = x + 0.1 * rng.normal(size=x.shape)
        if route("cknna")(x, y, 5) > 1.0:
            return x, y, 5
    return None


@pytest.mark.parametrize("name", NAMES)
def test_identical_inputs_give_one(name):
    x, _ = _pair(6, 50, 6, 6)
    assert math.isclose(metrics.get(name)(x, x), 1.0, rel_tol=PLATFORM_RTOL)


# ----------------------------------------------------------------------------------------------------
# The machinery itself
# ----------------------------------------------------------------------------------------------------
def test_lexicographic_runs_match_numpy_lexsort():
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 3, size=(200, 5)).astype(float)  # many equal prefixes and equal rows
    runs = neighbors.lexicographic_runs(rows)
    expected = np.lexsort(tuple(rows[:, c] for c in reversed(range(5))))
    np.testing.assert_array_equal(runs.order, expected)
    sorted_rows = rows[expected]
    np.testing.assert_array_equal(runs.starts[1:], (sorted_rows[1:] != sorted_rows[:-1]).any(axis=1))


def test_a_copy_of_a_row_is_its_nearest_neighbour():
    """Copies are at distance exactly 0, even where rounding would put another sample nearer."""
    rng = np.random.default_rng(8)
    z = rng.normal(size=(30, 4)) * 1e8
    z[17] = z[3]
    z[25] = z[3] + 1e-7  # nearer than rounding of ||z||^2 - 2 <z, z'> can resolve at this scale
    z = torch.from_numpy(z)
    order = neighbors.common_order(z, z).order
    lists = neighbors.neighbour_pair(z, z, 2, "euclidean").nx
    position = {int(sample): i for i, sample in enumerate(order)}
    assert int(lists[position[3], 0]) == position[17] and int(lists[position[17], 0]) == position[3]


# ----------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_needs_k_plus_two_samples(name):
    x, y = _pair(9, 30, 3, 4)
    assert_refused(metrics.get(name), x[:11], y[:11], match="k \\+ 2")
    assert_refused(metrics.get(name), x[:5], y[:5], k=4, match="k \\+ 2")
    assert isinstance(metrics.get(name)(x[:6], y[:6], k=4), float)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("k", [0, -1, 2.5, True, None])
def test_bad_k_is_refused(name, k):
    x, y = _pair(9, 30, 3, 4)
    assert_refused(metrics.get(name), x, y, k=k, match="k")


def test_cknna_needs_two_neighbours():
    """platonic-rep checks ``topk < 2`` before ``topk is None``, so its default call fails with a
    TypeError; here k = 1 and k = None are both refused with a ValueError that says why."""
    x, y = _pair(9, 30, 3, 4)
    assert_refused(metrics.get("cknna"), x, y, k=1, match="k >= 2")
    assert_refused(metrics.get("cknna"), x, y, k=None, match="positive integer")


@pytest.mark.parametrize("name", COSINE)
@pytest.mark.parametrize("side", ["X", "Y"])
def test_zero_rows_are_refused_with_cosine_neighbours(name, side):
    x, y = _pair(10, 30, 3, 4)
    (x if side == "X" else y)[7] = 0.0
    assert_refused(metrics.get(name), x, y, match=f"row\\(s\\) \\[7\\] of {side} are zero")


@pytest.mark.parametrize("k", [3, 10])
def test_knn_jaccard_with_cosine_neighbours_is_resi_default(k):
    """neighbours="cosine": ReSi's default (inner="cosine"); checked on the explicit route and on
    scikit-learn's cosine neighbours, and different from the Euclidean default on the same data."""
    x, y = _pair(13, 70, 6, 8)
    m = metrics.get("knn_jaccard")
    cosine = m(x, y, k=k, neighbours="cosine")
    # the same neighbour sets give the same ratio of counts; 1e-10: the platform tolerance, never tighter
    assert math.isclose(cosine, route("knn_jaccard")(x, y, k, "cosine"), rel_tol=1e-10)
    nx, ny = (reference.sklearn_neighbor_lists(a, k, "cosine") for a in (x, y))
    assert math.isclose(cosine, _naive.jaccard_of_lists(nx, ny), rel_tol=1e-10)
    assert cosine != m(x, y, k=k)


def test_knn_jaccard_refuses_an_unknown_neighbourhood():
    x, y = _pair(14, 30, 3, 4)
    assert_refused(metrics.get("knn_jaccard"), x, y, neighbours="manhattan", match="neighbours must be")


def test_knn_jaccard_accepts_a_zero_row():
    x, y = _pair(10, 30, 3, 4)
    x[7] = 0.0
    assert math.isclose(metrics.get("knn_jaccard")(x, y), route("knn_jaccard")(x, y), rel_tol=PLATFORM_RTOL)


def test_second_order_cosine_refuses_a_sample_orthogonal_to_its_neighbours():
    """+-e1, +-e2, +-e3 and k = 4: the four neighbours of each axis point are orthogonal to it."""
    axes = np.vstack([np.eye(3), -np.eye(3)])
    assert_refused(metrics.get("second_order_cosine"), axes, axes, k=4, match="orthogonal")


# ----------------------------------------------------------------------------------------------------
# One search for the measures scored on one case
# ----------------------------------------------------------------------------------------------------
NEIGHBOUR_MEASURES = ["knn_jaccard", "mutual_knn", "rank_similarity", "second_order_cosine", "cknna"]


def test_measures_on_one_case_share_the_search_and_keep_their_values():
    x, y = correlated_pair(np.random.default_rng(31), 80, 6, 5)
    alone = {}
    for name in NEIGHBOUR_MEASURES:
        neighbors._SEARCHES.clear()
        alone[name] = metrics.get(name)(x, y)
    neighbors._SEARCHES.clear()
    together = {name: metrics.get(name)(x, y) for name in NEIGHBOUR_MEASURES}
    assert together == alone  # the very same lists: exactly the same values
    # knn_jaccard searches Euclidean neighbours, the four others one cosine search between them
    assert (neighbors._SEARCHES.misses, neighbors._SEARCHES.hits) == (2, 3)
    metrics.get("mutual_knn")(x, y + np.finfo(float).eps * 4 * np.abs(y).max())  # other inputs: a new search
    assert neighbors._SEARCHES.misses == 3


def test_search_cache_is_bounded(monkeypatch):
    x, _ = correlated_pair(np.random.default_rng(32), 60, 4, 4)
    entry = 6 * 60 * 10 * 8  # lists and cosines of one cosine search, n = 60, k = 10
    monkeypatch.setattr(neighbors, "_SEARCHES", neighbors.SearchCache(2 * entry))
    for shift in range(4):
        metrics.get("mutual_knn")(x, x[:, ::-1] + shift)
        assert neighbors._SEARCHES.size <= 2 * entry
    assert len(neighbors._SEARCHES._entries) == 2
