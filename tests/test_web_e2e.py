"""The operator's web map in a real browser against a real `skywarden demo`.

Debian's Chromium is driven through Playwright (Playwright's own browser downloads are not used).
WebGL comes from SwiftShader, so MapLibre renders without a GPU. The demo runs seoul-2022 at 4x:
its first zone alert opens about 20 s (wall) after start.

The first tests need no browser: the page's files are offline, and the basemap and its converter
are sound.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from skywarden.web import STATIC_DIR, vendor_files

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ALERT_TIMEOUT_MS = 90_000


# ---------------------------------------------------------------------------------------------
# Offline files.

REPO = Path(__file__).resolve().parents[1]


def test_the_page_loads_nothing_from_elsewhere():
    for name in ("index.html", "app.js", "app.css"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|(src|href)=[\"']//|url\([\"']?//", text), f"{name} refers to another host"
    files = vendor_files()
    assert set(files) == {"maplibre-gl.js", "maplibre-gl.css"}
    assert all(path.is_file() and path.stat().st_size > 10_000 for path in files.values())


def test_the_basemap_is_valid_geojson():
    path = STATIC_DIR / "basemap" / "countries-50m.geojson"
    assert path.stat().st_size < 2_500_000
    basemap = json.loads(path.read_text(encoding="utf-8"))
    assert basemap["type"] == "FeatureCollection"
    names = {f["properties"]["name"] for f in basemap["features"]}
    assert len(names) > 200 and {"South Korea", "United Kingdom", "Fiji", "Antarctica"} <= names
    for feature in basemap["features"]:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for polygon in polygons:
            for ring in polygon:
                assert ring[0] == ring[-1] and len(ring) >= 4
                assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring), feature["properties"]["name"]
                # no edge jumps across the antimeridian (one along a pole, Antarctica's, is no jump)
                assert all(abs(b[0] - a[0]) <= 180 or abs(a[1]) == abs(b[1]) == 90 for a, b in zip(ring, ring[1:]))


def load_converter():
    spec = importlib.util.spec_from_file_location("build_basemap", REPO / "tools" / "build_basemap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_converter_decodes_delta_arcs_and_winds_exteriors_counter_clockwise():
    build = load_converter()
    # One arc, quantised: (0,0) then deltas, scale 0.5 and origin (-10, -10): a 1-degree square.
    topology = {
        "type": "Topology",
        "transform": {"scale": [0.5, 0.5], "translate": [-10, -10]},
        "arcs": [[[0, 0], [2, 0], [0, 2], [-2, 0], [0, -2]]],
        "objects": {"countries": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "arcs": [[~0]], "id": "001", "properties": {"name": "Reversed"}},
        ]}},
    }
    (feature,) = build.convert(topology)["features"]
    ring = feature["geometry"]["coordinates"][0]
    assert sorted(set(map(tuple, ring))) == [(-10, -10), (-10, -9), (-9, -10), (-9, -9)]
    assert build.signed_area(ring) > 0
    assert feature["properties"] == {"name": "Reversed", "iso_n3": "001"}


def test_the_converter_cuts_rings_at_the_antimeridian():
    build = load_converter()
    topology = {
        "type": "Topology",
        "arcs": [[[179.5, -16], [-179.5, -16], [-179.5, -17]], [[-179.5, -17], [179.5, -17], [179.5, -16]]],
        "objects": {"countries": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "arcs": [[0, 1]], "properties": {"name": "Island"}},
        ]}},
    }
    (feature,) = build.convert(topology)["features"]
    assert feature["geometry"]["type"] == "MultiPolygon"
    spans = sorted((min(x for x, _ in p[0]), max(x for x, _ in p[0])) for p in feature["geometry"]["coordinates"])
    assert spans == [(-180, -179.5), (179.5, 180)]


# ---------------------------------------------------------------------------------------------
# The demo server.


class Demo:
    """`skywarden demo` as a subprocess; its output is read all the time, so the pipe never fills."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "skywarden.cli.main", "demo", "--scenario", "seoul-2022", "--speed", "4",
             "--port", "0", "--no-browser", "--db", str(db)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self.token: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.url is None and (m := re.search(r"http://127\.0\.0\.1:\d+/", line)):
                self.url = m.group(0)
            if self.token is None and (m := re.search(r"token: (\S+)", line)):
                self.token = m.group(1)
            if self.url and self.token:
                self._ready.set()
        self._ready.set()  # the process ended

    @property
    def log(self) -> str:
        return "\n".join(self.lines[-40:])

    def wait_ready(self, timeout: float = 60) -> None:
        assert self._ready.wait(timeout) and self.url and self.token, f"the demo printed no URL and token:\n{self.log}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the demo exited with {self.proc.returncode}:\n{self.log}"
            try:
                self.get("api/health")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise AssertionError(f"/api/health did not answer 200 within {timeout} s:\n{self.log}")

    def request(self, path: str, *, token: str | None = None, method: str = "GET", body: dict | None = None) -> dict:
        req = urllib.request.Request(self.url + path, method=method, headers={"Authorization": f"Bearer {token or self.token}"})
        if body is not None:
            req.data = json.dumps(body).encode()
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as response:
            return json.load(response)

    def get(self, path: str) -> dict:
        return self.request(path)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"the demo did not stop within 30 s of SIGINT:\n{self.log}") from None
        return self.proc.returncode


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    server = Demo(tmp_path_factory.mktemp("web") / "demo.db")
    try:
        server.wait_ready()
        yield server
    finally:
        code = server.stop()
    assert code in (0, 130), f"the demo exited with {code} after SIGINT:\n{server.log}"


