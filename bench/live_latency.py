"""Live observation-to-alert latency: the live runtime on its asyncio loop under background load.

One process, one asyncio loop, as in production (``skywarden serve``): a load generator
coroutine offers observations at the target rate in bursts every 10 ms, stamped with the data
clock's current time (``DataClock()``, real time); the runtime's ticker drains, tracks, judges
the zone and raises alerts. Every ~2 s a *probe* drone with Remote ID (a fresh ``uas_id``, on no
allow-list) flies in from outside the zone: five reports outside at 1 Hz (its track is confirmed
after the third), then it crosses the boundary. Latency = the wall time (``time.monotonic()``)
when the ``open`` alert for the probe reaches an ``alert_listener`` minus the wall time when the
probe's first report inside the zone was offered.

Background load (all of it outside the zone, 3-15 km from the site; the zone is a 2 km circle):
per 1,000 observations/s, 400 targets flying 5-20 m/s on circles around the site, seen by two
radars (1 Hz each, Pd 0.9, 15 m / 25 m noise), half of them also broadcasting Remote ID at 1 Hz,
and radar clutter making up the rest (~80 plots/s). So 1,000 obs/s carries ~400 confirmed tracks
plus the tentative tracks of the clutter, and 10,000 obs/s ~4,000. ``--lifetime-s`` makes targets
come and go (new ``uas_id``s); the latency runs keep them for the whole run.

Each configuration runs in a fresh child process: the background load alone during the warm-up,
then ``--duration`` s of measurement. Per tick the time spent in each stage (drain, measurement
conversion + tracker step, zone test, alert rules, store, runtime views, WebSocket frame
building) is recorded by wrapping the runtime's methods on the instance (no source changes).
In the ``store`` mode the SQLite EventStore is on (a temp file, written by the store's writer
process, whose CPU is reported beside the process's own) and one WebSocket client is emulated
(a subscriber whose frames are serialised with msgspec, as the API does); that is the
production configuration.

Usage:
    python bench/live_latency.py [--rates 1000 10000] [--duration 60] [--warmup 15] [--modes bare store]
Writes bench/results/live_latency.md (and prints it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import math
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from machine import machine  # bench/machine.py, beside this script

from skywarden.core.frame import LocalFrame
from skywarden.core.records import AlertEvent, PlotObservation, RemoteIdObservation
from skywarden.pipeline.live import DataClock, LiveConfig, LiveRuntime, tune_gc_for_live
from skywarden.store.sqlite import EventStore
from skywarden.zones.geojson import parse_zones

RESULTS = Path(__file__).resolve().parent / "results"

SITE_LAT, SITE_LON = 51.1481, -0.1903
ZONE_RADIUS_M = 2_000.0
ANNULUS_M = (3_000.0, 15_000.0)
TARGETS_PER_1000 = 400
RADARS = ("radar-a", "radar-b")
RADAR_PD = 0.9
RID_FRACTION = 0.5
BURST_S = 0.01


def site() -> tuple[LocalFrame, list]:
    frame = LocalFrame(SITE_LAT, SITE_LON, 0.0, name="bench-site")
    zones = parse_zones({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [SITE_LON, SITE_LAT]},
        "properties": {"id": "Z1", "name": "bench zone", "radius_m": ZONE_RADIUS_M, "upper_m": 1_000.0}}]})
    return frame, zones


def code_version() -> str:
    """The commit measured, and whether the code came from elsewhere (a patched copy) or has local edits."""
    import skywarden

    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=repo, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
    where = Path(skywarden.__file__).resolve()
    if repo not in where.parents:
        return f"commit {head} + patched copy at {where.parent.parent}"
    return f"commit {head}" + (" + uncommitted changes in src" if dirty else "")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# -- background load ---------------------------------------------------------------------------------
class BackgroundLoad:
    """Targets on circles around the site, two radars, Remote ID on half of them, clutter.

    Args:
        rate: target observations per second (the mix is scaled to it).
        frame: the site frame.
        lifetime_s: mean lifetime of a target (exponential); 0 keeps every target for the run.
        seed: random seed.
    """

    def __init__(self, rate: float, frame: LocalFrame, lifetime_s: float = 0.0, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.frame = frame
        self.lifetime_s = lifetime_s
        self.n = max(1, int(round(rate * TARGETS_PER_1000 / 1000.0)))
        per_target = len(RADARS) * RADAR_PD + RID_FRACTION
        self.clutter_rate = max(0.0, rate - self.n * per_target)
        self.next_uid = 0
        n = self.n
        self.r = np.zeros(n)
        self.theta0 = np.zeros(n)
        self.omega = np.zeros(n)
        self.alt = np.zeros(n)
        self.t0 = np.zeros(n)
        self.death = np.full(n, np.inf)
        self.phase = np.zeros((n, len(RADARS) + 1))  # per radar, then Remote ID
        self.has_rid = np.zeros(n, dtype=bool)
        self.uid = np.zeros(n, dtype=np.int64)
        self.offered = 0
        self.targets_started = 0
        self._spawn(np.arange(n), t=0.0)

    def _spawn(self, idx: np.ndarray, t: float) -> None:
        rng, k = self.rng, idx.size
        if k == 0:
            return
        lo, hi = ANNULUS_M
        self.r[idx] = np.sqrt(rng.uniform(lo * lo, hi * hi, k))
        self.theta0[idx] = rng.uniform(0, 2 * np.pi, k)
        self.omega[idx] = rng.uniform(5.0, 20.0, k) * rng.choice([-1.0, 1.0], k) / self.r[idx]
        self.alt[idx] = rng.uniform(50.0, 400.0, k)
        self.t0[idx] = t
        self.death[idx] = t + rng.exponential(self.lifetime_s, k) if self.lifetime_s > 0 else np.inf
        self.phase[idx] = rng.uniform(0.0, 1.0, (k, self.phase.shape[1]))
        self.has_rid[idx] = rng.random(k) < RID_FRACTION
        self.uid[idx] = np.arange(self.next_uid, self.next_uid + k)
        self.next_uid += k
        self.targets_started += k

    def burst(self, t_prev: float, t_now: float) -> list:
        """Observations due in the data-time window (t_prev, t_now], stamped ``t_now``."""
        if self.lifetime_s > 0:
            dead = np.flatnonzero(self.death <= t_now)
            self._spawn(dead, t_now)
        due = np.floor(t_now - self.phase) > np.floor(t_prev - self.phase)  # (n, streams)
        due[:, -1] &= self.has_rid
        if len(RADARS):
            due[:, :-1] &= self.rng.random((self.n, len(RADARS))) < RADAR_PD
        rows = np.flatnonzero(due.any(axis=1))
        out: list = []
        if rows.size:
            theta = self.theta0[rows] + self.omega[rows] * (t_now - self.t0[rows])
            r = self.r[rows]
            e, nn = r * np.cos(theta), r * np.sin(theta)
            ve, vn = -self.omega[rows] * r * np.sin(theta), self.omega[rows] * r * np.cos(theta)
            up = self.alt[rows]
            d = due[rows]
            for s, sensor in enumerate(RADARS):
                sel = np.flatnonzero(d[:, s])
                if sel.size:
                    lat, lon, alt = self.frame.to_geodetic(
                        e[sel] + self.rng.normal(0, 15.0, sel.size), nn[sel] + self.rng.normal(0, 15.0, sel.size),
                        up[sel] + self.rng.normal(0, 25.0, sel.size))
                    out.extend(PlotObservation(t=t_now, sensor=sensor, lat=a, lon=b, alt_m=c)
                               for a, b, c in zip(lat.tolist(), lon.tolist(), alt.tolist()))
            sel = np.flatnonzero(d[:, -1])
            if sel.size:
                lat, lon, alt = self.frame.to_geodetic(
                    e[sel] + self.rng.normal(0, 3.0, sel.size), nn[sel] + self.rng.normal(0, 3.0, sel.size), up[sel])
                speed = np.hypot(ve[sel], vn[sel])
                track = np.degrees(np.arctan2(ve[sel], vn[sel])) % 360.0
                uids = self.uid[rows[sel]].tolist()
                out.extend(RemoteIdObservation(t=t_now, sensor="rid-1", lat=a, lon=b, alt_m=c, uas_id=f"bg-{u}",
                                               speed_mps=sp, track_deg=tr, vspeed_mps=0.0)
                           for a, b, c, u, sp, tr in zip(lat.tolist(), lon.tolist(), alt.tolist(), uids, speed.tolist(), track.tolist()))
        n_clutter = int(self.rng.poisson(self.clutter_rate * max(0.0, t_now - t_prev)))
        if n_clutter:
            lo, hi = ANNULUS_M
            rr = np.sqrt(self.rng.uniform(lo * lo, hi * hi, n_clutter))
            th = self.rng.uniform(0, 2 * np.pi, n_clutter)
            lat, lon, alt = self.frame.to_geodetic(rr * np.cos(th), rr * np.sin(th), self.rng.uniform(20.0, 600.0, n_clutter))
            sensors = self.rng.integers(0, len(RADARS), n_clutter).tolist()
            out.extend(PlotObservation(t=t_now, sensor=RADARS[s], lat=a, lon=b, alt_m=c)
                       for a, b, c, s in zip(lat.tolist(), lon.tolist(), alt.tolist(), sensors))
        return out

    async def run(self, runtime: LiveRuntime, stats: dict) -> None:
        """Offer bursts every ``BURST_S`` until cancelled (``await offer``: backpressure waits)."""
        clock = runtime.clock
        t_prev = clock.now()
        next_wall = time.monotonic()
        while True:
            t_now = clock.now()
            batch = self.burst(t_prev, t_now)
            t_prev = t_now
            for obs in batch:
                await runtime.offer(obs)
            self.offered += len(batch)
            depth = runtime.queue.qsize()
            if depth > stats["queue_max"]:
                stats["queue_max"] = depth
            next_wall += BURST_S
            now = time.monotonic()
            if next_wall < now:
                stats["burst_late_max"] = max(stats["burst_late_max"], now - next_wall)
                next_wall = now
            await asyncio.sleep(next_wall - now)


# -- probes ------------------------------------------------------------------------------------------
class Probes:
    """Remote ID drones that fly into the zone; records offer and alert wall times by ``uas_id``."""

    SPEED = 25.0

    def __init__(self, frame: LocalFrame, interval_s: tuple[float, float] = (1.4, 2.2), seed: int = 1) -> None:
        self.frame = frame
        self.rng = np.random.default_rng(seed)
        self.interval_s = interval_s
        self.offered: dict[str, float] = {}
        self.alerted: dict[str, float] = {}
        self.arrival: dict[str, float] = {}
        self.other_alerts = 0
        self._tasks: set[asyncio.Task] = set()

    def listener(self, event: AlertEvent, arrival: float) -> None:
        now = time.monotonic()
        if event.state != "open":
            return
        uas = event.uas_id or ""
        if uas.startswith("probe-"):
            if uas not in self.alerted:
                self.alerted[uas] = now
                self.arrival[uas] = arrival
        else:
            self.other_alerts += 1

    async def _fly(self, runtime: LiveRuntime, k: int) -> None:
        uas = f"probe-{k}"
        bearing = self.rng.uniform(0, 2 * np.pi)
        v = self.SPEED
        # Five reports outside (the track confirms at the third), then three inside.
        radii = [ZONE_RADIUS_M + 25.0 + v * i for i in range(4, -1, -1)] + [ZONE_RADIUS_M - 25.0 - v * i for i in range(3)]
        alt = float(self.rng.uniform(60.0, 150.0))
        track_deg = (math.degrees(bearing) + 180.0) % 360.0  # bearing measured clockwise from north
        for r in radii:
            e, n = r * math.sin(bearing), r * math.cos(bearing)
            lat, lon, h = self.frame.to_geodetic([e], [n], [alt])
            obs = RemoteIdObservation(t=runtime.clock.now(), sensor="rid-1", lat=float(lat[0]), lon=float(lon[0]),
                                      alt_m=float(h[0]), uas_id=uas, speed_mps=v, track_deg=track_deg, vspeed_mps=0.0)
            if r < ZONE_RADIUS_M and uas not in self.offered:
                self.offered[uas] = time.monotonic()
            await runtime.offer(obs)
            await asyncio.sleep(1.0)

    async def run(self, runtime: LiveRuntime) -> None:
        k = 0
        try:
            while True:
                task = asyncio.create_task(self._fly(runtime, k))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                k += 1
                await asyncio.sleep(float(self.rng.uniform(*self.interval_s)))
        finally:
            for task in list(self._tasks):
                task.cancel()

    def latencies(self, since: float, until: float) -> tuple[list[float], list[float], int]:
        """(latency s, runtime-reported latency s, probes missed) of probes offered in [since, until]."""
        lat, rep, missed = [], [], 0
        for uas, t_off in self.offered.items():
            if not (since <= t_off <= until):
                continue
            if uas in self.alerted:
                lat.append(self.alerted[uas] - t_off)
                rep.append(self.alerted[uas] - self.arrival[uas])
            else:
                missed += 1
        return lat, rep, missed


# -- instrumentation -----------------------------------------------------------------------------------
class Phases:
    """Wall time per stage, accumulated per tick, by wrapping methods on the instances."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.ticks: list[dict[str, float]] = []
        self.ticker_gaps: list[float] = []
        self.enabled = False

    def wrap(self, obj: Any, name: str, label: str) -> None:
        fn = getattr(obj, name)
        current = self.current

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                current[label] += time.perf_counter() - t0

        setattr(obj, name, timed)

    def install(self, runtime: LiveRuntime) -> None:
        p = runtime.pipeline
        self.wrap(runtime, "_drain_queue", "drain")
        self.wrap(p.tracker, "step", "tracker_step")
        self.wrap(p.zone_index, "inside", "zone_test")
        self.wrap(p.alerts, "process", "alert_rules")
        self.wrap(p, "on_step", "runtime_views")  # LiveRuntime._on_step: track/alert views (+ listeners)
        if p.store is not None:
            for name in ("append_observations", "append_observation_batch", "append_tracks", "append_alerts"):
                if hasattr(p.store, name):
                    self.wrap(p.store, name, "store_append")
            self.wrap(p.store, "commit", "store_commit")
            self.wrap(p.store, "append_alerts_durable", "store_alert_durable")
        self.wrap(runtime, "_flush_frames", "ws_frame_build")
        self.wrap(runtime, "sensor_views", "ws_sensor_views")
        process_once = runtime.process_once
        last = [None]

        def tick() -> None:
            self.end_tick()  # everything since the previous tick's process_once belongs to that tick
            t0 = time.perf_counter()
            if last[0] is not None and self.enabled:
                self.ticker_gaps.append(t0 - last[0])
            last[0] = t0
            process_once()
            self.current["process_once"] += time.perf_counter() - t0

        runtime.process_once = tick  # type: ignore[method-assign]

    def end_tick(self) -> None:
        if self.enabled and self.current:
            self.ticks.append(dict(self.current))
        self.current.clear()


