"""Remote ID plausibility: constructed jumps, two places at once, track mismatch; the real spoofed capture."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from conftest import shared_data

from skywarden.core.frame import LocalFrame
from skywarden.fusion.plausibility import (
    REASON_JUMP,
    REASON_TRACK,
    REASON_TWO_PLACES,
    PlausibilityConfig,
    PlausibilityState,
    check_remote_id,
)
from skywarden.sources.decode import DecodeOptions, DecodeStats, decode_stream


def line(n: int, speed: float = 10.0, dt: float = 1.0, t0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n reports of an identity flying east at ``speed`` m/s, every ``dt`` s."""
    t = t0 + dt * np.arange(n, dtype=float)
    pos = np.column_stack([speed * (t - t0), np.zeros(n), np.full(n, 60.0)])
    return t, pos


def run_one_by_one(state, t, ids, pos, **kw):
    return [check_remote_id(state, t[i : i + 1], ids[i : i + 1], pos[i : i + 1], **{k: v[i : i + 1] for k, v in kw.items()}) for i in range(len(t))]


def test_steady_flight_raises_nothing():
    state = PlausibilityState()
    t, pos = line(120, speed=25.0)
    res = check_remote_id(state, t, ["A"] * 120, pos)
    assert not res.flagged.any() and not res.implausible.any()
    assert np.nanmax(res.implied_speed_mps) == pytest.approx(25.0)


def test_one_bad_gps_fix_does_not_flag():
    state = PlausibilityState()
    t, pos = line(30)
    pos[10, 0] += 3000.0  # one wild fix
    res = check_remote_id(state, t, ["A"] * 30, pos)
    assert res.implausible.tolist().count(True) == 1 and res.implausible[10]
    assert not res.flagged.any()  # the next report is tested against the last good one and passes


def test_an_impossible_jump_flags_jump_and_reanchors():
    state = PlausibilityState()
    t, pos = line(20)
    pos[10:, 0] += 5000.0  # teleports 5 km in a second, then flies on from there
    res = check_remote_id(state, t, ["A"] * 20, pos)
    assert not res.flagged[:11].any()
    assert res.flagged[11] and res.reasons(11) == ["jump"] and res.new_flag[11]
    assert res.new_flag.sum() == 1  # raised once
    cfg = state.config
    assert res.implausible[10:10 + cfg.reanchor_after].all() and not res.implausible[10 + cfg.reanchor_after :].any()
    assert state.flags("A") == ["jump"]


def test_accuracy_widens_the_allowance():
    t = np.array([0.0, 1.0, 2.0])
    pos = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # 300 m/s back and forth
    precise = check_remote_id(PlausibilityState(), t, ["A"] * 3, pos, np.array([3.0, 3.0, 3.0]))
    coarse = check_remote_id(PlausibilityState(), t, ["A"] * 3, pos, np.array([100.0, 100.0, 100.0]))
    assert precise.implausible[1] and not coarse.implausible.any()


def test_two_places_at_once_from_two_receivers():
    # The real drone reports at 1 Hz; a spoofer broadcasts its ID 8 km away, heard 0.2 s later.
    t, pos = line(10)
    t_s, pos_s = t[3:6] + 0.2, pos[3:6] + np.array([8000.0, 0.0, 0.0])
    allt = np.concatenate([t, t_s])
    allpos = np.vstack([pos, pos_s])
    order = np.argsort(allt, kind="stable")
    state = PlausibilityState()
    res = check_remote_id(state, allt[order], ["A"] * allt.size, allpos[order])
    assert res.flagged[-1] and res.reason_bits[-1] == REASON_TWO_PLACES
    first = int(np.flatnonzero(res.new_flag)[0])
    assert allt[order][first] == pytest.approx(4.2)  # the second spoofed report
    # The real reports stay the reference: none of them is implausible.
    assert not res.implausible[np.isin(order, np.arange(10))].any()


def test_track_mismatch_needs_consecutive_reports():
    n = 12
    t, pos = line(n)
    cov = np.tile(np.diag([15.0**2, 15.0**2, 25.0**2]), (n, 1, 1))
    track = pos.copy()
    track[4, 0] += 400.0  # one disagreement: no flag
    track[7:, 0] += 400.0  # from report 7 on, radar sees the drone 400 m from where it says it is
    acc = np.full(n, 3.0)
    state = PlausibilityState()
    res = check_remote_id(state, t, ["A"] * n, pos, acc, track_pos=track, track_cov=cov)
    assert res.mahalanobis2[4] > 16.27 and not res.flagged[:9].any()
    assert res.flagged[9] and res.reasons(9) == ["track_mismatch"] and res.new_flag[9]
    assert np.nanmax(res.mahalanobis2[[0, 1, 2, 3, 5, 6]]) < 16.27
    # Reports without a track estimate do not break the run, and leave the flag standing.
    more = check_remote_id(state, np.array([12.0]), ["A"], np.array([[120.0, 0.0, 60.0]]))
    assert np.isnan(more.mahalanobis2[0]) and more.reason_bits[0] == REASON_TRACK