# ---------------------------------------------------------------------------------------------
# The browser.


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.errors = []  # uncaught exceptions in the page: every test asserts there are none
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def sign_in(page, demo, token):
    page.goto(demo.url)
    page.locator("#login-form").wait_for()
    page.fill("#token-input", token)
    page.click("#login-submit")


def track_positions(page) -> dict[int, list[float]]:
    return page.evaluate("() => Object.fromEntries([...window.skywarden.tracks.values()].map((t) => [t.track_id, [t.lat, t.lon]]))")


# ---------------------------------------------------------------------------------------------
# Tests.


def test_wrong_token_shows_the_login_error(page, demo):
    sign_in(page, demo, "not-a-valid-token")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "not accepted" in error.inner_text()
    assert page.locator("#app").is_hidden()
    assert page.evaluate("() => sessionStorage.getItem('skywarden.token')") is None
    assert page.errors == []


def test_token_in_the_address_signs_in_and_leaves_the_address(page, demo):
    page.goto(f"{demo.url}#token={demo.token}")
    page.locator("#app").wait_for(state="visible")
    assert page.locator("#user-role").text_content() == "admin"
    assert "token" not in page.url
    page.reload()  # the token is kept for the tab's session
    page.locator("#app").wait_for(state="visible")
    page.click("#logout")
    page.locator("#login-form").wait_for(state="visible")
    assert page.evaluate("() => sessionStorage.getItem('skywarden.token')") is None
    assert page.errors == []