async def ws_client(runtime: LiveRuntime, phases: Phases, encoder: str = "msgspec") -> None:
    """One WebSocket client, minus the socket: frames serialised as the API does
    (``msgspec.json.encode(...).decode()``; ``encoder="json"``: ``json.dumps``, the API before 5041d80),
    asking for trail deltas as the web map does."""
    dumps = json.dumps if encoder == "json" else (lambda obj: msgspec.json.encode(obj).decode())
    sub = runtime.subscribe(trail_delta=True)
    try:
        while True:
            if sub.needs_snapshot:
                sub.needs_snapshot = False
                t0 = time.perf_counter()
                dumps(runtime.snapshot())
                phases.current["ws_json"] += time.perf_counter() - t0
                continue
            frame = await sub.queue.get()
            t0 = time.perf_counter()
            dumps(frame)
            phases.current["ws_json"] += time.perf_counter() - t0
    finally:
        runtime.unsubscribe(sub)


def writer_cpu(runtime: LiveRuntime) -> float | None:
    """CPU seconds of the store's writer process so far (None when the store writes in this process)."""
    pid = getattr(getattr(runtime, "_writer", None), "pid", None)
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


# -- one configuration (child process) --------------------------------------------------------------------
async def measure(rate: float, duration: float, warmup: float, store_on: bool, config: LiveConfig, profile: str | None,
                  ws_encoder: str = "msgspec") -> dict:
    frame, zones = site()
    tmp = tempfile.TemporaryDirectory()
    store = EventStore(Path(tmp.name) / "live.db") if store_on else None
    clock = DataClock()
    runtime = LiveRuntime(zones, frame, clock, store, config=config)
    phases = Phases()
    phases.install(runtime)
    probes = Probes(frame)
    runtime.alert_listeners.append(probes.listener)
    load = BackgroundLoad(rate, frame)
    stats = {"queue_max": 0, "burst_late_max": 0.0}

    sources = [load.run(runtime, stats), probes.run(runtime)]
    if store_on:
        sources.append(ws_client(runtime, phases, ws_encoder))
    runtime.start(*sources)
    await asyncio.sleep(warmup)
    gc.collect()
    stats["queue_max"] = 0
    stats["burst_late_max"] = 0.0
    phases.ticks.clear()
    phases.enabled = True
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    t_start, obs0, off0 = time.monotonic(), runtime.observations, load.offered
    cpu0, wcpu0 = time.process_time(), writer_cpu(runtime)
    await asyncio.sleep(duration)
    t_end, obs1, off1 = time.monotonic(), runtime.observations, load.offered
    cpu1, wcpu1 = time.process_time(), writer_cpu(runtime)
    if prof:
        prof.disable()
    phases.enabled = False
    await asyncio.sleep(1.0)  # let alerts of the last probes in the window arrive
    lat, rep, missed = probes.latencies(t_start, t_end - 1.0)
    tracker = runtime.pipeline.tracker
    result = {
        "rate": rate, "store": store_on, "duration_s": t_end - t_start, "warmup_s": warmup,
        "offered_per_s": (off1 - off0) / (t_end - t_start), "ingested_per_s": (obs1 - obs0) / (t_end - t_start),
        "cpu_per_wall": (cpu1 - cpu0) / (t_end - t_start),
        "writer_process_cpu_per_wall": None if wcpu0 is None or wcpu1 is None else (wcpu1 - wcpu0) / (t_end - t_start),
        "targets": load.n, "clutter_per_s": load.clutter_rate,
        "tracks_confirmed": tracker.n_confirmed, "tracks_active": tracker.n_active,
        "queue_max": stats["queue_max"], "burst_late_max_s": stats["burst_late_max"],
        "probes": len(lat), "probes_missed": missed, "other_alerts": probes.other_alerts,
        "latency_s": lat, "runtime_reported_s": rep,
        "tick_s": config.tick_s, "reorder_s": config.reorder_s, "ws_encoder": ws_encoder,
    }
    ticks = phases.ticks
    keys = sorted({k for t in ticks for k in t})
    result["ticks"] = len(ticks)
    result["phase_mean_ms"] = {k: 1000 * sum(t.get(k, 0.0) for t in ticks) / max(1, len(ticks)) for k in keys}
    result["phase_per_s_ms"] = {k: 1000 * sum(t.get(k, 0.0) for t in ticks) / (t_end - t_start) for k in keys}
    po = [t.get("process_once", 0.0) for t in ticks]
    result["process_once_ms"] = {"p50": 1000 * percentile(po, 50), "p99": 1000 * percentile(po, 99), "max": 1000 * max(po, default=0)}
    gaps = phases.ticker_gaps
    result["ticker_period_ms"] = {"p50": 1000 * percentile(gaps, 50), "p99": 1000 * percentile(gaps, 99), "max": 1000 * max(gaps, default=0)}
    await runtime.shutdown()
    if store is not None:
        store.close()
    tmp.cleanup()
    if prof:
        prof.dump_stats(profile)
    return result


