"""RF direction finders end to end: simulated bearings -> replay -> a tracked, alerted intruder.

No radar and no Remote ID: the drone is seen only by three direction finders around a prison.
"""

import json

import yaml

from skywarden.cli.main import main
from skywarden.core.records import BearingObservation
from skywarden.sim import parse_scenario, simulate

SITE = {"lat": 51.50, "lon": -0.10, "alt_m": 50.0}


def _scenario() -> dict:
    df = [("df-north", 51.515, -0.10), ("df-east", 51.495, -0.078), ("df-west", 51.495, -0.122)]
    return {
        "name": "df-prison", "start_time": 1764201600, "duration_s": 240, "origin": SITE,
        "sensors": [{"id": i, "type": "rf_df", "position": {"lat": lat, "lon": lon, "alt_m": 60.0}, "range_m": 5000,
                     "sigma_azimuth_deg": 1.5, "pd": 0.9} for i, lat, lon in df],
        "targets": [{"id": "intruder", "type": "drone", "speed_mps": 15,
                     "waypoints": [{"lat": 51.512, "lon": -0.115, "alt_m": 110}, {"lat": 51.500, "lon": -0.100, "alt_m": 90, "hover_s": 60},
                                   {"lat": 51.480, "lon": -0.090, "alt_m": 110}]}],
        "zones": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.100, 51.500]},
                   "properties": {"id": "prison", "name": "HMP", "radius_m": 300, "upper_m": 500}}],
    }


def test_direction_finders_report_bearings_from_their_own_position():
    result = simulate(parse_scenario(_scenario()), seed=1)
    bearings = [o for o in result.iter_observations() if isinstance(o, BearingObservation)]
    assert result.counts()["bearing"] == len(bearings) > 0
    north = [b for b in bearings if b.sensor == "df-north"]
    assert {(b.lat, b.lon) for b in north} == {(51.515, -0.10)}
    # 3 sensors x 1 bearing/s x Pd 0.9 while the drone flies (at most 240 s)
    assert 0.5 * 3 * 0.9 * 240 < len(bearings) <= 3 * 240
    assert all(b.sigma_azimuth_deg == 1.5 for b in bearings)


def test_bearings_alone_track_and_alert_the_intruder(tmp_path):
    scenario = tmp_path / "df.yaml"
    scenario.write_text(yaml.safe_dump(_scenario()))
    obs, truth, zones = tmp_path / "obs.jsonl", tmp_path / "truth.jsonl", tmp_path / "zones.geojson"
    tracks, alerts, report = tmp_path / "tracks.jsonl", tmp_path / "alerts.jsonl", tmp_path / "report.json"
    assert main(["simulate", str(scenario), "--out", str(obs), "--truth", str(truth), "--zones-out", str(zones), "--seed", "2"]) == 0
    assert main(["replay", str(obs), "--zones", str(zones), "--tracks-out", str(tracks), "--alerts-out", str(alerts)]) == 0
    assert main(["evaluate", str(truth), str(tracks), str(alerts), "--zones", str(zones), "--json", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["alerts"]["detected"] == r["alerts"]["expected"] == 1, r["alerts"]
    assert r["alerts"]["entries"][0]["delay_s"] <= 5.0
    assert r["alerts"]["false_alerts"] == []
    ids = {json.loads(line)["track_id"] for line in tracks.read_text().splitlines()}
    assert len(ids) <= 2  # one drone, one track (allowing one re-start)
