"""The API against a real server: `skywarden demo` on an ephemeral port, driven over HTTP and WebSocket."""

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

SQUARE = {"type": "Polygon", "coordinates": [[[126.90, 37.50], [126.92, 37.50], [126.92, 37.52], [126.90, 37.52], [126.90, 37.50]]]}


class Server:
    def __init__(self, tmp_path):
        self.db = tmp_path / "api.db"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "skywarden.cli.main", "demo", "--scenario", "seoul-2022", "--speed", "8",
             "--port", "0", "--no-browser", "--db", str(self.db)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.url = self.token = None
        deadline = time.time() + 60
        while time.time() < deadline and not (self.url and self.token):
            line = self.proc.stdout.readline()
            if not line:
                break
            if m := re.search(r"URL: (http://127\.0\.0\.1:\d+/)", line):
                self.url = m.group(1)
            if m := re.search(r"Admin token: (\S+)", line):
                self.token = m.group(1)
        assert self.url and self.token, self.proc.stderr.read() if self.proc.poll() is not None else "no URL/token printed"

    def client(self, token):
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=10)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("api"))
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


@pytest.fixture(scope="module")
def tokens(server):
    with server.client(server.token) as admin:
        out = {"admin": server.token}
        for role in ("viewer", "operator"):
            r = admin.post("/api/tokens", json={"name": f"test-{role}", "role": role})
            assert r.status_code == 201, r.text
            assert r.json()["role"] == role
            out[role] = r.json()["token"]
    return out


