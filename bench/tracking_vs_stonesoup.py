"""Tracking benchmark: the same detections fed to Stone Soup's KD-tree GNN and to skywarden's tracker.

Issue 4, item 6. For each scenario the detections are generated once (NumPy, seeded) and then
converted to each system's input types: Stone Soup ``Detection`` objects (2-D, x and y) and
skywarden ``PlotObservation`` records (WGS84, through the site's ENU frame, at a constant altitude
with the same sigma vertically) turned into one ``MeasurementBatch`` per scan. Each system then
runs in its own forked child process of this one run, scan by scan, and is timed around its
per-scan call only (``time.process_time``, plus ``perf_counter`` for wall time); its confirmed
tracks' current positions are scored in the parent with skywarden's GOSPA (c = 100 m, p = 1,
alpha = 2) *horizontally*, so both systems are judged on the same two axes.

Scenarios (after ../shared/reference/tracking.md):
* ``cv-N``: N targets in 2-D nearly-constant-velocity motion (white-noise acceleration,
  q = 1 m^2/s^3), uniform in a 10 km x 10 km square, speeds 5-30 m/s, random headings, alive in
  every scan; Pd 0.9, sigma 10 m per axis, Poisson clutter (mean 10 per scan) uniform over the
  square; 1 s scans. Independent random streams (``SeedSequence(seed).spawn``) drive the initial
  states, process noise, detection and noise, clutter and shuffling.
* ``manoeuvre-N``: N small drones flying straight legs, coordinated turns of 10-30 deg/s and
  stop-and-hover (brake at 3 m/s^2, hover 5-15 s, accelerate on a new heading), with the same
  sensor and clutter.

Skywarden sees plots at 100 m above the frame origin plus N(0, 10 m) vertical noise; clutter gets
its altitude drawn the same way, so the third axis carries no extra information.

Stone Soup recipe (model-matched, the "KD-tree GNN" of tracking.md): CV(q) x 2, LinearGaussian
R = diag(100, 100), Kalman predictor/updater, DistanceHypothesiser(Mahalanobis, missed_distance=3),
DetectionKDTreeGNN2D(max_distance=300 m) for tracks and for the initiator's holding tracks,
MultiMeasurementInitiator(min_points=3, velocity prior sigma 20 m/s, holding tracks deleted after
2 steps), UpdateTimeStepsDeleter(5), MultiTargetTracker fed by ``update_tracker``. q = 1 on the
CV scenarios (the truth's value); q = 10 on the manoeuvring one (as skywarden's default q_h).

Skywarden: any tracker with ``step(MeasurementBatch, t_now, end_period=True) -> TrackBatch``
slots in through a factory (``run_skywarden(scenario, factory)``). Its TrackBatch lists only the
confirmed tracks updated in the step, so the adapter keeps the picture an operator display would
show: every confirmed track from its last report until ``lost_track_ids`` ends it, extrapolated at
its reported velocity to the scan time (Stone Soup's tracks carry their prediction when missed).

Usage:
    python bench/tracking_vs_stonesoup.py                       # the full run, writes bench/results
    python bench/tracking_vs_stonesoup.py --sizes 10 100 --scans 30 --manoeuvring 0
    python bench/tracking_vs_stonesoup.py --skip-stonesoup-above 500
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # single-threaded BLAS: CPU time is one core's time

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import multiprocessing  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Protocol  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402  (bench/machine.py, beside this script)

from skywarden.core.frame import LocalFrame  # noqa: E402
from skywarden.core.records import PlotObservation, TrackBatch  # noqa: E402
from skywarden.eval.gospa import gospa  # noqa: E402
from skywarden.fusion.measurements import MeasurementBatch, SensorDefaults  # noqa: E402
from skywarden.fusion.tracker import Tracker, TrackerConfig  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tracking_vs_stonesoup.md"
FULL_SIZES = (10, 100, 500, 1000)
FULL_SCANS = 100
FRAME = LocalFrame(51.15, -0.18, 0.0, name="bench")
T0 = 1_764_201_600.0  # UNIX seconds of scan 0 (skywarden records need a plausible UNIX time)
HALF_SIDE_M = 5_000.0  # the square is [-5 km, 5 km]^2 around the frame origin
ALT_M = 100.0
GOSPA_C = 100.0
GOSPA_P = 1.0
STEADY_FROM = 10  # "scans >= 10" excludes the initiation transient


# -- scenarios ------------------------------------------------------------------------------------
@dataclass
class Scenario:
    """Truth and detections of one scenario, in the ENU frame (metres, seconds from T0)."""

    name: str
    n_targets: int
    truth_xy: list[np.ndarray]
    """Per scan, ``(N, 2)`` true east/north positions (row = truth id)."""
    det_xyz: list[np.ndarray]
    """Per scan, ``(D, 3)`` detections (east, north, up), shuffled; the same for both systems."""
    det_truth: list[np.ndarray]
    """Per scan, ``(D,)`` truth id of each detection or -1 for clutter (diagnostics only)."""
    stonesoup_q: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def scans(self) -> int:
        return len(self.truth_xy)


def _cv_q(q: float, dt_s: float) -> np.ndarray:
    """Discretised white-noise-acceleration covariance of one axis, state (position, velocity)."""
    return q * np.array([[dt_s**3 / 3, dt_s**2 / 2], [dt_s**2 / 2, dt_s]])


def _sense(
    truth: list[np.ndarray], rng_det: np.random.Generator, rng_clutter: np.random.Generator,
    rng_shuffle: np.random.Generator, pd: float, sigma: float, clutter_mean: float,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Detections of every scan: each truth with probability pd plus N(0, sigma^2) per axis, and clutter."""
    dets, ids = [], []
    for xy in truth:
        n = len(xy)
        seen = rng_det.random(n) < pd
        k = int(seen.sum())
        noise = rng_det.normal(0.0, sigma, (k, 3))
        target = np.column_stack([xy[seen], np.full(k, ALT_M)]) + noise
        m = int(rng_clutter.poisson(clutter_mean))
        clutter = np.column_stack([
            rng_clutter.uniform(-HALF_SIDE_M, HALF_SIDE_M, (m, 2)), ALT_M + rng_clutter.normal(0.0, sigma, m),
        ])
        det = np.vstack([target, clutter])
        tid = np.concatenate([np.flatnonzero(seen), np.full(m, -1)])
        order = rng_shuffle.permutation(len(det))
        dets.append(np.round(det[order], 3))
        ids.append(tid[order])
    return dets, ids


