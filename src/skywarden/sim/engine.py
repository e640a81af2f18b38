"""The simulation engine: target motion, then what each sensor reports.

Motion. Every target's path is piecewise linear in the site's ENU frame, stored as *knots*
(time, position) and interpolated; a hover is two knots at the same place. Waypoint routes
become knots directly (constant speed along each 3D leg); birds get a random wandering route,
and the birds of a flock follow one such route, each at its own jittering offset.
All targets' knots are packed into one array so that any set of (target, time) pairs is
evaluated in a few vectorised numpy operations (:meth:`Trajectories.state`).

Sensing. Each sensor turns (target, time) pairs into measurements:

* radar: one look per target per scan, at the moment the beam's azimuth (clockwise from north,
  at north when the scan starts) crosses the target; detected with probability ``pd``; Gaussian
  ENU noise; plus Poisson clutter uniform over the coverage disc;
* Remote ID / ADS-B receiver: one message per ``period_s`` from each broadcasting drone /
  manned aircraft in horizontal range, at a per-target phase; Gaussian position noise; true
  velocity as speed, track and vertical speed.

Randomness comes from :class:`numpy.random.SeedSequence` streams keyed by the seed and an id:
one per target (bird route, broadcast phase) and three independent ones per sensor (detection,
noise, clutter). So changing one sensor's clutter changes nothing else, truth depends only on
the targets and the seed, never on sensors, and adding a target or sensor leaves the others'
random draws as they were.

Approximations: the ENU frame is the site's, so far from the origin "north" and "up" tilt
slightly (about 0.01 degree per km); coverage is a horizontal disc with no terrain masking or
minimum elevation; Pd does not depend on range or target size.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from skywarden.core.frame import LocalFrame
from skywarden.core.records import AdsbObservation, BearingObservation, Observation, PlotObservation, RemoteIdObservation, Zone
from skywarden.sim.files import TruthSample
from skywarden.sim.scenario import (
    KIND_OF,
    AdsbReceiver,
    BirdTarget,
    DirectionFinder,
    DroneTarget,
    HelicopterTarget,
    MannedAircraftTarget,
    RadarSensor,
    RemoteIdReceiver,
    Scenario,
    Target,
    body_ids,
)

__all__ = ["Trajectories", "SimulationResult", "simulate", "build_trajectories"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Pairs evaluated per vectorised batch: bounds peak memory (about 1 kB per pair in temporaries)
#: while keeping numpy's per-call overhead negligible.
_BATCH = 1 << 18

#: Longest straight ENU chord a route leg is flown as, metres (see :func:`_densify`).
_MAX_CHORD_M = 1_000.0

# Observation kinds in the packed table.
_PLOT, _REMOTE_ID, _ADSB, _BEARING = 0, 1, 2, 3

# Output rounding: far below any sensor's noise, and it keeps the JSON short
# (1e-7 degree is about 1 cm; 1 microsecond).
_DECIMALS = {"t": 6, "latlon": 7, "alt": 2, "vel": 3, "deg": 2}


# ----------------------------------------------------------------------------------- motion


@dataclass(frozen=True)
class Trajectories:
    """Piecewise-linear ENU trajectories of all targets, packed for vectorised lookup.

    Attributes:
        knot_t: ``(K,)`` knot times, scenario seconds; each target's run is non-decreasing.
        knot_p: ``(K, 3)`` knot positions, ENU metres.
        first: ``(N,)`` index of each target's first knot; its knots are ``first[i] : first[i] + count[i]``.
        count: ``(N,)`` number of knots per target, at least 2.
        t_start: ``(N,)`` when each target appears, scenario seconds.
        t_end: ``(N,)`` when it disappears (exclusive), scenario seconds.
    """

    knot_t: FloatArray
    knot_p: FloatArray
    first: IntArray
    count: IntArray
    t_start: FloatArray
    t_end: FloatArray

    @cached_property
    def _span(self) -> float:
        # A power of two above every knot time: target * span + t is then one sorted key
        # over all targets, so one searchsorted finds every pair's segment.
        return float(2.0 ** math.ceil(math.log2(max(float(self.knot_t.max(initial=0.0)), 1.0) + 2.0)))

    @cached_property
    def _keys(self) -> FloatArray:
        owner = np.repeat(np.arange(self.first.size), self.count)
        return owner * self._span + self.knot_t

    def state(self, idx: IntArray, t: FloatArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """Positions and velocities of targets ``idx`` at scenario times ``t`` (same length).

        Returns:
            ``(pos, vel, alive)``: ENU metres ``(M, 3)``, ENU m/s ``(M, 3)`` (the velocity of the
            segment being flown, zero when hovering), and whether the target exists at ``t``.
            Outside its lifetime a target's position is clamped to its route's ends.
        """
        t_clamped = np.clip(t, 0.0, self._span - 1.0)
        seg = np.searchsorted(self._keys, idx * self._span + t_clamped, side="right") - 1
        seg = np.clip(seg, self.first[idx], self.first[idx] + self.count[idx] - 2)
        t0, t1 = self.knot_t[seg], self.knot_t[seg + 1]
        p0, p1 = self.knot_p[seg], self.knot_p[seg + 1]
        dt = t1 - t0
        moving = dt > 0.0
        safe_dt = np.where(moving, dt, 1.0)
        frac = np.clip((t - t0) / safe_dt, 0.0, 1.0)
        vel = np.where(moving[:, None], (p1 - p0) / safe_dt[:, None], 0.0)
        pos = p0 + frac[:, None] * (p1 - p0)
        alive = (t >= self.t_start[idx]) & (t < self.t_end[idx])
        return pos, vel, alive


RouteTarget = DroneTarget | MannedAircraftTarget | HelicopterTarget


def _densify(target: RouteTarget, frame: LocalFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The route as ENU points with, for each, the speed of the leg ending there and the hover after it.

    Legs longer than :data:`_MAX_CHORD_M` are split, interpolating latitude, longitude and
    altitude linearly, so that a level leg stays level: a single straight ENU chord would sag
    below the start and end altitude (by about 20 m mid-way along 30 km) because the Earth curves.
    """
    wps = target.waypoints
    lat = np.array([w.lat for w in wps])
    lon = np.array([w.lon for w in wps])
    alt = np.array([w.alt_m for w in wps])
    e, n, _ = frame.to_enu(lat, lon, alt)
    pieces = np.maximum(1, np.ceil(np.hypot(np.diff(e), np.diff(n)) / _MAX_CHORD_M)).astype(np.int64)
    # Fractions along each leg: leg j contributes pieces[j] points, ending exactly at waypoint j+1.
    leg = np.repeat(np.arange(len(wps) - 1), pieces)
    frac = (np.arange(leg.size) - np.repeat(np.cumsum(pieces) - pieces, pieces) + 1) / pieces[leg]

    def lerp(v: FloatArray) -> FloatArray:
        return np.concatenate([v[:1], v[leg] + frac * (v[leg + 1] - v[leg])])

    points = np.column_stack(frame.to_enu(lerp(lat), lerp(lon), lerp(alt)))
    default = target.speed_mps if target.speed_mps is not None else math.nan
    leg_speed = np.array([w.speed_mps if w.speed_mps is not None else default for w in wps])
    at_waypoint = np.concatenate([[True], frac == 1.0])
    owner = np.concatenate([[0], leg + 1])  # the waypoint each point's leg ends at
    hover = np.where(at_waypoint, np.array([w.hover_s for w in wps])[owner], 0.0)
    return points, leg_speed[owner], hover


