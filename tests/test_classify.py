"""Track classification: features from histories, identity, kinematics, hints, explanations."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from skywarden.fusion import tracker
from skywarden.fusion.classify import (
    CLASS_NAMES,
    FEATURES,
    ClassifierConfig,
    TrackFeatures,
    classify,
    explain,
    features_from_history,
)

H = 30


def history(kind: str, rng: np.random.Generator, n: int = H) -> tuple[np.ndarray, np.ndarray]:
    """(H, 6) ENU states at 1 s and their times for a typical object of ``kind`` (with estimate noise)."""
    t = np.arange(n, dtype=float)
    if kind == "airliner":
        vel = np.tile([150.0, 80.0, 3.0], (n, 1))
        up = 2500.0
    elif kind == "helicopter":
        vel = np.tile([0.0, 50.0, 0.0], (n, 1))
        up = 350.0
    elif kind == "hover_drone":
        vel = rng.normal(0.0, 0.4, (n, 3))
        up = 80.0
    elif kind == "cruising_drone":
        vel = np.tile([12.0, 0.0, 0.0], (n, 1))
        up = 60.0
    elif kind == "bird":
        heading = np.cumsum(rng.normal(0.0, math.radians(35.0), n))
        speed = 10.0 * rng.uniform(0.6, 1.4, n)
        vel = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), rng.normal(0.0, 0.7, n)])
        up = 50.0
    else:
        raise ValueError(kind)
    pos = np.cumsum(vel, axis=0) + np.array([0.0, 0.0, up])
    vel = vel + rng.normal(0.0, 0.3, vel.shape)
    return np.column_stack([pos, vel]), t


def batch(kinds: list[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hs = [history(k, rng) for k in kinds]
    return np.stack([h[0] for h in hs]), np.stack([h[1] for h in hs])


def test_class_order_is_the_trackers():
    assert CLASS_NAMES == tracker.CLASS_NAMES


def test_identity_decides():
    f = TrackFeatures.empty(4).replace(
        has_remote_id=[True, False, False, False], has_adsb=[False, True, True, False], adsb_uav=[False, False, True, False]
    )
    probs, cls = classify(f)
    assert [CLASS_NAMES[c] for c in cls] == ["drone", "manned_aircraft", "drone", "unknown"]
    assert probs[0, 1] > 0.95 and probs[1, 2] > 0.95 and probs[2, 1] > 0.9
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


@pytest.mark.parametrize("seed", range(5))
def test_kinematics_tell_the_classes_apart(seed):
    kinds = ["airliner", "helicopter", "hover_drone", "cruising_drone", "bird"]
    states, times = batch(kinds, seed)
    probs, cls = classify(features_from_history(states, times))
    assert [CLASS_NAMES[c] for c in cls] == ["manned_aircraft", "manned_aircraft", "drone", "drone", "bird"]
    assert probs.shape == (5, 4) and np.all(probs >= 0)


def test_identity_outweighs_kinematics():
    # A Remote ID drone that flies like a bird is still a drone; an ADS-B track flying slowly is manned.
    states, times = batch(["bird", "hover_drone"])
    f = features_from_history(states, times, has_remote_id=[True, False], has_adsb=[False, True])
    _, cls = classify(f)
    assert [CLASS_NAMES[c] for c in cls] == ["drone", "manned_aircraft"]


def test_a_new_track_is_unknown_and_evidence_grows():
    states, times = batch(["airliner"])
    p_prev = 0.0
    for n in (1, 3, 6, 10):
        s, t = states.copy(), times.copy()
        s[:, n:] = np.nan
        t[:, n:] = np.nan
        probs, cls = classify(features_from_history(s, t))
        if n == 1:
            assert CLASS_NAMES[cls[0]] == "unknown"
        assert probs[0, 2] >= p_prev - 1e-9
        p_prev = probs[0, 2]
    assert CLASS_NAMES[cls[0]] == "manned_aircraft"


def test_nan_padding_anywhere_gives_the_same_features():
    states, times = batch(["bird"], seed=3)
    short_s, short_t = states[:, :20], times[:, :20]
    padded_s = np.full((1, H, 6), np.nan)
    padded_t = np.full((1, H), np.nan)
    slots = np.sort(np.random.default_rng(1).choice(H, 20, replace=False))
    padded_s[0, slots], padded_t[0, slots] = short_s[0], short_t[0]
    a, b = features_from_history(short_s, short_t), features_from_history(padded_s, padded_t)
    np.testing.assert_allclose(a.matrix(), b.matrix())
    assert a.n_updates[0] == b.n_updates[0] == 20


def test_features_are_what_they_say():
    states, times = batch(["cruising_drone", "hover_drone"])
    f = features_from_history(states, times, ground_up_m=10.0)
    assert f.speed_mps[0] == pytest.approx(12.0, abs=0.5)
    assert f.net_speed_mps[0] == pytest.approx(12.0, abs=0.5)
    assert f.alt_agl_m[0] == pytest.approx(50.0, abs=1.0)
    assert f.turn_rate_dps[0] < 5.0 and f.heading_change_std_deg[0] < 5.0
    assert f.hover_fraction[0] == 0.0 and f.hover_fraction[1] == 1.0
    assert math.isnan(f.turn_rate_dps[1])  # never moving: no heading to turn
    empty = features_from_history(np.full((2, H, 6), np.nan), np.full((2, H), np.nan))
    assert np.all(np.isnan(empty.matrix())) and empty.n_updates.tolist() == [0, 0]
    probs, cls = classify(empty)
    assert cls.tolist() == [0, 0]


def test_sensor_hint_tips_an_ambiguous_track():
    f = TrackFeatures.empty(2).replace(n_updates=[1, 1], hint_probs=[[0.05, 0.05, 0.05, 0.85], [np.nan] * 4])
    probs, cls = classify(f)
    assert CLASS_NAMES[cls[0]] == "bird" and CLASS_NAMES[cls[1]] == "unknown"
    off = classify(f, ClassifierConfig(hint_weight=0.0))[1]
    assert off.tolist() == [0, 0]


def test_min_probability_reports_unknown():
    states, times = batch(["hover_drone"])
    f = features_from_history(states, times)
    probs, cls = classify(f)
    assert CLASS_NAMES[cls[0]] == "drone"
    _, strict = classify(f, ClassifierConfig(min_probability=min(1.0, float(probs[0].max()) + 1e-6)))
    assert strict.tolist() == [0]


def test_explain_names_every_term():
    states, times = batch(["bird"])
    f = features_from_history(states, times)
    why = explain(f, 0)
    assert set(why["terms"]) == {"prior", "kinematics", "identity", "hint"}
    assert set(why["features"]) == set(FEATURES) | {"n_updates"}
    assert "bird" in why["profiles"] and "helicopter" in why["profiles"]
    assert max(why["probabilities"], key=why["probabilities"].get) == "bird"
    msgspec.json.encode(why)  # JSON-ready (no numpy scalars)


def test_vectorised_over_many_tracks_matches_one_by_one():
    kinds = ["airliner", "bird", "hover_drone", "helicopter"] * 25
    states, times = batch(kinds, seed=9)
    probs, cls = classify(features_from_history(states, times))
    for i in (0, 17, 42, 99):
        p1, c1 = classify(features_from_history(states[i : i + 1], times[i : i + 1]))
        np.testing.assert_allclose(p1[0], probs[i])
        assert c1[0] == cls[i]
