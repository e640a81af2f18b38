// skywarden operator console: the live air picture, alerts, tracks and sensors.
//
// Plain ES module, no build step. Talks to the HTTP and WebSocket API of docs/api.md; every URL
// is relative to the page, so the console also works behind a reverse proxy under a prefix.
// Everything shown that comes from the air (Remote ID ids, callsigns) or from configuration
// (zone names) is inserted as text, never as HTML.

const TOKEN_KEY = "skywarden.token";
const SOUND_KEY = "skywarden.sound";
const RESOLVED_SHOWN = 20;
const RESOLVED_KEPT = 100; // resolved alerts kept in memory (the server's snapshot carries 50)
const STALL_AFTER_S = 6; // the server sends sensor frames every 2 s: silence beyond this is a fault
const RECONNECT_AFTER_S = 15; // a connection silent this long is dropped and dialled again
const BACKOFF_MAX_S = 30;
const EARTH_RADIUS_M = 6371008.8;
const HEADING_MIN_SPEED = 1.5; // m/s: below this a track's heading is mostly noise
const REDUCED_MOTION = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

const CLASSES = {
  drone: { label: "Drone", short: "DRONE", color: "#ff8c42" },
  manned_aircraft: { label: "Aircraft", short: "AIRCRAFT", color: "#5cc8f5" },
  bird: { label: "Bird", short: "BIRD", color: "#8fd16a" },
  unknown: { label: "Unknown", short: "UNKNOWN", color: "#f2d45c" },
};
const CLASS_ORDER = ["drone", "unknown", "manned_aircraft", "bird"];
const COLORS = { zone: "#35c2c1", alert: "#ff3b4f", pilot: "#f06cd9" }; // the map's; app.css has the rest

// ---------------------------------------------------------------------------------------------
// State. `window.skywarden` exposes the live collections for debugging and browser tests; the
// Map objects are never replaced, only cleared and refilled.

const state = {
  token: null,
  me: null,
  tracks: new Map(), // track_id -> Track
  alerts: new Map(), // alert_id -> Alert
  sensors: new Map(), // sensor -> Sensor
  zones: { type: "FeatureCollection", features: [] },
  dataTime: null,
  selected: null, // track_id
  seenAlerts: new Set(),
  bannerAlert: null, // alert_id shown in the banner
  bannerDismissed: new Set(),
  feed: null,
  live: false, // a snapshot has come: the alerts held are all the unresolved ones
  session: 0, // bumped on every sign-in and sign-out; late answers of an old session are dropped
};
window.skywarden = {
  tracks: state.tracks,
  alerts: state.alerts,
  sensors: state.sensors,
  state,
  get map() {
    return MapView.map; // the MapLibre map, or null when it could not start
  },
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Small helpers.

/** Build an element: h("li", {class: "x", "data-id": 1, hidden: true}, "text", child). Text
 * children become text nodes, so data never turns into markup. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.filter((c) => c != null && c !== false));
  return el;
}

function setText(el, text) {
  const s = String(text ?? "");
  if (el.textContent !== s) el.textContent = s;
}

function setData(el, key, value) {
  const s = String(value);
  if (el.dataset[key] !== s) el.dataset[key] = s;
}

const pad2 = (n) => String(n).padStart(2, "0");

/** UNIX seconds as "HH:MM:SS" UTC. */
function clock(t) {
  if (t == null) return "--:--:--";
  const d = new Date(t * 1000);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

function isoDate(t) {
  return t == null ? "" : new Date(t * 1000).toISOString().slice(0, 10);
}

/** A duration in seconds, for people: "4 s", "3 min", "2 h 5 min". */
function duration(s) {
  if (s == null || !Number.isFinite(s)) return "–";
  if (s < 1) return "<1 s";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

const fmtInt = (x) => (x == null ? "–" : Math.round(x).toLocaleString("en-US"));
const fmtSpeed = (x) => (x == null ? "–" : x.toFixed(1));

function classOf(track) {
  return CLASSES[track.class] ? track.class : "unknown";
}

function identity(track) {
  if (track.uas_id) return track.uas_id;
  return [track.icao24, track.callsign].filter(Boolean).join(" ") || "";
}

function altitudeBand(p) {
  const lower = p.lower_m ?? 0;
  return p.upper_m == null ? `above ${fmtInt(lower)} m` : `${fmtInt(lower)}–${fmtInt(p.upper_m)} m`;
}

// ---------------------------------------------------------------------------------------------
// Geodesy for drawing (spherical Earth: ample for rings and circles on a screen).

const rad = (d) => (d * Math.PI) / 180;
const deg = (r) => (r * 180) / Math.PI;

function destination([lon, lat], bearingDeg, distanceM) {
  const d = distanceM / EARTH_RADIUS_M;
  const b = rad(bearingDeg);
  const p1 = rad(lat);
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
  const l2 = rad(lon) + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [deg(l2), deg(p2)];
}

function distanceM([lon1, lat1], [lon2, lat2]) {
  const a = Math.sin(rad(lat2 - lat1) / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lon2 - lon1) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

function circleRing(center, radiusM, steps = 128) {
  const ring = [];
  for (let i = 0; i <= steps; i++) ring.push(destination(center, (360 * i) / steps, radiusM));
  return ring;
}

/** The polygon a zone is drawn with: the server's footprint for circles, else the geometry. */
function zoneShape(feature) {
  const p = feature.properties ?? {};
  if (feature.geometry?.type === "Point") {
    return p.footprint ?? { type: "Polygon", coordinates: [circleRing(feature.geometry.coordinates, p.radius_m ?? 0)] };
  }
  return feature.geometry;
}

function outerRings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates[0]];
  if (geometry.type === "MultiPolygon") return geometry.coordinates.map((poly) => poly[0]);
  return [];
}

/** Centre and radius of a zone: the circle's own, or the vertex mean and farthest vertex. */
function zoneCircle(feature) {
  if (feature.geometry?.type === "Point") {
    return { center: feature.geometry.coordinates, radius: feature.properties?.radius_m ?? 0 };
  }
  const points = outerRings(feature.geometry).flatMap((ring) => ring.slice(0, -1));
  if (!points.length) return null;
  const center = [0, 1].map((i) => points.reduce((s, p) => s + p[i], 0) / points.length);
  return { center, radius: Math.max(...points.map((p) => distanceM(center, p))) };
}

const COMPASS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

/** Where the pilot is seen from the drone: "350 m SW", "1.2 km N". */
function pilotOffset(t) {
  const from = [t.lon, t.lat];
  const to = [t.operator_lon, t.operator_lat];
  const d = distanceM(from, to);
  const y = Math.sin(rad(to[0] - from[0])) * Math.cos(rad(to[1]));
  const x = Math.cos(rad(from[1])) * Math.sin(rad(to[1])) - Math.sin(rad(from[1])) * Math.cos(rad(to[1])) * Math.cos(rad(to[0] - from[0]));
  const bearing = (deg(Math.atan2(y, x)) + 360) % 360;
  const range = d < 1000 ? `${Math.round(d / 10) * 10} m` : `${(d / 1000).toFixed(1)} km`;
  return d < 10 ? "here" : `${range} ${COMPASS[Math.round(bearing / 45) % 8]}`;
}

function boundsOf(features) {
  let west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
  for (const f of features) {
    for (const ring of outerRings(zoneShape(f))) {
      for (const [x, y] of ring) {
        west = Math.min(west, x); east = Math.max(east, x);
        south = Math.min(south, y); north = Math.max(north, y);
      }
    }
  }
  return Number.isFinite(west) ? [[west, south], [east, north]] : null;
}

// ---------------------------------------------------------------------------------------------
// HTTP API.

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function detailText(body, response) {
  const detail = body?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg ?? JSON.stringify(d)).join("; ");
  return `${response.status} ${response.statusText || "error"}`;
}

/** One request with a token; throws ApiError with the server's `detail`, or on no answer. */
async function request(token, path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, `cannot reach the skywarden server (${err.message})`);
  }
  const json = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, detailText(json, response));
  return json;
}

