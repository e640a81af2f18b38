"""The command line end to end: simulate -> replay -> evaluate on every built-in scenario."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from skywarden.cli.main import main
from skywarden.sim import list_builtin_scenarios


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "skywarden.cli.main", *map(str, args)], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module", params=list_builtin_scenarios())
def scenario_run(request, tmp_path_factory):
    name = request.param
    d = tmp_path_factory.mktemp(name)
    obs, truth, zones = d / "obs.jsonl", d / "truth.jsonl", d / "zones.geojson"
    tracks, alerts, db, report = d / "tracks.jsonl", d / "alerts.jsonl", d / "run.db", d / "report.json"
    assert main(["simulate", name, "--out", str(obs), "--truth", str(truth), "--zones-out", str(zones)]) == 0
    assert main(["replay", str(obs), "--zones", str(zones), "--tracks-out", str(tracks), "--alerts-out", str(alerts), "--db", str(db)]) == 0
    assert main(["evaluate", str(truth), str(tracks), str(alerts), "--zones", str(zones), "--json", str(report)]) == 0
    return name, d, json.loads(report.read_text())


def test_every_intruder_is_alerted_within_5_s(scenario_run):
    name, _, report = scenario_run
    alerts = report["alerts"]
    assert alerts["expected"] >= 1
    assert alerts["detected"] == alerts["expected"], alerts["entries"]
    assert max(e["delay_s"] for e in alerts["entries"]) <= 5.0


def test_no_false_or_duplicate_alerts(scenario_run):
    _, _, report = scenario_run
    assert report["alerts"]["false_alerts"] == []
    assert report["alerts"]["duplicates"] == []


def test_tracks_are_accurate(scenario_run):
    _, _, report = scenario_run
    g = report["gospa"]
    assert g["mean_missed_targets"] < 0.3
    assert g["mean_false_tracks"] < 0.3


def test_outputs_follow_the_contract(scenario_run):
    _, d, _ = scenario_run
    tracks = [json.loads(line) for line in (d / "tracks.jsonl").read_text().splitlines()]
    required = {"t", "track_id", "lat", "lon", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps", "class"}
    assert tracks and all(required <= set(t) for t in tracks)
    assert {t["class"] for t in tracks} <= {"drone", "manned_aircraft", "bird", "unknown"}
    assert any("icao24" in t for t in tracks)
    alerts = [json.loads(line) for line in (d / "alerts.jsonl").read_text().splitlines()]
    assert alerts and all({"t", "alert_id", "zone_id", "track_id", "kind", "state"} <= set(a) for a in alerts)
    assert {a["kind"] for a in alerts} == {"zone_entry"}
    opened = {a["alert_id"] for a in alerts if a["state"] == "open"}
    resolved = {a["alert_id"] for a in alerts if a["state"] == "resolved"}
    assert opened == resolved  # every alert resolves by the end of the replay


def test_store_holds_everything(scenario_run):
    _, d, _ = scenario_run
    lines = sum(1 for _ in open(d / "obs.jsonl"))
    db = sqlite3.connect(d / "run.db")
    assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == lines
    assert db.execute("SELECT count(*) FROM track_updates").fetchone()[0] == sum(1 for _ in open(d / "tracks.jsonl"))
    assert db.execute("SELECT count(*) FROM alert_events").fetchone()[0] == sum(1 for _ in open(d / "alerts.jsonl"))


def test_replay_is_deterministic(scenario_run, tmp_path):
    _, d, _ = scenario_run
    again = tmp_path / "tracks.jsonl"
    assert main(["replay", str(d / "obs.jsonl"), "--zones", str(d / "zones.geojson"), "--tracks-out", str(again), "--alerts-out", str(tmp_path / "a.jsonl")]) == 0
    assert again.read_bytes() == (d / "tracks.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() == (d / "alerts.jsonl").read_bytes()


def test_replay_counts_malformed_lines_and_keeps_the_rest(tmp_path, capsys):
    good = {"kind": "plot", "t": 1_700_000_000.0, "sensor": "r", "lat": 51.1, "lon": -0.1, "alt_m": 100.0}
    lines = [json.dumps(dict(good, t=good["t"] + k)) for k in range(10)]
    lines.insert(3, "{broken")
    lines.insert(6, json.dumps(dict(good, lat=91)))
    obs = tmp_path / "obs.jsonl"
    obs.write_text("\n".join(lines) + "\n")
    assert main(["replay", str(obs), "--tracks-out", str(tmp_path / "t.jsonl"), "--summary-json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "rejected:         2 (invalid_json: 1, invalid_value: 1)" in out
    assert "line 4: invalid_json" in out and "line 7: invalid_value" in out
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["accepted"] == 10 and summary["lines"] == 12
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) >= 7  # one target, confirmed on its 3rd plot


@pytest.mark.parametrize(
    "args, message",
    [
        (["replay", "missing.jsonl"], "no such file: missing.jsonl"),
        (["simulate", "atlantis", "--out", "o", "--truth", "t"], "atlantis"),
        (["replay", "{obs}", "--zones", "{bad_zones}"], "feature #0"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, args, message):
    obs = tmp_path / "obs.jsonl"
    obs.write_text("")
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}, "properties": {"id": "x"}}]}))
    args = [a.format(obs=obs, bad_zones=bad) for a in args]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sigint_drains_and_stores_everything_read(tmp_path):
    # A slow source: a FIFO the test writes into, so the interrupt arrives mid-stream.
    fifo = tmp_path / "obs.fifo"
    os.mkfifo(fifo)
    db = tmp_path / "run.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skywarden.cli.main", "replay", str(fifo), "--db", str(db), "--tracks-out", str(tmp_path / "t.jsonl")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    good = {"kind": "plot", "sensor": "r", "lat": 51.1, "lon": -0.1, "alt_m": 100.0}
    with open(fifo, "w") as f:
        for k in range(500):
            f.write(json.dumps(dict(good, t=1_700_000_000.0 + k * 0.1, lat=51.1 + k * 1e-5)) + "\n")
        f.flush()
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        # Keep the pipe open briefly: the reader must stop because of the signal, not EOF.
        time.sleep(1.0)
        try:
            f.write(json.dumps(dict(good, t=1_700_000_100.0)) + "\n")
        except BrokenPipeError:
            pass
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in out
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM observations").fetchone()[0]
    assert stored >= 500
