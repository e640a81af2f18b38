"""Tests of the scenario simulator (skywarden.sim)."""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from skywarden.core.records import AdsbObservation, PlotObservation, RemoteIdObservation, decode_observation
from skywarden.sim import (
    ScenarioError,
    list_builtin_scenarios,
    load_scenario,
    parse_scenario,
    read_truth,
    simulate,
    synthetic_swarm,
    write_simulation,
)
from skywarden.sim.scenario import DroneTarget, MannedAircraftTarget, RadarSensor
from skywarden.zones.geojson import load_zones
from skywarden.zones.index import ZoneIndex

START = 1_700_000_000.0
ORIGIN = {"lat": 51.0, "lon": 0.0, "alt_m": 50.0}


def _doc(**overrides: Any) -> dict[str, Any]:
    """A small valid scenario document: one radar, one drone flying 2 km east at 20 m/s."""
    doc: dict[str, Any] = {
        "name": "test",
        "start_time": START,
        "duration_s": 200,
        "origin": dict(ORIGIN),
        "sensors": [
            {"id": "r1", "type": "radar", "position": dict(ORIGIN), "range_m": 5000, "scan_period_s": 1.0,
             "pd": 0.9, "sigma_h_m": 10.0, "sigma_v_m": 15.0, "clutter_per_scan": 0},
        ],
        "targets": [
            {"id": "d1", "type": "drone", "speed_mps": 20, "waypoints": [
                {"lat": 51.0, "lon": -0.0143, "alt_m": 150},
                {"lat": 51.0, "lon": 0.0143, "alt_m": 150},
            ]},
        ],
        "zones": [],
    }
    doc.update(overrides)
    return doc


def _enu(result, lat, lon, alt):
    e, n, u = result.frame.to_enu(lat, lon, alt)
    return np.column_stack([e, n, u])


def _by_target(truth) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for s in truth:
        out[s.target_id].append(s)
    return out


@pytest.fixture(scope="module")
def seoul():
    return simulate(load_scenario("seoul-2022"), seed=0)


@pytest.fixture(scope="module")
def gatwick():
    return simulate(load_scenario("gatwick-2018"), seed=0)


# ------------------------------------------------------------------------------ built-ins


def test_builtin_scenarios_are_listed():
    assert list_builtin_scenarios() == ["classification-mix", "gatwick-2018", "seoul-2022"]


@pytest.mark.parametrize("name", ["seoul-2022", "gatwick-2018"])
def test_builtin_simulates_with_every_observation_kind(name, request):
    result = request.getfixturevalue(name.split("-")[0])
    kinds = {type(o) for o in result.observations}
    assert kinds == {PlotObservation, RemoteIdObservation, AdsbObservation}
    times = [o.t for o in result.observations]
    assert times == sorted(times)
    keys = [(s.t, s.target_id) for s in result.truth]
    assert keys == sorted(keys)
    start, end = result.scenario.start_time, result.scenario.start_time + result.scenario.duration_s
    assert start <= times[0] and times[-1] < end
    # Every target appears in the truth.
    assert {s.target_id for s in result.truth} == {t.id for t in result.scenario.targets}


def test_seoul_intruder_enters_p73_within_two_minutes(seoul):
    samples = _by_target(seoul.truth)["nk-uav-1"]
    index = ZoneIndex(seoul.zones)
    inside = index.inside([s.lat for s in samples], [s.lon for s in samples], [s.alt_m for s in samples])
    p73 = index.ids.index("P-73")
    entered = [s.t for s, row in zip(samples, inside) if row[p73]]
    assert entered, "nk-uav-1 never enters P-73"
    assert entered[0] - seoul.scenario.start_time <= 120.0
    assert all(s.uas_id is None and not s.authorised for s in samples)
    # The other four North Korean drones stay out of P-73.
    for tid in ("nk-uav-2", "nk-uav-3", "nk-uav-4", "nk-uav-5"):
        other = _by_target(seoul.truth)[tid]
        assert not index.inside([s.lat for s in other], [s.lon for s in other], [s.alt_m for s in other])[:, p73].any()


