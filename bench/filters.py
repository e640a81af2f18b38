"""Filter micro-benchmark: IMM (3 models) vs the plain NCV Kalman filter, per track per scan.

One "scan" is what the tracker does to ``k`` tracks that each received one 3-D position plot:
predict by a per-track dt, then update. For the IMM that is mixing + per-model predict + per-model
update + mode probabilities + the combined estimate. The parts of the IMM and the radar EKF
update are timed separately. Single-threaded BLAS, best of ``--repeat`` timings (the machine is
shared, the minimum is the least disturbed run) and the median.

Usage:
    python bench/filters.py [--repeat 15]
Writes bench/results/filters.md (and prints it).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from machine import machine  # noqa: E402  (bench/machine.py, beside this script)

from skywarden.fusion import imm, kalman  # noqa: E402
from skywarden.fusion.measurement_models import bearing_update, enu_to_polar, radar_update  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) seconds of ``fn()`` over ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def scenario(k: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-5000, 5000, (k, 2)), rng.uniform(20, 300, (k, 1)), rng.normal(0, 10, (k, 3))], axis=1)
    A = rng.normal(size=(k, 6, 6))
    P = A @ np.swapaxes(A, 1, 2) + np.eye(6) * 10.0
    dt = rng.uniform(0.8, 1.2, k)
    z = x[:, :3] + x[:, 3:] * dt[:, None] + rng.normal(0, 10, (k, 3))
    R = np.tile(np.diag([100.0, 100.0, 400.0]), (k, 1, 1))
    sensor = np.zeros((k, 3))
    r, az, el = enu_to_polar(z, sensor)
    return {"x": x, "P": P, "dt": dt, "z": z, "R": R, "sensor": sensor,
            "polar": np.stack([r, az, el], axis=1), "R_polar": np.tile(np.diag([25.0, 0.3**2, 0.3**2]), (k, 1, 1))}


def rows_for(k: int, repeat: int) -> list[tuple[str, float, float]]:
    s = scenario(k)
    x, P, dt, z, R = s["x"], s["P"], s["dt"], s["z"], s["R"]
    cfg = imm.DRONE
    state = imm.imm_init(x, P, cfg)
    # Let the models differ as they would in a running tracker.
    state = imm.imm_update(imm.imm_predict(state, dt), z, R, (0, 1, 2))[0]
    pred = imm.imm_predict(state, dt)
    pi = imm.transition_matrix(cfg, dt)
    M = cfg.n_models
    xf, Pf = pred.x.reshape(k * M, 6), pred.P.reshape(k * M, 6, 6)
    zf, Rf = np.repeat(z, M, axis=0), np.repeat(R, M, axis=0)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("NCV Kalman: predict + update (position)", lambda: kalman.update(*kalman.predict(x, P, dt, 10.0, 4.0), z, R, (0, 1, 2))),
        ("NCV Kalman: predict only", lambda: kalman.predict(x, P, dt, 10.0, 4.0)),
        ("IMM (3 models): predict + update + combine", lambda: imm.imm_update(imm.imm_predict(state, dt), z, R, (0, 1, 2))),
        ("IMM part: transition matrices expm(L dt)", lambda: imm.transition_matrix(cfg, dt)),
        ("IMM part: mixing", lambda: imm._mix(state.mu, state.x, state.P, pi)),
        ("IMM part: per-model predict (IOU)", lambda: imm.motion_predict(state.x, state.P, dt, cfg)),
        ("IMM part: per-model Kalman update (k*M rows)", lambda: kalman.update(xf, Pf, zf, Rf, (0, 1, 2))),
        ("IMM part: combine", lambda: imm.combine(pred)),
        ("Radar EKF update (range, az, el)", lambda: radar_update(x, P, s["sensor"], s["polar"], s["R_polar"])),
        ("Radar EKF update, 2-D (range, az)", lambda: radar_update(x, P, s["sensor"], s["polar"][:, :2], s["R_polar"][:, :2, :2])),
        ("Bearing EKF update (az)", lambda: bearing_update(x, P, s["sensor"], s["polar"][:, 1:2], s["R_polar"][:, 1:2, 1:2])),
    ]
    return [(name, *timed(fn, repeat)) for name, fn in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    lines = [
        "# Filter micro-benchmark: IMM vs NCV Kalman",
        "",
        f"Machine: {machine()}. Date: {date.today().isoformat()}. Load average before the run: "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} (the machine is shared with other work).",
        f"Command: `python bench/filters.py --repeat {args.repeat}`. numpy {np.__version__}, single-threaded BLAS.",
        "",
        "Time per track per scan (one plot per track), microseconds: best of the runs (median in brackets).",
        "The IMM is `imm.DRONE` (cv, manoeuvre, hover); its parts add up to slightly less than the whole",
        "(the whole also allocates the new state and the log-likelihoods).",
        "",
    ]
    results = {k: rows_for(k, args.repeat) for k in args.sizes}
    header = "| step | " + " | ".join(f"k = {k:,} µs/track" for k in args.sizes) + " | " + " | ".join(f"k = {k:,} ms/scan" for k in args.sizes) + " |"
    lines += [header, "|---|" + "---:|" * (2 * len(args.sizes))]
    names = [r[0] for r in results[args.sizes[0]]]
    for i, name in enumerate(names):
        per_track = [f"{results[k][i][1] / k * 1e6:.2f} ({results[k][i][2] / k * 1e6:.2f})" for k in args.sizes]
        per_scan = [f"{results[k][i][1] * 1e3:.2f}" for k in args.sizes]
        lines.append(f"| {name} | " + " | ".join(per_track) + " | " + " | ".join(per_scan) + " |")
    lines.append("")
    for k in args.sizes:
        ncv = results[k][0][1]
        imm_t = results[k][2][1]
        lines.append(f"At k = {k:,}: the IMM costs {imm_t / ncv:.1f}x the NCV Kalman predict + update.")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "filters.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
