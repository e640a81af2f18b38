"""Tests of skywarden.eval: the GOSPA function and the file-level evaluation."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skywarden.core.frame import LocalFrame
from skywarden.eval import evaluate_files, format_report, gospa, report_to_dict
from skywarden.eval.evaluate import count_id_switches, group_scans

C = 100.0
T0 = 1_764_201_600.0  # 2025-11-27T00:00:00Z
SITE = LocalFrame(51.0, 0.0, 0.0)


# ---------------------------------------------------------------------------------------------
# GOSPA, hand-computed


def test_empty_against_empty_is_zero():
    r = gospa(np.zeros((0, 3)), np.zeros((0, 3)))
    assert (r.distance, r.localisation, r.missed, r.false, r.assignment) == (0.0, 0.0, 0, 0, [])


def test_one_truth_and_no_track_costs_half_c():
    r = gospa([[1.0, 2.0, 3.0]], np.zeros((0, 3)), c=C)
    assert r.distance == pytest.approx(C / 2)
    assert (r.missed, r.false) == (1, 0)


def test_one_false_track_costs_half_c():
    r = gospa(np.zeros((0, 3)), [[1.0, 2.0, 3.0]], c=C)
    assert r.distance == pytest.approx(C / 2)
    assert (r.missed, r.false) == (0, 1)


def test_pair_closer_than_c_costs_its_distance():
    r = gospa([[0.0, 0.0, 0.0]], [[30.0, 40.0, 0.0]], c=C)
    assert r.distance == pytest.approx(50.0)
    assert r.localisation == pytest.approx(50.0)
    assert r.assignment == [(0, 0)]
    assert (r.missed, r.false) == (0, 0)


@pytest.mark.parametrize("gap", [100.0, 150.0, 10_000.0])
def test_pair_at_or_beyond_c_is_capped_as_missed_plus_false(gap):
    r = gospa([[0.0, 0.0, 0.0]], [[0.0, 0.0, gap]], c=C)
    assert r.distance == pytest.approx(C)
    assert (r.missed, r.false, r.assignment, r.localisation) == (1, 1, [], 0.0)


def test_optimal_assignment_beats_greedy_nearest_first():
    # Greedy would pair truth 0 with track 0 (45 m) and leave truth 1 and track 1 apart (140 m):
    # 45 + 100 = 145. The optimum crosses over: 50 + 45 = 95.
    r = gospa([[0.0, 0, 0], [90.0, 0, 0]], [[45.0, 0, 0], [-50.0, 0, 0]], c=C)
    assert r.distance == pytest.approx(95.0)
    assert r.assignment == [(0, 1), (1, 0)]


def test_order_p_takes_the_root_of_the_sum():
    # 3-4-5 pair plus one missed truth: (5^2 + 100^2 / 2) ** 0.5.
    r = gospa([[0.0, 0, 0], [1000.0, 0, 0]], [[3.0, 4.0, 0]], c=C, p=2.0)
    assert r.distance == pytest.approx(math.sqrt(25.0 + C**2 / 2))
    assert r.localisation == pytest.approx(25.0)


def test_alpha_one_charges_c_per_cardinality_mismatch():
    assert gospa([[0.0, 0, 0]], np.zeros((0, 3)), c=C, alpha=1.0).distance == pytest.approx(C)


@pytest.mark.parametrize(
    "kwargs", [{"c": 0.0}, {"c": -1.0}, {"p": 0.5}, {"p": math.inf}, {"alpha": 0.0}, {"alpha": 2.5}]
)
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        gospa([[0.0, 0, 0]], [[0.0, 0, 0]], **kwargs)


def test_bad_arrays_are_rejected():
    with pytest.raises(ValueError, match="coordinates per row"):
        gospa([[0.0, 0, 0]], [[0.0, 0]])
    with pytest.raises(ValueError, match="non-finite"):
        gospa([[0.0, math.nan, 0]], [[0.0, 0, 0]])


def test_permutation_invariance():
    rng = np.random.default_rng(7)
    x = rng.uniform(-200, 200, (8, 3))
    y = x[:6] + rng.normal(0, 20, (6, 3))
    base = gospa(x, y, c=C)
    px, py = rng.permutation(8), rng.permutation(6)
    shuffled = gospa(x[px], y[py], c=C)
    assert shuffled.distance == pytest.approx(base.distance)
    assert sorted((px[i], py[j]) for i, j in shuffled.assignment) == sorted(base.assignment)


# ---------------------------------------------------------------------------------------------
# GOSPA, properties

# Points in a 250 m box, so many pairs fall within c and assignments are contested.
_points = st.integers(0, 5).flatmap(
    lambda n: arrays(np.float64, (n, 3), elements=st.floats(-125, 125, allow_nan=False, allow_infinity=False))
)


def _brute_force_gospa(x: np.ndarray, y: np.ndarray, c: float) -> float:
    """GOSPA (p = 1, alpha = 2) by trying every partial assignment of truths to estimates."""
    best = math.inf
    for choice in itertools.permutations(list(range(len(y))) + [None] * len(x), len(x)):
        cost, used = 0.0, 0
        for i, j in enumerate(choice):
            d = math.inf if j is None else float(np.linalg.norm(x[i] - y[j]))
            if d < c:
                cost, used = cost + d, used + 1
        best = min(best, cost + c / 2 * (len(x) + len(y) - 2 * used))
    return best


@settings(max_examples=200, deadline=None)
@given(_points, _points)
def test_gospa_properties(x, y):
    r = gospa(x, y, c=C)
    assert 0.0 <= r.distance <= C / 2 * (len(x) + len(y)) + 1e-9
    assert r.distance == pytest.approx(r.localisation + C / 2 * (r.missed + r.false))
    assert r.missed == len(x) - len(r.assignment) and r.false == len(y) - len(r.assignment)
    assert all(np.linalg.norm(x[i] - y[j]) < C for i, j in r.assignment)
    assert gospa(y, x, c=C).distance == pytest.approx(r.distance)
    assert r.distance == pytest.approx(_brute_force_gospa(x, y, C), abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(_points, _points, _points)
def test_gospa_triangle_inequality(x, y, z):
    assert gospa(x, z).distance <= gospa(x, y).distance + gospa(y, z).distance + 1e-6


def test_id_switches_remember_the_last_track_across_gaps():
    # Target 0: track 7, unassigned, 7 again (no switch), then 9 (switch). Target 1: 8, 8.
    assert count_id_switches([0, 1, 0, 1, 0], [7, 8, 7, 8, 9]) == 1
    assert count_id_switches([], []) == 0


def test_truth_times_within_a_millisecond_form_one_scan():
    scan_t, scan_of = group_scans([T0, T0 + 1.0, T0 + 0.0004, T0 + 2.0])
    assert scan_t.tolist() == [T0 + 0.0004, T0 + 1.0, T0 + 2.0]
    assert scan_of.tolist() == [0, 1, 0, 2]


# ---------------------------------------------------------------------------------------------
# Files


def _lat_lon_alt(east: float, north: float, up: float) -> tuple[float, float, float]:
    lat, lon, alt = SITE.to_geodetic([east], [north], [up])
    return float(lat[0]), float(lon[0]), float(alt[0])


def _truth(t: float, target_id: str, kind: str, enu, vel, **extra) -> dict:
    lat, lon, alt = _lat_lon_alt(*enu)
    return {"t": t, "target_id": target_id, "kind": kind, "lat": lat, "lon": lon, "alt_m": alt,
            "vel_east_mps": vel[0], "vel_north_mps": vel[1], "vel_up_mps": vel[2], "authorised": False, **extra}


def _track(t: float, track_id: int, enu, vel, cls: str = "drone") -> dict:
    lat, lon, alt = _lat_lon_alt(*enu)
    return {"t": t, "track_id": track_id, "lat": lat, "lon": lon, "alt_m": alt,
            "vel_east_mps": vel[0], "vel_north_mps": vel[1], "vel_up_mps": vel[2], "class": cls}


def _alert(t: float, alert_id: int, track_id: int, zone_id: str = "Z1", state: str = "open") -> dict:
    return {"t": t, "alert_id": alert_id, "zone_id": zone_id, "track_id": track_id, "kind": "zone_entry",
            "state": state, "reason": "entered" if state == "open" else "left_zone"}


def _write_jsonl(path: Path, rows: list, extra_lines: tuple[str, ...] = ()) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "".join(line + "\n" for line in extra_lines))
    return path


def _zones(path: Path) -> Path:
    """Z1: a 300 m circle around the site, up to 400 m, allowing RID-OK. Z2: a square 3 km north."""
    lat_s, lon_w, _ = _lat_lon_alt(-200.0, 2800.0, 0.0)
    lat_n, lon_e, _ = _lat_lon_alt(200.0, 3200.0, 0.0)
    square = [[lon_w, lat_s], [lon_e, lat_s], [lon_e, lat_n], [lon_w, lat_n], [lon_w, lat_s]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [SITE.lon0, SITE.lat0]},
         "properties": {"id": "Z1", "radius_m": 300.0, "upper_m": 400.0, "allow_uas_ids": ["RID-OK"]}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]},
         "properties": {"id": "Z2", "upper_m": 400.0}},
    ]}
    path.write_text(json.dumps(doc))
    return path


def _run(tmp_path: Path, truth: list, tracks: list, alerts: list = (), truth_extra: tuple[str, ...] = ()):
    """Evaluate the given rows against the test zones."""
    return evaluate_files(
        _write_jsonl(tmp_path / "truth.jsonl", truth, truth_extra),
        _write_jsonl(tmp_path / "tracks.jsonl", tracks),
        _write_jsonl(tmp_path / "alerts.jsonl", list(alerts)),
        _zones(tmp_path / "zones.geojson"),
    )


@pytest.fixture
def alert_run(tmp_path: Path):
    """Three drones fly east through Z1 at 10 m/s, an airliner west over it; tracks follow 5 m off.

    D1 is inside Z1 from t0+31 s to t0+90 s (x from -295 m to 295 m); D2 (y = 150 m) from t0+35 s
    to t0+86 s; D3 (y = -150 m) broadcasts the allow-listed RID-OK.
    """
    movers = {  # target -> (kind, start ENU, velocity, extra fields, track id)
        "D1": ("drone", (-605.0, 0.0, 100.0), (10.0, 0.0, 0.0), {"uas_id": "RID-D1"}, 11),
        "D2": ("drone", (-605.0, 150.0, 100.0), (10.0, 0.0, 0.0), {"uas_id": "RID-D2"}, 12),
        "D3": ("drone", (-605.0, -150.0, 100.0), (10.0, 0.0, 0.0), {"uas_id": "RID-OK"}, 13),
        "A1": ("manned_aircraft", (1200.0, 50.0, 300.0), (-20.0, 0.0, 0.0), {"icao24": "abc123"}, 14),
    }
    truth, tracks = [], []
    for target_id, (kind, start, vel, extra, track_id) in movers.items():
        def at(s, start=start, vel=vel):  # position after s seconds
            return tuple(p + v * s for p, v in zip(start, vel))
        truth += [_truth(T0 + k, target_id, kind, at(k), vel, **extra) for k in range(121)]
        tracks += [_track(T0 + k + 0.5, track_id, np.add(at(k + 0.5), (0, 5, 0)), vel) for k in range(2, 120)]
    tracks += [_track(T0 + k, 99, (800.0, -800.0, 100.0), (0, 0, 0), "unknown") for k in range(55, 66)]
    alerts = [
        _alert(T0 + 32.5, 1, 11),  # D1 entered at t0+31: detected, 1.5 s late
        _alert(T0 + 40.5, 2, 13),  # D3 is allow-listed
        _alert(T0 + 45.5, 5, 11),  # D1 again: duplicate of alert 1
        _alert(T0 + 50.5, 3, 14),  # the airliner
        _alert(T0 + 60.5, 4, 99),  # clutter
        _alert(T0 + 70.5, 6, 11, zone_id="Z2"),  # D1 is nowhere near Z2
        _alert(T0 + 20.5, 7, 11),  # more than 10 s before D1's entry
        _alert(T0 + 95.5, 8, 11),  # more than 5 s after D1's exit
        _alert(T0 + 91.5, 1, 11, state="resolved"),
    ]
    bad_truth = ("garbage", '{"t": 1764201600, "target_id": "X"}',
                 json.dumps({**truth[0], "lat": 200.0}), "")
    bad_tracks = ("{not json", json.dumps({**tracks[0], "lat": 95.0}), json.dumps({**tracks[0], "class": "ufo"}))
    paths = (
        _write_jsonl(tmp_path / "truth.jsonl", truth, bad_truth),
        _write_jsonl(tmp_path / "tracks.jsonl", tracks, bad_tracks),
        _write_jsonl(tmp_path / "alerts.jsonl", alerts, ('{"state": "open"}',)),
        _zones(tmp_path / "zones.geojson"),
    )
    return evaluate_files(*paths)


def test_detected_entry_has_its_delay(alert_run):
    d1 = next(e for e in alert_run.alerts.entries if e.target_id == "D1")
    assert d1.detected and d1.alert_id == 1
    assert d1.zone_id == "Z1"
    assert d1.entry_t == pytest.approx(T0 + 31.0)
    assert d1.exit_t == pytest.approx(T0 + 90.0)
    assert d1.delay_s == pytest.approx(1.5)


def test_undetected_entry_halves_recall(alert_run):
    a = alert_run.alerts
    assert (a.expected, a.detected, a.recall) == (2, 1, 0.5)
    d2 = next(e for e in a.entries if e.target_id == "D2")
    assert not d2.detected and d2.delay_s is None
    assert d2.entry_t == pytest.approx(T0 + 35.0)
    assert a.delays_s == [pytest.approx(1.5)] and a.delay_max_s == pytest.approx(1.5)


def test_allow_listed_drone_expects_no_alert_and_its_alert_is_false(alert_run):
    a = alert_run.alerts
    assert a.allow_listed_visits == 1
    assert "D3" not in {e.target_id for e in a.entries}
    (d3,) = [f for f in a.false_alerts if f.alert_id == 2]
    assert (d3.target_id, d3.reason) == ("D3", "drone allow-listed")


def test_false_alerts_name_aircraft_clutter_and_wrong_zone(alert_run):
    reasons = {f.alert_id: (f.target_id, f.target_kind, f.reason) for f in alert_run.alerts.false_alerts}
    assert reasons == {
        2: ("D3", "drone", "drone allow-listed"),
        3: ("A1", "manned_aircraft", "manned_aircraft"),
        4: (None, None, "no target"),
        6: ("D1", "drone", "drone outside zone"),
        7: ("D1", "drone", "drone outside zone"),
        8: ("D1", "drone", "drone outside zone"),
    }
    assert alert_run.alerts.open_alerts == 8


def test_second_alert_on_one_entry_is_a_duplicate(alert_run):
    (dup,) = alert_run.alerts.duplicates
    assert (dup.alert_id, dup.first_alert_id, dup.target_id) == (5, 1, "D1")


def test_malformed_lines_are_skipped_and_counted(alert_run):
    inputs = alert_run.inputs
    assert (inputs["truth"].skipped, inputs["truth"].records) == (3, 4 * 121)
    assert (inputs["tracks"].skipped, inputs["tracks"].records) == (3, 4 * 118 + 11)
    assert (inputs["alerts"].skipped, inputs["alerts"].records) == (1, 9)
    assert inputs["truth"].errors[0].startswith(f"line {4 * 121 + 1}: ")


def test_tracks_five_metres_off_score_five_metres_per_target(alert_run):
    g = alert_run.gospa
    # Scans from t0+3 on see all four tracks 5 m from their targets (clutter adds c/2 at 11 scans).
    steady = [s for s in g.per_scan if s.t >= T0 + 3 and not (T0 + 55 <= s.t <= T0 + 68)]
    assert all(s.gospa == pytest.approx(20.0, abs=0.1) for s in steady)
    assert steady[0].assignment == {"D1": 11, "D2": 12, "D3": 13, "A1": 14}
    assert g.id_switches == 0


def test_report_is_json_and_text(alert_run):
    d = json.loads(json.dumps(report_to_dict(alert_run)))
    assert d["alerts"]["recall"] == 0.5
    assert d["gospa"]["per_scan"][5]["assignment"]["D1"] == 11
    text = format_report(alert_run)
    assert "2 expected, 1 detected, recall 50.0%" in text
    assert "no target: 1" in text and "manned_aircraft: 1" in text
    assert "missed: D2 in Z1 at 00:00:35.0Z" in text
    assert "duplicate alerts: 1" in text


@pytest.fixture
def handover_run(tmp_path: Path):
    """One target hovers at the site for 21 scans; track 1 covers it 10 m off, then track 2, 20 m off.

    Track 1 updates at t0+0.5 .. t0+9.5 (so scan 0 has no track yet) and stays live 3 s after its
    last update; track 2 updates at t0+10 .. t0+20.
    """
    truth = [_truth(T0 + k, "T", "drone", (0.0, 0.0, 100.0), (0, 0, 0)) for k in range(21)]
    tracks = [_track(T0 + k + 0.5, 1, (10.0, 0.0, 100.0), (0, 0, 0)) for k in range(10)]
    tracks += [_track(T0 + k, 2, (0.0, 20.0, 100.0), (0, 0, 0)) for k in range(10, 21)]
    return _run(tmp_path, truth, tracks)


def test_gospa_per_scan_follows_track_ages(handover_run):
    g = handover_run.gospa
    expected = [50.0] + [10.0] * 9 + [60.0] * 3 + [20.0] * 8
    assert [s.gospa for s in g.per_scan] == pytest.approx(expected, abs=0.01)
    assert [s.missed for s in g.per_scan[:2]] == [1, 0]
    assert [s.false for s in g.per_scan[9:14]] == [0, 1, 1, 1, 0]
    assert g.per_scan[12].assignment == {"T": 1} and g.per_scan[13].assignment == {"T": 2}


def test_gospa_means_and_parts(handover_run):
    g = handover_run.gospa
    assert g.scans == 21
    assert g.mean == pytest.approx(480.0 / 21, abs=1e-3)
    assert g.mean_missed_part == pytest.approx(50.0 / 21)
    assert g.mean_false_part == pytest.approx(150.0 / 21)
    assert g.mean_localisation_part == pytest.approx(280.0 / 21, abs=1e-3)
    assert g.scans_after_warmup == 11
    assert g.mean_after_warmup == pytest.approx(340.0 / 11, abs=1e-3)
    assert g.id_switches == 1


def test_tracks_are_extrapolated_to_the_scan_time(tmp_path: Path):
    # A target flies east at 10 m/s; its track reports the exact state only every 2.5 s.
    truth = [_truth(T0 + k, "T", "drone", (-100.0 + 10 * k, 0.0, 100.0), (10.0, 0, 0)) for k in range(20)]
    tracks = [_track(T0 + s, 1, (-100.0 + 10 * s, 0.0, 100.0), (10.0, 0, 0)) for s in np.arange(0, 20, 2.5)]
    report = _run(tmp_path, truth, tracks)
    assert max(s.gospa for s in report.gospa.per_scan) < 0.05


def test_repeated_truth_line_is_one_target(tmp_path: Path):
    truth = [_truth(T0 + k, "T", "drone", (0.0, 0.0, 100.0), (0, 0, 0)) for k in range(3)]
    tracks = [_track(T0 + k, 1, (0.0, 0.0, 100.0), (0, 0, 0)) for k in range(3)]
    report = _run(tmp_path, truth + truth[1:2], tracks)
    assert [(s.missed, s.false) for s in report.gospa.per_scan] == [(0, 0)] * 3


def test_alert_from_an_unassigned_second_track_falls_back_to_the_nearest_target(tmp_path: Path):
    # Track 11 follows D1 5 m off and wins every GOSPA assignment; track 21, 30 m off, never does,
    # yet its alert must still be credited to D1's entry (t0+31). Track 777 never existed.
    at = lambda s: (-605.0 + 10 * s, 0.0, 100.0)  # noqa: E731
    truth = [_truth(T0 + k, "D1", "drone", at(k), (10.0, 0, 0), uas_id="RID-D1") for k in range(60)]
    tracks = [_track(T0 + k, 11, np.add(at(k), (0, 5, 0)), (10.0, 0, 0)) for k in range(60)]
    tracks += [_track(T0 + k, 21, np.add(at(k), (0, 30, 0)), (10.0, 0, 0)) for k in range(30, 40)]
    report = _run(tmp_path, truth, tracks, [_alert(T0 + 33.0, 1, 21), _alert(T0 + 34.0, 2, 777)])
    assert all(21 not in s.assignment.values() for s in report.gospa.per_scan)
    (entry,) = report.alerts.entries
    assert (entry.alert_id, entry.delay_s) == (1, pytest.approx(2.0))
    assert [(f.alert_id, f.reason) for f in report.alerts.false_alerts] == [(2, "no target")]


def test_alert_between_two_visits_goes_to_the_nearer_one(tmp_path: Path):
    # D1 is in Z1 for t0+0..9 s, out for 10..12 s, in again for 13..30 s. An alert at t0+13.5 is
    # within 5 s of the first exit but belongs to the second entry.
    at = lambda k: (1000.0 if 10 <= k <= 12 else 0.0, 0.0, 100.0)  # noqa: E731
    truth = [_truth(T0 + k, "D1", "drone", at(k), (0, 0, 0), uas_id="RID-D1") for k in range(31)]
    tracks = [_track(T0 + k, 11, at(k), (0, 0, 0)) for k in range(31)]
    report = _run(tmp_path, truth, tracks, [_alert(T0 + 0.5, 1, 11), _alert(T0 + 13.5, 2, 11)])
    entries = [(e.entry_t - T0, e.exit_t - T0, e.alert_id, e.delay_s) for e in report.alerts.entries]
    assert entries == [(0.0, 9.0, 1, 0.5), (13.0, 30.0, 2, 0.5)]
    assert report.alerts.duplicates == [] and report.alerts.recall == 1.0


def test_empty_inputs_give_an_empty_report(tmp_path: Path):
    report = _run(tmp_path, [], [], [_alert(T0, 1, 5)], truth_extra=("not json",))
    assert (report.gospa.scans, report.gospa.mean, report.gospa.id_switches) == (0, None, 0)
    assert (report.alerts.expected, report.alerts.recall, report.alerts.delay_mean_s) == (0, None, None)
    assert [f.reason for f in report.alerts.false_alerts] == ["no target"]
    assert "recall n/a" in format_report(report)
    assert report.inputs["truth"].skipped == 1