def make_cv_scenario(n: int, scans: int, seed: int = 42, q: float = 1.0, pd: float = 0.9,
                     sigma: float = 10.0, clutter_mean: float = 10.0, dt_s: float = 1.0) -> Scenario:
    """N nearly-constant-velocity targets, alive in every scan (they may leave the square)."""
    s_init, s_proc, s_det, s_clut, s_shuf = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
    pos = s_init.uniform(-HALF_SIDE_M, HALF_SIDE_M, (n, 2))
    speed = s_init.uniform(5.0, 30.0, n)
    heading = s_init.uniform(0.0, 2 * np.pi, n)
    # state per target: x, vx, y, vy
    x = np.column_stack([pos[:, 0], speed * np.sin(heading), pos[:, 1], speed * np.cos(heading)])
    F1 = np.array([[1.0, dt_s], [0.0, 1.0]])
    F = np.kron(np.eye(2), F1)
    L = np.linalg.cholesky(_cv_q(q, dt_s))
    truth = []
    for k in range(scans):
        if k:
            w = s_proc.standard_normal((n, 2, 2)) @ L.T  # (n, axis, [pos, vel])
            x = x @ F.T + w.reshape(n, 4)
        truth.append(x[:, [0, 2]].copy())
    dets, ids = _sense(truth, s_det, s_clut, s_shuf, pd, sigma, clutter_mean)
    return Scenario(f"cv-{n}", n, truth, dets, ids, stonesoup_q=q,
                    params=dict(kind="cv", q=q, pd=pd, sigma=sigma, clutter_mean=clutter_mean, dt=dt_s, seed=seed))


