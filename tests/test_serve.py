"""`skywarden serve --config` with a TCP sensor bridge, and `skywarden demo --headless`."""

import json
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from skywarden.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def start_serve(config):
    """Start `skywarden serve`; return the process and the admin token it printed (None when it
    printed none), once it serves its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "skywarden.cli.main", "serve", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    token = None
    deadline = time.time() + 30
    while time.time() < deadline:
        out = proc.stdout.readline()
        if not out:
            break
        if m := re.search(r"Admin token.*: (\S+)$", out):
            token = m.group(1)
        if out.startswith("URL:"):
            return proc, token
    raise AssertionError(proc.stderr.read())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_ingests_a_tcp_bridge_and_restart_resumes(tmp_path):
    shutil.copy(EXAMPLES / "zones-egkk.geojson", tmp_path / "zones.geojson")
    api_port, tcp_port = free_port(), free_port()
    (tmp_path / "site.toml").write_text(f"""
[site]
name = "test"
lat = 51.1537
lon = -0.1821
[zones]
file = "zones.geojson"
[database]
path = "site.db"
[api]
port = {api_port}
[[sources]]
type = "tcp"
port = {tcp_port}
""")

    def start():
        return start_serve(tmp_path / "site.toml")

    proc, token = start()
    assert token
    try:
        with socket.create_connection(("127.0.0.1", tcp_port)) as s:
            now = time.time()
            for k in range(30):
                obs = {"kind": "remote_id", "t": now + k * 0.2, "sensor": "bridge-1", "uas_id": "GBR-TEST-1",
                       "lat": 51.1537 + k * 1e-5, "lon": -0.1821, "alt_m": 160.0, "operator_lat": 51.15, "operator_lon": -0.18}
                s.sendall((json.dumps(obs) + "\n").encode())
            s.sendall(b"garbage\n")
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {token}"}) as c:
            deadline = time.time() + 15
            while time.time() < deadline and not c.get("/api/alerts").json()["alerts"]:
                time.sleep(0.2)
            alerts = c.get("/api/alerts").json()["alerts"]
            assert {a["zone_id"] for a in alerts} >= {"EGKK-FRZ"}
            sensors = {s["sensor"]: s for s in c.get("/api/sensors").json()["sensors"]}
            assert sensors["bridge-1"]["messages"] == 30
            assert sensors[f"tcp:{tcp_port}"]["rejected_by_reason"] == {"invalid_json": 1}
            # An admin edit to the zones survives a restart.
            c.delete("/api/zones/EGKK-RPZ").raise_for_status()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert sqlite3.connect(tmp_path / "site.db").execute("SELECT count(*) FROM observations").fetchone()[0] == 30

    proc, token2 = start()
    try:
        assert token2 is None  # an admin token exists already: none is printed again
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    ids = json.loads(sqlite3.connect(tmp_path / "site.db").execute("SELECT value FROM meta WHERE key='zones_geojson'").fetchone()[0])
    assert [f["properties"]["id"] for f in ids["features"]] == ["EGKK-FRZ"]


def test_serve_config_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("[site]\nname='x'\n")
    assert main(["serve", "--config", str(tmp_path / "bad.toml")]) == 2
    assert "[site] needs 'lat'" in capsys.readouterr().err


def test_headless_demo_writes_alerts_like_replay(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "skywarden.cli.main", "demo", "--headless", "--scenario", "seoul-2022", "--speed", "20",
         "--duration", "8", "--alerts-out", str(alerts), "--db", str(tmp_path / "d.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(x) for x in alerts.read_text().splitlines()]
    assert any(e["state"] == "open" and e["zone_id"] == "P-73" for e in events)
    assert all({"t", "alert_id", "zone_id", "track_id", "kind", "state"} <= set(e) for e in events)
    assert "alerts opened" in result.stdout


def _writer_processes(db):
    """Live store writer processes working on ``db``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"skywarden.store.writer_process" in argv and str(db).encode() in argv:
                found.append(int(entry.name))
    return found


