"""Synthetic scenarios for load tests and benchmarks: many drones on random routes.

Example:
    >>> scenario = synthetic_swarm(n_drones=10, duration_s=60, seed=1)
    >>> len([t for t in scenario.targets if t.id.startswith("drone-")])
    10
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from skywarden.core.frame import LocalFrame
from skywarden.sim.scenario import Scenario, parse_scenario

__all__ = ["synthetic_swarm"]

_ORIGIN = {"lat": 52.0, "lon": 4.5, "alt_m": 45.0}  # flat polder land; ground ~ geoid height
_START_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z
_MEAN_LEG_M_PER_SIDE = 0.52  # mean distance between two uniform points in a unit square


def _geodetic(frame: LocalFrame, east: np.ndarray, north: np.ndarray, up: np.ndarray) -> np.ndarray:
    """ENU metres to rows of (lat, lon, alt_m), rounded to 1e-7 degree / 1 cm."""
    lat, lon, alt = frame.to_geodetic(east, north, up)
    return np.column_stack([np.round(lat, 7), np.round(lon, 7), np.round(alt, 2)])


def _point(row: np.ndarray) -> dict[str, float]:
    return {"lat": float(row[0]), "lon": float(row[1]), "alt_m": float(row[2])}


def _drones(n: int, duration_s: float, area_m: float, frame: LocalFrame, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Drones on random multi-waypoint routes inside the area, about half broadcasting Remote ID."""
    half = area_m / 2.0
    speeds = rng.uniform(5.0, 30.0, n)
    # Enough legs to keep flying for most of the run at the drone's speed (at least 2 legs).
    n_points = np.maximum(2, np.ceil(duration_s * speeds / (_MEAN_LEG_M_PER_SIDE * area_m))).astype(int) + 1
    total = int(n_points.sum())
    east, north = rng.uniform(-half, half, total), rng.uniform(-half, half, total)
    agl = rng.uniform(30.0, 400.0, total)
    hover = np.where(rng.random(total) < 0.2, rng.uniform(5.0, 30.0, total), 0.0)
    leg_speed = np.repeat(speeds, n_points) * rng.uniform(0.8, 1.2, total)
    rows = _geodetic(frame, east, north, agl)
    starts = rng.uniform(0.0, 0.1 * duration_s, n)
    broadcasts = rng.random(n) < 0.5
    drones = []
    offset = 0
    for i in range(n):
        wps = []
        for k in range(offset, offset + n_points[i]):
            wp: dict[str, Any] = _point(rows[k]) | {"speed_mps": round(float(np.clip(leg_speed[k], 5.0, 30.0)), 2)}
            if hover[k] > 0.0:
                wp["hover_s"] = round(float(hover[k]), 1)
            wps.append(wp)
        offset += n_points[i]
        drone: dict[str, Any] = {"id": f"drone-{i:04d}", "type": "drone", "start_s": round(float(starts[i]), 2), "waypoints": wps}
        if broadcasts[i]:
            drone["remote_id"] = {"uas_id": f"SYN-UAS-{i:05d}", "operator": {"lat": wps[0]["lat"], "lon": wps[0]["lon"]}}
        drones.append(drone)
    return drones