def make_manoeuvre_scenario(n: int, scans: int, seed: int = 43, pd: float = 0.9, sigma: float = 10.0,
                            clutter_mean: float = 10.0, dt_s: float = 1.0, substeps: int = 20) -> Scenario:
    """N small drones: straight legs, coordinated turns (10-30 deg/s) and stop-and-hover."""
    s_init, s_proc, s_det, s_clut, s_shuf = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
    STRAIGHT, TURN, BRAKE, HOVER, ACCEL = range(5)
    pos = s_init.uniform(-HALF_SIDE_M * 0.8, HALF_SIDE_M * 0.8, (n, 2))
    speed = s_init.uniform(5.0, 20.0, n)
    heading = s_init.uniform(0.0, 2 * np.pi, n)
    mode = np.full(n, STRAIGHT)
    timer = s_proc.uniform(2.0, 10.0, n)
    rate = np.zeros(n)
    goal = speed.copy()
    accel = 3.0
    h = dt_s / substeps
    truth = []
    for k in range(scans):
        if k:
            for _ in range(substeps):
                timer -= h
                heading += rate * h * (mode == TURN)
                speed = np.where(mode == BRAKE, np.maximum(speed - accel * h, 0.0), speed)
                speed = np.where(mode == ACCEL, np.minimum(speed + accel * h, goal), speed)
                pos += (speed * h)[:, None] * np.column_stack([np.sin(heading), np.cos(heading)])
                # mode changes
                braked = (mode == BRAKE) & (speed <= 0.0)
                mode[braked] = HOVER
                timer[braked] = s_proc.uniform(5.0, 15.0, int(braked.sum()))
                hovered = (mode == HOVER) & (timer <= 0)
                mode[hovered] = ACCEL
                heading[hovered] = s_proc.uniform(0.0, 2 * np.pi, int(hovered.sum()))
                goal[hovered] = s_proc.uniform(5.0, 20.0, int(hovered.sum()))
                accelerated = (mode == ACCEL) & (speed >= goal)
                mode[accelerated] = STRAIGHT
                timer[accelerated] = s_proc.uniform(5.0, 15.0, int(accelerated.sum()))
                done = ((mode == STRAIGHT) | (mode == TURN)) & (timer <= 0)
                for i in np.flatnonzero(done).tolist():
                    if mode[i] == TURN:  # a turn always ends in a straight leg
                        mode[i], timer[i] = STRAIGHT, s_proc.uniform(5.0, 15.0)
                    elif s_proc.random() < 0.6:  # a straight leg ends in a turn or a stop
                        mode[i], timer[i] = TURN, s_proc.uniform(3.0, 10.0)
                        rate[i] = np.radians(s_proc.uniform(10.0, 30.0)) * s_proc.choice([-1.0, 1.0])
                    else:
                        mode[i] = BRAKE
        truth.append(pos.copy())
    dets, ids = _sense(truth, s_det, s_clut, s_shuf, pd, sigma, clutter_mean)
    return Scenario(f"manoeuvre-{n}", n, truth, dets, ids, stonesoup_q=10.0,
                    params=dict(kind="manoeuvre", pd=pd, sigma=sigma, clutter_mean=clutter_mean, dt=dt_s, seed=seed))


# -- one system's run -----------------------------------------------------------------------------
@dataclass
class RunResult:
    """What one system produced: per-scan CPU and wall seconds, estimates, peak memory."""

    system: str
    cpu_s: list[float]
    wall_s: list[float]
    estimates: list[tuple[np.ndarray, np.ndarray]]
    """Per scan, ``(track ids (M,), east/north (M, 2))`` of the confirmed tracks."""
    peak_mem_mb: float
    extra: dict[str, float] = field(default_factory=dict)


