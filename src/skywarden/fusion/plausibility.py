"""Remote ID plausibility: is this identity's reported position believable?

A Remote ID broadcast is unauthenticated: anyone can transmit any ``uas_id`` at any position
(the spoofed Parrot Anafi capture puts a real drone's serial number 25 km from where it flies).
:func:`check_remote_id` checks each report of a batch against the identity's recent history and
flags the identity when:

* **jump** (``REASON_JUMP``): consecutive reports at least ``simultaneous_s`` apart imply a
  horizontal speed the identity cannot fly: the distance exceeds
  ``max_speed_mps * dt + n_sigma * hypot(acc1, acc2) + margin_m`` (``acc`` is the reported
  horizontal accuracy, ``default_acc_m`` when not reported);
* **two places** (``REASON_TWO_PLACES``): the same test for reports less than ``simultaneous_s``
  apart (interleaved broadcasts, or two receivers hearing the identity in two places at once);
* **track mismatch** (``REASON_TRACK``): the reported position disagrees with the position of a
  non-cooperative (radar, RF) track the identity is associated with: the squared Mahalanobis
  distance of the report against the track's predicted position, with covariance
  ``P_track + R_report``, exceeds ``mismatch_chi2`` on ``mismatch_consecutive`` consecutive
  reports that carry a track estimate (a consistent report resets the run). A report outside
  the gate that the caller's ``confirm`` accepts (a sensor sees an object right where it claims
  to be: the track's estimate lags a sharp turn or has taken another object's plots) counts as
  consistent.

One bad GPS fix must not flag an identity. A report that fails the jump/two-places test is
*implausible*: it is not taken as the identity's reference position (the next report is tested
against the last plausible one), and the identity is flagged once ``min_implausible`` implausible
reports fall within ``implausible_window_s``. After ``reanchor_after`` implausible reports in a
row the newest becomes the reference (the object really is elsewhere now, e.g. after a gap in
reception longer than the stale limit would allow). A flag holds for ``flag_hold_s`` after the
last offending report, then clears.

Memory is bounded: the state keeps one reference report and a few counters per identity, in
arrays of ``capacity`` rows; an identity not heard for ``stale_s`` is evicted, and when full the
least recently heard is evicted. Positions are in the site's ENU frame (metres), as in the tracker.

Example:
    >>> import numpy as np
    >>> state = PlausibilityState()
    >>> pos = np.array([[0.0, 0.0, 50.0], [5000.0, 0.0, 50.0], [5000.0, 5.0, 50.0]])
    >>> res = check_remote_id(state, np.array([0.0, 1.0, 2.0]), ["A", "A", "A"], pos)
    >>> res.flagged.tolist(), res.reasons(2)
    ([False, False, True], ['jump'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from skywarden.fusion.measurements import occurrence_rounds

__all__ = [
    "REASON_JUMP",
    "REASON_TWO_PLACES",
    "REASON_TRACK",
    "REASON_NAMES",
    "PlausibilityConfig",
    "PlausibilityState",
    "PlausibilityResult",
    "check_remote_id",
]

FloatArray = npt.NDArray[np.float64]

REASON_JUMP = 1
REASON_TWO_PLACES = 2
REASON_TRACK = 4
REASON_NAMES = {REASON_JUMP: "jump", REASON_TWO_PLACES: "two_places", REASON_TRACK: "track_mismatch"}


def _nan_to_zero(a: FloatArray) -> FloatArray:
    """``np.nan_to_num`` for arrays without infinities, without its Python overhead."""
    return np.where(np.isnan(a), 0.0, a)


class PlausibilityConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Thresholds of the Remote ID plausibility checks (metres, seconds, m/s)."""

    max_speed_mps: float = 60.0
    """Fastest horizontal ground speed believed of a Remote ID drone (216 km/h: above consumer
    and most commercial drones; racing drones seldom broadcast Remote ID)."""
    default_acc_m: float = 10.0
    """1-sigma horizontal accuracy assumed when a report states none."""
    n_sigma: float = 4.0
    """Accuracy allowance, in combined sigmas of the two reports."""
    margin_m: float = 10.0
    """Fixed allowance on top (quantisation, latency between receivers)."""
    simultaneous_s: float = 1.0
    """Reports closer in time than this are 'at once': a failure is ``two_places``, not ``jump``."""
    min_implausible: int = 2
    """Implausible reports within ``implausible_window_s`` that flag the identity."""
    implausible_window_s: float = 60.0
    reanchor_after: int = 3
    """After this many implausible reports in a row, the newest becomes the reference position."""
    mismatch_chi2: float = 16.27
    """Gate on the squared Mahalanobis distance of a report against its track (chi-square, 3 dof,
    P = 0.999)."""
    mismatch_consecutive: int = 3
    """Consecutive reports outside the gate that flag ``track_mismatch``."""
    flag_hold_s: float = 300.0
    """A flag stays raised this long after the last offending report."""
    stale_s: float = 600.0
    """An identity not heard for this long is forgotten (a later report starts afresh)."""
    capacity: int = 8_192
    """Most identities remembered at once (about 190 bytes each, allocated up front: 1.5 MB);
    beyond, the least recently heard is forgotten. A site hears far fewer Remote IDs at once."""