def _aircraft(n: int, duration_s: float, area_m: float, frame: LocalFrame, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Manned aircraft crossing the area in straight lines, spread over the run."""
    out = []
    reach = area_m * 1.5  # start and end well outside the area, inside ADS-B range
    for k in range(n):
        heading = rng.uniform(0.0, 2 * math.pi)
        offset = rng.uniform(-area_m / 3, area_m / 3)  # miss the centre by up to a third of the area
        ux, uy = math.sin(heading), math.cos(heading)
        east = np.array([-reach * ux + offset * uy, reach * ux + offset * uy])
        north = np.array([-reach * uy - offset * ux, reach * uy - offset * ux])
        alt = np.full(2, rng.uniform(300.0, 1500.0))
        rows = _geodetic(frame, east, north, alt)
        out.append({
            "id": f"aircraft-{k:02d}", "type": "manned_aircraft",
            "icao24": f"{0x4CA000 + k:06x}", "callsign": f"SYN{100 + k}",
            "start_s": round(float(k * duration_s / n), 2), "speed_mps": round(float(rng.uniform(60.0, 120.0)), 1),
            "waypoints": [_point(r) for r in rows],
        })
    return out


def _zones(area_m: float, frame: LocalFrame, allowed: list[str], rng: np.random.Generator) -> list[dict[str, Any]]:
    """A circular zone (with an allow list) and a square one, inside the area."""
    quarter = area_m / 4.0
    c = _geodetic(frame, np.array([-quarter]), np.array([quarter]), np.zeros(1))[0]
    sq_e = quarter + np.array([-1000.0, 1000.0, 1000.0, -1000.0, -1000.0])
    sq_n = -quarter + np.array([-1000.0, -1000.0, 1000.0, 1000.0, -1000.0])
    ring = _geodetic(frame, sq_e, sq_n, np.zeros(5))
    ground = _ORIGIN["alt_m"]
    return [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(c[1]), float(c[0])]},
         "properties": {"id": "syn-circle", "name": "Synthetic circle", "radius_m": 1500.0, "lower_m": 0.0,
                        "upper_m": ground + 500.0, "allow_uas_ids": allowed}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[float(r[1]), float(r[0])] for r in ring]]},
         "properties": {"id": "syn-square", "name": "Synthetic square", "lower_m": 0.0, "upper_m": ground + 300.0}},
    ]


def synthetic_swarm(
    n_drones: int = 100,
    duration_s: float = 600.0,
    clutter_per_scan: float = 10.0,
    seed: int = 0,
    *,
    n_aircraft: int = 4,
    area_m: float = 10_000.0,
) -> Scenario:
    """A benchmark scenario: ``n_drones`` drones over an ``area_m`` square, and their sensors.

    One radar at the centre (1 s scan, Pd 0.9, sigma 10 m horizontal / 15 m vertical, range
    reaching the corners, ``clutter_per_scan`` false plots per scan), a Remote ID receiver with
    the same coverage, an ADS-B receiver, ``n_aircraft`` manned aircraft crossing at 300-1500 m,
    and two zones. Drones fly random routes at 5-30 m/s, 30-400 m above ground, and start
    within the first 10 % of the run; about half broadcast Remote ID.

    Args:
        n_drones: number of drones.
        duration_s: run length, seconds.
        clutter_per_scan: mean false plots per radar scan.
        seed: seeds the routes (pass a seed to :func:`simulate` separately for the sensing).
        n_aircraft: number of manned aircraft.
        area_m: side of the square area, metres.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    frame = LocalFrame(_ORIGIN["lat"], _ORIGIN["lon"], _ORIGIN["alt_m"])
    coverage_m = math.ceil(area_m * math.sqrt(0.5)) + 100.0
    drones = _drones(n_drones, duration_s, area_m, frame, rng)
    aircraft = _aircraft(n_aircraft, duration_s, area_m, frame, rng)
    allowed = [d["remote_id"]["uas_id"] for d in drones if "remote_id" in d][:1]
    site = dict(_ORIGIN, alt_m=_ORIGIN["alt_m"] + 15.0)  # sensors on a 15 m mast
    document = {
        "name": f"synthetic-swarm-{n_drones}",
        "description": f"{n_drones} random drones, {n_aircraft} manned aircraft, {area_m / 1000:g} km square (seed {seed})",
        "start_time": _START_TIME,
        "duration_s": duration_s,
        "origin": _ORIGIN,
        "sensors": [
            {"id": "radar-1", "type": "radar", "position": site, "range_m": coverage_m, "scan_period_s": 1.0,
             "pd": 0.9, "sigma_h_m": 10.0, "sigma_v_m": 15.0, "clutter_per_scan": clutter_per_scan},
            {"id": "rid-1", "type": "remote_id", "position": site, "range_m": coverage_m},
            {"id": "adsb-1", "type": "adsb", "position": site, "range_m": 4 * area_m},
        ],
        "targets": drones + aircraft,
        "zones": _zones(area_m, frame, allowed, rng),
    }
    return parse_scenario(document, source=document["name"])