def _proc_status_kb(key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+)", Path("/proc/self/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def _reset_peak_rss() -> int:
    """Reset the process's peak RSS (Linux clear_refs 5); returns the current RSS, kB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _proc_status_kb("VmRSS")


class TrackerLike(Protocol):
    def step(self, batch: MeasurementBatch, t_now: float, end_period: bool = True) -> TrackBatch: ...


TrackerFactory = Callable[[LocalFrame], TrackerLike]


def skywarden_v1(frame: LocalFrame) -> TrackerLike:
    """Tracker v1 with its default configuration (q_h = 2.5, q_v = 2, manoeuvre gate and bridging)."""
    return Tracker(frame, TrackerConfig())


def skywarden_v1_matched(q: float) -> TrackerFactory:
    """Tracker v1 with its process noise set to the truth's (q_h = q_v = q), as Stone Soup's recipe is."""
    return lambda frame: Tracker(frame, TrackerConfig(q_h=q, q_v=q))


def skywarden_imm(frame: LocalFrame) -> TrackerLike:
    """The tracker with its IMM motion model (constant velocity, manoeuvre, hover; drone tuning)."""
    return Tracker(frame, TrackerConfig(motion="imm"))


IMM_LABEL = "skywarden, IMM"


def skywarden_jpda(frame: LocalFrame) -> TrackerLike:
    """Tracker v1 (default configuration) with JPDA in contested clusters instead of GNN."""
    return Tracker(frame, TrackerConfig(association="jpda"))


JPDA_LABEL = "skywarden v1, JPDA"


def run_skywarden(scn: Scenario, factory: TrackerFactory = skywarden_v1, label: str = "skywarden v1") -> RunResult:
    """Feed the scenario to a skywarden tracker made by ``factory``; time ``step`` only.

    Inputs (PlotObservation records, then one MeasurementBatch per scan) are built before the
    clock starts; the time this conversion takes is reported beside the step time.
    """
    sigma = float(scn.params["sigma"])
    defaults = SensorDefaults()
    batches = []
    conv = 0.0
    for k, det in enumerate(scn.det_xyz):
        lat, lon, alt = FRAME.to_geodetic(det[:, 0], det[:, 1], det[:, 2])
        c0 = time.process_time()
        obs = [PlotObservation(t=T0 + k, sensor="radar", lat=la, lon=lo, alt_m=al, sigma_h_m=sigma, sigma_v_m=sigma)
               for la, lo, al in zip(lat.tolist(), lon.tolist(), alt.tolist())]
        batches.append(MeasurementBatch.from_observations(obs, FRAME, defaults))
        conv += time.process_time() - c0
    base_kb = _reset_peak_rss()
    tracker = factory(FRAME)
    cpu, wall, est = [], [], []
    picture: dict[int, tuple[float, float, float, float, float]] = {}  # id -> t, e, n, ve, vn
    for k, batch in enumerate(batches):
        t_now = T0 + k
        c0, w0 = time.process_time(), time.perf_counter()
        out = tracker.step(batch, t_now, end_period=True)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
        if len(out):
            e, nn, _ = FRAME.to_enu(out.lat, out.lon, out.alt_m)
            for tid, t, ee, en, v in zip(out.track_id.tolist(), out.t.tolist(), e.tolist(), nn.tolist(),
                                         out.vel_enu_mps.tolist()):
                picture[tid] = (t, ee, en, v[0], v[1])
        for tid in out.lost_track_ids:
            picture.pop(tid, None)
        ids = np.fromiter(picture.keys(), np.int64, len(picture))
        st = np.array(list(picture.values())).reshape(-1, 5)
        age = t_now - st[:, 0]
        xy = np.column_stack([st[:, 1] + st[:, 3] * age, st[:, 2] + st[:, 4] * age])
        est.append((ids, xy))
    peak = (_proc_status_kb("VmHWM") - base_kb) / 1024.0
    return RunResult(label, cpu, wall, est, peak, extra={"input_conversion_ms_per_scan": 1e3 * conv / scn.scans})


def run_stonesoup(scn: Scenario) -> RunResult:
    """Feed the scenario (x, y only) to Stone Soup's KD-tree GNN recipe; time ``update_tracker`` only."""
    from stonesoup.dataassociator.tree import DetectionKDTreeGNN2D
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantVelocity
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.array import CovarianceMatrix, StateVector
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    sigma = float(scn.params["sigma"])
    q = scn.stonesoup_q
    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q), ConstantVelocity(q)])
    measurement = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=np.diag([sigma**2, sigma**2]))
    predictor = KalmanPredictor(transition)
    updater = KalmanUpdater(measurement)

    def associator() -> DetectionKDTreeGNN2D:
        hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=3)
        return DetectionKDTreeGNN2D(hypothesiser=hyp, predictor=predictor, updater=updater, max_distance=300.0)

    initiator = MultiMeasurementInitiator(
        prior_state=GaussianState(StateVector([0.0, 0.0, 0.0, 0.0]), CovarianceMatrix(np.diag([0.0, 400.0, 0.0, 400.0]))),
        measurement_model=measurement, deleter=UpdateTimeStepsDeleter(2), data_associator=associator(),
        updater=updater, min_points=3,
    )
    tracker = MultiTargetTracker(initiator=initiator, deleter=UpdateTimeStepsDeleter(5), detector=None,
                                 data_associator=associator(), updater=updater)
    start = dt.datetime(2025, 11, 27, tzinfo=None)
    scans = []
    for k, det in enumerate(scn.det_xyz):
        stamp = start + dt.timedelta(seconds=k)
        scans.append((stamp, {Detection(StateVector([x, y]), timestamp=stamp, measurement_model=measurement)
                              for x, y in det[:, :2].tolist()}))
    base_kb = _reset_peak_rss()
    ids: dict[str, int] = {}
    cpu, wall, est = [], [], []
    for stamp, detections in scans:
        c0, w0 = time.process_time(), time.perf_counter()
        _, tracks = tracker.update_tracker(stamp, detections)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
        rows = [(ids.setdefault(tr.id, len(ids) + 1), float(tr.state_vector[0, 0]), float(tr.state_vector[2, 0]))
                for tr in tracks]
        arr = np.array(rows, dtype=float).reshape(-1, 3)
        est.append((arr[:, 0].astype(np.int64), arr[:, 1:]))
    peak = (_proc_status_kb("VmHWM") - base_kb) / 1024.0
    return RunResult("Stone Soup KD-tree GNN", cpu, wall, est, peak)