def child(args: argparse.Namespace) -> None:
    config = LiveConfig(tick_s=args.tick_s, reorder_s=args.reorder_s)
    tune_gc_for_live()  # as `skywarden serve` and `demo` do
    result = asyncio.run(measure(args.rate, args.duration, args.warmup, args.store, config, args.profile, args.ws_encoder))
    print("RESULT " + json.dumps(result), flush=True)
    if args.profile:
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(45)


def summary_row(r: dict) -> str:
    lat = [1000 * x for x in r["latency_s"]]
    return (
        f"| {r['rate']:,.0f} | {'SQLite + 1 WS client' if r['store'] else 'none'} | {r['targets']:,} | "
        f"{r['tracks_confirmed']:,} / {r['tracks_active']:,} | {r['ingested_per_s']:,.0f} | {r['queue_max']:,} | "
        f"{r['probes']} ({r['probes_missed']} missed) | {percentile(lat, 50):.0f} | {percentile(lat, 99):.0f} | "
        f"{max(lat, default=float('nan')):.0f} | {percentile([1000 * x for x in r['runtime_reported_s']], 50):.0f} | "
        f"{r['process_once_ms']['p50']:.1f} / {r['process_once_ms']['p99']:.1f} | "
        f"{r['ticker_period_ms']['p50']:.0f} / {r['ticker_period_ms']['p99']:.0f} | {100 * r['cpu_per_wall']:.0f}%"
        + (f" + {100 * r['writer_process_cpu_per_wall']:.0f}%" if r.get("writer_process_cpu_per_wall") is not None else "") + " |"
    )