def test_seoul_allow_listed_drone_flies_inside_p73(seoul):
    index = ZoneIndex(seoul.zones)
    p73 = index.ids.index("P-73")
    samples = _by_target(seoul.truth)["police-uav-1"]
    inside = index.inside([s.lat for s in samples], [s.lon for s in samples], [s.alt_m for s in samples])[:, p73]
    assert inside.all()
    assert samples[0].authorised and samples[0].uas_id in seoul.zones[p73].allow_uas_ids
    # The hobby drone broadcasts Remote ID but is in no zone.
    hobby = _by_target(seoul.truth)["hobby-uav-1"]
    assert hobby[0].uas_id is not None
    assert not index.inside([s.lat for s in hobby], [s.lon for s in hobby], [s.alt_m for s in hobby]).any()


def test_gatwick_drones_appear_repeatedly_inside_the_frz(gatwick):
    index = ZoneIndex(gatwick.zones)
    frz = index.ids.index("EGKK-FRZ")
    by = _by_target(gatwick.truth)
    unidentified = {tid: s for tid, s in by.items() if s[0].kind == "drone" and s[0].uas_id is None}
    starts = sorted(s[0].t for s in unidentified.values())
    assert len(unidentified) >= 4 and all(b - a >= 60 for a, b in zip(starts, starts[1:]))
    for samples in unidentified.values():
        assert 40 <= samples[-1].t - samples[0].t <= 90
        assert index.inside([s.lat for s in samples], [s.lon for s in samples], [s.alt_m for s in samples])[:, frz].all()
    inspection = by["egkk-inspection"][0]
    assert all(inspection.uas_id in z.allow_uas_ids for z in gatwick.zones)
    # Arrivals descend through the FRZ to the runway: some manned aircraft are in it near ground.
    manned = [s for s in gatwick.truth if s.kind == "manned_aircraft"]
    low_in_frz = index.inside([s.lat for s in manned], [s.lon for s in manned], [s.alt_m for s in manned])[:, frz] & (
        np.array([s.alt_m for s in manned]) < 200
    )
    assert low_in_frz.sum() > 10


# ---------------------------------------------------------------------------- determinism


def test_same_seed_same_output_and_other_seed_differs():
    scenario = load_scenario("gatwick-2018")
    a, b, c = simulate(scenario, seed=3), simulate(scenario, seed=3), simulate(scenario, seed=4)
    assert a.observations == b.observations and a.truth == b.truth
    assert a.observations != c.observations
    assert a.truth == c.truth  # no birds here: truth does not depend on the seed


def test_clutter_changes_neither_truth_nor_target_plots():
    base = load_scenario("seoul-2022")
    quiet_sensors = tuple(
        msgspec.structs.replace(s, clutter_per_scan=0.0) if isinstance(s, RadarSensor) else s for s in base.sensors
    )
    noisy, quiet = simulate(base, seed=1), simulate(msgspec.structs.replace(base, sensors=quiet_sensors), seed=1)
    assert noisy.truth == quiet.truth
    assert set(quiet.observations) < set(noisy.observations)
    assert noisy.counts()["clutter"] > 0 and quiet.counts()["clutter"] == 0


# --------------------------------------------------------------------------------- sensors


@pytest.mark.parametrize("name", ["seoul-2022", "gatwick-2018"])
def test_observations_lie_within_their_sensors_coverage(name, request):
    result = request.getfixturevalue(name.split("-")[0])
    sensors = {s.id: s for s in result.scenario.sensors}
    obs = result.observations
    pos = _enu(result, [o.lat for o in obs], [o.lon for o in obs], [o.alt_m for o in obs])
    for sid, sensor in sensors.items():
        rows = np.array([o.sensor == sid for o in obs])
        site = _enu(result, [sensor.position.lat], [sensor.position.lon], [sensor.position.alt_m])[0]
        dist = np.hypot(pos[rows, 0] - site[0], pos[rows, 1] - site[1])
        assert rows.any() and dist.max() <= sensor.range_m + 5 * sensor.sigma_h_m, sid