def wait_for(fn, timeout=60.0, interval=0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_every_api_request_needs_a_token_but_the_page_does_not(server):
    with server.client(None) as anon:
        for path in ["/api/tracks", "/api/alerts", "/api/zones", "/api/sensors", "/api/health", "/metrics", "/api/me", "/api/audit"]:
            r = anon.get(path)
            assert r.status_code == 401, path
            assert "Bearer" in r.json()["detail"]
        assert anon.post("/api/alerts/1/acknowledge").status_code == 401
        assert anon.get("/").status_code == 200
        assert "<html" in anon.get("/").text.lower()
        assert anon.get("/static/vendor/maplibre-gl.js").status_code == 200
    with server.client("not-a-token") as wrong:
        assert wrong.get("/api/tracks").status_code == 401


def test_roles_are_reported(server, tokens):
    for role, token in tokens.items():
        with server.client(token) as c:
            assert c.get("/api/me").json()["role"] == role


def test_viewer_never_sees_the_pilot_location_and_operator_does(server, tokens):
    with server.client(tokens["operator"]) as op:
        tracks = wait_for(lambda: [t for t in op.get("/api/tracks").json()["tracks"] if t.get("operator_lat") is not None])
        assert tracks[0]["uas_id"]
    with server.client(tokens["viewer"]) as viewer:
        body = viewer.get("/api/tracks").json()
        assert body["tracks"]
        assert all("operator_lat" not in t and "operator_lon" not in t for t in body["tracks"])
        history = viewer.get(f"/api/tracks/{tracks[0]['track_id']}/history").json()
        assert history["updates"] and all("operator_lat" not in u for u in history["updates"])


def test_alert_lifecycle_with_roles_and_audit(server, tokens):
    with server.client(tokens["viewer"]) as viewer, server.client(tokens["operator"]) as op:
        alert = wait_for(lambda: next(iter(op.get("/api/alerts", params={"state": "open"}).json()["alerts"]), None), timeout=90)
        aid = alert["alert_id"]
        assert alert["zone_id"] == "P-73" and alert["kind"] == "zone_entry"
        assert viewer.post(f"/api/alerts/{aid}/acknowledge", json={"comment": "seen"}).status_code == 403
        r = op.post(f"/api/alerts/{aid}/acknowledge", json={"comment": "police informed"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "acknowledged" and r.json()["acknowledged_by"] == "test-operator"
        assert op.post(f"/api/alerts/{aid}/acknowledge").status_code == 409
        r = op.post(f"/api/alerts/{aid}/resolve", json={"comment": "drone left"})
        assert r.status_code == 200 and r.json()["state"] == "resolved"
        assert [c["text"] for c in r.json()["comments"]] == ["police informed", "drone left"]
        assert op.post(f"/api/alerts/{aid}/resolve").status_code == 409
        assert op.post("/api/alerts/999999/resolve").status_code == 404
    with server.client(tokens["admin"]) as admin:
        entries = admin.get("/api/audit").json()["entries"]
        actions = {(e["action"], e["actor"], e["target"]) for e in entries}
        assert ("alert.acknowledge", "test-operator", f"alert:{aid}") in actions
        assert ("alert.resolve", "test-operator", f"alert:{aid}") in actions
        assert any(e["action"] == "token.create" for e in entries)


def test_zone_editing_is_admin_only_validated_and_audited(server, tokens):
    feature = {"type": "Feature", "geometry": SQUARE, "properties": {"id": "TEST-1", "name": "Test", "upper_m": 500}}
    with server.client(tokens["operator"]) as op:
        assert op.post("/api/zones", json=feature).status_code == 403
    with server.client(tokens["admin"]) as admin:
        r = admin.post("/api/zones", json=feature)
        assert r.status_code == 201, r.text
        assert admin.post("/api/zones", json=feature).status_code == 409
        bad = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [126.9, 37.5]}, "properties": {"id": "BAD"}}
        r = admin.post("/api/zones", json=bad)
        assert r.status_code == 422 and "radius_m" in r.json()["detail"]
        assert admin.post("/api/zones", content=b"{nope", headers={"content-type": "application/json"}).status_code == 422
        ids = [f["properties"]["id"] for f in admin.get("/api/zones").json()["features"]]
        assert "TEST-1" in ids and "P-73" in ids
        p73 = next(f for f in admin.get("/api/zones").json()["features"] if f["properties"]["id"] == "P-73")
        assert p73["properties"]["footprint"]["type"] == "Polygon"
        assert p73["properties"]["state"] in ("clear", "alert")
        changed = dict(feature, properties=dict(feature["properties"], upper_m=800))
        assert admin.put("/api/zones/TEST-1", json=changed).json()["properties"]["upper_m"] == 800
        assert admin.put("/api/zones/OTHER", json=changed).status_code == 422
        assert admin.delete("/api/zones/TEST-1").status_code == 204
        assert admin.delete("/api/zones/TEST-1").status_code == 404
        entries = admin.get("/api/audit").json()["entries"]
        assert [e["action"] for e in entries if e["target"] == "zone:TEST-1"][:3] == ["zone.delete", "zone.update", "zone.create"]


def test_revoked_token_stops_working_at_once(server, tokens):
    with server.client(tokens["admin"]) as admin:
        r = admin.post("/api/tokens", json={"name": "temp", "role": "viewer"})
        tid, secret = r.json()["id"], r.json()["token"]
        listed = admin.get("/api/tokens").json()["tokens"]
        assert all("token" not in t and "token_sha256" not in t for t in listed)
        with server.client(secret) as temp:
            assert temp.get("/api/tracks").status_code == 200
            assert admin.delete(f"/api/tokens/{tid}").status_code == 204
            assert temp.get("/api/tracks").status_code == 401
        assert admin.post("/api/tokens", json={"name": "x", "role": "superuser"}).status_code == 422
    with server.client(tokens["viewer"]) as viewer:
        assert viewer.get("/api/tokens").status_code == 403
        assert viewer.post("/api/tokens", json={"name": "x", "role": "admin"}).status_code == 403


def test_sensors_health_and_metrics(server, tokens):
    with server.client(tokens["viewer"]) as v:
        sensors = v.get("/api/sensors").json()["sensors"]
        names = {s["sensor"] for s in sensors}
        assert {"radar-gaehwasan", "radar-namsan"} <= names
        assert all(s["state"] in ("ok", "stale", "silent") for s in sensors)
        assert any(s["rate_per_s"] > 0 for s in sensors)
        health = v.get("/api/health").json()
        assert health["status"] == "ok" and health["observations"] > 0
        metrics = v.get("/metrics").text
        assert 'skywarden_observations_total{sensor="radar-namsan"}' in metrics
        assert "skywarden_tracks " in metrics
        assert v.get("/openapi.json").status_code == 200


def ws_url(server, token):
    return server.url.replace("http://", "ws://") + f"api/ws?token={token}"


def test_websocket_streams_snapshot_then_batched_updates(server, tokens):
    with connect(ws_url(server, tokens["operator"])) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "snapshot" and isinstance(first["tracks"], list)
        kinds = set()
        deadline = time.time() + 10
        while time.time() < deadline and "update" not in kinds:
            frame = json.loads(ws.recv(timeout=10))
            kinds.add(frame["type"])
        assert "update" in kinds


def _update_trail_lengths(url, frames=30):
    lengths = []
    with connect(url) as ws:
        for _ in range(frames):
            frame = json.loads(ws.recv(timeout=10))
            if frame["type"] == "update":
                lengths += [len(t["trail"]) for t in frame["tracks"]]
    return lengths


def test_websocket_trail_delta_sends_only_the_newest_point_in_updates(server, tokens):
    full = _update_trail_lengths(ws_url(server, tokens["operator"]))
    delta = _update_trail_lengths(ws_url(server, tokens["operator"]) + "&trail=delta")
    assert delta and set(delta) == {1}
    assert full and max(full) > 1  # the default keeps whole trails for existing clients


def test_websocket_viewer_frames_carry_no_pilot_location(server, tokens):
    with connect(ws_url(server, tokens["viewer"])) as ws:
        for _ in range(20):
            frame = json.loads(ws.recv(timeout=10))
            for track in frame.get("tracks", []):
                assert "operator_lat" not in track


def test_websocket_rejects_a_wrong_token(server):
    with pytest.raises(ConnectionClosed) as err:
        with connect(ws_url(server, "wrong")) as ws:
            ws.recv(timeout=10)
    assert err.value.rcvd.code == 4401


def test_shutdown_drains_and_stores_every_accepted_observation(server, tokens):
    with server.client(tokens["viewer"]) as v:
        accepted_before = v.get("/api/health").json()["observations"]
    server.stop()
    assert server.proc.returncode in (0, 130)
    db = sqlite3.connect(server.db)
    stored = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert stored >= accepted_before > 0
    # Every alert the run opened was closed in the store by the end.
    states = db.execute("SELECT alert_id, group_concat(state) FROM alert_events GROUP BY alert_id").fetchall()
    assert states and all("resolved" in s for _, s in states)
