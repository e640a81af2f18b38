"""Tracker v1 behaviour on constructed scenarios."""

import numpy as np

from skywarden.core.frame import LocalFrame
from skywarden.core.records import AdsbObservation, PlotObservation, RemoteIdObservation
from skywarden.fusion.measurements import MeasurementBatch, SensorDefaults
from skywarden.fusion.tracker import Tracker, TrackerConfig

T0 = 1_700_000_000.0
FRAME = LocalFrame(51.15, -0.18)


def geo(e, n, u):
    lat, lon, alt = FRAME.to_geodetic([e], [n], [u])
    return dict(lat=float(lat[0]), lon=float(lon[0]), alt_m=float(alt[0]))


def plot(t, e, n, u=100.0, sensor="radar"):
    return PlotObservation(t=t, sensor=sensor, sigma_h_m=10.0, sigma_v_m=10.0, **geo(e, n, u))


def run(tracker, steps):
    outs = []
    for k, obs in enumerate(steps):
        batch = MeasurementBatch.from_observations(obs, FRAME, SensorDefaults())
        outs.append(tracker.step(batch, T0 + k + 1.0))
    return outs


def test_target_confirms_after_m_of_n_updates():
    tracker = Tracker(FRAME, TrackerConfig(confirm_m=3, confirm_n=5))
    outs = run(tracker, [[plot(T0 + k + 0.5, 10.0 * k, 0)] for k in range(5)])
    assert [len(o) for o in outs] == [0, 0, 1, 1, 1]
    assert outs[-1].track_id.tolist() == [1]
    assert abs(outs[-1].vel_enu_mps[0, 0] - 10.0) < 4.0


def test_isolated_clutter_never_confirms():
    rng = np.random.default_rng(0)
    tracker = Tracker(FRAME)
    steps = [[plot(T0 + k + 0.5, *rng.uniform(-5000, 5000, 2)) for _ in range(10)] for k in range(30)]
    outs = run(tracker, steps)
    assert sum(len(o) for o in outs) == 0
    assert tracker.n_confirmed == 0


def test_confirmed_track_is_deleted_after_coasting_and_reported_lost():
    tracker = Tracker(FRAME, TrackerConfig(confirmed_coast_s=3.0))
    steps = [[plot(T0 + k + 0.5, 5.0 * k, 0)] for k in range(5)] + [[] for _ in range(6)]
    outs = run(tracker, steps)
    lost = [tid for o in outs for tid in o.lost_track_ids]
    assert lost == [1]
    assert tracker.n_active == 0


def test_identity_observations_associate_by_identity_first():
    tracker = Tracker(FRAME)
    # Two Remote ID drones swap reported positions' order in the batch and fly close together:
    # association must follow uas_id, not proximity.
    steps = []
    for k in range(6):
        t = T0 + k + 0.5
        steps.append([
            RemoteIdObservation(t=t, sensor="rid", uas_id="B", **geo(10.0 * k + 20, 0, 100)),
            RemoteIdObservation(t=t, sensor="rid", uas_id="A", **geo(10.0 * k, 0, 100)),
        ])
    outs = run(tracker, steps)
    last = outs[-1]
    ids = dict(zip(last.uas_id, last.track_id.tolist()))
    assert set(ids) == {"A", "B"}
    assert set(last.track_class) == {"drone"}
    first = {u: tid for o in outs for u, tid in zip(o.uas_id, o.track_id.tolist())}
    assert first == ids  # ids never changed


def test_remote_id_attaches_to_existing_radar_track():
    tracker = Tracker(FRAME)
    steps = [[plot(T0 + k + 0.2, 10.0 * k, 50)] for k in range(4)]
    steps += [[plot(T0 + k + 0.2, 10.0 * k, 50), RemoteIdObservation(t=T0 + k + 0.6, sensor="rid", uas_id="X1", **geo(10.0 * k + 4, 50, 100))] for k in range(4, 8)]
    outs = run(tracker, steps)
    assert outs[-1].track_id.tolist() == [1]
    assert outs[-1].uas_id == ["X1"]
    assert tracker.tracks_started == 1


