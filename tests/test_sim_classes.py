"""Simulator targets for classification: birds and flocks, helicopters, true classes in the truth."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import pytest

from skywarden.core.records import AdsbObservation, PlotObservation, encode_record
from skywarden.sim import ScenarioError, load_scenario, parse_scenario, simulate

GROUND_M = 45.0  # classification-mix: ground level, metres above the ellipsoid


def digest(result) -> str:
    h = hashlib.sha256()
    for o in result.iter_observations():
        h.update(encode_record(o))
    h.update(b"|")
    for s in result.iter_truth():
        h.update(encode_record(s))
    return h.hexdigest()[:16]


def _doc(**over):
    doc = {
        "name": "t", "start_time": 1700000000, "duration_s": 300, "origin": {"lat": 51.0, "lon": 0.0, "alt_m": 50},
        "sensors": [{"id": "r", "type": "radar", "position": {"lat": 51.0, "lon": 0.0, "alt_m": 60}, "range_m": 5000, "clutter_per_scan": 3}],
        "targets": [
            {"id": "b1", "type": "bird", "position": {"lat": 51.0, "lon": 0.0, "alt_m": 100}},
            {"id": "b2", "type": "bird", "position": {"lat": 51.01, "lon": 0.0, "alt_m": 120}, "speed_mps": 15, "start_s": 20, "end_s": 200},
        ],
    }
    doc.update(over)
    return doc


# Digests of the observations and truth produced before birds got flocks and helicopters were
# added (same code path for everything old): old scenario files must simulate exactly as before.
OLD_DIGESTS = [
    ("gatwick-2018", 0, "f23105e76f0b5881"),
    ("gatwick-2018", 7, "f10e1d3f3cb86369"),
    ("seoul-2022", 0, "c1bdd78e7f741dca"),
    ("seoul-2022", 7, "f61bdcf0c8ced26e"),
]


@pytest.mark.parametrize(("name", "seed", "expected"), OLD_DIGESTS)
def test_old_builtin_scenarios_simulate_exactly_as_before(name, seed, expected):
    assert digest(simulate(load_scenario(name), seed)) == expected


def test_old_bird_scenario_simulates_exactly_as_before():
    assert digest(simulate(parse_scenario(_doc()), 3)) == "4013d574529c6dbc"
    # Spelling out the new fields' defaults changes nothing.
    doc = _doc()
    doc["targets"][0] |= {"flock_size": 1, "turn_sd_deg": 50.0, "flock_spread_m": 40.0}
    assert digest(simulate(parse_scenario(doc), 3)) == "4013d574529c6dbc"


@pytest.fixture(scope="module")
def mix():
    return simulate(load_scenario("classification-mix"), seed=0)


@pytest.fixture(scope="module")
def by_target(mix):
    out = defaultdict(list)
    for s in mix.truth:
        out[s.target_id].append(s)
    return out


def _speeds(samples) -> np.ndarray:
    return np.array([np.hypot(s.vel_east_mps, s.vel_north_mps) for s in samples])


def test_truth_carries_every_true_class(mix, by_target):
    kinds = {tid: ss[0].kind for tid, ss in by_target.items()}
    assert set(kinds.values()) == {"drone", "manned_aircraft", "bird"}
    assert kinds["police-heli"] == kinds["air-ambulance"] == "manned_aircraft"  # helicopters are manned aircraft
    assert kinds["klm1234"] == "manned_aircraft" and kinds["drone-hover"] == "drone"
    assert [t for t in kinds if t.startswith("gulls")] == [f"gulls-{k}" for k in range(1, 6)]
    assert all(kinds[f"gulls-{k}"] == "bird" for k in range(1, 6))
    assert set(kinds) == set(mix.body_ids) and mix.counts()["targets"] == len(mix.body_ids) == 23
    # Drones with and without Remote ID, aircraft with ADS-B, birds and the police helicopter with neither.
    assert by_target["drone-survey"][0].uas_id and by_target["drone-racer"][0].uas_id is None
    assert by_target["police-heli"][0].icao24 is None and by_target["air-ambulance"][0].icao24 == "4851c3"


def test_birds_are_slow_low_and_erratic(by_target):
    birds = [ss for ss in by_target.values() if ss[0].kind == "bird"]
    assert len(birds) == 12
    for ss in birds:
        speed = _speeds(ss)
        assert 4.0 < np.median(speed) < 20.0 and np.percentile(speed, 95) < 25.0
        agl = np.array([s.alt_m for s in ss]) - GROUND_M
        assert agl.min() > -5.0 and agl.max() < 155.0
        heading = np.degrees(np.arctan2([s.vel_east_mps for s in ss], [s.vel_north_mps for s in ss]))
        turns = np.abs((np.diff(heading) + 180.0) % 360.0 - 180.0)
        assert np.count_nonzero(turns > 20.0) / len(ss) * 60.0 > 4.0  # several marked turns a minute
        assert np.std(speed) > 1.0  # and speed changes
    # A drone flies straight legs between waypoints: far fewer turns.
    drone = by_target["drone-fixedwing"]
    heading = np.degrees(np.arctan2([s.vel_east_mps for s in drone], [s.vel_north_mps for s in drone]))
    assert np.count_nonzero(np.abs((np.diff(heading) + 180.0) % 360.0 - 180.0) > 20.0) <= 8


def test_flock_members_fly_together_but_apart(by_target):
    pos = {}
    for k in range(1, 6):
        ss = by_target[f"gulls-{k}"]
        pos[k] = np.array([[s.lat * 111_200.0, s.lon * 111_200.0 * np.cos(np.radians(52.0))] for s in ss])
    n = min(len(p) for p in pos.values())
    for k in range(2, 6):
        d = np.linalg.norm(pos[k][:n] - pos[1][:n], axis=1)
        assert d.max() < 2 * 200.0 + 60.0  # within the flock's spread (plus jitter) of the leader
        assert d.mean() > 5.0  # but not on top of it


def test_police_helicopter_hovers_and_flies_helicopter_speeds(by_target):
    ss = by_target["police-heli"]
    speed = _speeds(ss)
    agl = np.array([s.alt_m for s in ss]) - GROUND_M
    assert 150.0 <= agl.min() and agl.max() <= 600.0
    assert 30.0 <= speed.max() <= 70.0
    hovering = speed < 0.01
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, hovering.astype(int), 0])))[::2]
    assert runs.max() >= 60  # hovers for at least a minute, airborne
    assert agl[hovering].min() > 150.0


def test_only_the_helicopter_with_icao24_transmits_adsb_as_rotorcraft(mix):
    adsb = [o for o in mix.observations if isinstance(o, AdsbObservation)]
    heli = [o for o in adsb if o.icao24 == "4851c3"]
    assert heli and all(o.category == "A7" for o in heli)
    assert {o.icao24 for o in adsb} == {"4851c3", "484b12", "4841a7", "406c3d"}
    assert all(o.category is None for o in adsb if o.icao24 != "4851c3")
    assert any(isinstance(o, PlotObservation) for o in mix.observations)


def test_flock_and_helicopter_validation():
    doc = _doc(targets=[
        {"id": "f", "type": "bird", "position": {"lat": 51.0, "lon": 0.0, "alt_m": 100}, "flock_size": 3},
        {"id": "f-2", "type": "bird", "position": {"lat": 51.0, "lon": 0.0, "alt_m": 100}},
    ])
    with pytest.raises(ScenarioError, match=r"targets\[1\].id: 'f-2' is already a flock member id"):
        parse_scenario(doc)
    doc["targets"].reverse()
    with pytest.raises(ScenarioError, match=r"targets\[1\].flock_size: flock member id 'f-2'"):
        parse_scenario(doc)
    heli = {"id": "h", "type": "helicopter", "waypoints": [{"lat": 51.0, "lon": 0.0, "alt_m": 300}, {"lat": 51.01, "lon": 0.0, "alt_m": 300}]}
    with pytest.raises(ScenarioError, match=r"targets\[0\].waypoints\[1\].speed_mps: required"):
        parse_scenario(_doc(targets=[heli]))
    with pytest.raises(ScenarioError, match="unknown type 'zeppelin'"):
        parse_scenario(_doc(targets=[heli | {"type": "zeppelin"}]))
    twin = [heli | {"speed_mps": 40, "icao24": "abcdef"}, heli | {"id": "h2", "speed_mps": 40, "icao24": "ABCDEF"}]
    with pytest.raises(ScenarioError, match="duplicate icao24"):
        parse_scenario(_doc(targets=twin))


def test_flock_simulation_is_deterministic_and_members_are_radar_targets():
    doc = _doc(targets=[{"id": "f", "type": "bird", "position": {"lat": 51.0, "lon": 0.0, "alt_m": 100}, "flock_size": 4,
                         "flock_spread_m": 80}])
    a, b = simulate(parse_scenario(doc), 5), simulate(parse_scenario(doc), 5)
    assert digest(a) == digest(b)
    assert a.body_ids == ("f-1", "f-2", "f-3", "f-4")
    assert {s.target_id for s in a.truth} == set(a.body_ids)
    assert a.counts()["plot"] - a.counts()["clutter"] > 4 * 250  # each bird is seen (Pd 0.9, 300 scans)