def test_batches_and_rounds_give_the_same_answer_as_one_by_one():
    rng = np.random.default_rng(4)
    t = np.sort(rng.uniform(0.0, 60.0, 300))
    ids = [f"U{k}" for k in rng.integers(0, 5, 300)]
    pos = rng.normal(0.0, 5.0, (300, 3))
    pos[rng.random(300) < 0.1, 0] += 4000.0
    acc = rng.uniform(1.0, 20.0, 300)
    whole = check_remote_id(PlausibilityState(), t, ids, pos, acc)
    single = run_one_by_one(PlausibilityState(), t, ids, pos, acc_h_m=acc)
    assert whole.flagged.tolist() == [r.flagged[0] for r in single]
    assert whole.reason_bits.tolist() == [r.reason_bits[0] for r in single]
    assert whole.implausible.tolist() == [r.implausible[0] for r in single]
    # Input order does not matter: reports are processed in time order.
    perm = rng.permutation(300)
    shuffled = check_remote_id(PlausibilityState(), t[perm], [ids[i] for i in perm], pos[perm], acc[perm])
    assert shuffled.reason_bits[np.argsort(perm)].tolist() == whole.reason_bits.tolist()


def test_flags_expire_and_identities_are_evicted():
    cfg = PlausibilityConfig(flag_hold_s=30.0, stale_s=100.0, capacity=4)
    state = PlausibilityState(cfg)
    t, pos = line(6)
    pos[3:, 0] += 5000.0
    res = check_remote_id(state, t, ["A"] * 6, pos)
    assert res.flagged[-1]
    later = check_remote_id(state, np.array([40.0]), ["A"], np.array([[5060.0 + 350.0, 0.0, 60.0]]))
    assert not later.flagged[0]  # 35 s after the last offence, plausible since: cleared
    # Stale identities are forgotten; the table never outgrows its capacity.
    for k in range(10):
        check_remote_id(state, np.array([200.0 + k]), [f"B{k}"], np.zeros((1, 3)))
        assert len(state) <= 4
    assert "A" not in state.slot_of and state.evicted >= 7
    assert state.flags("A") == []


def test_empty_batch():
    res = check_remote_id(PlausibilityState(), np.zeros(0), [], np.zeros((0, 3)))
    assert res.flagged.size == 0


# ------------------------------------------------------------------------ the real capture


def decode(name: str):
    with shared_data("remoteid", "cdc_remoteidreceiver", name).open("rb") as f:
        return list(decode_stream("remoteid-pcap", f, DecodeOptions(), DecodeStats()))


def check_in_steps(obs, step_s: float = 1.0):
    """Run the reports through a fresh state in 1 s batches, as a live pipeline would."""
    frame = LocalFrame(47.1987, 8.7302, 500.0)
    e, n, u = frame.to_enu(np.array([o.lat for o in obs]), np.array([o.lon for o in obs]), np.array([o.alt_m for o in obs]))
    pos = np.column_stack([e, n, u])
    t = np.array([o.t for o in obs])
    acc = np.array([o.h_acc_m if o.h_acc_m is not None else np.nan for o in obs])
    ids = [o.uas_id for o in obs]
    state = PlausibilityState()
    bits = np.zeros(len(obs), dtype=np.int64)
    start = np.floor((t - t.min()) / step_s)
    for b in np.unique(start):
        m = np.flatnonzero(start == b)
        bits[m] = check_remote_id(state, t[m], [ids[i] for i in m], pos[m], acc[m]).reason_bits
    return state, bits


def test_real_capture_alone_raises_nothing():
    real = decode("parrot_anafi4_real.pcapng")
    state, bits = check_in_steps(real)
    assert len(real) == 1140 and not bits.any()
    assert state.flags("1588E040445AC004418") == []


def test_real_and_spoofed_captures_merged_flag_the_identity():
    real, spoofed = decode("parrot_anafi4_real.pcapng"), decode("parrot_anafi4_spoofed.pcapng")
    merged = sorted(real + spoofed, key=lambda o: o.t)
    state, bits = check_in_steps(merged)
    uas = "1588E040445AC004418"
    assert {o.uas_id for o in merged} == {uas}
    assert state.flags(uas) and set(state.flags(uas)) <= {"jump", "two_places"}
    assert not bits[: len(real)].any()  # the real flight comes first and is clean
    # The spoofer's track across Zurich implies ~95 m/s from a "hovering" multirotor (speed 0).
    assert bits[len(real):].any()


def test_spoofer_broadcasting_during_the_real_flight_is_in_two_places():
    # The spoof was recorded on another day; replayed during the real flight (shifted in time), the
    # identity is 25 km from itself within a fraction of a second.
    real, spoofed = decode("parrot_anafi4_real.pcapng"), decode("parrot_anafi4_spoofed.pcapng")
    shift = real[200].t - spoofed[0].t
    spoofed = [msgspec.structs.replace(o, t=o.t + shift) for o in spoofed]
    merged = sorted(real + spoofed, key=lambda o: o.t)
    state, bits = check_in_steps(merged)
    assert "two_places" in state.flags("1588E040445AC004418")
    first = int(np.flatnonzero(bits)[0])
    assert merged[first].t - spoofed[0].t < 1.0  # raised within a second of the spoofer starting
    assert bits[first] & REASON_TWO_PLACES and not bits[first] & REASON_JUMP