@dataclass(frozen=True)
class PlausibilityResult:
    """Per report of a batch (input order).

    Attributes:
        flagged: the identity is flagged after this report.
        reason_bits: OR of ``REASON_*`` of the identity's active flags after this report.
        new_flag: this report raised a flag the identity did not have (raise an alert once).
        implausible: this report itself failed the jump / two-places test.
        implied_speed_mps: speed implied against the reference report (NaN for the first).
        mahalanobis2: squared Mahalanobis distance against the track (NaN without a track).
        confirmed: outside the track's gate, but confirmed by the caller's ``confirm`` (the track
            estimate, not the report, is off).
    """

    flagged: npt.NDArray[np.bool_]
    reason_bits: npt.NDArray[np.int64]
    new_flag: npt.NDArray[np.bool_]
    implausible: npt.NDArray[np.bool_]
    implied_speed_mps: FloatArray
    mahalanobis2: FloatArray
    confirmed: npt.NDArray[np.bool_]

    def reasons(self, i: int) -> list[str]:
        """Names of report ``i``'s active flag reasons."""
        bits = int(self.reason_bits[i])
        return [name for bit, name in REASON_NAMES.items() if bits & bit]


class PlausibilityState:
    """What :func:`check_remote_id` remembers per identity, in fixed-size arrays.

    Per identity: the reference (last plausible) report's time, ENU position and accuracy, the
    times of recent implausible reports (a small ring), the run of implausible reports, the run
    of track mismatches, and each reason's last offending time (for the flag hold).
    """

    RING = 8  # implausible-report times kept per identity (>= min_implausible)

    def __init__(self, config: PlausibilityConfig | None = None) -> None:
        self.config = config or PlausibilityConfig()
        if self.config.min_implausible > self.RING:
            raise ValueError(f"min_implausible must be at most {self.RING}")
        cap = self.config.capacity
        self.slot_of: dict[str, int] = {}
        self.identity: list[str | None] = [None] * cap
        self.last_seen = np.full(cap, -np.inf)
        self.ref_t = np.full(cap, np.nan)
        self.ref_pos = np.full((cap, 3), np.nan)
        self.ref_acc = np.full(cap, np.nan)
        self.bad_times = np.full((cap, self.RING), -np.inf)
        self.bad_run = np.zeros(cap, dtype=np.int64)
        self.mismatch_run = np.zeros(cap, dtype=np.int64)
        self.reason_t = np.full((cap, 3), -np.inf)  # last offending time per reason (jump, two, track)
        self.flag_bits = np.zeros(cap, dtype=np.int64)
        self._free = list(range(cap - 1, -1, -1))
        self.evicted = 0
        self._next_sweep_t = -np.inf

    def __len__(self) -> int:
        return len(self.slot_of)

    def flags(self, uas_id: str) -> list[str]:
        """The identity's active flag reasons (as of its last report)."""
        slot = self.slot_of.get(uas_id)
        if slot is None:
            return []
        bits = int(self.flag_bits[slot])
        return [name for bit, name in REASON_NAMES.items() if bits & bit]

    def _reset(self, slots: npt.NDArray[np.int64]) -> None:
        self.last_seen[slots] = -np.inf
        self.ref_t[slots] = np.nan
        self.ref_pos[slots] = np.nan
        self.ref_acc[slots] = np.nan
        self.bad_times[slots] = -np.inf
        self.bad_run[slots] = 0
        self.mismatch_run[slots] = 0
        self.reason_t[slots] = -np.inf
        self.flag_bits[slots] = 0

    def _evict(self, slots: Sequence[int]) -> None:
        for s in slots:
            key = self.identity[s]
            if key is not None:
                del self.slot_of[key]
                self.identity[s] = None
                self._free.append(s)
                self.evicted += 1
        self._reset(np.asarray(list(slots), dtype=np.int64))

    def evict_stale(self, t_now: float, force: bool = False) -> int:
        """Forget identities not heard since ``t_now - stale_s``; returns how many.

        The sweep looks at every slot, so it runs at most ten times per ``stale_s`` of data
        time unless ``force``d (when a slot is needed): per batch it was 0.2 ms of a replay step.
        """
        if not force and t_now < self._next_sweep_t:
            return 0
        self._next_sweep_t = t_now + self.config.stale_s / 10.0
        # Free slots hold last_seen = -inf: only identities actually heard are candidates (a
        # scan of every free slot in Python took 5.5 s of a 100-drone replay).
        stale = ((self.last_seen < t_now - self.config.stale_s) & np.isfinite(self.last_seen)).nonzero()[0]
        stale = [s for s in stale.tolist() if self.identity[s] is not None]
        self._evict(stale)
        return len(stale)

    def slots_for(self, keys: Sequence[str], t_now: float) -> npt.NDArray[np.int64]:
        """Each key's slot, allocating new ones (evicting stale, then least recently heard)."""
        known = [self.slot_of.get(key) for key in keys]
        if None not in known:  # the usual case: every identity heard before
            return np.array(known, dtype=np.int64)
        out = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            slot = self.slot_of.get(key)
            if slot is None:
                if not self._free:
                    self.evict_stale(t_now, force=True)
                if not self._free:
                    held = set(out[:i].tolist())
                    order = self.last_seen.argsort(kind="stable")
                    self._evict([next(s for s in order.tolist() if s not in held)])
                slot = self._free.pop()
                self.slot_of[key] = slot
                self.identity[slot] = key
            out[i] = slot
        return out