/** A request of the signed-in session: a 401 ends the session and asks for a token again. */
async function api(path, options) {
  const session = state.session;
  try {
    return await request(state.token, path, options);
  } catch (err) {
    if (err.status === 401 && session === state.session) {
      signOut("The server no longer accepts this token (it may have been revoked). Sign in again.");
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Signing in and out.

function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token == null) return null;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  return token.trim() || null;
}

/** The sign-in form, with a message; `keep` leaves the typed token there to correct. */
function showLogin(message, { keep = false } = {}) {
  $("app").hidden = true;
  $("login").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message ?? "";
  $("login-submit").disabled = false;
  const input = $("token-input");
  if (!keep) input.value = "";
  input.focus();
  input.select();
}

const REFUSED = {
  form: "That token was not accepted. Check it and try again.",
  link: "The token in the link was not accepted. Enter a valid API token.",
  saved: "The saved token is no longer accepted (it may have been revoked). Sign in again.",
};

/** Check a token with GET /api/me, then start the console. `source`: form, link or saved. */
async function signIn(token, source) {
  let me;
  try {
    me = await request(token, "api/me");
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(err.status === 401 ? REFUSED[source] : `Sign-in failed: ${err.message}`, { keep: source === "form" });
    return;
  }
  state.session += 1;
  state.token = token;
  state.me = me;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login").hidden = true;
  $("app").hidden = false;
  setText($("user-name"), me.name);
  setText($("user-role"), me.role);
  setData($("user-role"), "role", me.role);
  document.body.dataset.role = me.role;

  MapView.ensure();
  loadHealth();
  loadZones({ fit: true });
  state.feed = new LiveFeed(token, state.session);
  state.feed.start();
}

function signOut(message) {
  state.session += 1;
  state.feed?.stop();
  state.feed = null;
  state.token = null;
  state.me = null;
  delete document.body.dataset.role;
  sessionStorage.removeItem(TOKEN_KEY);
  state.tracks.clear();
  state.alerts.clear();
  state.sensors.clear();
  state.seenAlerts.clear();
  state.bannerDismissed.clear();
  state.zones = { type: "FeatureCollection", features: [] };
  state.dataTime = null;
  state.selected = null;
  state.live = false;
  if ($("action-dialog").open) $("action-dialog").close();
  hideBanner();
  invalidate("tracks", "alerts", "sensors", "zones", "clock");
  flush();
  showLogin(message);
}

// ---------------------------------------------------------------------------------------------
// Live feed: the WebSocket, reconnected with exponential backoff and jitter.

class LiveFeed {
  constructor(token, session) {
    this.token = token;
    this.session = session;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.firstSnapshot = true;
    this.lastFrameAt = 0; // or, while connecting, when the attempt started
    this.retryTimer = 0;
    this.watchdog = 0;
  }

  get url() {
    const url = new URL("api/ws", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    url.searchParams.set("trail", "delta"); // updates carry the newest trail point only
    return url.href;
  }

  start() {
    this.connect();
    this.watchdog = setInterval(() => this.check(), 1000);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearInterval(this.retryTimer);
    if (this.ws) {
      this.ws.onclose = this.ws.onmessage = this.ws.onerror = null;
      this.ws.close(1000, "signed out");
    }
    setStatus("offline", "Signed out");
  }

  connect() {
    setStatus("connecting", this.attempt ? "Reconnecting…" : "Connecting…");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.lastFrameAt = performance.now();
    ws.onopen = () => {
      this.lastFrameAt = performance.now();
      setStatus("live", "Live");
    };
    ws.onmessage = (event) => {
      this.lastFrameAt = performance.now();
      this.attempt = 0;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        console.warn("skywarden: ignored a frame that is not JSON", event.data);
        return;
      }
      if (this.session !== state.session) return;
      if ($("connection-status").dataset.state !== "live") setStatus("live", "Live");
      handleFrame(frame, this);
    };
    ws.onclose = (event) => {
      if (this.stopped || this.session !== state.session) return;
      if (event.code === 4401) {
        signOut("The live feed refused this token (4401). Sign in again.");
        return;
      }
      this.scheduleReconnect(event.code);
    };
  }

  scheduleReconnect(code) {
    this.ws = null;
    const base = Math.min(BACKOFF_MAX_S, 2 ** this.attempt);
    const delay = base * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    const due = performance.now() + delay * 1000;
    const tick = () => {
      const left = Math.max(0, (due - performance.now()) / 1000);
      if (left <= 0) {
        clearInterval(this.retryTimer);
        this.connect();
      } else {
        setStatus("reconnecting", `Connection lost · retry in ${Math.ceil(left)} s`, code ? `the live feed closed with code ${code}` : "");
      }
    };
    clearInterval(this.retryTimer);
    this.retryTimer = setInterval(tick, 250);
    tick();
  }

  check() {
    if (!this.ws || this.ws.readyState > WebSocket.OPEN) return;
    const silent = (performance.now() - this.lastFrameAt) / 1000;
    if (silent > RECONNECT_AFTER_S) {
      this.ws.onclose = this.ws.onmessage = null;
      this.ws.close(4000, "no data");
      this.scheduleReconnect();
    } else if (silent > STALL_AFTER_S && this.ws.readyState === WebSocket.OPEN) {
      setStatus("stalled", `No data for ${Math.round(silent)} s`);
    }
  }
}

/** The feed's state in the top bar; while it is not live, app.css dims the picture it left. */
function setStatus(kind, text, detail = "") {
  const el = $("connection-status");
  setData(el, "state", kind);
  setText(el, text);
  el.title = detail || "Live feed (WebSocket)";
  setData($("app"), "feed", kind);
}

function handleFrame(frame, feed) {
  switch (frame.type) {
    case "snapshot": {
      state.tracks.clear();
      for (const track of frame.tracks ?? []) state.tracks.set(track.track_id, track);
      state.alerts.clear();
      state.live = true;
      const quiet = feed.firstSnapshot; // alerts already open when the console starts: no sound
      feed.firstSnapshot = false;
      mergeAlerts(frame.alerts ?? [], { quiet });
      replaceSensors(frame.sensors);
      if (state.selected != null && !state.tracks.has(state.selected)) state.selected = null;
      if (!quiet) loadZones({ fit: false }); // they may have changed while we were away
      invalidate("tracks", "alerts");
      break;
    }
    case "update":
      for (const track of frame.tracks ?? []) state.tracks.set(track.track_id, withTrail(track));
      for (const id of frame.removed ?? []) {
        state.tracks.delete(id);
        if (state.selected === id) state.selected = null;
      }
      mergeAlerts(frame.alerts ?? [], { quiet: false });
      invalidate("tracks");
      break;
    case "sensors":
      replaceSensors(frame.sensors);
      break;
    case "zones":
      loadZones({ fit: false });
      break;
    default:
      return; // a newer server may send more kinds: ignore what we do not know
  }
  if (frame.t != null) {
    state.dataTime = frame.t;
    invalidate("clock");
  }
}

/** Trail delta: an update brings the newest point; append it to the trail we hold (kept to the
 * length the server's snapshot trails have). */
const TRAIL_POINTS = 60;
function withTrail(track) {
  const held = state.tracks.get(track.track_id)?.trail ?? [];
  const trail = held.slice(-(TRAIL_POINTS - 1));
  for (const point of track.trail ?? []) {
    const last = trail.at(-1);
    if (!last || last[0] !== point[0] || last[1] !== point[1]) trail.push(point);
  }
  return { ...track, trail };
}

function replaceSensors(list) {
  if (!list) return;
  state.sensors.clear();
  for (const s of list) state.sensors.set(s.sensor, s);
  invalidate("sensors");
}

function mergeAlerts(list, { quiet }) {
  let fresh = null;
  for (const alert of list) {
    const known = state.seenAlerts.has(alert.alert_id);
    state.alerts.set(alert.alert_id, alert);
    state.seenAlerts.add(alert.alert_id);
    if (!known && alert.state === "open" && (!fresh || alert.opened_t >= fresh.opened_t)) fresh = alert;
  }
  if (list.length) {
    pruneResolved();
    invalidate("alerts");
  }
  if (fresh) announce(fresh, { quiet });
}

/** Forget all but the newest resolved alerts, so a console left open for weeks stays small. */
function pruneResolved() {
  const resolved = [...state.alerts.values()].filter((a) => a.state === "resolved");
  if (resolved.length <= RESOLVED_KEPT) return;
  resolved.sort((a, b) => (a.resolved_t ?? a.updated_t) - (b.resolved_t ?? b.updated_t));
  for (const a of resolved.slice(0, resolved.length - RESOLVED_KEPT)) state.alerts.delete(a.alert_id);
}

// ---------------------------------------------------------------------------------------------
// HTTP loads.

async function loadHealth() {
  const session = state.session;
  try {
    const health = await api("api/health");
    if (session !== state.session) return;
    if (health.data_time != null && state.dataTime == null) {
      state.dataTime = health.data_time;
      invalidate("clock");
    }
    if (health.tile_url) MapView.setTiles(health.tile_url, health.tile_attribution);
  } catch (err) {
    if (err.status !== 401) toast(`Health check failed: ${err.message}`);
  }
}

let zonesRequest = 0;
async function loadZones({ fit }) {
  const session = state.session;
  const mine = ++zonesRequest;
  try {
    const zones = await api("api/zones");
    if (session !== state.session || mine !== zonesRequest) return;
    state.zones = zones?.features ? zones : { type: "FeatureCollection", features: [] };
    invalidate("zones");
    if (fit) MapView.fitZones();
  } catch (err) {
    if (err.status !== 401) toast(`Could not load the zones: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering, coalesced: frames arrive up to 10 times a second; the DOM and map update at most
// once per 50 ms, and keep updating in a background tab (where animation frames stop).

const dirty = new Set();
let flushTimer = 0;

function invalidate(...parts) {
  for (const part of parts) if (part) dirty.add(part);
  if (!flushTimer) flushTimer = setTimeout(flush, 50);
}

function flush() {
  clearTimeout(flushTimer);
  flushTimer = 0;
  const parts = new Set(dirty);
  dirty.clear();
  if (parts.has("alerts")) {
    parts.add("tracks"); // highlight of the tracks in alert
    parts.add("zones"); // and of the zones
  }
  if (parts.has("alerts") || parts.has("clock")) renderAlerts(); // durations follow the clock
  if (parts.has("tracks")) {
    renderTrackTable();
    MapView.renderTracks();
  }
  if (parts.has("zones")) MapView.renderZones();
  if (parts.has("sensors")) renderSensors();
  if (parts.has("clock") || parts.has("tracks")) renderHeader();
  Pulse.update();
}

/** Unresolved alerts per zone id: {count, open}. */
function activeAlertsByZone() {
  const byZone = new Map();
  for (const a of state.alerts.values()) {
    if (a.state === "resolved") continue;
    const entry = byZone.get(a.zone_id) ?? { count: 0, open: 0 };
    entry.count += 1;
    if (a.state === "open") entry.open += 1;
    byZone.set(a.zone_id, entry);
  }
  return byZone;
}

/** A zone is in alert while an unresolved alert is in it. The live feed's snapshot carries every
 * unresolved alert, so once it has come the alerts decide; before, the server's `state` does. */
function zoneInAlert(feature, byZone) {
  const p = feature.properties ?? {};
  return state.live ? byZone.has(p.id) : p.state === "alert";
}

/** The alert state per track: "open" wins over "acknowledged". */
function alertStateByTrack() {
  const byTrack = new Map();
  for (const a of state.alerts.values()) {
    if (a.state === "open") byTrack.set(a.track_id, "open");
    else if (a.state === "acknowledged" && !byTrack.has(a.track_id)) byTrack.set(a.track_id, "acknowledged");
  }
  return byTrack;
}

/** Keyed list update: reuses an item's element, so focus, hover and clicks survive updates. */
function reconcile(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const el of container.children) existing.set(el.dataset.key, el);
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let el = existing.get(key);
    if (el) existing.delete(key);
    else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    const expected = previous ? previous.nextElementSibling : container.firstElementChild;
    if (el !== expected) container.insertBefore(el, expected);
    previous = el;
  }
  for (const el of existing.values()) el.remove();
}

function renderHeader() {
  const clockEl = $("data-clock");
  setText(clockEl, state.dataTime == null ? "--:--:--" : `${isoDate(state.dataTime)} ${clock(state.dataTime)} UTC`);
  if (state.dataTime != null) clockEl.setAttribute("datetime", new Date(state.dataTime * 1000).toISOString());
  setText($("track-count"), state.tracks.size);
  setText($("track-panel-count"), state.tracks.size);
}

// --- alerts ------------------------------------------------------------------------------------

const STATE_LABEL = { open: "Open", acknowledged: "Acknowledged", resolved: "Resolved" };

function canAct() {
  return state.me?.role === "operator" || state.me?.role === "admin";
}

function renderAlerts() {
  const all = [...state.alerts.values()];
  const rank = { open: 0, acknowledged: 1 };
  const active = all
    .filter((a) => a.state in rank)
    .sort((a, b) => rank[a.state] - rank[b.state] || b.opened_t - a.opened_t || b.alert_id - a.alert_id);
  const resolved = all
    .filter((a) => a.state === "resolved")
    .sort((a, b) => (b.resolved_t ?? b.updated_t) - (a.resolved_t ?? a.updated_t))
    .slice(0, RESOLVED_SHOWN);

  reconcile($("alert-list"), active, (a) => a.alert_id, createAlertItem, updateAlertItem);
  reconcile($("resolved-list"), resolved, (a) => a.alert_id, createAlertItem, updateAlertItem);

  const open = active.filter((a) => a.state === "open").length;
  const acked = active.length - open;
  $("alert-empty").hidden = active.length > 0;
  setText($("alert-summary"), active.length ? `${open} open · ${acked} acknowledged` : "");
  setText($("resolved-count"), resolved.length || "");
  setText($("open-alert-count"), open);
  setData($("open-alert-count"), "count", open);
  document.title = open ? `(${open}) ALERT · skywarden` : "skywarden";

  if (state.bannerAlert != null && state.alerts.get(state.bannerAlert)?.state !== "open") hideBanner();
}

function createAlertItem(alert) {
  const ack = h("button", { class: "button button--small button--warn", type: "button", "data-testid": "ack-button" }, "Acknowledge");
  const resolve = h("button", { class: "button button--small", type: "button", "data-testid": "resolve-button" }, "Resolve");
  const item = h(
    "li",
    { class: "alert", tabindex: "0", "data-testid": "alert-item" },
    h("div", { class: "alert__head" },
      h("span", { class: "alert__state", "data-testid": "alert-state" }),
      h("span", { class: "alert__zone" }),
      h("time", { class: "alert__time" })),
    h("div", { class: "alert__body" }),
    h("div", { class: "alert__meta" }),
    h("div", { class: "alert__actions" }, ack, resolve),
    h("p", { class: "alert__error", role: "alert", hidden: true }),
  );
  const id = alert.alert_id;
  ack.addEventListener("click", (e) => { e.stopPropagation(); openAction(id, "acknowledge"); });
  resolve.addEventListener("click", (e) => { e.stopPropagation(); openAction(id, "resolve"); });
  item.addEventListener("click", () => focusAlert(id));
  item.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target === item) focusAlert(id);
  });
  return item;
}

/** Why a Remote ID is flagged, in an operator's words. */
const RID_FLAG_LABEL = {
  jump: "impossible jump",
  two_places: "in two places at once",
  track_mismatch: "disagrees with radar",
};
const ridFlagText = (flags) => (flags ?? "").split(",").filter(Boolean).map((f) => RID_FLAG_LABEL[f] ?? f).join(", ");

/** What an alert is about: its zone, or the Remote ID problem. */
function alertSubject(alert) {
  if (alert.kind === "remote_id_inconsistent") return "Remote ID implausible";
  return alert.zone_name || alert.zone_id;
}

function updateAlertItem(item, alert) {
  const [head, body, meta, actions] = item.children;
  const [stateEl, zoneEl, timeEl] = head.children;
  setData(item, "alertId", alert.alert_id);
  setData(item, "state", alert.state);
  item.classList.toggle("is-selected", state.selected != null && state.selected === alert.track_id);
  setText(stateEl, STATE_LABEL[alert.state] ?? alert.state);
  setText(zoneEl, alertSubject(alert));
  zoneEl.title = alert.kind === "remote_id_inconsistent" ? "Remote ID broadcast implausible (spoofed or faulty)" : `${alert.zone_name ?? ""} (${alert.zone_id})`;
  setText(timeEl, `${clock(alert.opened_t)}Z`);
  timeEl.title = `opened ${isoDate(alert.opened_t)} ${clock(alert.opened_t)} UTC`;

  const track = state.tracks.get(alert.track_id);
  const who = alert.uas_id ? alert.uas_id : "no Remote ID";
  const end = alert.state === "resolved" ? alert.resolved_t ?? alert.updated_t : state.dataTime;
  const inside = end != null ? ` · ${duration(end - alert.opened_t)}` : "";
  const lost = alert.state !== "resolved" && !track ? " · track lost" : "";
  setText(body, `Track ${alert.track_id} · ${who}${inside}${lost}`);

  const notes = [];
  if (alert.acknowledged_by) notes.push(`Ack ${alert.acknowledged_by} ${clock(alert.acknowledged_t)}Z`);
  if (alert.resolved_by) notes.push(`Resolved ${alert.resolved_by} ${clock(alert.resolved_t)}Z`);
  else if (alert.state === "resolved" && alert.reason) notes.push(`Resolved: ${alert.reason.replaceAll("_", " ")}`);
  const last = alert.comments?.at(-1);
  if (last) notes.push(`“${last.text}” (${last.by})`);
  setText(meta, notes.join(" · "));
  meta.hidden = notes.length === 0;

  const [ack, resolve] = actions.children;
  ack.hidden = alert.state !== "open";
  resolve.hidden = alert.state === "resolved";
  actions.hidden = !canAct() || alert.state === "resolved";
}

function focusAlert(alertId) {
  const alert = state.alerts.get(alertId);
  if (!alert) return;
  if (state.tracks.has(alert.track_id)) {
    selectTrack(alert.track_id, { fly: true });
  } else {
    const zone = state.zones.features.find((f) => f.properties?.id === alert.zone_id);
    if (zone) MapView.fitFeatures([zone]);
  }
}

// --- the alert cue: banner, flash, sound -------------------------------------------------------

function announce(alert, { quiet }) {
  if (state.bannerDismissed.has(alert.alert_id)) return;
  state.bannerAlert = alert.alert_id;
  const who = alert.uas_id ? ` (${alert.uas_id})` : "";
  const what = alert.kind === "remote_id_inconsistent"
    ? `has an implausible Remote ID (${ridFlagText(alert.reason)})`
    : `entered ${alert.zone_name || alert.zone_id}`;
  setText($("alert-banner-text"), `Track ${alert.track_id}${who} ${what} at ${clock(alert.opened_t)}Z`);
  const banner = $("alert-banner");
  banner.hidden = false;
  if (quiet) return;
  for (const el of [banner, $("alert-panel")]) {
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }
  Sound.alarm();
}

function hideBanner() {
  $("alert-banner").hidden = true;
  state.bannerAlert = null;
}

const Sound = {
  ctx: null,
  enabled: localStorage.getItem(SOUND_KEY) !== "off",

  /** Browsers start audio only after a user gesture: create or resume the context on one. */
  unlock() {
    if (!this.enabled || this.ctx?.state === "running") return;
    try {
      this.ctx ??= new AudioContext();
      this.ctx.resume().then(() => this.renderButton(), () => {});
    } catch {
      this.ctx = null; // no WebAudio: the visual cue stays
    }
  },

  get blocked() {
    return this.enabled && this.ctx?.state !== "running";
  },

  alarm() {
    const ctx = this.ctx;
    if (!this.enabled || !ctx || ctx.state !== "running") return;
    const start = ctx.currentTime + 0.02;
    for (const [i, freq] of [988, 1319].entries()) {
      const t = start + i * 0.18;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.12, t + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.15);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + 0.16);
    }
  },

  /** The button: turns sound off and on, or, while the browser still blocks it, lets it play. */
  click() {
    if (this.blocked) {
      this.unlock();
      return;
    }
    this.enabled = !this.enabled;
    localStorage.setItem(SOUND_KEY, this.enabled ? "on" : "off");
    this.unlock();
    this.renderButton();
  },

  renderButton() {
    const button = $("sound-toggle");
    button.setAttribute("aria-pressed", String(this.enabled && !this.blocked));
    setData(button, "state", !this.enabled ? "off" : this.blocked ? "blocked" : "on");
    setText(button, !this.enabled ? "Sound off" : this.blocked ? "Enable sound" : "Sound on");
  },
};

// --- acknowledge / resolve ---------------------------------------------------------------------

const ACTIONS = {
  acknowledge: { title: "Acknowledge alert", verb: "Acknowledge", done: "acknowledged" },
  resolve: { title: "Resolve alert", verb: "Resolve", done: "resolved" },
};
let pendingAction = null;

function openAction(alertId, action) {
  const alert = state.alerts.get(alertId);
  if (!alert || !canAct()) return;
  pendingAction = { alertId, action };
  const spec = ACTIONS[action];
  setText($("action-title"), `${spec.title} ${alertId}`);
  setText($("action-subject"), `Track ${alert.track_id}${alert.uas_id ? ` (${alert.uas_id})` : ""}: ${alertSubject(alert)}, opened ${clock(alert.opened_t)}Z`);
  setText($("action-confirm"), spec.verb);
  $("action-confirm").disabled = false;
  $("action-comment").value = "";
  $("action-error").hidden = true;
  $("action-dialog").showModal();
  $("action-comment").focus();
}

async function submitAction() {
  if (!pendingAction) return;
  const { alertId, action } = pendingAction;
  const comment = $("action-comment").value.trim();
  const confirm = $("action-confirm");
  confirm.disabled = true;
  const session = state.session;
  try {
    const alert = await api(`api/alerts/${encodeURIComponent(alertId)}/${action}`, { method: "POST", body: comment ? { comment } : {} });
    if (session !== state.session) return;
    if (alert?.alert_id != null) state.alerts.set(alert.alert_id, alert);
    invalidate("alerts");
    pendingAction = null;
    $("action-dialog").close();
    toast(`Alert ${alertId} ${ACTIONS[action].done}.`);
  } catch (err) {
    if (session !== state.session) return;
    const error = $("action-error");
    error.textContent = `${ACTIONS[action].verb} failed: ${err.message}${err.status ? ` (${err.status})` : ""}`;
    error.hidden = false;
    confirm.disabled = false;
    showItemError(alertId, error.textContent);
  }
}

function showItemError(alertId, message) {
  const item = document.querySelector(`[data-testid="alert-item"][data-alert-id="${CSS.escape(String(alertId))}"]`);
  const el = item?.querySelector(".alert__error");
  if (!el) return;
  el.textContent = message;
  el.hidden = false;
  setTimeout(() => { el.hidden = true; }, 8000);
}

// --- tracks --------------------------------------------------------------------------------------

function sortedTracks() {
  const alerts = alertStateByTrack();
  const alertRank = (t) => ({ open: 0, acknowledged: 1 })[alerts.get(t.track_id)] ?? 2;
  return [...state.tracks.values()].sort(
    (a, b) => alertRank(a) - alertRank(b) || CLASS_ORDER.indexOf(classOf(a)) - CLASS_ORDER.indexOf(classOf(b)) || a.track_id - b.track_id,
  );
}

function renderTrackTable() {
  const alerts = alertStateByTrack();
  reconcile(
    $("track-list"),
    sortedTracks(),
    (t) => t.track_id,
    (track) => {
      const row = h("tr", { "data-testid": "track-row", tabindex: "0" },
        h("td", { class: "mono" }),
        h("td", {}, h("span", { class: "dot" }), h("span")),
        h("td", { class: "num mono" }),
        h("td", { class: "num mono" }),
        h("td", { class: "ident mono" }));
      const id = track.track_id;
      row.addEventListener("click", () => selectTrack(id, { fly: true }));
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") selectTrack(id, { fly: true }); });
      return row;
    },
    (row, track) => {
      const cls = classOf(track);
      const [idCell, classCell, altCell, speedCell, identCell] = row.children;
      setData(row, "trackId", track.track_id);
      setData(row, "class", cls);
      setData(row, "alert", alerts.get(track.track_id) ?? "none");
      row.classList.toggle("is-selected", state.selected === track.track_id);
      setText(idCell, track.track_id);
      classCell.firstChild.style.background = CLASSES[cls].color;
      const p = track.class_probability;
      setText(classCell.lastChild, p == null ? CLASSES[cls].label : `${CLASSES[cls].label} ${Math.round(100 * p)}%`);
      classCell.title = track.remote_id_flag ? `Remote ID implausible: ${ridFlagText(track.remote_id_flag)}` : "";
      setData(row, "ridFlag", track.remote_id_flag ?? "");
      setText(altCell, fmtInt(track.alt_m));
      setText(speedCell, fmtSpeed(track.speed_mps));
      const ident = identity(track);
      setText(identCell, ident || "–");
      identCell.title = ident;
    },
  );
  $("track-list").closest(".panel").dataset.empty = String(state.tracks.size === 0);
}

function selectTrack(trackId, { fly }) {
  state.selected = trackId;
  const track = state.tracks.get(trackId);
  if (fly && track) MapView.flyTo([track.lon, track.lat]);
  invalidate("tracks", "alerts");
  const row = document.querySelector(`#track-list tr[data-track-id="${CSS.escape(String(trackId))}"]`);
  row?.scrollIntoView({ block: "nearest" });
}

// --- sensors -----------------------------------------------------------------------------------

function renderSensors() {
  const sensors = [...state.sensors.values()].sort((a, b) => a.sensor.localeCompare(b.sensor));
  reconcile(
    $("sensor-list"),
    sensors,
    (s) => s.sensor,
    () => h("li", { class: "sensor", "data-testid": "sensor-item" },
      h("span", { class: "sensor__dot", "aria-hidden": "true" }),
      h("span", { class: "sensor__name mono" }),
      h("span", { class: "sensor__state" }),
      h("span", { class: "sensor__stats" })),
    (item, s) => {
      const [, name, stateEl, stats] = item.children;
      setData(item, "sensor", s.sensor);
      setData(item, "state", s.state);
      setText(name, s.sensor);
      name.title = (s.kinds ?? []).join(", ");
      setText(stateEl, s.state);
      const rejected = s.rejected ? ` · ${fmtInt(s.rejected)} rejected` : "";
      setText(stats, `${(s.kinds ?? []).join(", ")} · ${fmtSpeed(s.rate_per_s)}/s${rejected} · seen ${duration(s.last_seen_s_ago)} ago`);
      const reasons = Object.entries(s.rejected_by_reason ?? {}).map(([k, v]) => `${k}: ${v}`).join("\n");
      stats.title = `${fmtInt(s.messages)} messages, last data ${clock(s.last_t)}Z${reasons ? `\nrejected:\n${reasons}` : ""}`;
    },
  );
  const counts = { ok: 0, stale: 0, silent: 0 };
  for (const s of state.sensors.values()) counts[s.state] = (counts[s.state] ?? 0) + 1;
  const summary = state.sensors.size ? `${counts.ok}/${state.sensors.size} ok` : "";
  setText($("sensor-summary"), summary);
  setData($("sensor-panel"), "health", counts.silent ? "silent" : counts.stale ? "stale" : "ok");
}

// ---------------------------------------------------------------------------------------------
// Track symbols: drawn once per class on a canvas, north-up, turned to the track's heading.

function drawIcon(ctx, cls, size, color) {
  const s = size / 2;
  ctx.save();
  ctx.translate(s, s);
  ctx.scale(s * 0.9, s * 0.9);
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  ctx.fillStyle = color;
  ctx.strokeStyle = "rgba(6, 10, 15, 0.95)";
  ctx.lineWidth = 0.14;
  const poly = (points) => {
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
    ctx.fill();
  };
  if (cls === "drone") {
    // quadcopter: four rotors on an X, nose triangle forward
    ctx.lineWidth = 0.3;
    ctx.beginPath();
    ctx.moveTo(-0.55, -0.55); ctx.lineTo(0.55, 0.55);
    ctx.moveTo(0.55, -0.55); ctx.lineTo(-0.55, 0.55);
    ctx.strokeStyle = "rgba(6, 10, 15, 0.95)";
    ctx.stroke();
    ctx.lineWidth = 0.14;
    ctx.strokeStyle = color;
    ctx.stroke();
    ctx.strokeStyle = "rgba(6, 10, 15, 0.95)";
    for (const [x, y] of [[-0.55, -0.55], [0.55, -0.55], [0.55, 0.55], [-0.55, 0.55]]) {
      ctx.beginPath();
      ctx.arc(x, y, 0.3, 0, 2 * Math.PI);
      ctx.lineWidth = 0.12;
      ctx.stroke();
      ctx.fill();
    }
    poly([[0, -0.62], [0.26, -0.05], [0, 0.22], [-0.26, -0.05]]);
  } else if (cls === "manned_aircraft") {
    poly([[0, -1], [0.11, -0.85], [0.11, -0.3], [0.95, 0.15], [0.95, 0.32], [0.11, 0.12], [0.08, 0.62],
      [0.38, 0.82], [0.38, 0.95], [0, 0.84], [-0.38, 0.95], [-0.38, 0.82], [-0.08, 0.62], [-0.11, 0.12],
      [-0.95, 0.32], [-0.95, 0.15], [-0.11, -0.3], [-0.11, -0.85]]);
  } else if (cls === "bird") {
    ctx.beginPath();
    ctx.moveTo(-0.95, 0.05);
    ctx.quadraticCurveTo(-0.45, -0.55, 0, 0.1);
    ctx.quadraticCurveTo(0.45, -0.55, 0.95, 0.05);
    ctx.lineWidth = 0.5;
    ctx.stroke();
    ctx.lineWidth = 0.26;
    ctx.strokeStyle = color;
    ctx.stroke();
    ctx.beginPath();
    ctx.arc(0, -0.12, 0.16, 0, 2 * Math.PI);
    ctx.fill();
  } else {
    poly([[0, -1], [0.72, 0.85], [0, 0.45], [-0.72, 0.85]]);
  }
  ctx.restore();
}

const ICON_PX = 30;
const iconUrls = new Map(); // class -> data: URL of its symbol

function iconUrl(cls) {
  if (!iconUrls.has(cls)) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = ICON_PX * Math.max(2, Math.ceil(window.devicePixelRatio || 1));
    drawIcon(canvas.getContext("2d"), cls, canvas.width, CLASSES[cls].color);
    iconUrls.set(cls, canvas.toDataURL());
  }
  return iconUrls.get(cls);
}

function drawLegend() {
  for (const canvas of document.querySelectorAll("canvas[data-legend]")) {
    const ratio = window.devicePixelRatio || 1;
    const css = canvas.width;
    canvas.style.width = canvas.style.height = `${css}px`;
    canvas.width = canvas.height = Math.round(css * ratio);
    drawIcon(canvas.getContext("2d"), canvas.dataset.legend, canvas.width, CLASSES[canvas.dataset.legend].color);
  }
}

// ---------------------------------------------------------------------------------------------
// The map. Offline by design: the only network source is the operator's optional tile server.

const EMPTY = { type: "FeatureCollection", features: [] };
const classColor = ["match", ["get", "class"], ...Object.entries(CLASSES).flatMap(([k, v]) => [k, v.color]), CLASSES.unknown.color];

// The layers over the basemap. Tracks are not among them: they are HTML markers (see trackMarker),
// because a symbol layer fed by setData ten times a second shows a moved symbol only after the
// next placement pass, so on a busy machine the symbols blink or vanish. Markers move with every
// frame, and their halos pulse in CSS without repainting the map.
const OVERLAY_LAYERS = [
  { id: "rings", type: "line", source: "rings", filter: ["==", ["get", "kind"], "ring"], paint: { "line-color": "#2a4256", "line-width": 1 } },
  { id: "spokes", type: "line", source: "rings", filter: ["==", ["get", "kind"], "spoke"], paint: { "line-color": "#2a4256", "line-width": 0.7, "line-dasharray": [3, 3] } },
  { id: "zones-fill", type: "fill", source: "zones", paint: { "fill-color": ["match", ["get", "state"], "alert", COLORS.alert, COLORS.zone], "fill-opacity": ["match", ["get", "state"], "alert", 0.2, 0.08] } },
  { id: "zones-line", type: "line", source: "zones", paint: { "line-color": ["match", ["get", "state"], "alert", COLORS.alert, COLORS.zone], "line-width": ["match", ["get", "state"], "alert", 2.5, 1.5], "line-opacity": 0.95 } },
  { id: "trails", type: "line", source: "trails", layout: { "line-join": "round", "line-cap": "round" }, paint: { "line-color": classColor, "line-width": 2, "line-opacity": 0.55 } },
  { id: "pilot-links", type: "line", source: "pilots", filter: ["==", ["geometry-type"], "LineString"], paint: { "line-color": COLORS.pilot, "line-width": 1.5, "line-dasharray": [2, 2] } },
  { id: "pilots", type: "circle", source: "pilots", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": COLORS.pilot, "circle-stroke-color": "#0b0f14", "circle-stroke-width": 2 } },
];

// Where a track's label may sit around its symbol, in order of preference.
const LABEL_SPOTS = ["e", "ne", "se", "w", "nw", "sw"];
const LABEL_GAP = { side: 15, corner: 12 }; // px from the symbol; app.css places labels the same way

function spotRect(spot, { x, y }, w, h) {
  const { side, corner } = LABEL_GAP;
  const x0 = { e: x + side, w: x - side - w, ne: x + corner, se: x + corner, nw: x - corner - w, sw: x - corner - w }[spot];
  const y0 = { e: y - h / 2, w: y - h / 2, ne: y - corner - h, nw: y - corner - h, se: y + corner, sw: y + corner }[spot];
  return { x0, y0, x1: x0 + w, y1: y0 + h };
}

function overlap(rect, others) {
  let area = 0;
  for (const o of others) {
    const w = Math.min(rect.x1, o.x1) - Math.max(rect.x0, o.x0);
    const h = Math.min(rect.y1, o.y1) - Math.max(rect.y0, o.y0);
    if (w > 0 && h > 0) area += w * h;
  }
  return area;
}

function offscreen(rect, box) {
  const inside = overlap(rect, [{ x0: 0, y0: 0, x1: box.width, y1: box.height }]);
  return (rect.x1 - rect.x0) * (rect.y1 - rect.y0) - inside;
}

const MapView = {
  map: null,
  loaded: false,
  failed: false,
  markers: new Map(), // track_id -> {marker, el, icon, label, spot, cls, heading}
  headings: new Map(), // track_id -> last heading while moving
  zoneLabels: new Map(), // zone id -> {marker, el}
  ringsFor: null, // the zone list the rings were drawn for
  ringLabels: [],
  fitPending: false,
  tiles: null,

  ensure() {
    if (this.map || this.failed) return;
    const fail = (why) => {
      this.failed = true;
      this.map = null;
      $("legend").hidden = true;
      const message = $("map-message");
      message.textContent = `The map cannot be shown: ${why}. Alerts, tracks and sensors keep updating in the panels.`;
      message.hidden = false;
    };
    const gl = window.maplibregl;
    if (!gl) return fail("the map library did not load (static/vendor/maplibre-gl.js)");
    try {
      const probe = document.createElement("canvas");
      const context = probe.getContext("webgl2") || probe.getContext("webgl");
      if (!context) return fail("this browser provides no WebGL");
      context.getExtension("WEBGL_lose_context")?.loseContext(); // browsers allow only a few contexts
      this.map = new gl.Map({
        container: "map",
        style: {
          version: 8,
          sources: {
            countries: { type: "geojson", data: new URL("static/basemap/countries-50m.geojson", document.baseURI).href, attribution: "Natural Earth" },
          },
          layers: [
            { id: "background", type: "background", paint: { "background-color": "#0a1017" } },
            { id: "countries-fill", type: "fill", source: "countries", paint: { "fill-color": "#121a23" } },
            { id: "countries-line", type: "line", source: "countries", paint: { "line-color": "#2f4052", "line-width": ["interpolate", ["linear"], ["zoom"], 2, 0.5, 10, 1.4] } },
          ],
        },
        center: [0, 20],
        zoom: 1.5,
        attributionControl: { compact: true },
        fadeDuration: 0,
        maxPitch: 60,
      });
    } catch (err) {
      return fail(err.message || String(err));
    }
    const map = this.map;
    map.addControl(new gl.NavigationControl({ visualizePitch: true }), "top-right");
    map.addControl(new gl.ScaleControl({ unit: "metric", maxWidth: 140 }), "bottom-right");
    map.on("error", (e) => console.warn("skywarden map:", e.error?.message ?? e));
    map.on("load", () => {
      for (const id of ["rings", "zones", "trails", "pilots"]) map.addSource(id, { type: "geojson", data: EMPTY });
      for (const layer of OVERLAY_LAYERS) map.addLayer(layer);
      for (const type of ["zoomend", "rotateend", "pitchend", "resize"]) map.on(type, () => this.placeLabels());
      map.on("rotate", () => this.turnSymbols());
      map.on("click", () => {
        // a click on a track's marker stops at the marker: this one fell on the map itself
        if (state.selected == null) return;
        state.selected = null;
        invalidate("tracks", "alerts");
      });
      this.loaded = true;
      if (this.tiles) this.setTiles(...this.tiles);
      this.renderZones();
      this.renderTracks();
      if (this.fitPending) this.fitZones();
      Pulse.update();
    });
    map.getContainer().addEventListener("webglcontextlost", () => toast("The map lost its graphics context; reload the page if it stays blank."));
  },

  /** The operator's XYZ raster tiles (GET /api/health `tile_url`), below everything else. */
  setTiles(url, attribution) {
    this.tiles = [url, attribution];
    if (!this.loaded || this.map.getSource("tiles")) return;
    this.map.addSource("tiles", { type: "raster", tiles: [url], tileSize: 256, attribution: attribution || "" });
    this.map.addLayer({ id: "tiles", type: "raster", source: "tiles", paint: { "raster-brightness-max": 0.7, "raster-saturation": -0.6 } }, "countries-fill");
    this.map.setLayoutProperty("countries-fill", "visibility", "none");
  },

  fitZones() {
    if (!this.loaded) {
      this.fitPending = true;
      return;
    }
    this.fitPending = false;
    this.fitFeatures(state.zones.features, { animate: false });
  },

  fitFeatures(features, { animate = true } = {}) {
    const bounds = features.length && boundsOf(features);
    if (!this.map || !bounds) return;
    this.map.fitBounds(bounds, { padding: { top: 60, bottom: 60, left: 60, right: 60 }, maxZoom: 14, duration: animate ? 800 : 0 });
  },

  flyTo(lngLat) {
    if (!this.map) return;
    this.map.easeTo({ center: lngLat, zoom: Math.max(this.map.getZoom(), 11), duration: 700 });
  },

  source(id) {
    return this.loaded ? this.map.getSource(id) : null;
  },

  renderZones() {
    if (!this.loaded) return;
    const features = state.zones.features;
    const byZone = activeAlertsByZone();
    this.source("zones").setData({
      type: "FeatureCollection",
      features: features.map((f) => ({
        type: "Feature",
        geometry: zoneShape(f),
        properties: { id: f.properties?.id, state: zoneInAlert(f, byZone) ? "alert" : "clear", pulse: (byZone.get(f.properties?.id)?.open ?? 0) > 0 },
      })),
    });
    const shown = new Set();
    for (const f of features) {
      const id = f.properties?.id;
      shown.add(id);
      const listed = f.properties?.active_alerts;
      this.zoneLabel(f, zoneInAlert(f, byZone), byZone.get(id)?.count ?? (Array.isArray(listed) ? listed.length : 0));
    }
    for (const [id, label] of this.zoneLabels) {
      if (!shown.has(id)) {
        label.marker.remove();
        this.zoneLabels.delete(id);
      }
    }
    if (features !== this.ringsFor) {
      this.ringsFor = features;
      this.renderRings(features);
    }
  },

  /** A zone's name and altitude band, just outside its north edge (the inside stays clear). */
  zoneLabel(feature, alerting, count) {
    const p = feature.properties ?? {};
    const points = outerRings(zoneShape(feature)).flat();
    if (!points.length) return;
    const top = points.reduce((a, b) => (b[1] > a[1] ? b : a));
    let label = this.zoneLabels.get(p.id);
    if (!label) {
      const el = h("div", { class: "zone-label" }, h("div", { class: "zone-label__name" }), h("div", { class: "zone-label__band" }));
      const marker = new window.maplibregl.Marker({ element: el, anchor: "bottom", offset: [0, -4] }).setLngLat(top).addTo(this.map);
      label = { el, marker };
      this.zoneLabels.set(p.id, label);
    }
    const { el, marker } = label;
    marker.setLngLat(top);
    el.title = p.name ?? p.id;
    setData(el, "zoneId", p.id);
    el.classList.toggle("is-alert", alerting);
    setText(el.firstChild, p.name ?? p.id);
    setText(el.lastChild, `${p.id} · ${altitudeBand(p)}${alerting ? ` · ALERT ${count}` : ""}`);
  },

  /** Range rings around the site centre (mean of the zone centres), with bearing spokes. */
  renderRings(features) {
    for (const marker of this.ringLabels) marker.remove();
    this.ringLabels = [];
    const circles = features.map(zoneCircle).filter(Boolean);
    if (!circles.length) {
      this.source("rings").setData(EMPTY);
      setText($("ring-note"), "");
      return;
    }
    const center = [0, 1].map((i) => circles.reduce((s, c) => s + c.center[i], 0) / circles.length);
    const reach = Math.max(...circles.map((c) => distanceM(center, c.center) + c.radius));
    const step = [1000, 2000, 5000, 10000, 20000, 50000].find((m) => reach / m <= 10) ?? 100000;
    const count = Math.max(3, Math.ceil(reach / step) + 1);
    const out = [];
    for (let i = 1; i <= count; i++) {
      out.push({ type: "Feature", properties: { kind: "ring" }, geometry: { type: "LineString", coordinates: circleRing(center, i * step) } });
      const el = h("div", { class: "ring-label" }, `${(i * step) / 1000} km`);
      this.ringLabels.push(new window.maplibregl.Marker({ element: el, anchor: "bottom" }).setLngLat(destination(center, 0, i * step)).addTo(this.map));
    }
    for (let b = 0; b < 360; b += 30) {
      out.push({ type: "Feature", properties: { kind: "spoke" }, geometry: { type: "LineString", coordinates: [destination(center, b, step * 0.5), destination(center, b, count * step)] } });
    }
    this.source("rings").setData({ type: "FeatureCollection", features: out });
    setText($("ring-note"), `Rings every ${step / 1000} km from the site centre`);
  },

  renderTracks() {
    if (!this.loaded) return;
    const alerts = alertStateByTrack();
    const trails = [], pilots = [];
    for (const t of state.tracks.values()) {
      const cls = classOf(t);
      const here = [t.lon, t.lat];
      const trail = (t.trail ?? []).slice();
      const last = trail.at(-1);
      if (!last || last[0] !== here[0] || last[1] !== here[1]) trail.push(here);
      if (trail.length >= 2) trails.push({ type: "Feature", geometry: { type: "LineString", coordinates: trail }, properties: { class: cls } });
      if (t.operator_lat != null && t.operator_lon != null) {
        const pilot = [t.operator_lon, t.operator_lat];
        pilots.push({ type: "Feature", geometry: { type: "Point", coordinates: pilot }, properties: { track_id: t.track_id } });
        pilots.push({ type: "Feature", geometry: { type: "LineString", coordinates: [pilot, here] }, properties: { track_id: t.track_id } });
      }
      this.trackMarker(t, cls, alerts.get(t.track_id) ?? "none");
    }
    for (const [id, entry] of this.markers) {
      if (!state.tracks.has(id)) {
        entry.marker.remove();
        this.markers.delete(id);
        this.headings.delete(id);
      }
    }
    this.source("trails").setData({ type: "FeatureCollection", features: trails });
    this.source("pilots").setData({ type: "FeatureCollection", features: pilots });
    this.placeLabels();
  },

  /**
   * Greedy label placement: tracks in alert first, then the selected one, then by class; each
   * label takes the first side (its previous side preferred, so labels do not jump) where it
   * covers no label placed before it and no other track's symbol, else the least covered side.
   */
  placeLabels() {
    if (!this.loaded || !this.markers.size) return;
    const alerts = alertStateByTrack();
    const rank = (id) => {
      const a = alerts.get(id);
      if (a === "open") return 0;
      if (a === "acknowledged") return 1;
      if (id === state.selected) return 2;
      return 3 + CLASS_ORDER.indexOf(classOf(state.tracks.get(id)));
    };
    const items = [];
    for (const [id, entry] of this.markers) {
      const track = state.tracks.get(id);
      if (!track) continue;
      const at = this.map.project([track.lon, track.lat]);
      items.push({ id, entry, at, w: entry.label.offsetWidth, h: entry.label.offsetHeight });
    }
    const r = ICON_PX / 2 - 2;
    const symbols = items.map(({ id, at }) => ({ id, x0: at.x - r, y0: at.y - r, x1: at.x + r, y1: at.y + r }));
    const box = this.map.getContainer().getBoundingClientRect();
    const placed = [...this.zoneLabels.values()].map(({ el }) => {
      const rect = el.getBoundingClientRect();
      return { x0: rect.left - box.left, y0: rect.top - box.top, x1: rect.right - box.left, y1: rect.bottom - box.top };
    });
    items.sort((a, b) => rank(a.id) - rank(b.id) || a.id - b.id);
    for (const item of items) {
      const { entry } = item;
      let best = null;
      for (const spot of [entry.spot, ...LABEL_SPOTS.filter((s) => s !== entry.spot)]) {
        const rect = spotRect(spot, item.at, item.w, item.h);
        const cost = overlap(rect, placed) + overlap(rect, symbols.filter((s) => s.id !== item.id)) + offscreen(rect, box);
        if (!best || cost < best.cost) best = { spot, rect, cost };
        if (cost === 0) break;
      }
      placed.push(best.rect);
      entry.spot = best.spot;
      setData(entry.label, "spot", best.spot);
    }
  },

  /** Keep the symbols pointing at their headings while the map turns. */
  turnSymbols() {
    const bearing = this.map.getBearing();
    for (const entry of this.markers.values()) entry.icon.style.transform = `rotate(${entry.heading - bearing}deg)`;
  },

  /** The symbol's heading: a hovering track keeps the one it last moved with (noise otherwise). */
  heading(t) {
    if (t.heading_deg != null && (t.speed_mps ?? 0) >= HEADING_MIN_SPEED) this.headings.set(t.track_id, t.heading_deg);
    return this.headings.get(t.track_id) ?? t.heading_deg ?? 0;
  },

  /** A track on the map: its symbol (turned to its heading), halo, selection ring and label. */
  trackMarker(t, cls, alert) {
    let entry = this.markers.get(t.track_id);
    if (!entry) {
      const icon = h("img", { class: "track__icon", alt: "", draggable: "false" });
      // the label hangs off the symbol on the side placeLabels() picks
      const label = h("div", { class: "track-label", "data-spot": "e" },
        h("div", { class: "track-label__title" }, h("b"), h("span")),
        h("div", { class: "track-label__kin" }),
        h("div", { class: "track-label__ident" }),
        h("div", { class: "track-label__pilot" }));
      const el = h("div", { class: "track", "data-testid": "track-marker" }, h("div", { class: "track__halo" }), icon, label);
      const id = t.track_id;
      el.addEventListener("click", (e) => {
        e.stopPropagation();
        selectTrack(id, { fly: false });
      });
      const marker = new window.maplibregl.Marker({ element: el }).setLngLat([t.lon, t.lat]).addTo(this.map);
      entry = { marker, el, icon, label, spot: "e", cls: null };
      this.markers.set(t.track_id, entry);
    }
    const { marker, el, icon, label } = entry;
    marker.setLngLat([t.lon, t.lat]);
    if (entry.cls !== cls) {
      entry.cls = cls;
      icon.src = iconUrl(cls);
    }
    entry.heading = this.heading(t);
    icon.style.transform = `rotate(${entry.heading - this.map.getBearing()}deg)`;
    setData(el, "trackId", t.track_id);
    setData(el, "class", cls);
    setData(el, "alert", alert);
    el.classList.toggle("is-selected", state.selected === t.track_id);
    setData(label, "class", cls);
    setData(label, "alert", alert);
    label.classList.toggle("is-selected", state.selected === t.track_id);
    const [title, kin, ident, pilot] = label.children;
    setText(title.firstChild, `T${t.track_id}`);
    setText(title.lastChild, CLASSES[cls].short);
    setText(kin, `${fmtInt(t.alt_m)} m · ${fmtSpeed(t.speed_mps)} m/s`);
    const who = identity(t);
    setText(ident, who);
    ident.hidden = !who;
    const hasPilot = t.operator_lat != null && t.operator_lon != null;
    if (hasPilot) setText(pilot, `pilot ${pilotOffset(t)}`);
    pilot.hidden = !hasPilot;
  },
};

// Pulsing of the zones with an open alert (steady when the user prefers less motion); the
// tracks' halos pulse in CSS.
const Pulse = {
  timer: 0,
  update() {
    const active = MapView.loaded && !REDUCED_MOTION && [...state.alerts.values()].some((a) => a.state === "open");
    if (active && !this.timer) this.timer = setInterval(() => this.step(), 80);
    if (!active && this.timer) {
      clearInterval(this.timer);
      this.timer = 0;
      this.apply(0.5);
    }
  },
  step() {
    this.apply(0.5 + 0.5 * Math.sin((performance.now() / 1000) * Math.PI * 1.6));
  },
  apply(k) {
    const map = MapView.map;
    if (!MapView.loaded) return;
    map.setPaintProperty("zones-fill", "fill-opacity", ["case", ["get", "pulse"], 0.1 + 0.22 * k, ["==", ["get", "state"], "alert"], 0.2, 0.08]);
  },
};

// ---------------------------------------------------------------------------------------------
// Toasts: short confirmations and errors that are not tied to a form.

let toastTimer = 0;
function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

// ---------------------------------------------------------------------------------------------
// Wiring.

function wire() {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    Sound.unlock();
    const token = $("token-input").value.trim();
    if (!token) return;
    $("login-submit").disabled = true;
    await signIn(token, "form");
  });
  $("logout").addEventListener("click", () => signOut(null));
  $("sound-toggle").addEventListener("click", () => Sound.click());
  $("alert-banner-close").addEventListener("click", () => {
    if (state.bannerAlert != null) state.bannerDismissed.add(state.bannerAlert);
    hideBanner();
  });
  $("alert-banner-show").addEventListener("click", () => {
    if (state.bannerAlert != null) focusAlert(state.bannerAlert);
  });
  $("action-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submitAction();
  });
  $("action-comment").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submitAction();
  });
  $("action-cancel").addEventListener("click", () => $("action-dialog").close());
  $("action-dialog").addEventListener("close", () => { pendingAction = null; });
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, () => Sound.unlock(), { capture: true, passive: true });
  window.addEventListener("hashchange", () => {
    const token = tokenFromFragment();
    if (token && token !== state.token) {
      if (state.token) signOut(null);
      signIn(token, "link");
    }
  });
  Sound.renderButton();
  drawLegend();
}

function boot() {
  wire();
  const linked = tokenFromFragment();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (linked) signIn(linked, "link");
  else if (saved) signIn(saved, "saved");
  else showLogin(null);
}

boot();