def phase_rows(r: dict) -> list[str]:
    order = ["process_once", "drain", "tracker_step", "zone_test", "alert_rules", "runtime_views", "store_append",
             "store_commit", "store_alert_durable", "ws_frame_build", "ws_json"]
    m, s = r["phase_mean_ms"], r["phase_per_s_ms"]
    return [f"| {r['rate']:,.0f} | {'SQLite + WS' if r['store'] else 'none'} | " + " | ".join(
        f"{m.get(k, 0.0):.2f} ({s.get(k, 0.0) / 10:.1f}%)" for k in order) + " |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1000, 10000])
    parser.add_argument("--modes", nargs="+", choices=["bare", "store"], default=["bare", "store"])
    parser.add_argument("--duration", type=float, default=60.0, help="measured wall seconds per configuration")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--tick-s", type=float, default=LiveConfig().tick_s)
    parser.add_argument("--reorder-s", type=float, default=LiveConfig().reorder_s)
    parser.add_argument("--ws-encoder", choices=["json", "msgspec"], default="msgspec",
                        help="how the emulated WebSocket client serialises frames (the API uses msgspec)")
    parser.add_argument("--out", type=Path, default=RESULTS / "live_latency.md")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the raw results as JSON")
    # internal: one configuration in this process
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--store", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", default=None, help="(with --child) cProfile the measured window into this file")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    results = []
    code = code_version()
    load_before = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    for rate in args.rates:
        for mode in args.modes:
            cmd = [sys.executable, __file__, "--child", "--rate", str(rate), "--duration", str(args.duration),
                   "--warmup", str(args.warmup), "--tick-s", str(args.tick_s), "--reorder-s", str(args.reorder_s),
                   "--ws-encoder", args.ws_encoder]
            if mode == "store":
                cmd.append("--store")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"configuration {rate:g} obs/s {mode} failed:\n{proc.stderr}")
            out = proc.stdout
            r = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
            results.append(r)
            lat = [1000 * x for x in r["latency_s"]]
            print(f"rate {rate:,.0f} {mode}: p50 {percentile(lat, 50):.0f} ms, p99 {percentile(lat, 99):.0f} ms, "
                  f"max {max(lat, default=float('nan')):.0f} ms, {r['probes']} probes, ingest {r['ingested_per_s']:,.0f}/s", flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    lines = [
        "# Live observation-to-alert latency",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d', time.gmtime())}. "
        f"Load average before the run: {' '.join(load_before)} (other work shares this 2-core machine).",
        f"Code: {code}.",
        f"Command: `python bench/live_latency.py --duration {args.duration:g} --warmup {args.warmup:g}"
        f"{'' if args.ws_encoder == 'msgspec' else ' --ws-encoder ' + args.ws_encoder}`. "
        f"LiveConfig: tick_s {args.tick_s:g}, reorder_s {args.reorder_s:g}, other fields default; PipelineConfig default (batch_s 1).",
        "",
        "Latency = wall time the probe's `open` alert reached an alert listener minus the wall time its first report",
        "inside the zone was offered (same process, `time.monotonic()`). The floor is reorder_s (the runtime holds an",
        "observation until the data clock is reorder_s past its time) plus the wait for the next tick.",
        "`listener arrival` is what the runtime itself reports (alert time minus the `arrival` argument of the listener);",
        "CPU is the process's CPU time over wall time (load generator included; 100% = one core), plus the store's",
        "writer process where there is one.",
        "",
        "| obs/s | store | targets | tracks confirmed / active | ingested obs/s | queue max | probes | p50 ms | p99 ms | max ms | listener `arrival` p50 ms | tick work p50 / p99 ms | ticker period p50 / p99 ms | CPU |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [summary_row(r) for r in results]
    lines += [
        "",
        "Where the time goes: mean ms per tick (share of one core) per stage. `process_once` is the whole tick (drain +",
        "advance: measurement conversion + tracker + zone test + alert rules + store + runtime views); the other",
        "columns are parts of it, except `ws_*` (frame building in the ticker, JSON in the client task).",
        "",
        "| obs/s | store | process_once | drain | tracker_step | zone_test | alert_rules | runtime_views | store_append | store_commit | store_alert_durable | ws_frame_build | ws_json |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines += phase_rows(r)
    lines += ["", "Target (issue: live runtime): p99 <= 100 ms at 10,000 observations/s on this 2-core machine."]
    text = "\n".join(lines) + "\n"
    print(text)
    write_keeping_analysis(args.out, text)


def write_keeping_analysis(path: Path, text: str) -> None:
    """Write the measured part; a hand-written ``## Analysis`` section already in the file stays."""
    marker = "\n## Analysis"
    if path.exists():
        old = path.read_text()
        if marker in old:
            text = text + old[old.index(marker):]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    main()
