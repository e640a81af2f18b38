"""Live memory over a long run: RSS of the live runtime under 1,000 observations/s with churn.

The runtime runs as in production (one asyncio loop, the SQLite EventStore on a temp file, one
emulated WebSocket client whose frames are serialised with ``json.dumps``), fed by the background
load of ``bench/live_latency.py``: 400 targets per 1,000 obs/s around the site, two radars, Remote
ID on half of them, clutter; here targets come and go (exponential lifetime, mean
``--lifetime-s``; every new target has a new ``uas_id``), so tracks are created and deleted
continuously. Probe drones fly into the zone every ~5 s, so alerts open and resolve throughout.

RSS (``VmRSS`` of /proc/self/status) is sampled every ``--sample-s``; tracemalloc (1 frame) is
started after the first minute and its top growth between the 5-minute mark and the end is
reported, with the traced Python heap over time.

Usage:
    python bench/live_memory.py [--duration 1800] [--rate 1000] [--lifetime-s 120]
Writes bench/results/live_memory.md (and prints it); raw samples to --json-out if given.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_latency import BackgroundLoad, Phases, Probes, code_version, machine, site, write_keeping_analysis, ws_client  # noqa: E402

from skywarden.pipeline.live import DataClock, LiveConfig, LiveRuntime, tune_gc_for_live  # noqa: E402
from skywarden.store.sqlite import EventStore  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


async def run(args: argparse.Namespace) -> dict:
    frame, zones = site()
    tmp = tempfile.TemporaryDirectory()
    db = Path(tmp.name) / "live.db"
    store = EventStore(db)
    config = LiveConfig()
    runtime = LiveRuntime(zones, frame, DataClock(), store, config=config)
    load = BackgroundLoad(args.rate, frame, lifetime_s=args.lifetime_s, seed=2)
    probes = Probes(frame, interval_s=(4.0, 6.0), seed=3)
    runtime.alert_listeners.append(probes.listener)
    stats = {"queue_max": 0, "burst_late_max": 0.0}
    phases = Phases()  # not installed: only the WebSocket client's accumulator is used
    runtime.start(load.run(runtime, stats), probes.run(runtime), ws_client(runtime, phases))
    samples = []
    t0 = time.monotonic()
    snap5 = None
    tm_started = False
    next_sample = t0
    while True:
        now = time.monotonic()
        elapsed = now - t0
        if elapsed >= args.duration:
            break
        if args.tracemalloc and not tm_started and elapsed >= 60.0:
            tracemalloc.start(1)
            tm_started = True
        if args.tracemalloc and tm_started and snap5 is None and elapsed >= min(300.0, args.duration / 2):
            gc.collect()
            snap5 = (elapsed, tracemalloc.take_snapshot())
        tracker = runtime.pipeline.tracker
        sample = {
            "t_s": round(elapsed, 1), "rss_mb": round(rss_mb(), 2),
            "traced_mb": round(tracemalloc.get_traced_memory()[0] / 2**20, 2) if tm_started else None,
            "observations": runtime.observations, "offered": load.offered,
            "targets_started": load.targets_started, "tracks_started": tracker.tracks_started if tracker else 0,
            "tracks_active": tracker.n_active if tracker else 0, "tracks_confirmed": tracker.n_confirmed if tracker else 0,
            "tracker_capacity": int(tracker.x.shape[0]) if tracker else 0,
            "runtime_tracks": len(runtime.tracks), "runtime_alerts": len(runtime.alerts),
            "alerts_opened": len(probes.alerted), "stats_tracks_confirmed_set": len(runtime.pipeline.stats.tracks_confirmed),
            "queue_depth": runtime.queue.qsize(), "queue_max": stats["queue_max"],
            "db_mb": round(sum(os.path.getsize(str(db) + s) for s in ("", "-wal") if os.path.exists(str(db) + s)) / 2**20, 1),
        }
        samples.append(sample)
        if args.verbose:
            print(json.dumps(sample), flush=True)
        next_sample += args.sample_s
        await asyncio.sleep(max(0.0, next_sample - time.monotonic()))
    growth = []
    if args.tracemalloc and tm_started and snap5 is not None:
        gc.collect()
        end = tracemalloc.take_snapshot()
        filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
        diff = end.filter_traces(filters).compare_to(snap5[1].filter_traces(filters), "lineno")
        for stat in diff[:12]:
            frame0 = stat.traceback[0]
            growth.append({"where": f"{frame0.filename}:{frame0.lineno}", "size_diff_kb": stat.size_diff / 1024,
                           "count_diff": stat.count_diff, "size_kb": stat.size / 1024})
        tracemalloc.stop()
    await runtime.shutdown()
    store.close()
    tmp.cleanup()
    return {"samples": samples, "growth": growth, "growth_from_s": snap5[0] if snap5 else None,
            "rate": args.rate, "lifetime_s": args.lifetime_s, "duration_s": args.duration,
            "targets": load.n, "clutter_per_s": load.clutter_rate, "other_alerts": probes.other_alerts}


def at(samples: list[dict], t: float) -> dict | None:
    best = None
    for s in samples:
        if s["t_s"] <= t + 5:
            best = s
    return best


def slope_mb_per_10min(samples: list[dict], t_from: float, key: str = "rss_mb") -> float:
    pts = [(s["t_s"], s[key]) for s in samples if s["t_s"] >= t_from and s[key] is not None]
    if len(pts) < 3:
        return float("nan")
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0] * 600.0)


def report(result: dict, args: argparse.Namespace) -> str:
    samples = result["samples"]
    duration = result["duration_s"]
    half = duration / 2
    lines = [
        "# Live memory over a long run",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d', time.gmtime())}. The machine has 2 cores and other",
        "work (other engineers' tests and benchmarks) ran concurrently, which affects CPU timing but not memory.",
        f"Code: {result.get('code', 'unknown')}.",
        f"Command: `python bench/live_memory.py --duration {duration:g} --rate {result['rate']:g} --lifetime-s {result['lifetime_s']:g}`"
        f"{'' if args.tracemalloc else ' --no-tracemalloc'}.",
        f"Load: {result['rate']:,.0f} obs/s ({result['targets']} targets at a time, mean lifetime {result['lifetime_s']:g} s, each new one a",
        f"new uas_id; two radars Pd 0.9, Remote ID on half; {result['clutter_per_s']:.0f} clutter plots/s), probes into the zone every ~5 s;",
        "SQLite store (temp file), one emulated WebSocket client. LiveConfig default (tick_s 0.02, reorder_s 0.05).",
        "",
        "| minute | RSS MB | traced Python heap MB | tracks started | tracks active / confirmed | tracker capacity | runtime.alerts | alerts opened | stats.tracks_confirmed | db+wal MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for minute in (1, 5, 10, 20, 30):
        if minute * 60 > duration + 5:
            continue
        s = at(samples, minute * 60)
        if s is None:
            continue
        traced = "-" if s["traced_mb"] is None else f"{s['traced_mb']:.1f}"
        lines.append(
            f"| {minute} | {s['rss_mb']:.1f} | {traced} | {s['tracks_started']:,} | {s['tracks_active']:,} / {s['tracks_confirmed']:,} | "
            f"{s['tracker_capacity']:,} | {s['runtime_alerts']} | {s['alerts_opened']} | {s['stats_tracks_confirmed_set']:,} | {s['db_mb']:.0f} |"
        )
    last = samples[-1]
    slope = slope_mb_per_10min(samples, half)
    slope_traced = slope_mb_per_10min(samples, half, "traced_mb")
    rss = [s["rss_mb"] for s in samples if s["t_s"] >= half]
    lines += [
        "",
        f"Second half ({half / 60:.0f}-{duration / 60:.0f} min): RSS slope {slope:+.2f} MB per 10 min (least squares over "
        f"{len(rss)} samples, every {args.sample_s:g} s), min {min(rss):.1f} MB, max {max(rss):.1f} MB; traced Python heap slope "
        f"{slope_traced:+.2f} MB per 10 min.",
        f"Ingest: {last['observations']:,} observations in {last['t_s']:.0f} s ({last['observations'] / max(1.0, last['t_s']):,.0f}/s); "
        f"queue max {last['queue_max']:,}; false alerts (non-probe) {result['other_alerts']}.",
    ]
    if result["growth"]:
        lines += [
            "",
            f"tracemalloc, top growth from {result['growth_from_s'] / 60:.0f} min to the end (by line):",
            "",
            "| where | growth KB | blocks | size at end KB |",
            "|---|---:|---:|---:|",
        ]
        for g in result["growth"]:
            where = g["where"]
            for marker in ("site-packages/", "/src/", "/lib/python"):
                if marker in where:
                    where = where.split(marker, 1)[1]
                    break
            lines.append(f"| {where} | {g['size_diff_kb']:+,.1f} | {g['count_diff']:+,} | {g['size_kb']:,.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800.0, help="wall seconds")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--lifetime-s", type=float, default=120.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false")
    parser.add_argument("--verbose", action="store_true", help="print every sample")
    parser.add_argument("--out", type=Path, default=RESULTS / "live_memory.md")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    code = code_version()
    tune_gc_for_live()  # as `skywarden serve` and `demo` do
    result = asyncio.run(run(args))
    result["code"] = code
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1))
    text = report(result, args)
    print(text)
    write_keeping_analysis(args.out, text)


if __name__ == "__main__":
    main()