def test_radar_detection_probability_and_noise():
    """20 hovering drones over 200 scans at Pd 0.7: detections and errors match the model."""
    rng = np.random.default_rng(0)
    targets = [
        {"id": f"h{i}", "type": "drone", "end_s": 200, "waypoints": [
            {"lat": 51.0 + float(rng.uniform(-0.03, 0.03)), "lon": float(rng.uniform(-0.04, 0.04)), "alt_m": 200}]}
        for i in range(20)
    ]
    doc = _doc(targets=targets)
    doc["sensors"][0]["pd"] = 0.7
    result = simulate(parse_scenario(doc), seed=0)
    plots = result.observations
    n_looks = 20 * 200
    assert abs(len(plots) - 0.7 * n_looks) < 4 * math.sqrt(n_looks * 0.7 * 0.3)
    truth = {s.target_id: s for s in result.truth if s.t == START}
    true_pos = _enu(result, [t.lat for t in truth.values()], [t.lon for t in truth.values()], [t.alt_m for t in truth.values()])
    plot_pos = _enu(result, [p.lat for p in plots], [p.lon for p in plots], [p.alt_m for p in plots])
    # Associate each plot with the nearest (stationary) drone; drones are ~km apart, noise ~10 m.
    nearest = np.argmin(np.linalg.norm(plot_pos[:, None, :2] - true_pos[None, :, :2], axis=2), axis=1)
    err = plot_pos - true_pos[nearest]
    assert np.std(err[:, 0]) == pytest.approx(10.0, rel=0.1)
    assert np.std(err[:, 2]) == pytest.approx(15.0, rel=0.1)
    assert all(p.sigma_h_m == 10.0 and p.sigma_v_m == 15.0 for p in plots)


def test_radar_plot_time_follows_the_beam():
    """A drone due east of the radar is seen a quarter of a scan after each scan starts."""
    doc = _doc(targets=[{"id": "e", "type": "drone", "end_s": 60, "waypoints": [{"lat": 51.0, "lon": 0.02, "alt_m": 150}]}])
    doc["sensors"][0].update(pd=1.0, scan_period_s=4.0)
    plots = simulate(parse_scenario(doc), seed=0).observations
    phases = {round((p.t - START) % 4.0, 2) for p in plots}
    assert len(plots) == 15 and phases == {1.0}


def test_clutter_count_is_poisson_and_uniform_over_coverage():
    doc = _doc(targets=[], duration_s=2000)
    doc["sensors"][0].update(clutter_per_scan=10, range_m=4000, clutter_max_height_m=600)
    result = simulate(parse_scenario(doc), seed=0)
    plots = result.observations
    per_scan = np.bincount(np.floor(np.array([p.t for p in plots]) - START).astype(int), minlength=2000)
    assert per_scan.mean() == pytest.approx(10.0, abs=4 * math.sqrt(10 / 2000))
    assert per_scan.var() == pytest.approx(10.0, rel=0.15)  # Poisson: variance equals mean
    pos = _enu(result, [p.lat for p in plots], [p.lon for p in plots], [p.alt_m for p in plots])
    r = np.hypot(pos[:, 0], pos[:, 1])
    # (ENU horizontal distance drifts by < 1 m with altitude: the vertical tilts away from the origin.)
    assert r.max() <= 4001.0 and np.mean(r < 2000) == pytest.approx(0.25, abs=0.02)
    alts = np.array([p.alt_m for p in plots])
    assert alts.min() >= 50.0 - 0.01 and alts.max() <= 650.0 + 0.01


