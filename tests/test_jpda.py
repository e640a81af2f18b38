"""JPDA for contested clusters, and close formations kept apart by track management."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.core.frame import LocalFrame
from skywarden.core.records import PlotObservation
from skywarden.fusion import association
from skywarden.fusion.association import jpda_marginals
from skywarden.fusion.measurements import MeasurementBatch, SensorDefaults
from skywarden.fusion.tracker import Tracker, TrackerConfig

T0 = 1_700_000_000.0
FRAME = LocalFrame(51.15, -0.18)


def _brute_force(n_t, n_o, log_w):
    """Marginals by listing every assignment of tracks to observations or to 'missed'."""
    weights = {}
    for choice in itertools.product(range(-1, n_o), repeat=n_t):
        taken = [j for j in choice if j >= 0]
        if len(taken) != len(set(taken)) or any(j >= 0 and not np.isfinite(log_w[i, j]) for i, j in enumerate(choice)):
            continue
        weights[choice] = np.exp(sum(log_w[i, j] for i, j in enumerate(choice) if j >= 0))
    total = sum(weights.values())
    beta = np.zeros((n_t, n_o + 1))
    for choice, w in weights.items():
        for i, j in enumerate(choice):
            beta[i, j + 1] += w / total
    return beta


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_exact_marginals_match_brute_force(n_t, n_o, data):
    log_w = np.array(data.draw(st.lists(st.lists(st.one_of(st.floats(-5, 12), st.just(-np.inf)), min_size=n_o, max_size=n_o),
                                        min_size=n_t, max_size=n_t)))
    t, o = np.nonzero(np.isfinite(log_w))
    if t.size == 0:
        return
    beta, tracks, beta0 = jpda_marginals(o, t, log_w[t, o])
    expected = _brute_force(n_t, n_o, log_w)
    assert np.allclose(beta, expected[t, o + 1], atol=1e-9)
    assert np.allclose(beta0, expected[tracks, 0], atol=1e-9)
    # Each track: missed or one of its plots; each plot: at most one track.
    per_track = np.bincount(np.searchsorted(tracks, t), weights=beta, minlength=tracks.size) + beta0
    assert np.allclose(per_track, 1.0)
    assert np.all(np.bincount(o, weights=beta) <= 1.0 + 1e-9)


def test_huge_clusters_use_the_cheap_approximation_and_stay_probabilities(monkeypatch):
    monkeypatch.setattr(association, "JPDA_MAX_EVENTS", 10)
    rng = np.random.default_rng(0)
    t, o = np.nonzero(np.ones((5, 5)))
    beta, tracks, beta0 = jpda_marginals(o, t, rng.uniform(0, 8, t.size))
    per_track = np.bincount(t, weights=beta) + beta0
    assert np.allclose(per_track, 1.0) and np.all(beta >= 0) and np.all(beta0 >= 0)


def _geo(p):
    lat, lon, alt = FRAME.to_geodetic([p[0]], [p[1]], [p[2]])
    return dict(lat=float(lat[0]), lon=float(lon[0]), alt_m=float(alt[0]))


def _formation(config, seed, separation_m=60.0, steps=40):
    """Two drones side by side, ``separation_m`` apart, flying east at 10 m/s; 15 m plots, Pd 0.9."""
    rng = np.random.default_rng(seed)
    tracker = Tracker(FRAME, config)
    confirmed, errors = [], []
    for k in range(steps):
        t = T0 + k + 0.5
        truth = [np.array([10.0 * (k + 0.5), y, 100.0]) for y in (0.0, separation_m)]
        obs = [PlotObservation(t=t, sensor="radar", sigma_h_m=15.0, sigma_v_m=15.0, **_geo(p + rng.normal(0, 15.0, 3)))
               for p in truth if rng.random() < 0.9]
        out = tracker.step(MeasurementBatch.from_observations(obs, FRAME, SensorDefaults()), T0 + k + 1.0)
        if k >= 10:
            confirmed.append(tracker.n_confirmed)
            e, n, _ = FRAME.to_enu(out.lat, out.lon, out.alt_m)
            errors.extend(np.minimum(np.abs(n), np.abs(n - separation_m)).tolist())
    return confirmed, errors


@pytest.mark.parametrize("association_mode", ["gnn", "jpda"])
def test_a_close_formation_keeps_two_tracks(association_mode):
    for seed in range(5):
        confirmed, errors = _formation(TrackerConfig(association=association_mode), seed)
        # New objects 60 m apart, both plots in the same scan: two tracks from the start, never
        # merged as duplicates of each other.
        assert confirmed.count(2) >= 28, f"seed {seed}: {confirmed}"
        assert np.median(errors) < 15.0


def test_jpda_needs_the_ncv_filter():
    with pytest.raises(ValueError, match="ncv"):
        TrackerConfig(association="jpda", motion="imm")