def test_adsb_marks_manned_and_absorbs_its_radar_duplicate():
    tracker = Tracker(FRAME)
    steps = []
    for k in range(10):
        t = T0 + k
        e = -3000 + 80.0 * k
        obs = [plot(t + 0.3, e + 80 * 0.3, 0, 500)]
        if k >= 3:  # ADS-B starts after the radar track is already tentative/confirmed
            obs.append(AdsbObservation(t=t + 0.7, sensor="adsb", icao24="4CA1FA", speed_mps=80.0, track_deg=90.0, **geo(e + 80 * 0.7, 0, 500)))
        steps.append(obs)
    outs = run(tracker, steps)
    last = outs[-1]
    assert len(last) == 1
    assert last.track_class == ["manned_aircraft"]
    assert last.icao24 == ["4ca1fa"]


def test_two_drones_in_formation_stay_two_tracks():
    tracker = Tracker(FRAME)
    steps = [[plot(T0 + k + 0.5, 10.0 * k, 0), plot(T0 + k + 0.5, 10.0 * k, 150)] for k in range(10)]
    outs = run(tracker, steps)
    assert len(outs[-1]) == 2
    assert tracker.tracks_started == 2


def test_capacity_grows_beyond_initial_allocation():
    tracker = Tracker(FRAME, capacity=4)
    steps = [[plot(T0 + k + 0.5, 500.0 * i, 0) for i in range(20)] for k in range(4)]
    outs = run(tracker, steps)
    assert len(outs[-1]) == 20
    assert sorted(outs[-1].track_id.tolist()) == list(range(1, 21))


def test_fast_radar_reports_several_scans_per_step_into_one_track():
    tracker = Tracker(FRAME)
    # A 4 Hz radar: four plots of one target per 1 s step.
    steps = [[plot(T0 + k + 0.25 * j + 0.1, 10.0 * (k + 0.25 * j), 0) for j in range(4)] for k in range(4)]
    outs = run(tracker, steps)
    assert tracker.tracks_started == 1
    assert len(outs[-1]) == 1
    assert abs(outs[-1].vel_enu_mps[0, 0] - 10.0) < 3.0


def test_confirmed_tracks_carry_a_class_probability():
    tracker = Tracker(FRAME)
    outs = run(tracker, [[plot(T0 + k + 0.5, 12.0 * k, 0)] for k in range(12)])
    probs = outs[-1].class_probability
    assert probs is not None and probs.shape == (1,) and 0.0 < probs[0] <= 1.0
    assert outs[-1].track_class[0] in ("drone", "bird", "manned_aircraft", "unknown")


def test_imm_motion_follows_a_drone_that_stops_and_turns():
    """motion="imm": a drone flies east at 15 m/s, hovers, then flies north; one track all along,
    and its velocity ends up pointing north."""
    path, e, n = [], 0.0, 0.0
    for k in range(40):
        if k < 15:
            e += 15.0
        elif k >= 25:
            n += 15.0
        path.append((e, n))
    for cfg in (TrackerConfig(motion="imm"), TrackerConfig(motion="ncv")):
        tracker = Tracker(FRAME, cfg)
        outs = run(tracker, [[plot(T0 + k + 0.5, pe, pn)] for k, (pe, pn) in enumerate(path)])
        ids = {i for o in outs for i in o.track_id.tolist()}
        assert ids == {1}, cfg.motion
        ve, vn = outs[-1].vel_enu_mps[0, :2]
        assert abs(vn - 15.0) < 4.0 and abs(ve) < 4.0, (cfg.motion, ve, vn)


def test_a_fast_high_track_without_adsb_is_not_shown_as_a_manned_aircraft_on_weak_evidence():
    """Like the Seoul 2022 intruders: a fixed-wing drone at 29 m/s and 1,170 m, no identity. Its
    kinematics fit a light aircraft about as well as a drone; without ADS-B it may only be called
    manned on strong evidence (probability >= 0.9), otherwise it is unknown."""
    tracker = Tracker(FRAME)
    outs = run(tracker, [[plot(T0 + k + 0.5, 29.0 * k, 5.0 * k, 1170.0)] for k in range(45)])
    classes = {(c, p) for o in outs for c, p in zip(o.track_class, o.class_probability.tolist())}
    assert classes
    assert all(c != "manned_aircraft" or p >= 0.9 for c, p in classes)