def check_remote_id(
    state: PlausibilityState,
    t: npt.ArrayLike,
    uas_id: Sequence[str],
    pos: npt.ArrayLike,
    acc_h_m: npt.ArrayLike | None = None,
    *,
    sigma_v_m: npt.ArrayLike | None = None,
    track_pos: npt.ArrayLike | None = None,
    track_cov: npt.ArrayLike | None = None,
    confirm: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]] | None = None,
) -> PlausibilityResult:
    """Check a batch of ``n`` Remote ID reports and update ``state``.

    Reports are processed in time order (ties in input order); an identity reporting several
    times in the batch is handled in rounds, each round vectorised over identities.

    Args:
        state: the per-identity memory (updated in place).
        t: ``(n,)`` report times, seconds.
        uas_id: ``n`` identities.
        pos: ``(n, 3)`` reported positions, ENU metres.
        acc_h_m: ``(n,)`` reported horizontal 1-sigma accuracy, metres; NaN (or None) for unknown.
        sigma_v_m: ``(n,)`` vertical 1-sigma, metres, for the track test (default ``2 * acc``).
        track_pos: ``(n, 3)`` the associated non-cooperative track's position predicted to the
            report time, ENU metres; NaN rows (or None) where the identity has no such track.
        track_cov: ``(n, 3, 3)`` that prediction's position covariance, m^2.
        confirm: called with the indices of reports outside their track's gate; returns which
            of them a non-cooperative sensor confirms directly (a plot where the report says).
            Those never count towards a track mismatch (asked only for the few outside the gate).
    """
    cfg = state.config
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    n = t.size
    pos = np.asarray(pos, dtype=np.float64).reshape(n, 3)
    acc = np.full(n, np.nan) if acc_h_m is None else np.asarray(acc_h_m, dtype=np.float64).reshape(n)
    acc = np.where(np.isfinite(acc) & (acc > 0), acc, cfg.default_acc_m)
    sv = 2.0 * acc if sigma_v_m is None else np.asarray(sigma_v_m, dtype=np.float64).reshape(n)
    with_track = track_pos is not None and track_cov is not None
    if with_track:
        tp = np.asarray(track_pos, dtype=np.float64).reshape(n, 3)
        tc = np.asarray(track_cov, dtype=np.float64).reshape(n, 3, 3)

    flagged = np.zeros(n, dtype=bool)
    bits_out = np.zeros(n, dtype=np.int64)
    new_flag = np.zeros(n, dtype=bool)
    implausible = np.zeros(n, dtype=bool)
    speed = np.full(n, np.nan)
    maha = np.full(n, np.nan)
    confirmed = np.zeros(n, dtype=bool)
    if n == 0:
        return PlausibilityResult(flagged, bits_out, new_flag, implausible, speed, maha, confirmed)

    order = t.argsort(kind="stable")
    state.evict_stale(float(t[order[0]]))
    keys = [uas_id[i] for i in order.tolist()]
    slots_sorted = state.slots_for(keys, float(t[order[-1]]))
    # Round r holds each identity's r-th report of the batch.
    rounds = occurrence_rounds(slots_sorted.tolist())

    for r in range(int(rounds.max()) + 1):
        sel = order[rounds == r]
        sl = slots_sorted[rounds == r]
        ti, pi, ai = t[sel], pos[sel], acc[sel]

        # -- jump / two places against the reference report ---------------------------------
        has_ref = np.isfinite(state.ref_t[sl])
        dt = np.where(has_ref, ti - state.ref_t[sl], np.nan)
        abs_dt = np.abs(np.where(has_ref, dt, 0.0))  # nan_to_num(dt): dt is NaN exactly where there is no reference
        dist = np.hypot(pi[:, 0] - state.ref_pos[sl, 0], pi[:, 1] - state.ref_pos[sl, 1])
        allowed = cfg.max_speed_mps * abs_dt + cfg.n_sigma * np.hypot(ai, _nan_to_zero(state.ref_acc[sl])) + cfg.margin_m
        bad = has_ref & (dist > allowed)
        speed[sel] = np.where(has_ref, dist / np.maximum(abs_dt, 1e-3), np.nan)  # never / 0; NaN rows stay quiet
        implausible[sel] = bad
        if bad.any():
            at_once = bad & (abs_dt < cfg.simultaneous_s)
            ring = state.bad_times[sl]
            ring = np.where(bad[:, None], np.concatenate([ring[:, 1:], ti[:, None]], axis=1), ring)
            state.bad_times[sl] = ring
            recent = np.count_nonzero(ring >= (ti - cfg.implausible_window_s)[:, None], axis=1)
            trip = bad & (recent >= cfg.min_implausible)
            state.reason_t[sl[trip & at_once], 1] = ti[trip & at_once]
            state.reason_t[sl[trip & ~at_once], 0] = ti[trip & ~at_once]
            run = np.where(bad, state.bad_run[sl] + 1, 0)
            take = ~bad | (run >= cfg.reanchor_after)
            run = np.where(take, 0, run)
            state.bad_run[sl] = run
            ts = sl[take]
            state.ref_t[ts] = ti[take]
            state.ref_pos[ts] = pi[take]
            state.ref_acc[ts] = ai[take]
        else:
            # Every report plausible (the usual case): no ring or run to advance; each is the new reference.
            state.bad_run[sl] = 0
            state.ref_t[sl] = ti
            state.ref_pos[sl] = pi
            state.ref_acc[sl] = ai

        # -- against the associated non-cooperative track ------------------------------------
        has_track = (np.isfinite(tp[sel]).all(axis=1) & np.isfinite(tc[sel].reshape(-1, 9)).all(axis=1)) if with_track else None
        if has_track is not None and has_track.any():
            k = sel[has_track]
            R = np.zeros((k.size, 3, 3))
            R[:, 0, 0] = R[:, 1, 1] = acc[k] ** 2
            R[:, 2, 2] = sv[k] ** 2
            S = tc[k] + R
            y = pos[k] - tp[k]
            d2 = np.einsum("ni,ni->n", y, np.linalg.solve(S, y[:, :, None])[:, :, 0])
            maha[k] = d2
            sk = sl[has_track]
            mis = d2 > cfg.mismatch_chi2
            if confirm is not None and mis.any():
                outside = k[mis]
                ok = np.asarray(confirm(outside), dtype=bool).reshape(outside.size)
                confirmed[outside[ok]] = True
                mis[mis.nonzero()[0][ok]] = False
            mrun = np.where(mis, state.mismatch_run[sk] + 1, 0)
            state.mismatch_run[sk] = mrun
            hit = mrun >= cfg.mismatch_consecutive
            state.reason_t[sk[hit], 2] = ti[has_track][hit]

        # -- flags --------------------------------------------------------------------------
        active = state.reason_t[sl] >= (ti - cfg.flag_hold_s)[:, None]
        bits = active[:, 0] * REASON_JUMP + active[:, 1] * REASON_TWO_PLACES + active[:, 2] * REASON_TRACK
        new_flag[sel] = (bits & ~state.flag_bits[sl]) != 0
        state.flag_bits[sl] = bits
        state.last_seen[sl] = np.maximum(state.last_seen[sl], ti)
        bits_out[sel] = bits
        flagged[sel] = bits != 0
    return PlausibilityResult(flagged, bits_out, new_flag, implausible, speed, maha, confirmed)