def test_remote_id_only_from_broadcasting_drones(seoul):
    drones = {t.remote_id.uas_id: t for t in seoul.scenario.targets if isinstance(t, DroneTarget) and t.remote_id}
    rid = [o for o in seoul.observations if isinstance(o, RemoteIdObservation)]
    assert {o.uas_id for o in rid} == set(drones)
    truth = {(s.uas_id, s.t): s for s in seoul.truth if s.uas_id}
    for o in rid:
        operator = drones[o.uas_id].remote_id.operator
        assert (o.operator_lat, o.operator_lon) == (operator.lat, operator.lon)
        assert o.h_acc_m == 3.0 and 0.0 <= o.track_deg <= 360.0
        near = truth.get((o.uas_id, float(math.floor(o.t))))
        if near is not None:  # within a second of a truth sample: a few metres plus <= 10 m of flight
            assert abs(near.lat - o.lat) * 111_000 < 30
    # One message per second per drone while in range: no duplicates from one receiver.
    keys = [(o.sensor, o.uas_id, round(o.t)) for o in rid]
    assert len(keys) == len(set(keys))


def test_adsb_only_from_manned_aircraft(gatwick):
    manned = {t.icao24: t for t in gatwick.scenario.targets if isinstance(t, MannedAircraftTarget)}
    adsb = [o for o in gatwick.observations if isinstance(o, AdsbObservation)]
    assert {o.icao24 for o in adsb} == set(manned)
    assert all(o.callsign == manned[o.icao24].callsign for o in adsb)
    speeds = np.array([o.speed_mps for o in adsb])
    assert speeds.max() <= 110.0 + 1e-6 and np.median(speeds) > 60.0


def test_birds_are_seen_by_radar_only_and_wander_nearby():
    bird = {"id": "b", "type": "bird", "position": {"lat": 51.0, "lon": 0.0, "alt_m": 100}, "wander_radius_m": 300,
            "speed_mps": 10}
    doc = _doc(targets=[bird])
    doc["sensors"].append({"id": "rid", "type": "remote_id", "position": dict(ORIGIN), "range_m": 5000})
    result = simulate(parse_scenario(doc), seed=2)
    assert result.observations and all(isinstance(o, PlotObservation) for o in result.observations)
    pos = _enu(result, [s.lat for s in result.truth], [s.lon for s in result.truth], [s.alt_m for s in result.truth])
    assert np.hypot(pos[:, 0], pos[:, 1]).max() < 300 + 14 * 8  # one straight stretch past the edge at most
    assert np.ptp(pos[:, 2]) <= 60.0 + 1e-6
    headings = np.degrees(np.arctan2([s.vel_east_mps for s in result.truth], [s.vel_north_mps for s in result.truth]))
    assert np.ptp(headings) > 90  # erratic: it turns


# ------------------------------------------------------------------------------------ motion


@pytest.mark.parametrize("name", ["seoul-2022", "gatwick-2018"])
def test_truth_velocity_matches_position_change(name, request):
    result = request.getfixturevalue(name.split("-")[0])
    checked = 0
    for samples in _by_target(result.truth).values():
        pos = _enu(result, [s.lat for s in samples], [s.lon for s in samples], [s.alt_m for s in samples])
        vel = np.array([[s.vel_east_mps, s.vel_north_mps, s.vel_up_mps] for s in samples])
        dt = np.diff([s.t for s in samples])
        same_leg = np.all(vel[1:] == vel[:-1], axis=1) & (dt == 1.0)
        fd = np.diff(pos, axis=0)[same_leg]
        assert np.abs(fd - vel[1:][same_leg]).max(initial=0.0) < 0.05
        checked += int(same_leg.sum())
    assert checked > 1000