def route_knots(target: RouteTarget, frame: LocalFrame) -> tuple[FloatArray, FloatArray]:
    """Knot times (scenario s) and ENU positions (m) of a waypoint route, hovers included."""
    points, speed, hover = _densify(target, frame)
    times: list[float] = [target.start_s]
    knots: list[FloatArray] = [points[0]]
    for j in range(len(points)):
        if j > 0:
            times.append(times[-1] + float(np.linalg.norm(points[j] - points[j - 1])) / speed[j])
            knots.append(points[j])
        if hover[j] > 0.0:
            times.append(times[-1] + float(hover[j]))
            knots.append(points[j])
    if len(times) == 1:  # a lone waypoint with no hover: it stays there until end_s
        assert target.end_s is not None  # guaranteed by scenario validation
        times.append(target.end_s)
        knots.append(points[0])
    return np.asarray(times), np.vstack(knots)


def bird_knots(bird: BirdTarget, frame: LocalFrame, end_s: float, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """A wandering route: short straight stretches with random turns, speed and climb.

    Birds turn every 2-8 s by a normally distributed angle (sd ``turn_sd_deg``, default 50 degrees), change speed by up to
    +-40 %, stay within ``wander_radius_m`` of their centre (they turn back towards it when they
    would leave) and within 30 m of its altitude. Knot times in scenario seconds, positions ENU m.
    """
    ce, cn, cu = (float(v[0]) for v in frame.to_enu([bird.position.lat], [bird.position.lon], [bird.position.alt_m]))
    radius = bird.wander_radius_m
    # Start somewhere inside the disc, heading anywhere.
    r0, a0 = radius * math.sqrt(rng.random()) * 0.5, rng.uniform(0.0, 2 * math.pi)
    pos = np.array([ce + r0 * math.sin(a0), cn + r0 * math.cos(a0), cu])
    heading = rng.uniform(0.0, 2 * math.pi)
    t = bird.start_s
    times, knots = [t], [pos.copy()]
    while t < end_s:
        leg_s = rng.uniform(2.0, 8.0)
        speed = bird.speed_mps * rng.uniform(0.6, 1.4)
        heading += rng.normal(0.0, math.radians(bird.turn_sd_deg))
        step = speed * leg_s * np.array([math.sin(heading), math.cos(heading)])
        if math.hypot(pos[0] + step[0] - ce, pos[1] + step[1] - cn) > radius:
            # Turn back towards the centre (with some scatter) rather than leaving the area.
            heading = math.atan2(ce - pos[0], cn - pos[1]) + rng.normal(0.0, math.radians(30.0))
            step = speed * leg_s * np.array([math.sin(heading), math.cos(heading)])
        climb = float(np.clip(pos[2] + rng.normal(0.0, 1.0) * leg_s, cu - 30.0, cu + 30.0)) - pos[2]
        pos = pos + np.array([step[0], step[1], climb])
        t += leg_s
        times.append(t)
        knots.append(pos.copy())
    return np.asarray(times), np.vstack(knots)


def flock_member_knots(bird: BirdTarget, points: FloatArray, rng: np.random.Generator) -> FloatArray:
    """A flock member's knot positions (ENU m), at the leader's knot times, from the leader's ``points``.

    The member keeps an offset from the leader drawn uniformly in a disc of radius
    ``flock_spread_m`` (and up to +-10 m vertically), and at every knot jitters around it
    (Gaussian, sd 20 % of the spread but at most 10 m horizontally, at most 3 m vertically): so
    its heading and speed change at each turn independently of its neighbours', by a few m/s.
    """
    spread = bird.flock_spread_m
    r, a = spread * math.sqrt(rng.random()), rng.uniform(0.0, 2 * math.pi)
    offset = np.array([r * math.sin(a), r * math.cos(a), rng.uniform(-0.25, 0.25) * min(spread, 40.0)])
    jitter_sd = np.array([0.2 * min(spread, 50.0), 0.2 * min(spread, 50.0), 0.1 * min(spread, 30.0)])
    return points + offset + rng.standard_normal(points.shape) * jitter_sd


def build_trajectories(
    targets: Sequence[Target], frame: LocalFrame, duration_s: float, motion_rngs: Sequence[np.random.Generator]
) -> Trajectories:
    """Pack every target's route into :class:`Trajectories` (bird routes drawn from ``motion_rngs``).

    Rows are *bodies*, the truth targets: one per target, except a flock (a bird with
    ``flock_size`` N > 1), which has N consecutive rows. ``motion_rngs`` has one generator per body.
    """
    all_t: list[FloatArray] = []
    all_p: list[FloatArray] = []
    n_bodies = sum(len(body_ids(t)) for t in targets)
    t_end = np.empty(n_bodies)
    t_start = np.empty(n_bodies)
    b = 0
    for target in targets:
        latest = min(duration_s, target.end_s if target.end_s is not None else math.inf)
        if isinstance(target, BirdTarget):
            times, points = bird_knots(target, frame, latest, motion_rngs[b])
            members = [points] + [flock_member_knots(target, points, motion_rngs[b + k]) for k in range(1, target.flock_size)]
        else:
            times, points = route_knots(target, frame)
            members = [points]
        for member in members:
            t_end[b] = min(latest, float(times[-1]))
            t_start[b] = target.start_s
            all_t.append(times)
            all_p.append(member)
            b += 1
    count = np.array([len(t) for t in all_t], dtype=np.int64)
    first = np.cumsum(count) - count
    return Trajectories(
        knot_t=np.concatenate(all_t) if all_t else np.zeros(0),
        knot_p=np.vstack(all_p) if all_p else np.zeros((0, 3)),
        first=first,
        count=count,
        t_start=t_start,
        t_end=t_end,
    )


# ----------------------------------------------------------------------------------- sensing


@dataclass(frozen=True)
class _Block:
    """Measurements in ENU, as columns (one row per observation) before conversion to WGS84."""

    kind: int
    sensor: int
    target: IntArray  # -1 for clutter
    t: FloatArray
    pos: FloatArray  # (M, 3) ENU metres
    vel: FloatArray  # (M, 3) ENU m/s, true velocity (zeros for plots)
    sigma_h: float
    sigma_v: float
    azimuth_deg: FloatArray | None = None  # bearings only: the measured azimuth (pos is the sensor's)


def _periodic_pairs(first: FloatArray, end: FloatArray, period: float) -> tuple[IntArray, FloatArray]:
    """Every ``(i, first[i] + k * period)`` with k = 0, 1, ... and time before ``end[i]``."""
    counts = np.maximum(np.ceil((end - first) / period), 0.0).astype(np.int64)
    idx = np.repeat(np.arange(first.size), counts)
    run_start = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(idx.size) - run_start
    return idx, first[idx] + k * period


def _batches(n: int) -> Iterator[slice]:
    for lo in range(0, n, _BATCH):
        yield slice(lo, min(lo + _BATCH, n))


def _sensor_enu(sensor: RadarSensor | RemoteIdReceiver | AdsbReceiver | DirectionFinder, frame: LocalFrame) -> FloatArray:
    p = sensor.position
    return np.array([float(v[0]) for v in frame.to_enu([p.lat], [p.lon], [p.alt_m])])


def _azimuth_fraction(pos: FloatArray, origin: FloatArray) -> FloatArray:
    """Azimuth from ``origin``, clockwise from north, as a fraction of a turn in [0, 1)."""
    az = np.arctan2(pos[:, 0] - origin[0], pos[:, 1] - origin[1])
    return np.mod(az / (2.0 * math.pi), 1.0)


def _radar_plots(
    radar: RadarSensor,
    sensor_index: int,
    traj: Trajectories,
    frame: LocalFrame,
    duration_s: float,
    streams: Sequence[np.random.Generator],
) -> list[_Block]:
    """Target plots and clutter of one rotating radar."""
    det_rng, noise_rng, clutter_rng = streams
    site = _sensor_enu(radar, frame)
    period = radar.scan_period_s
    sigma = np.array([radar.sigma_h_m, radar.sigma_h_m, radar.sigma_v_m])
    blocks: list[_Block] = []
    scan_first = np.floor(traj.t_start / period) * period
    idx_all, scan_all = _periodic_pairs(scan_first, np.minimum(traj.t_end, duration_s), period)
    for b in _batches(idx_all.size):
        idx, scan_t = idx_all[b], scan_all[b]
        # The beam meets the target when its azimuth equals the target's. The target barely
        # moves in angle during a scan, so the fixed-point iteration (a first guess from the
        # position at scan start, then two refinements) converges to well under 1 ms.
        t = scan_t
        for _ in range(3):
            pos, _, _ = traj.state(idx, t)
            t = scan_t + _azimuth_fraction(pos, site) * period
        pos, _, alive = traj.state(idx, t)
        in_cover = alive & (t < duration_s) & (np.hypot(pos[:, 0] - site[0], pos[:, 1] - site[1]) <= radar.range_m)
        cand = np.flatnonzero(in_cover)
        hit = cand[det_rng.random(cand.size) < radar.pd]
        noisy = pos[hit] + noise_rng.standard_normal((hit.size, 3)) * sigma
        blocks.append(_Block(_PLOT, sensor_index, idx[hit], t[hit], noisy, np.zeros_like(noisy), radar.sigma_h_m, radar.sigma_v_m))
    blocks.append(_clutter(radar, sensor_index, site, frame, duration_s, clutter_rng))
    return blocks


def _clutter(
    radar: RadarSensor, sensor_index: int, site: FloatArray, frame: LocalFrame, duration_s: float, rng: np.random.Generator
) -> _Block:
    """False plots: Poisson count per scan, uniform over the coverage disc and the height band."""
    n_scans = math.ceil(duration_s / radar.scan_period_s)
    per_scan = rng.poisson(radar.clutter_per_scan, n_scans)
    scan_t = np.repeat(np.arange(n_scans) * radar.scan_period_s, per_scan)
    m = scan_t.size
    r = radar.range_m * np.sqrt(rng.random(m))  # sqrt: uniform in area, not in radius
    az_frac = rng.random(m)
    alt = radar.position.alt_m + radar.clutter_max_height_m * rng.random(m)
    t = scan_t + az_frac * radar.scan_period_s
    east = site[0] + r * np.sin(2 * math.pi * az_frac)
    north = site[1] + r * np.cos(2 * math.pi * az_frac)
    # The height band is in altitude, not ENU up (they differ by ~50 m at 25 km from the origin):
    # find each plot's latitude/longitude, then go back to ENU at the drawn altitude.
    lat, lon, _ = frame.to_geodetic(east, north, np.zeros(m))
    pos = np.column_stack(frame.to_enu(lat, lon, alt))
    keep = t < duration_s
    return _Block(
        _PLOT, sensor_index, np.full(int(keep.sum()), -1, dtype=np.int64), t[keep], pos[keep],
        np.zeros((int(keep.sum()), 3)), radar.sigma_h_m, radar.sigma_v_m,
    )


def _periodic_states(
    senders: IntArray, phase: FloatArray, period: float, traj: Trajectories, duration_s: float
) -> Iterator[tuple[IntArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]]:
    """``(target, t, pos, vel, alive)`` batches: each sender's state once per ``period`` from its
    appearance (offset by its own ``phase`` of the period) until it ends or the scenario does."""
    first = traj.t_start[senders] + phase[senders] * period
    local, t_all = _periodic_pairs(first, np.minimum(traj.t_end[senders], duration_s), period)
    idx_all = senders[local]
    for b in _batches(idx_all.size):
        idx, t = idx_all[b], t_all[b]
        pos, vel, alive = traj.state(idx, t)
        yield idx, t, pos, vel, alive


def _broadcasts(
    receiver: RemoteIdReceiver | AdsbReceiver,
    sensor_index: int,
    kind: int,
    senders: IntArray,
    phase: FloatArray,
    traj: Trajectories,
    frame: LocalFrame,
    duration_s: float,
    noise_rng: np.random.Generator,
) -> list[_Block]:
    """Messages received from the ``senders`` (target indices) in range, one per ``period_s``."""
    site = _sensor_enu(receiver, frame)
    sigma = np.array([receiver.sigma_h_m, receiver.sigma_h_m, receiver.sigma_v_m])
    blocks = []
    for idx, t, pos, vel, alive in _periodic_states(senders, phase, receiver.period_s, traj, duration_s):
        ok = alive & (np.hypot(pos[:, 0] - site[0], pos[:, 1] - site[1]) <= receiver.range_m)
        noisy = pos[ok] + noise_rng.standard_normal((int(ok.sum()), 3)) * sigma
        blocks.append(_Block(kind, sensor_index, idx[ok], t[ok], noisy, vel[ok], receiver.sigma_h_m, receiver.sigma_v_m))
    return blocks


def _bearings(
    finder: DirectionFinder,
    sensor_index: int,
    emitters: IntArray,
    phase: FloatArray,
    traj: Trajectories,
    frame: LocalFrame,
    duration_s: float,
    streams: list[np.random.Generator],
) -> list[_Block]:
    """Bearings from the direction finder to the ``emitters`` (drones) in range, one per
    ``period_s`` each with probability ``pd``, with Gaussian azimuth noise."""
    site = _sensor_enu(finder, frame)
    detect_rng, noise_rng = streams[0], streams[1]
    blocks = []
    for idx, t, pos, _, alive in _periodic_states(emitters, phase, finder.period_s, traj, duration_s):
        d = pos - site
        ok = alive & (np.hypot(d[:, 0], d[:, 1]) <= finder.range_m) & (detect_rng.random(idx.size) < finder.pd)
        az = np.degrees(np.arctan2(d[ok, 0], d[ok, 1])) + noise_rng.standard_normal(int(ok.sum())) * finder.sigma_azimuth_deg
        m = int(ok.sum())
        blocks.append(_Block(_BEARING, sensor_index, idx[ok], t[ok], np.tile(site, (m, 1)), np.zeros((m, 3)),
                             finder.sigma_azimuth_deg, 0.0, np.mod(az, 360.0)))
    return blocks


# ------------------------------------------------------------------------------------ result


@dataclass(frozen=True)
class _ObservationTable:
    """All observations as sorted columns (WGS84), materialised into records on demand."""

    kind: npt.NDArray[np.int8]
    sensor: IntArray
    target: IntArray
    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    alt: FloatArray
    sigma_h: FloatArray
    sigma_v: FloatArray
    speed: FloatArray
    track: FloatArray
    vspeed: FloatArray
    azimuth: FloatArray  # bearings: degrees from the sensor (NaN for other kinds)


@dataclass(frozen=True)
class _TruthTable:
    target: IntArray
    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    alt: FloatArray
    vel: FloatArray  # (M, 3)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What :func:`simulate` produced.

    ``observations`` and ``truth`` are built from packed columns the first time they are read
    (a 1000-drone, 30-minute run has millions of records); :meth:`iter_observations` and
    :meth:`iter_truth` stream them without keeping the lists.

    Attributes:
        scenario: the scenario simulated.
        seed: the seed used.
        frame: the site ENU frame at the scenario origin.
        zones: the scenario's zones.
        body_ids: the truth target ids: the scenario's target ids, with each flock expanded into
            its birds ``<id>-1`` ... ``<id>-N``.
    """

    scenario: Scenario
    seed: int
    frame: LocalFrame
    zones: list[Zone]
    _obs: _ObservationTable
    _truth: _TruthTable
    body_ids: tuple[str, ...]
    _body_target: tuple[int, ...]
    """The scenario target (index) of each body."""

    @cached_property
    def observations(self) -> list[Observation]:
        """Every observation of every sensor, sorted by time (ties keep sensor order)."""
        return list(self.iter_observations())

    @cached_property
    def truth(self) -> list[TruthSample]:
        """Every target's true state each second while it exists, sorted by (t, target_id)."""
        return list(self.iter_truth())

    @property
    def n_observations(self) -> int:
        return int(self._obs.t.size)

    @property
    def n_truth(self) -> int:
        return int(self._truth.t.size)

    def counts(self) -> dict[str, int]:
        """Numbers of records by kind: observations, plot, clutter, remote_id, adsb, truth, targets, zones."""
        o = self._obs
        return {
            "observations": int(o.t.size),
            "plot": int(np.count_nonzero(o.kind == _PLOT)),
            "clutter": int(np.count_nonzero((o.kind == _PLOT) & (o.target < 0))),
            "remote_id": int(np.count_nonzero(o.kind == _REMOTE_ID)),
            "adsb": int(np.count_nonzero(o.kind == _ADSB)),
            "bearing": int(np.count_nonzero(o.kind == _BEARING)),
            "truth": self.n_truth,
            "targets": len(self.body_ids),
            "zones": len(self.zones),
        }

    def iter_observations(self) -> Iterator[Observation]:
        """The observations in time order, built one at a time."""
        o = self._obs
        sensor_ids = [s.id for s in self.scenario.sensors]
        targets = [self.scenario.targets[j] for j in self._body_target]  # indexed by body
        for lo in range(0, o.t.size, _BATCH):
            sl = slice(lo, lo + _BATCH)
            rows = zip(
                o.kind[sl].tolist(), o.sensor[sl].tolist(), o.target[sl].tolist(), o.t[sl].tolist(),
                o.lat[sl].tolist(), o.lon[sl].tolist(), o.alt[sl].tolist(), o.sigma_h[sl].tolist(),
                o.sigma_v[sl].tolist(), o.speed[sl].tolist(), o.track[sl].tolist(), o.vspeed[sl].tolist(),
                o.azimuth[sl].tolist(),
            )
            for kind, s, tg, t, lat, lon, alt, sh, sv, speed, track, vspeed, az in rows:
                if kind == _PLOT:
                    yield PlotObservation(t=t, sensor=sensor_ids[s], lat=lat, lon=lon, alt_m=alt, sigma_h_m=sh, sigma_v_m=sv)
                elif kind == _BEARING:
                    yield BearingObservation(t=t, sensor=sensor_ids[s], lat=lat, lon=lon, alt_m=alt, azimuth_deg=az, sigma_azimuth_deg=sh)
                elif kind == _REMOTE_ID:
                    drone = targets[tg]
                    assert isinstance(drone, DroneTarget) and drone.remote_id is not None
                    operator = drone.remote_id.operator or drone.waypoints[0]
                    yield RemoteIdObservation(
                        t=t, sensor=sensor_ids[s], lat=lat, lon=lon, alt_m=alt, uas_id=drone.remote_id.uas_id,
                        speed_mps=speed, track_deg=track, vspeed_mps=vspeed,
                        operator_lat=operator.lat, operator_lon=operator.lon, h_acc_m=sh,
                    )
                else:
                    aircraft = targets[tg]
                    assert isinstance(aircraft, (MannedAircraftTarget, HelicopterTarget)) and aircraft.icao24 is not None
                    yield AdsbObservation(
                        t=t, sensor=sensor_ids[s], lat=lat, lon=lon, alt_m=alt, icao24=aircraft.icao24,
                        callsign=aircraft.callsign, speed_mps=speed, track_deg=track,
                        # Emitter category A7 (rotorcraft) for helicopters; not modelled for aeroplanes.
                        category="A7" if isinstance(aircraft, HelicopterTarget) else None,
                    )

    def iter_truth(self) -> Iterator[TruthSample]:
        """The truth samples in (t, target_id) order, built one at a time."""
        tr = self._truth
        targets = [self.scenario.targets[j] for j in self._body_target]  # indexed by body
        ids = self.body_ids
        kinds = [KIND_OF[type(tg)] for tg in targets]
        uas_ids = [tg.remote_id.uas_id if isinstance(tg, DroneTarget) and tg.remote_id else None for tg in targets]
        icaos = [tg.icao24 if isinstance(tg, (MannedAircraftTarget, HelicopterTarget)) else None for tg in targets]
        for lo in range(0, tr.t.size, _BATCH):
            sl = slice(lo, lo + _BATCH)
            rows = zip(
                tr.target[sl].tolist(), tr.t[sl].tolist(), tr.lat[sl].tolist(), tr.lon[sl].tolist(),
                tr.alt[sl].tolist(), tr.vel[sl].tolist(),
            )
            for i, t, lat, lon, alt, (ve, vn, vu) in rows:
                yield TruthSample(
                    t=t, target_id=ids[i], kind=kinds[i], lat=lat, lon=lon, alt_m=alt,
                    vel_east_mps=ve, vel_north_mps=vn, vel_up_mps=vu,
                    uas_id=uas_ids[i], icao24=icaos[i], authorised=targets[i].authorised,
                )


def _concat(arrays: list[npt.NDArray], empty_shape: tuple[int, ...]) -> npt.NDArray:
    return np.concatenate(arrays) if arrays else np.zeros(empty_shape)


def _observation_table(blocks: list[_Block], frame: LocalFrame, start_time: float) -> _ObservationTable:
    """Concatenate blocks (in generation order), convert to WGS84 and sort stably by time."""
    sizes = [b.t.size for b in blocks]
    t = _concat([b.t for b in blocks], (0,))
    order = np.argsort(t, kind="stable")
    pos = _concat([b.pos for b in blocks], (0, 3))[order]
    vel = _concat([b.vel for b in blocks], (0, 3))[order]
    lat, lon, alt = frame.to_geodetic(pos[:, 0], pos[:, 1], pos[:, 2])
    speed = np.hypot(vel[:, 0], vel[:, 1])
    track = np.mod(np.degrees(np.arctan2(vel[:, 0], vel[:, 1])), 360.0)
    d = _DECIMALS
    return _ObservationTable(
        kind=np.repeat(np.array([b.kind for b in blocks], dtype=np.int8), sizes)[order],
        sensor=np.repeat(np.array([b.sensor for b in blocks], dtype=np.int64), sizes)[order],
        target=_concat([b.target for b in blocks], (0,)).astype(np.int64)[order],
        t=np.round(start_time + t[order], d["t"]),
        lat=np.round(lat, d["latlon"]),
        lon=np.round(lon, d["latlon"]),
        alt=np.round(alt, d["alt"]),
        sigma_h=np.repeat(np.array([b.sigma_h for b in blocks]), sizes)[order],
        sigma_v=np.repeat(np.array([b.sigma_v for b in blocks]), sizes)[order],
        speed=np.round(speed, d["vel"]),
        # round() can carry 359.999 up to 360.0, still a valid track (the bound is inclusive).
        track=np.round(track, d["deg"]),
        vspeed=np.round(vel[:, 2], d["vel"]),
        azimuth=np.mod(np.round(_concat([b.azimuth_deg if b.azimuth_deg is not None else np.full(b.t.size, np.nan) for b in blocks], (0,))[order],
                                d["deg"]), 360.0),
    )


def _truth_table(traj: Trajectories, ids: Sequence[str], frame: LocalFrame, start_time: float) -> _TruthTable:
    """Each target's state at every whole second of scenario time while it exists."""
    idx_all, t_all = _periodic_pairs(np.ceil(traj.t_start), traj.t_end, 1.0)
    parts = []
    for b in _batches(idx_all.size):
        pos, vel, alive = traj.state(idx_all[b], t_all[b])
        parts.append((idx_all[b][alive], t_all[b][alive], pos[alive], vel[alive]))
    idx = _concat([p[0] for p in parts], (0,)).astype(np.int64)
    t = _concat([p[1] for p in parts], (0,))
    pos = _concat([p[2] for p in parts], (0, 3))
    vel = _concat([p[3] for p in parts], (0, 3))
    # Sort by (t, target_id): rank targets by id string, then lexsort on (rank, t).
    rank = np.argsort(np.argsort(np.array(list(ids), dtype=object)))
    order = np.lexsort((rank[idx], t)) if idx.size else np.zeros(0, dtype=np.int64)
    lat, lon, alt = frame.to_geodetic(pos[order, 0], pos[order, 1], pos[order, 2])
    d = _DECIMALS
    return _TruthTable(
        target=idx[order],
        t=np.round(start_time + t[order], d["t"]),
        lat=np.round(lat, d["latlon"]),
        lon=np.round(lon, d["latlon"]),
        alt=np.round(alt, d["alt"]),
        vel=np.round(vel[order], d["vel"]),
    )


# ----------------------------------------------------------------------------------- driver

_MOTION, _SENSING = 0, 1


def _seed_for(seed: int, domain: int, name: str) -> np.random.SeedSequence:
    """The seed sequence of one target's or sensor's streams: a function of its id, not its position in the list."""
    return np.random.SeedSequence(seed, spawn_key=(domain, zlib.crc32(name.encode("utf-8"))))



def simulate(scenario: Scenario, seed: int = 0) -> SimulationResult:
    """Fly the scenario's targets and record what its sensors report.

    Deterministic: the same scenario and seed give the same result, bit for bit.

    Args:
        scenario: a validated scenario (:func:`~skywarden.sim.load_scenario`).
        seed: a non-negative integer seeding every random stream.
    """
    frame = LocalFrame(scenario.origin.lat, scenario.origin.lon, scenario.origin.alt_m, name=scenario.name)
    targets, sensors = scenario.targets, scenario.sensors
    # Bodies (truth targets): one per target, N per flock. A body's motion stream is keyed by its
    # target's id (a flock's first bird) or by its own id (the other birds of a flock).
    bodies = [(i, k, body) for i, target in enumerate(targets) for k, body in enumerate(body_ids(target))]
    motion_rngs = [np.random.default_rng(_seed_for(seed, _MOTION, targets[i].id if k == 0 else body)) for i, k, body in bodies]
    # Each transmitter's phase within its message period: drawn once per target so that
    # all receivers hear the same broadcast at the same moment.
    phase = np.array([rng.random() for rng in motion_rngs])
    traj = build_trajectories(targets, frame, scenario.duration_s, motion_rngs)
    of_body = [targets[i] for i, _, _ in bodies]
    broadcasting = np.flatnonzero([isinstance(t, DroneTarget) and t.remote_id is not None for t in of_body])
    emitters = np.flatnonzero([isinstance(t, DroneTarget) for t in of_body])
    manned = np.flatnonzero(
        [isinstance(t, MannedAircraftTarget) or (isinstance(t, HelicopterTarget) and t.icao24 is not None) for t in of_body]
    )

    blocks: list[_Block] = []
    for j, sensor in enumerate(sensors):
        # Independent detection, noise and clutter streams.
        streams = [np.random.default_rng(s) for s in _seed_for(seed, _SENSING, sensor.id).spawn(3)]
        if isinstance(sensor, RadarSensor):
            blocks += _radar_plots(sensor, j, traj, frame, scenario.duration_s, streams)
        elif isinstance(sensor, DirectionFinder):
            blocks += _bearings(sensor, j, emitters, phase, traj, frame, scenario.duration_s, streams)
        elif isinstance(sensor, RemoteIdReceiver):
            blocks += _broadcasts(sensor, j, _REMOTE_ID, broadcasting, phase, traj, frame, scenario.duration_s, streams[1])
        else:
            blocks += _broadcasts(sensor, j, _ADSB, manned, phase, traj, frame, scenario.duration_s, streams[1])

    return SimulationResult(
        scenario=scenario,
        seed=seed,
        frame=frame,
        zones=list(scenario.zones),
        _obs=_observation_table(blocks, frame, scenario.start_time),
        _truth=_truth_table(traj, [body for _, _, body in bodies], frame, scenario.start_time),
        body_ids=tuple(body for _, _, body in bodies),
        _body_target=tuple(i for i, _, _ in bodies),
    )
