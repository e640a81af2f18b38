"""Helpers of bench/tracking_vs_stonesoup.py on constructed cases (Stone Soup is not needed)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
bench = pytest.importorskip("tracking_vs_stonesoup")

from skywarden.core.records import TrackBatch  # noqa: E402


def test_id_switch_counts_changes_of_assigned_track_only():
    assigned = [
        {0: 10, 1: 11},
        {0: 10},  # truth 1 unassigned: a gap, not a switch
        {0: 10, 1: 11},  # back on its old track: no switch
        {0: 11, 1: 10},  # a swap: two switches
        {0: 11, 1: 12, 2: 13},  # truth 1 to a new track: one; truth 2's first assignment: none
    ]
    assert bench.count_id_switches(assigned) == 3
    assert bench.count_id_switches([]) == 0


def test_never_assigned_tracks():
    ids = [np.array([1, 2]), np.array([1, 2, 3]), np.array([3])]
    assigned = [{0: 1}, {0: 1, 1: 2}, {}]
    assert bench.never_assigned_tracks(ids, assigned) == (3, 1)


def _scenario(truth, det=None):
    det = det or [np.zeros((0, 3)) for _ in truth]
    return bench.Scenario("t", len(truth[0]), truth, det, [np.zeros(0, int) for _ in truth], 1.0,
                          params=dict(kind="cv", q=1.0, sigma=10.0))


def test_gospa_decomposition_and_assignment():
    truth = [np.array([[0.0, 0.0], [1000.0, 0.0], [5000.0, 0.0]])]
    # track 7 on truth 0 (5 m off), track 8 near truth 1 (30 m), track 9 far from everything: false;
    # truth 2 missed.
    est = [(np.array([7, 8, 9]), np.array([[3.0, 4.0], [1030.0, 0.0], [-3000.0, 0.0]]))]
    run = bench.RunResult("x", [0.001], [0.001], est, 0.0)
    sc = bench.score_run(_scenario(truth), run, c=100.0, p=1.0)
    assert sc.loc[0] == pytest.approx(35.0)
    assert (sc.missed[0], sc.false[0]) == (1, 1)
    assert sc.gospa[0] == pytest.approx(35.0 + 50.0 + 50.0)
    assert sc.assigned[0] == {0: 7, 1: 8}
    s = bench.summarise(_scenario(truth), run, sc)
    assert s["missed"] == pytest.approx(50.0) and s["false"] == pytest.approx(50.0)
    assert s["gospa"] == pytest.approx(s["loc"] + s["missed"] + s["false"])
    assert s["mean_err"] == pytest.approx(17.5)
    assert (s["tracks_ever"], s["false_ever"]) == (3, 1)


def test_cv_scenario_is_reproducible_and_has_the_stated_statistics():
    a = bench.make_cv_scenario(200, 20, seed=1)
    b = bench.make_cv_scenario(200, 20, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a.det_xyz, b.det_xyz))
    found = np.mean([np.count_nonzero(ids >= 0) for ids in a.det_truth]) / 200
    clutter = np.mean([np.count_nonzero(ids < 0) for ids in a.det_truth])
    assert 0.85 < found < 0.95 and 6 < clutter < 14
    k = 5
    ids, det = a.det_truth[k], a.det_xyz[k]
    err = det[ids >= 0, :2] - a.truth_xy[k][ids[ids >= 0]]
    assert 8.0 < err.std() < 12.0
    assert abs(det[:, 2].mean() - bench.ALT_M) < 3.0


def test_manoeuvre_scenario_turns_and_hovers():
    scn = bench.make_manoeuvre_scenario(50, 60, seed=3)
    v = np.diff(np.stack(scn.truth_xy), axis=0)  # (scans-1, N, 2) m per 1 s
    speed = np.linalg.norm(v, axis=2)
    assert np.mean(speed < 0.5) > 0.05  # some drones hover
    heading = np.unwrap(np.arctan2(v[..., 0], v[..., 1]), axis=0)
    turn = np.abs(np.diff(heading, axis=0))[(speed[1:] > 3) & (speed[:-1] > 3)]
    assert np.mean(turn > np.radians(8)) > 0.1  # and some turn sharply


class _FakeTracker:
    """Reports track 5 at scan 0 only (then coasts), and ends it at scan 2."""

    def __init__(self, frame):
        self.frame = frame
        self.k = 0

    def step(self, batch, t_now, end_period=True):
        k, self.k = self.k, self.k + 1
        n = 1 if k == 0 else 0
        lat, lon, alt = self.frame.to_geodetic(np.zeros(n), np.zeros(n), np.full(n, 100.0))
        return TrackBatch(
            t=np.full(n, t_now), track_id=np.full(n, 5, dtype=np.int64), lat=lat, lon=lon, alt_m=alt,
            vel_enu_mps=np.tile([10.0, -5.0, 0.0], (n, 1)), track_class=["unknown"] * n, uas_id=[None] * n,
            icao24=[None] * n, operator_lat=np.full(n, np.nan), operator_lon=np.full(n, np.nan),
            lost_track_ids=[5] if k == 2 else [], step_time=t_now,
        )


def test_skywarden_adapter_extrapolates_coasting_tracks_until_lost():
    truth = [np.zeros((1, 2))] * 4
    det = [np.array([[0.0, 0.0, 100.0]])] * 4
    run = bench.run_skywarden(_scenario(truth, det), _FakeTracker, "fake")
    assert [len(ids) for ids, _ in run.estimates] == [1, 1, 0, 0]
    np.testing.assert_allclose(run.estimates[1][1], [[10.0, -5.0]], atol=1e-3)
    assert len(run.cpu_s) == 4 and run.system == "fake"