def test_headless_demo_stopped_by_ctrl_c_stores_everything_it_accepted_and_published(tmp_path):
    """Ctrl-C at a terminal signals the whole foreground process group. The live process drains
    its pipeline into the store's writer process (which ignores the signal), and the writer
    commits everything before both exit: every accepted observation and every published alert
    event is in the database."""
    import os

    db, alerts = tmp_path / "d.db", tmp_path / "alerts.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skywarden.cli.main", "demo", "--headless", "--scenario", "seoul-2022", "--speed", "20",
         "--duration", "120", "--alerts-out", str(alerts), "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and not (alerts.exists() and alerts.read_text().strip()):
            time.sleep(0.2)
        assert _writer_processes(db), "the demo runs its store writer in a process"
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C does: the whole group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    accepted, opened = map(int, re.search(r"(\d+) observations, (\d+) alerts opened", out).groups())
    published = [json.loads(x) for x in alerts.read_text().splitlines()]
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == accepted > 0
    stored = con.execute("SELECT alert_id, state FROM alert_events ORDER BY id").fetchall()
    assert sorted(stored) == sorted((e["alert_id"], e["state"]) for e in published)
    assert sum(state == "open" for _, state in stored) == opened > 0
    assert con.execute("SELECT count(*) FROM track_updates").fetchone()[0] > 0
    con.close()
    assert _writer_processes(db) == []


def test_serve_replays_a_recording_paced_at_its_own_time(tmp_path):
    """A file source alone: the data clock starts at the recording's first time and runs at `speed`."""
    obs = tmp_path / "obs.jsonl"
    assert main(["simulate", "gatwick-2018", "--out", str(obs), "--truth", str(tmp_path / "truth.jsonl"),
                 "--zones-out", str(tmp_path / "zones.geojson")]) == 0
    port = free_port()
    (tmp_path / "site.toml").write_text(f"""
[site]
lat = 51.1537
lon = -0.1821
[zones]
file = "zones.geojson"
[database]
path = "site.db"
[api]
port = {port}
[[sources]]
type = "file"
path = "obs.jsonl"
speed = 20
""")
    proc, token = start_serve(tmp_path / "site.toml")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as c:
            deadline = time.time() + 30
            while time.time() < deadline and not c.get("/api/alerts").json()["alerts"]:
                time.sleep(0.3)
            alerts = c.get("/api/alerts").json()["alerts"]
            sensors = c.get("/api/sensors").json()["sensors"]
        assert alerts, "the first drone (t = 20 s scenario time, 1 s at 20x) raises an alert"
        assert all(s["rejected_by_reason"].get("time_outlier", 0) == 0 for s in sensors)
        assert 1545253380 <= alerts[-1]["opened_t"] <= 1545253380 + 600
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_serve_connects_to_a_sensor_as_a_client_and_shows_its_listener(tmp_path):
    """A `mode = "client"` source connects to the sensor (as to dump1090's ports), and the
    sensor panel's API shows the connection and the decoder's counters."""
    sensor = socket.socket()
    sensor.bind(("127.0.0.1", 0))
    sensor.listen()
    api_port = free_port()
    (tmp_path / "site.toml").write_text(f"""
[site]
lat = 51.1537
lon = -0.1821
[database]
path = "site.db"
[api]
port = {api_port}
[[sources]]
type = "tcp"
mode = "client"
host = "127.0.0.1"
port = {sensor.getsockname()[1]}
format = "jsonl"
name = "bridge-client"
""")
    proc, token = start_serve(tmp_path / "site.toml")
    try:
        conn, _ = sensor.accept()
        now = time.time()
        for k in range(10):
            obs = {"kind": "plot", "t": now + k * 0.1, "sensor": "radar-9", "lat": 51.1537, "lon": -0.1821 + k * 1e-5, "alt_m": 150.0}
            conn.sendall((json.dumps(obs) + "\n").encode())
        conn.sendall(b"{broken\n")
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {token}"}) as c:
            deadline = time.time() + 15
            listener = None
            while time.time() < deadline:
                listeners = {v["name"]: v for v in c.get("/api/sensors").json()["listeners"]}
                listener = listeners.get("bridge-client")
                if listener and listener["observations"] == 10 and listener["rejected"] == 1:
                    break
                time.sleep(0.2)
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        sensor.close()
    assert listener is not None
    assert listener["role"] == "client" and listener["connects"] == 1
    assert listener["observations"] == 10 and listener["rejected_by_reason"] == {"invalid_json": 1}


def test_serve_config_rejects_an_unknown_format(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text('[site]\nlat = 1\nlon = 2\n[[sources]]\ntype = "udp"\nport = 1\nformat = "morse"\n')
    assert main(["serve", "--config", str(tmp_path / "bad.toml")]) == 2
    err = capsys.readouterr().err
    assert "format 'morse' is unknown" in err and len(err.strip().splitlines()) == 1