def test_waypoint_speeds_hover_and_disappearance():
    targets = [{"id": "d1", "type": "drone", "speed_mps": 10, "waypoints": [
        {"lat": 51.0, "lon": 0.0, "alt_m": 100, "hover_s": 10},
        {"lat": 51.0, "lon": 0.0, "alt_m": 200},  # 100 m climb at 10 m/s: 10 s
        {"lat": 51.0, "lon": 0.01430, "alt_m": 200, "speed_mps": 20, "hover_s": 5},  # ~1 km at 20 m/s
    ]}, {"id": "d2", "type": "drone", "start_s": 5, "end_s": 30, "speed_mps": 5, "waypoints": [
        {"lat": 51.0, "lon": 0.0, "alt_m": 100}, {"lat": 51.0, "lon": 0.1, "alt_m": 100}]}]
    result = simulate(parse_scenario(_doc(targets=targets)), seed=0)
    d1 = _by_target(result.truth)["d1"]
    rel = {round(s.t - START): s for s in d1}
    assert rel[5].vel_up_mps == 0.0 and rel[5].alt_m == pytest.approx(100.0, abs=0.01)  # hovering
    assert rel[15].vel_up_mps == pytest.approx(10.0) and rel[15].alt_m == pytest.approx(150.0, abs=0.05)
    assert math.hypot(rel[25].vel_east_mps, rel[25].vel_north_mps) == pytest.approx(20.0, abs=0.01)
    leg_s = 20 + 1000.0 / 20  # ~50 s for the 1 km leg, then a 5 s hover
    assert max(rel) == pytest.approx(leg_s + 5, abs=2)
    d2 = _by_target(result.truth)["d2"]
    assert (d2[0].t - START, d2[-1].t - START) == (5.0, 29.0)  # end_s cuts the route short


# -------------------------------------------------------------------------------- synthetic


def test_synthetic_swarm_matches_its_specification():
    scenario = synthetic_swarm(n_drones=60, duration_s=120, clutter_per_scan=3, seed=5)
    radar = next(s for s in scenario.sensors if isinstance(s, RadarSensor))
    assert (radar.scan_period_s, radar.pd, radar.sigma_h_m, radar.sigma_v_m, radar.clutter_per_scan) == (1.0, 0.9, 10.0, 15.0, 3)
    assert radar.range_m >= 5000 * math.sqrt(2)
    drones = [t for t in scenario.targets if isinstance(t, DroneTarget)]
    assert len(drones) == 60 and 0.3 < np.mean([d.remote_id is not None for d in drones]) < 0.7
    assert any(isinstance(t, MannedAircraftTarget) for t in scenario.targets) and len(scenario.zones) >= 2
    result = simulate(scenario, seed=0)
    drone_truth = [s for s in result.truth if s.kind == "drone"]
    speed = np.array([math.sqrt(s.vel_east_mps**2 + s.vel_north_mps**2 + s.vel_up_mps**2) for s in drone_truth])
    assert speed.max() <= 30.0 + 1e-3 and np.median(speed[speed > 0]) >= 5.0
    pos = _enu(result, [s.lat for s in drone_truth], [s.lon for s in drone_truth], [s.alt_m for s in drone_truth])
    assert np.abs(pos[:, :2]).max() <= 5000.0 + 1.0
    assert synthetic_swarm(n_drones=60, duration_s=120, clutter_per_scan=3, seed=5) == scenario


# ------------------------------------------------------------------------------------ files


