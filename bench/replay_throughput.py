"""Replay throughput, whole process: `skywarden replay` on synthetic swarms with clutter.

For N = 10, 100 and 1000 simultaneous drones (about half broadcasting Remote ID, a few ADS-B
aircraft, one radar with Pd 0.9 and 10 clutter plots per 1 s scan), the simulator writes an
observation file; then `skywarden replay` runs as a separate process pinned to one core
(`taskset -c 0`, BLAS threads 1), and its wall time, start-up included, gives observations/s.
The package is byte-compiled first, as `pip install` leaves it: where bytecode is not written
(PYTHONDONTWRITEBYTECODE, an editable checkout) each run would otherwise compile skywarden's
modules again, 0.15 s of start-up no installed copy pays.
A run with `--db` (SQLite store) is measured beside it. The comparison that matters is the
ratio between rows of one run on one machine; absolute numbers depend on the machine.

Usage:
    python bench/replay_throughput.py [--drones 10 100 1000] [--duration 1800] [--repeat 3]
Writes bench/results/replay_throughput.md (and prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine  # bench/machine.py, beside this script

import skywarden
from skywarden.sim import simulate, synthetic_swarm, write_simulation

RESULTS = Path(__file__).resolve().parent / "results"


def run_replay(obs: Path, zones: Path, work: Path, db: bool) -> tuple[float, dict]:
    cmd = []
    if shutil.which("taskset"):
        cmd += ["taskset", "-c", "0"]
    summary = work / "summary.json"
    cmd += [sys.executable, "-m", "skywarden.cli.main", "replay", str(obs), "--zones", str(zones),
            "--tracks-out", str(work / "tracks.jsonl"), "--alerts-out", str(work / "alerts.jsonl"),
            "--summary-json", str(summary)]
    if db:
        dbfile = work / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(dbfile) + suffix).unlink(missing_ok=True)
        cmd += ["--db", str(dbfile)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return wall, json.loads(summary.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drones", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--duration", type=float, default=1800.0, help="scenario seconds")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(skywarden.__file__).parent)], check=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in args.drones:
            duration = args.duration if n <= 100 else min(args.duration, 600.0)
            scenario = synthetic_swarm(n_drones=n, duration_s=duration, clutter_per_scan=10, seed=0)
            result = simulate(scenario, seed=0)
            obs, truth, zones = work / f"obs{n}.jsonl", work / f"truth{n}.jsonl", work / f"zones{n}.geojson"
            counts = write_simulation(result, obs, truth, zones)
            for db in (False, True):
                runs = [run_replay(obs, zones, work, db) for _ in range(args.repeat)]
                walls = [wall for wall, _ in runs]
                best, summary = min(runs, key=lambda run: run[0])  # the in-process figure of the same run
                rows.append({
                    "drones": n, "duration_s": duration, "observations": counts["observations"], "db": db,
                    "wall_s_best": best, "wall_s_all": walls, "obs_per_s": counts["observations"] / best,
                    "in_process_obs_per_s": summary["observations_per_s"],
                    "tracks_confirmed": summary["tracks_confirmed"],
                })
                print(rows[-1], flush=True)
    lines = [
        "# Replay throughput (whole process, one core)",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d', time.gmtime())}.",
        "Command: `python bench/replay_throughput.py` (taskset -c 0, BLAS threads 1, best of "
        f"{args.repeat}). Wall time includes interpreter start-up and imports.",
        "",
        "| drones | scenario s | observations | store | wall s (best) | observations/s | in-process obs/s | confirmed tracks | wall s, every run |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['drones']} | {r['duration_s']:.0f} | {r['observations']:,} | {'SQLite' if r['db'] else 'none'} | "
            f"{r['wall_s_best']:.2f} | {r['obs_per_s']:,.0f} | {r['in_process_obs_per_s']:,.0f} | {r['tracks_confirmed']} | "
            + ", ".join(f"{w:.2f}" for w in r["wall_s_all"]) + " |"
        )
    lines += ["", "Target (issue: core pipeline): >= 50,000 observations/s on one core at 100 drones."]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replay_throughput.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