def test_live_map_tracks_alert_and_acknowledge(page, demo):
    sign_in(page, demo, demo.token)
    page.locator("#app").wait_for(state="visible")
    me = demo.get("api/me")
    assert page.locator("#user-name").text_content() == me["name"]
    assert page.locator("#user-role").text_content() == "admin"
    page.locator("#connection-status[data-state=live]").wait_for()

    # The map initialised (WebGL from SwiftShader) and the zones are drawn.
    page.locator("#map canvas.maplibregl-canvas").wait_for()
    assert page.locator("#map-message").is_hidden()
    page.locator(".zone-label").first.wait_for()
    assert page.locator(".zone-label").count() == len(demo.get("api/zones")["features"])

    # Tracks appear, in the table and the count, and move.
    page.wait_for_function("() => window.skywarden.tracks.size > 0")
    page.wait_for_function("() => Number(document.querySelector('[data-testid=track-count]').textContent) > 0")
    assert page.locator("[data-testid=track-row]").count() > 0
    before = track_positions(page)
    page.wait_for_function(
        """(before) => [...window.skywarden.tracks.values()].some((t) => {
            const p = before[t.track_id];
            return p && (p[0] !== t.lat || p[1] !== t.lon);
        })""",
        arg={str(k): v for k, v in before.items()},
    )

    # Sensors are listed with their state.
    page.locator("[data-testid=sensor-item]").first.wait_for()
    states = page.locator("[data-testid=sensor-item]").evaluate_all("(items) => items.map((i) => i.dataset.state)")
    assert states and set(states) <= {"ok", "stale", "silent"}

    # A zone alert opens: it is listed, the banner shows, and the screenshot records the moment.
    item = page.locator("[data-testid=alert-item][data-state=open]").first
    item.wait_for(timeout=ALERT_TIMEOUT_MS)
    alert_id = int(item.get_attribute("data-alert-id"))
    page.locator("#alert-banner").wait_for(state="visible")
    assert page.locator("#open-alert-count").inner_text() != "0"
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(1500)  # let the map draw the alert
    page.screenshot(path=str(ARTIFACTS / "web-demo.png"))

    # Acknowledge it, with a comment, through the dialog.
    item = page.locator(f"[data-testid=alert-item][data-alert-id='{alert_id}']")
    item.locator("[data-testid=ack-button]").click()
    page.locator("#action-dialog").wait_for(state="visible")
    page.fill("#action-comment", "seen on camera 3")
    page.click("[data-testid=action-confirm]")
    page.locator("#action-dialog").wait_for(state="hidden")
    # The track may leave the zone right after, which resolves the alert: either way it was acknowledged.
    page.wait_for_function(
        "(id) => { const a = window.skywarden.alerts.get(id); return a && a.state !== 'open' && a.acknowledged_by; }",
        arg=alert_id,
    )
    shown = page.locator(f"[data-testid=alert-item][data-alert-id='{alert_id}']").first
    assert shown.get_attribute("data-state") in ("acknowledged", "resolved")
    server_alert = next(a for a in demo.get("api/alerts")["alerts"] if a["alert_id"] == alert_id)
    assert server_alert["state"] in ("acknowledged", "resolved")
    assert server_alert["acknowledged_by"] == me["name"]
    assert any(c["text"] == "seen on camera 3" for c in server_alert["comments"])
    if server_alert["state"] == "acknowledged":
        assert shown.get_attribute("data-state") == "acknowledged"
        assert shown.locator("[data-testid=ack-button]").is_hidden()
    assert page.errors == []


def test_a_viewer_sees_no_actions_and_no_pilot(page, demo):
    viewer = demo.request("api/tokens", method="POST", body={"name": "e2e-viewer", "role": "viewer"})["token"]
    sign_in(page, demo, viewer)
    page.locator("#app").wait_for(state="visible")
    assert page.locator("#user-role").text_content() == "viewer"
    page.wait_for_function("() => window.skywarden.tracks.size > 0")
    page.locator("[data-testid=alert-item]").first.wait_for(state="attached", timeout=ALERT_TIMEOUT_MS)
    assert page.locator("[data-testid=ack-button]:visible, [data-testid=resolve-button]:visible").count() == 0
    assert page.evaluate("() => [...window.skywarden.tracks.values()].every((t) => t.operator_lat == null)")
    assert page.errors == []


def test_without_webgl_the_panels_still_work(page, demo):
    page.add_init_script("""
        const getContext = HTMLCanvasElement.prototype.getContext;
        HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
            return /webgl/i.test(kind) ? null : getContext.call(this, kind, ...rest);
        };
    """)
    sign_in(page, demo, demo.token)
    message = page.locator("#map-message")
    message.wait_for(state="visible")
    assert "WebGL" in message.inner_text()
    page.locator("#connection-status[data-state=live]").wait_for()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=track-count]').textContent) > 0")
    assert page.locator("[data-testid=track-row]").count() > 0
    page.locator("[data-testid=sensor-item]").first.wait_for()
    page.locator("[data-testid=alert-item]").first.wait_for(state="attached", timeout=ALERT_TIMEOUT_MS)
    assert page.errors == []
