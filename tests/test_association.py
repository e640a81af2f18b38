"""Gating and GNN assignment on constructed ambiguities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.fusion.association import assign_gnn, gate_pairs


def _tracks(positions, velocities=None, sigma=10.0):
    n = len(positions)
    x = np.zeros((n, 6))
    x[:, :3] = positions
    if velocities is not None:
        x[:, 3:] = velocities
    P = np.tile(np.diag([sigma**2] * 3 + [1.0] * 3), (n, 1, 1))
    return x, P, np.zeros(n)


def test_gate_keeps_near_pairs_and_drops_far_ones():
    x, P, t = _tracks([[0, 0, 100], [1000, 0, 100]])
    z = np.array([[5.0, 0, 100], [5000, 0, 100]])
    o, k, cost = gate_pairs(x, P, t, z, np.full((2, 3), 10.0), np.zeros(2), 1.0, 1.0, 16.27)
    assert list(zip(o.tolist(), k.tolist())) == [(0, 0)]
    assert cost.shape == (1,)


def test_gate_predicts_each_track_to_the_observation_time():
    x, P, t = _tracks([[0, 0, 100]], velocities=[[30, 0, 0]])
    z = np.array([[300.0, 0, 100]])  # where the track is 10 s later
    o, _, _ = gate_pairs(x, P, t, z, np.full((1, 3), 10.0), np.array([10.0]), 0.1, 0.1, 16.27)
    assert o.tolist() == [0]
    o, _, _ = gate_pairs(x, P, t, z, np.full((1, 3), 10.0), np.array([0.0]), 0.1, 0.1, 16.27)
    assert o.tolist() == []


def test_gnn_resolves_a_contested_observation_globally():
    # Track 0 is closest to both observations; the global optimum gives obs 1 to track 1.
    o = np.array([0, 0, 1, 1])
    k = np.array([0, 1, 0, 1])
    cost = np.array([1.0, 10.0, 2.0, 3.0])
    mo, mk = assign_gnn(o, k, cost)
    assert dict(zip(mo.tolist(), mk.tolist())) == {0: 0, 1: 1}


def test_gnn_crossing_targets_keep_their_tracks():
    # Two tracks crossing: at the crossing the predicted positions separate along velocity.
    x, P, t = _tracks([[-50, 0, 100], [50, 0, 100]], velocities=[[20, 0, 0], [-20, 0, 0]], sigma=5.0)
    z = np.array([[-30.0, 0, 100], [30.0, 0, 100]])  # both 1 s later; obs 0 from track 0
    o, k, c = gate_pairs(x, P, t, z, np.full((2, 3), 5.0), np.ones(2), 0.5, 0.5, 16.27)
    mo, mk = assign_gnn(o, k, c)
    assert dict(zip(mo.tolist(), mk.tolist())) == {0: 0, 1: 1}


def test_gnn_close_formation_assigns_one_to_one():
    x, P, t = _tracks([[0, 0, 100], [30, 0, 100], [60, 0, 100]], sigma=15.0)
    z = np.array([[62.0, 0, 100], [1.0, 0, 100], [29.0, 0, 100]])
    o, k, c = gate_pairs(x, P, t, z, np.full((3, 3), 10.0), np.zeros(3), 1.0, 1.0, 16.27)
    mo, mk = assign_gnn(o, k, c)
    assert dict(zip(mo.tolist(), mk.tolist())) == {0: 2, 1: 0, 2: 1}


def test_gnn_prefers_more_matches_over_lower_cost():
    o = np.array([0, 0, 1])
    k = np.array([0, 1, 0])
    cost = np.array([0.0, 5.0, 0.1])
    mo, mk = assign_gnn(o, k, cost)
    assert sorted(zip(mo.tolist(), mk.tolist())) == [(0, 1), (1, 0)]


def test_gnn_empty():
    mo, mk = assign_gnn(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    assert mo.size == 0 and mk.size == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 11), st.integers(1, 11), st.data())
def test_assign_gnn_is_optimal_like_one_linear_sum_assignment(n_obs, n_trk, data):
    """Solving cluster by cluster (small ones exhaustively) gives the same number of pairs and the
    same total cost as one linear_sum_assignment over everything."""
    from scipy.optimize import linear_sum_assignment

    flat = data.draw(st.lists(st.integers(0, n_obs * n_trk - 1), min_size=1, max_size=n_obs * n_trk, unique=True))
    flat = np.array(flat)
    o, t = flat // n_trk, flat % n_trk
    cost = np.array(data.draw(st.lists(st.floats(-20, 20), min_size=flat.size, max_size=flat.size)))
    got_o, got_t = assign_gnn(o, t, cost)
    m = np.full((n_obs, n_trk), 1e9)
    m[o, t] = cost
    r, c = linear_sum_assignment(m)
    ok = m[r, c] < 1e9
    assert len(set(got_o.tolist())) == got_o.size and len(set(got_t.tolist())) == got_t.size
    assert got_o.size == ok.sum()
    assert m[got_o, got_t].sum() == pytest.approx(m[r[ok], c[ok]].sum(), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 120), st.floats(0.5, 300), st.integers(0, 2**32 - 1))
def test_close_pairs_finds_exactly_the_pairs_a_kd_tree_finds(n, radius, seed):
    from scipy.spatial import cKDTree

    from skywarden.fusion.association import close_pairs

    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 1000, (n, 3))
    points[: n // 3, 0] = points[: n // 3, 0].round(-2)  # ties along the sweep axis
    got = {tuple(p) for p in close_pairs(points, radius).tolist()}
    expected = {tuple(p) for p in cKDTree(points).query_pairs(r=radius, output_type="ndarray").tolist()} if n > 1 else set()
    assert got == expected


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_kd_tree_and_all_pairs_pre_gates_find_the_same_pairs(seed):
    import skywarden.fusion.association as association

    rng = np.random.default_rng(seed)
    n_trk, n_obs = int(rng.integers(1, 300)), int(rng.integers(1, 300))
    x = np.zeros((n_trk, 6))
    x[:, :3] = rng.uniform(0, 2000, (n_trk, 3))
    x[:, 3:] = rng.normal(0, 10, (n_trk, 3))
    P = np.tile(np.eye(6), (n_trk, 1, 1)) * rng.uniform(10, 5000, (n_trk, 1, 1))  # some wide, young tracks
    z = rng.uniform(0, 2000, (n_obs, 3))
    args = (x, P, np.zeros(n_trk), z, np.full((n_obs, 3), 10.0), rng.uniform(0, 1, n_obs), 10.0, 4.0, 16.0)
    saved = association.BRUTE_FORCE_MAX_PAIRS
    try:
        association.BRUTE_FORCE_MAX_PAIRS = 10**9
        brute = association.gate_pairs(*args)
        association.BRUTE_FORCE_MAX_PAIRS = 0
        tree = association.gate_pairs(*args)
    finally:
        association.BRUTE_FORCE_MAX_PAIRS = saved
    as_set = lambda r: set(zip(r[0].tolist(), r[1].tolist()))  # noqa: E731
    assert as_set(brute) == as_set(tree)