def run_in_child(fn: Callable[..., RunResult], *args: Any) -> RunResult:
    """Run one system in a forked child, so its peak memory is its own and nothing leaks between systems."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def target() -> None:
        child.send(fn(*args))
        child.close()

    proc = ctx.Process(target=target)
    proc.start()
    result = parent.recv()
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"{fn.__name__} failed in its child process (exit code {proc.exitcode})")
    return result


# -- scoring --------------------------------------------------------------------------------------
def count_id_switches(assigned: Sequence[dict[int, int]]) -> int:
    """ID switches over a run: a truth's assigned track id differs from the one it last had.

    ``assigned[k]`` maps truth id to track id at scan k (the GOSPA assignment). A truth that goes
    unassigned and comes back on its previous track is not a switch; the first assignment is not one.
    """
    last: dict[int, int] = {}
    switches = 0
    for scan in assigned:
        for truth, track in scan.items():
            if truth in last and last[truth] != track:
                switches += 1
            last[truth] = track
    return switches


def never_assigned_tracks(track_ids: Sequence[np.ndarray], assigned: Sequence[dict[int, int]]) -> tuple[int, int]:
    """``(confirmed tracks ever, those never GOSPA-assigned to any truth in any scan)``."""
    every = set()
    for ids in track_ids:
        every.update(ids.tolist())
    used = set()
    for scan in assigned:
        used.update(scan.values())
    return len(every), len(every - used)


@dataclass
class Score:
    gospa: np.ndarray  # per scan, metres
    loc: np.ndarray
    missed: np.ndarray  # counts per scan
    false: np.ndarray
    assigned: list[dict[int, int]]


def score_run(scn: Scenario, run: RunResult, c: float = GOSPA_C, p: float = GOSPA_P) -> Score:
    """Horizontal GOSPA of every scan (alpha = 2) and the truth -> track assignment it implies."""
    g, loc, mi, fa, assigned = [], [], [], [], []
    for truth, (ids, xy) in zip(scn.truth_xy, run.estimates):
        r = gospa(truth, xy, c=c, p=p, alpha=2.0)
        g.append(r.distance)
        loc.append(r.localisation)
        mi.append(r.missed)
        fa.append(r.false)
        assigned.append({i: int(ids[j]) for i, j in r.assignment})
    return Score(np.array(g), np.array(loc), np.array(mi), np.array(fa), assigned)


def summarise(scn: Scenario, run: RunResult, sc: Score, c: float = GOSPA_C) -> dict[str, Any]:
    steady = slice(STEADY_FROM, None) if scn.scans > STEADY_FROM else slice(None)
    ever, never = never_assigned_tracks([ids for ids, _ in run.estimates], sc.assigned)
    matched = int(np.sum(scn.n_targets - sc.missed))
    mean_err = float(sc.loc.sum()) / max(1, matched)
    return dict(
        cpu_mean_ms=1e3 * float(np.mean(run.cpu_s)), cpu_p95_ms=1e3 * float(np.percentile(run.cpu_s, 95)),
        wall_p95_ms=1e3 * float(np.percentile(run.wall_s, 95)),
        gospa=float(sc.gospa.mean()), loc=float(sc.loc.mean()),
        missed=float(sc.missed.mean()) * c / 2, false=float(sc.false.mean()) * c / 2,
        gospa_per_target=float(sc.gospa.mean()) / scn.n_targets,
        gospa_steady=float(sc.gospa[steady].mean()),
        missed_steady=float(sc.missed[steady].mean()), false_steady=float(sc.false[steady].mean()),
        mean_err=mean_err, id_switches=count_id_switches(sc.assigned),
        tracks_ever=ever, false_ever=never, peak_mb=run.peak_mem_mb, **run.extra,
    )


# -- report ---------------------------------------------------------------------------------------
HEADER = ("| scenario | det/scan | system | CPU ms/scan mean | CPU p95 | wall p95 | GOSPA mean, all scans "
          "(loc / missed / false) | per target | GOSPA mean, scans >= 10 | missed / false tracks per scan "
          "(>= 10) | mean pos. error, m | ID switches | confirmed tracks ever / never assigned | peak RSS growth, MB |")


def row(scn: Scenario, system: str, s: dict[str, Any]) -> str:
    det = np.mean([len(d) for d in scn.det_xyz])
    return (f"| {scn.name} | {det:.0f} | {system} | {s['cpu_mean_ms']:.2f} | {s['cpu_p95_ms']:.2f} | "
            f"{s['wall_p95_ms']:.2f} | {s['gospa']:.1f} ({s['loc']:.1f} / {s['missed']:.1f} / {s['false']:.1f}) | "
            f"{s['gospa_per_target']:.2f} | {s['gospa_steady']:.1f} | {s['missed_steady']:.2f} / "
            f"{s['false_steady']:.2f} | {s['mean_err']:.2f} | {s['id_switches']} | {s['tracks_ever']} / "
            f"{s['false_ever']} | {s['peak_mb']:.1f} |")


MATCHED_LABEL = "skywarden v1, q matched"


def stonesoup_version() -> str:
    try:
        from importlib.metadata import version

        return version("stonesoup")
    except Exception:  # noqa: BLE001 - only for the report line
        return "not installed"


def skywarden_source() -> str:
    """Where the measured skywarden code came from: its path, and its git commit and state if any."""
    import skywarden

    src = Path(skywarden.__file__).resolve().parent
    where = f"skywarden imported from {src}"
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return where + " (not a git checkout)"
    return where + f", git {head}" + (" with uncommitted changes under it" if dirty else ", clean")


def target_checks(label: str, s: dict[str, Any], ss: dict[str, Any]) -> list[str]:
    """The issue's four targets at N = 1,000, each marked met or NOT met."""
    x_less = ss["cpu_mean_ms"] / s["cpu_mean_ms"]
    p95 = max(s["cpu_p95_ms"], s["wall_p95_ms"])
    return [
        f"* **{label}**",
        f"  * >= 100x less CPU than Stone Soup: {x_less:.0f}x -> {'met' if x_less >= 100 else 'NOT met'}",
        f"  * GOSPA equal or lower (mean, all scans): {s['gospa']:.1f} vs {ss['gospa']:.1f} m -> "
        f"{'met' if s['gospa'] <= ss['gospa'] else 'NOT met'} (scans >= 10: {s['gospa_steady']:.1f} vs "
        f"{ss['gospa_steady']:.1f} m)",
        f"  * fewer ID switches: {s['id_switches']} vs {ss['id_switches']} -> "
        f"{'met' if s['id_switches'] < ss['id_switches'] else 'NOT met'}",
        f"  * p95 scan time <= 50 ms: CPU p95 {s['cpu_p95_ms']:.1f} ms, wall p95 {s['wall_p95_ms']:.1f} ms -> "
        f"{'met' if p95 <= 50 else 'NOT met'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(FULL_SIZES), help="CV target counts")
    parser.add_argument("--scans", type=int, default=FULL_SCANS)
    parser.add_argument("--manoeuvring", type=int, default=100, help="drones in the manoeuvring scenario (0: skip)")
    parser.add_argument("--skip-stonesoup-above", type=int, default=None, metavar="N",
                        help="do not run Stone Soup on scenarios with more than N targets")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--note", default="", help="a line for the report, e.g. which skywarden commit was measured")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"write the report here (default: {RESULTS.relative_to(RESULTS.parents[2])} for the full run only)")
    args = parser.parse_args()

    full = (sorted(args.sizes) == list(FULL_SIZES) and args.scans == FULL_SCANS and args.skip_stonesoup_above is None
            and args.manoeuvring > 0 and args.seed == 42)
    out = args.out or (RESULTS if full else None)
    plan: list[Callable[[], Scenario]] = [
        (lambda n=n: make_cv_scenario(n, args.scans, seed=args.seed)) for n in args.sizes]
    if args.manoeuvring:
        plan.append(lambda: make_manoeuvre_scenario(args.manoeuvring, args.scans, seed=args.seed + 1))
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    ratios = ["| scenario | CPU mean skywarden v1 / Stone Soup | x less CPU (v1) | same, v1 q matched |",
              "|---|---|---|---|"]
    targets: list[str] = []
    conv_notes = []
    started = time.perf_counter()
    for make in plan:
        scn = make()
        print(f"{scn.name}: {np.mean([len(d) for d in scn.det_xyz]):.0f} detections/scan", file=sys.stderr, flush=True)
        sky = run_in_child(run_skywarden, scn)
        s_sky = summarise(scn, sky, score_run(scn, sky))
        conv_notes.append(f"{scn.name} {s_sky['input_conversion_ms_per_scan']:.2f} ms")
        s_matched = None
        if scn.params["kind"] == "cv":
            matched = run_in_child(run_skywarden, scn, skywarden_v1_matched(scn.params["q"]), MATCHED_LABEL)
            s_matched = summarise(scn, matched, score_run(scn, matched))
        imm_run = run_in_child(run_skywarden, scn, skywarden_imm, IMM_LABEL)
        s_imm = summarise(scn, imm_run, score_run(scn, imm_run))
        jpda_run = run_in_child(run_skywarden, scn, skywarden_jpda, JPDA_LABEL)
        s_jpda = summarise(scn, jpda_run, score_run(scn, jpda_run))
        s_ss = None
        if args.skip_stonesoup_above is None or scn.n_targets <= args.skip_stonesoup_above:
            ss = run_in_child(run_stonesoup, scn)
            s_ss = summarise(scn, ss, score_run(scn, ss))
            lines.append(row(scn, ss.system, s_ss))
        lines.append(row(scn, sky.system, s_sky))
        if s_matched:
            lines.append(row(scn, MATCHED_LABEL, s_matched))
        lines.append(row(scn, IMM_LABEL, s_imm))
        lines.append(row(scn, JPDA_LABEL, s_jpda))
        print("\n".join(lines[-5:]), file=sys.stderr, flush=True)
        if s_ss:
            r = s_sky["cpu_mean_ms"] / s_ss["cpu_mean_ms"]
            r_m = f"{s_matched['cpu_mean_ms'] / s_ss['cpu_mean_ms']:.4f}" if s_matched else "-"
            ratios.append(f"| {scn.name} | {r:.4f} | {1 / r:.0f}x | {r_m} |")
            if scn.n_targets == 1000 and scn.name.startswith("cv"):
                targets += target_checks("skywarden v1 (default tuning)", s_sky, s_ss)
                if s_matched:
                    targets += target_checks(MATCHED_LABEL, s_matched, s_ss)
                targets += target_checks(IMM_LABEL, s_imm, s_ss)
                targets += target_checks(JPDA_LABEL, s_jpda, s_ss)
    elapsed = time.perf_counter() - started

    shown_args = [a for a in sys.argv[1:] if a != args.note] if args.note else sys.argv[1:]
    shown_args = ["--note '...'" if a == "--note" else a for a in shown_args]
    report = [
        "# Tracking: skywarden vs Stone Soup, same detections, one run",
        "",
        f"Machine: {machine()}. numpy {np.__version__}, single-threaded BLAS. "
        f"Command: `{' '.join(['python', 'bench/' + Path(__file__).name, *shown_args])}`, {args.scans} scans per scenario, "
        f"seed {args.seed}, whole run {elapsed / 60:.1f} min wall.",
        "",
        f"Code: Stone Soup {stonesoup_version()}; {skywarden_source()}." + (f" {args.note}" if args.note else ""),
        "",
        *lines,
        "",
        "## CPU ratio",
        "",
        *ratios,
        "",
        "## Targets of issue 4 at N = 1,000 (skywarden's current tracker, v1)",
        "",
        *(targets or ["* not measured in this run (needs cv-1000 with Stone Soup)"]),
        "",
        "## What is measured",
        "",
        "* **Scenarios.** cv-N: N nearly-constant-velocity targets (q = 1 m^2/s^3), alive in all scans, "
        "uniform in 10 km x 10 km, 5-30 m/s; Pd 0.9, sigma 10 m per axis, Poisson clutter with mean 10 per scan "
        "uniform over the square, 1 s scans. manoeuvre-N: small drones with straight legs, coordinated turns "
        "(10-30 deg/s) and stop-and-hover (brake 3 m/s^2, hover 5-15 s, new heading), same sensor. The "
        "detections are generated once and given to both systems: Stone Soup gets (x, y) as 2-D `Detection`s; "
        "skywarden gets the same (x, y) with an altitude of 100 m + N(0, 10 m) (clutter too) as WGS84 "
        "`PlotObservation`s (sigma_h = sigma_v = 10 m) turned into one `MeasurementBatch` per scan.",
        "* **Systems.** Stone Soup 1.9.1, KD-tree GNN recipe of ../shared/reference/tracking.md "
        "(model-matched: CV q = 1 on cv-N; q = 10 on manoeuvre-N). skywarden: `Tracker(frame, TrackerConfig())`, "
        "default configuration (q_h = 2.5, q_v = 2 with the manoeuvre gate and bridging, M-of-N 3/5), through the factory adapter `run_skywarden`; on cv-N "
        "also with q_h = q_v = 1 ('q matched', model-matched like the Stone Soup recipe).",
        "* **CPU time** is `time.process_time()` around each system's per-scan call only (`update_tracker` / "
        "`Tracker.step`, the latter including its WGS84 output conversion); wall p95 is `perf_counter` around "
        "the same call. Each system runs in its own forked child of this one run, one after the other. "
        "skywarden's input conversion (PlotObservation -> MeasurementBatch, outside the timed call): "
        + ", ".join(conv_notes) + " per scan.",
        "* **Estimates scored** each scan: every confirmed track's current position. Stone Soup: its track set's "
        "last state (the prediction when missed). skywarden: each confirmed track from its last TrackBatch report "
        "until its `lost_track_ids`, extrapolated at its reported velocity to the scan time.",
        "* **GOSPA** (skywarden.eval.gospa, c = 100 m, p = 1, alpha = 2) on east/north only, per scan, truth "
        "against all current estimates; localisation = sum of assigned errors, missed = missed truths x c/2, "
        "false = unassigned tracks x c/2, all in metres. 'per target' = mean GOSPA / N. Means over all scans "
        "(initiation transient included) and over scans >= 10.",
        "* **ID switches**: a truth's GOSPA-assigned track id differs from the id it was last assigned "
        "(gaps do not count). **False tracks**: unassigned confirmed tracks per scan (scans >= 10), and "
        "confirmed track ids never GOSPA-assigned to any truth in any scan.",
        "* **Peak memory**: growth of the child's peak RSS (VmHWM after the run minus VmRSS before it, peak reset "
        "with /proc/self/clear_refs after the inputs were built), so imports and inputs are excluded.",
    ]
    text = "\n".join(report) + "\n"
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