def test_written_files_round_trip(tmp_path: Path, gatwick):
    out, truth, zones = tmp_path / "obs.jsonl", tmp_path / "truth.jsonl", tmp_path / "zones.geojson"
    counts = write_simulation(gatwick, out, truth, zones)
    lines = out.read_bytes().splitlines()
    assert counts["observations"] == len(lines) == len(gatwick.observations)
    assert [decode_observation(line) for line in lines] == gatwick.observations
    assert read_truth(truth) == gatwick.truth and counts["truth"] == len(gatwick.truth)
    assert load_zones(zones) == gatwick.zones
    first = msgspec.json.decode(truth.read_bytes().splitlines()[0])
    assert {"t", "target_id", "kind", "lat", "lon", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps", "authorised"} <= set(first)


def test_toml_and_yaml_files_load_the_same(tmp_path: Path):
    yaml_path = tmp_path / "s.yaml"
    yaml_path.write_text(
        "name: t\nstart_time: 1700000000\nduration_s: 60\norigin: {lat: 51.0, lon: 0.0, alt_m: 50}\n"
        "targets:\n  - {id: d, type: drone, speed_mps: 10, waypoints: [{lat: 51.0, lon: 0.0, alt_m: 100}, {lat: 51.0, lon: 0.01, alt_m: 100}]}\n"
    )
    toml_path = tmp_path / "s.toml"
    toml_path.write_text(
        'name = "t"\nstart_time = 1700000000\nduration_s = 60\norigin = {lat = 51.0, lon = 0.0, alt_m = 50}\n'
        '[[targets]]\nid = "d"\ntype = "drone"\nspeed_mps = 10\n'
        "waypoints = [{lat = 51.0, lon = 0.0, alt_m = 100}, {lat = 51.0, lon = 0.01, alt_m = 100}]\n"
    )
    assert load_scenario(yaml_path) == load_scenario(str(toml_path))


# ------------------------------------------------------------------------------- validation


def _broken(edit) -> dict[str, Any]:
    doc = copy.deepcopy(_doc())
    edit(doc)
    return doc


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["targets"][0]["waypoints"][0].update(lat=95), ["targets[0].waypoints[0].lat", "95"]),
        (lambda d: d["targets"][0].pop("waypoints"), ["targets[0].waypoints", "required"]),
        (lambda d: d["targets"][0].update(waypoints=[]), ["targets[0].waypoints"]),
        (lambda d: d["sensors"][0].update(type="sonar"), ["sensors[0].type", "sonar"]),
        (lambda d: d["sensors"][0].update(sigma_h=3), ["sensors[0].sigma_h", "unknown field"]),
        (lambda d: d["sensors"][0].update(pd=1.5), ["sensors[0].pd", "1.5"]),
        (lambda d: d["targets"][0].pop("speed_mps"), ["targets[0].waypoints[1].speed_mps"]),
        (lambda d: d["targets"].append(dict(d["targets"][0])), ["targets[1].id", "duplicate"]),
        (lambda d: d["targets"][0].update(start_s=500), ["targets[0].start_s"]),
        (lambda d: d.update(zones=[{"type": "Feature", "geometry": None, "properties": {"id": "z"}}]), ["zones", "geometry"]),
        (lambda d: d.update(start_time=1.7e12), ["start_time"]),
        (lambda d: d.pop("origin"), ["origin", "required"]),
    ],
)
def test_invalid_scenarios_name_the_field(edit, expected):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_broken(edit), source="bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: ")
    for fragment in expected:
        assert fragment in message


def test_load_scenario_rejects_unknown_names_and_bad_files(tmp_path: Path):
    with pytest.raises(ScenarioError, match="seoul-2022"):
        load_scenario("no-such-scenario")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="unsupported"):
        load_scenario(tmp_path / "s.json")


def test_adding_a_sensor_leaves_other_sensors_unchanged():
    base = _doc()
    extra = copy.deepcopy(base)
    extra["sensors"].insert(0, {"id": "r0", "type": "radar", "position": dict(ORIGIN), "range_m": 3000, "clutter_per_scan": 5})
    first = simulate(parse_scenario(base), seed=7).observations
    second = [o for o in simulate(parse_scenario(extra), seed=7).observations if o.sensor == "r1"]
    assert first == second and len(first) > 50


def test_swarm_simulation_sees_most_drones_on_most_scans():
    # (Its speed is the replay benchmark's business: bench/replay_throughput.py simulates first.)
    scenario = synthetic_swarm(n_drones=300, duration_s=600, clutter_per_scan=10, seed=0)
    result = simulate(scenario, seed=0)
    assert result.counts()["plot"] > 0.8 * 0.9 * 300 * 600 * 0.9  # most drones seen on most scans
