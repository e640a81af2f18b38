"""Tracker v1: multi-sensor, multi-target tracking with all track state in numpy arrays.

One :meth:`Tracker.step` consumes a batch of observations (a short time window) and:

1. **identity first**: Remote ID and ADS-B observations update the track that already carries
   their ``uas_id``/``icao24``; a new identity attaches to an identity-less kinematic track that
   gates with it (one drone, one track); otherwise it initiates a track of its own;
2. **plots** (non-cooperative), sensor by sensor: a KD-tree pre-gate over predicted track
   positions, Mahalanobis gating on the candidate pairs only, and global-nearest-neighbour
   assignment (``scipy.optimize.linear_sum_assignment``) solved per connected cluster; unassigned
   plots initiate tentative tracks;
3. **management**: M-of-N confirmation over the last N steps, deletion after coasting, and
   absorption of duplicate tracks (a tentative track beside a confirmed one, or an identity-less
   track riding on an identity track).

Composition follows Stone Soup's families (predictor/updater in :mod:`.kalman`, hypothesiser and
associator in :mod:`.association`, initiator and deleter here), but state is a struct of arrays
and every operation is vectorised across tracks.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from skywarden.core.frame import LocalFrame
from skywarden.core.records import TrackBatch
from skywarden.fusion import imm, kalman
from skywarden.fusion.association import assign_gnn, close_pairs, gate_pairs, jpda_marginals
from skywarden.fusion.classify import classify, features_from_history
from skywarden.fusion.measurement_models import bearing_update, polar_jacobian, triangulate_bearings, wrap_deg
from skywarden.fusion.measurements import KIND_ADSB, KIND_BEARING, KIND_PLOT, KIND_REMOTE_ID, MeasurementBatch, occurrence_rounds
from skywarden.fusion.plausibility import REASON_TRACK, PlausibilityState, check_remote_id

__all__ = ["TrackerConfig", "Tracker", "TENTATIVE", "CONFIRMED"]

TENTATIVE = 1
CONFIRMED = 2
_FREE = 0

CLASS_NAMES = ("unknown", "drone", "manned_aircraft", "bird")
HISTORY = 12
"""States kept per track for classification (one per step that updated it: 12 s at 1 Hz)."""
MANNED_WITHOUT_ADSB_MIN_P = 0.9
"""Class probability a track without ADS-B needs before it is reported as a manned aircraft."""
CLASSIFY_EVERY = 20
"""Confirmed tracks are classified when confirmed and then every this many steps (20 s in a
replay): the evidence changes slowly; classifying at every step cost a 100-drone replay 2 s, and
every 10 steps still 8 % of it."""
_CHI2_999 = np.array([10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12])
"""Chi-square quantiles at P = 0.999 for 1..8 degrees of freedom."""
_LN_2PI = float(np.log(2 * np.pi))
_EARLIER_BIAS_PER_S = 40.0
_CLASS_UNKNOWN, _CLASS_DRONE, _CLASS_MANNED = 0, 1, 2


_POSITION_DIAGONAL = np.array([0, 7, 14])  # the position variances in a flattened 6x6 covariance


def _without(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``np.setdiff1d(a, b, assume_unique=True)`` for small non-negative indices: the elements of
    ``a`` not in ``b``, in ``a``'s order, through a boolean table (a third of ``isin``'s calls)."""
    if a.size == 0 or b.size == 0:
        return a.copy()
    keep = np.ones(max(int(a.max()), int(b.max())) + 1, dtype=bool)
    keep[b] = False
    return a[keep[a]]


class TrackerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Tuning of tracker v1. Units: metres, seconds, m^2/s^3 for process noise."""

    q_h: float = 2.5
    """Horizontal process noise spectral density, m^2/s^3. Low, for accurate tracks between
    manoeuvres: a sharp turn or stop is caught by the second-chance manoeuvre gate and, failing
    that, by bridging to a new track within reach. Measured against q_h = 10 (same detections,
    bench/tracking_vs_stonesoup.py): 1,000 constant-velocity targets GOSPA 9,432 vs 10,239 m and
    440 vs 625 ID switches; 100 manoeuvring drones GOSPA 1,137 vs 1,100 m, 0 vs 2 ID switches."""
    q_v: float = 2.0
    """Vertical process noise spectral density, m^2/s^3."""
    gate_chi2: float = 16.27
    """Mahalanobis gate on a 3-D position innovation (chi-square, 3 dof, P = 0.999)."""
    confirmation: Literal["m_of_n", "score"] = "m_of_n"
    """How a tentative track is confirmed: ``m_of_n`` updates, or a log-likelihood-ratio ``score``."""
    confirm_m: int = 3
    confirm_n: int = 5
    """``m_of_n``: confirm a track once it was updated in ``confirm_m`` of its last ``confirm_n`` steps."""
    pd: float = 0.9
    """``score``: probability of detection per step, for the track score."""
    confirm_score: float = 11.5
    """``score``: confirm at this log-likelihood ratio; ln(1/alpha) for a false-confirmation
    probability alpha per tentative track (11.5 ~ 1e-5)."""
    identity_score: float = 6.0
    """``score``: evidence per Remote ID / ADS-B report (clutter carries no identity)."""
    max_score: float = 50.0
    tentative_coast_s: float = 3.5
    """Delete a tentative track not updated for this long."""
    confirmed_coast_s: float = 8.0
    """Delete a confirmed track not updated for this long."""
    init_vel_sigma_h_mps: float = 30.0
    """1-sigma prior on horizontal speed of a new track from a plot (small drones: 0-30 m/s)."""
    init_vel_sigma_v_mps: float = 5.0
    max_scans_per_step: int = 4
    """At most this many plots of one sensor update one track within one step."""
    rescan_radius_m: float = 100.0
    """Plots of one sensor closer than this within one step may be one new object seen twice."""
    min_rescan_s: float = 0.15
    rescan_probe_steps: int = 10
    """A plot this much newer than its track's update in the same step counts as the next scan."""
    manoeuvre_min_age_s: float = 0.5
    """In live micro-batches, the second-chance gate considers only tracks this long without update."""
    manoeuvre_tau_s: float = 1.0
    """How many seconds of manoeuvre noise widen the second-chance gate."""
    manoeuvre_q_h: float = 100.0
    manoeuvre_q_v: float = 10.0
    """Process noise (m^2/s^3) of the second-chance gate for a confirmed track that missed its
    plot (a manoeuvre), and of the test whether a new track continues a coasting one."""
    bridge_margin_m: float = 30.0
    """Allowance, metres, on top of speed x time when a new track may continue a lost one after
    a turn no Gaussian gate covers (see ``Tracker._bridge_gaps``)."""
    merge_radius_m: float = 250.0
    """Tracks further apart than this (metres) are never duplicates of each other."""
    merge_velocity_mps: float = 10.0
    """Two tracks this close in velocity (and gated in position) are one object."""
    radar_support_s: float = 3.0
    """A track's radar-only estimate (see :class:`Tracker`) younger than this gates the
    non-cooperative plots and is the reference for the Remote ID track-mismatch check; older, the
    sensors have lost the drone and the broadcast alone carries the track."""
    radar_vertical_allowance_m: float = 30.0
    """Added (in quadrature) to a broadcast's vertical error in the track-mismatch check: a Remote
    ID altitude (geodetic or pressure) and a radar's height differ in reference and quality."""
    support_window_s: float = 1.0
    """A Remote ID report with a plot within this many seconds where it claims to be (moved by the
    track's velocity to the plot's time; horizontally within ``support_chi2``, vertically within
    three sigma) is confirmed by the radar: it never counts as a track mismatch, and a radar-only
    estimate that disagrees restarts from the plots. Without this, 33 of 44 honest broadcasts in
    a 100-drone swarm were flagged: the estimate lags a sharp turn for a few scans (q_h 2.5), and
    where two drones cross it can follow the other one's plots away for good."""
    support_chi2: float = 9.21
    """Horizontal gate of that test (chi-square, 2 dof, P = 0.99): a plot 10 m and a broadcast 3 m
    accurate confirm each other within about 32 m."""
    bearing_gate_chi2: float = 10.83
    """Gate on a bearing's squared normalised azimuth innovation against a track (chi-square,
    1 dof, P = 0.999)."""
    bearing_max_range_m: float = 10_000.0
    """Farthest a bearing sensor is believed to see a drone (RF control links: a few km)."""
    bearing_pair_window_s: float = 1.0
    """Bearings of two sensors at most this far apart in time may be triangulated together."""
    bearing_min_crossing_deg: float = 10.0
    """Two bearings crossing at a shallower angle give no usable position fix."""
    bearing_height_m: float = 60.0
    bearing_height_sigma_m: float = 100.0
    """Prior on a target's height above the bearing sensors, metres, for fixes from azimuths alone."""
    bearing_frequency_tolerance_mhz: float = 2.0
    """Two bearings that both state a frequency are of one emitter only within this tolerance."""
    association: Literal["gnn", "jpda"] = "gnn"
    """How plots are shared among tracks whose gates overlap. ``gnn``: the single most likely
    assignment. ``jpda``: where several tracks and plots of one sensor contend (a cluster), each
    track is updated with all its gated plots weighted by their joint association probabilities
    (exact JPDA, cheap JPDA for huge clusters); uncontested pairs are plain updates. For sensors
    that report each target at most once per step; needs ``motion = "ncv"``."""
    motion: Literal["imm", "ncv"] = "ncv"
    """``imm``: an interacting multiple model filter per track (constant velocity, manoeuvre,
    hover; :data:`skywarden.fusion.imm.DRONE` tuning, :data:`~skywarden.fusion.imm.MANNED` for
    manned aircraft), which also covers a manoeuvring target that missed its gate. ``ncv``: one
    nearly-constant-velocity Kalman filter with ``q_h``/``q_v`` and a second-chance manoeuvre gate."""


    def __post_init__(self) -> None:
        if self.association == "jpda" and self.motion != "ncv":
            raise ValueError('association = "jpda" needs motion = "ncv" (the IMM is updated by GNN)')


class Tracker:
    """Tracker v1. Feed it :class:`MeasurementBatch` es in time order via :meth:`step`.

    Example:
        >>> from skywarden.core.frame import LocalFrame
        >>> tracker = Tracker(LocalFrame(51.15, -0.18))
        >>> tracker.n_active
        0
    """

    def __init__(self, frame: LocalFrame, config: TrackerConfig | None = None, capacity: int = 256) -> None:
        self.frame = frame
        self.config = config or TrackerConfig()
        self._next_track_id = 1
        self._allocate(capacity)
        self._by_identity: dict[str, int] = {}
        self._rescan_found: dict[str, int] = {}
        self._period_updated = np.zeros(capacity, dtype=bool)
        self._micro_step = False
        self._step_count = 0
        self.plausibility = PlausibilityState()
        self.distrusted_reports = 0
        """Remote ID reports not used to move their track because the radar contradicts them."""
        self._sensor_codes: dict[str, int] = {}
        # Recent batches with plots, as (newest plot time, batch, plot indices): a Remote ID
        # report with a plot where it claims to be is confirmed by the radar, whatever the
        # track's radar-only estimate says.
        self._recent_plots: deque[tuple[float, MeasurementBatch, npt.NDArray[np.int64]]] = deque()
        self._free: list[int] = list(range(capacity - 1, -1, -1))
        mask_bits = self.config.confirm_n
        self._hit_mask = (1 << mask_bits) - 1
        self._popcount = np.array([bin(i).count("1") for i in range(1 << mask_bits)], dtype=np.int8)
        # Q(tau) of the second-chance manoeuvre gate: the same every step.
        self._widen = kalman.inflate(np.zeros((1, 6, 6)), self.config.manoeuvre_tau_s, self.config.manoeuvre_q_h, self.config.manoeuvre_q_v)[0]

    # -- state storage -----------------------------------------------------------------------
    def _allocate(self, capacity: int) -> None:
        self.x = np.zeros((capacity, 6))
        self.P = np.tile(np.eye(6), (capacity, 1, 1))
        self.t = np.zeros(capacity)
        self.status = np.zeros(capacity, dtype=np.int8)
        self.hits = np.zeros(capacity, dtype=np.int64)
        self.score = np.zeros(capacity)
        self.track_id = np.zeros(capacity, dtype=np.int64)
        self.last_update_t = np.zeros(capacity)
        self.track_class = np.zeros(capacity, dtype=np.int8)
        self.operator_lat = np.full(capacity, np.nan)
        self.operator_lon = np.full(capacity, np.nan)
        self.uas_id: list[str | None] = [None] * capacity
        self.icao24: list[str | None] = [None] * capacity
        # Short per-track history (a ring buffer of the states after each step that updated the
        # track): what the classifier reads. Bounded memory: HISTORY states per slot.
        self.hist_x = np.full((capacity, HISTORY, 6), np.nan)
        self.hist_t = np.full((capacity, HISTORY), np.nan)
        self.hist_n = np.zeros(capacity, dtype=np.int64)
        # IMM: per track, the mode probabilities and each model's estimate (x and P above hold
        # their moment-matched combination, which gating, merging and output use).
        self.class_prob = np.full(capacity, np.nan)
        self.classified = np.zeros(capacity, dtype=bool)  # classified since initiation (class_prob may stay NaN)
        self.declared_uav = np.zeros(capacity, dtype=bool)
        # Radar-only estimate of a track that carries a Remote ID: the same NCV filter fed only
        # the non-cooperative plots the track took. The broadcast is unauthenticated; this is what
        # its reports are checked against and what gates the plots, so a false broadcast can
        # neither drag the plots' association away nor hide the drone the radar sees.
        self.has_rid = np.zeros(capacity, dtype=bool)
        # The sensor (a code, see _sensor_codes) and time of each track's last plot: two tracks
        # that one sensor resolved in the same scan are two objects, never duplicates.
        self.plot_sensor = np.full(capacity, -1, dtype=np.int64)
        self.plot_t = np.full(capacity, np.nan)
        self.identified = np.zeros(capacity, dtype=bool)
        """The track carries a Remote ID or an ADS-B identity (uas_id or icao24 set)."""
        self.r_valid = np.zeros(capacity, dtype=bool)
        self.rx = np.zeros((capacity, 6))
        self.rP = np.tile(np.eye(6), (capacity, 1, 1))
        self.rt = np.zeros(capacity)
        m = imm.DRONE.n_models
        self.mu = np.zeros((capacity, m))
        self.mx = np.zeros((capacity, m, 6))
        self.mP = np.tile(np.eye(6), (capacity, m, 1, 1))

    def _grow(self) -> None:
        old = self.x.shape[0]
        new = old * 2
        arrays = ("x", "P", "t", "status", "hits", "score", "track_id", "last_update_t", "track_class", "operator_lat", "operator_lon",
                  "hist_x", "hist_t", "hist_n", "mu", "mx", "mP", "class_prob", "classified", "declared_uav",
                  "has_rid", "identified", "plot_sensor", "plot_t", "r_valid", "rx", "rP", "rt")
        saved = {name: getattr(self, name) for name in arrays}
        uas, icao = self.uas_id, self.icao24
        self._allocate(new)
        for name, arr in saved.items():
            getattr(self, name)[:old] = arr
        self.uas_id[:old] = uas
        self.icao24[:old] = icao
        self._free.extend(range(new - 1, old - 1, -1))

    @property
    def n_active(self) -> int:
        return int(np.count_nonzero(self.status))

    @property
    def n_confirmed(self) -> int:
        return int(np.count_nonzero(self.status == CONFIRMED))

    @property
    def tracks_started(self) -> int:
        return self._next_track_id - 1

    def _new_slots(self, k: int) -> npt.NDArray[np.int64]:
        while len(self._free) < k:
            self._grow()
        slots = np.array([self._free.pop() for _ in range(k)], dtype=np.int64)
        return slots

    # -- the step ------------------------------------------------------------------------------
    def step(self, batch: MeasurementBatch, t_now: float, end_period: bool = True) -> TrackBatch:
        """Process a batch of measurements and return the confirmed tracks it updated.

        Track management (the M-of-N history, deletion, duplicate merging) runs once per
        *period*. A replay feeds one batch per period (the default). A live runner feeds short
        micro-batches for low latency and passes ``end_period=True`` with the last one of each
        period (an empty batch will do); confirmation is checked after every micro-batch.

        Args:
            batch: the measurements, in any order.
            t_now: the tracker's clock, UNIX seconds: the end of the batch's time window.
            end_period: run track management after this batch.
        """
        self._step_count += 1
        self._micro_step = not end_period
        touched = self._ingest(batch)
        cap = self.x.shape[0]
        if self._period_updated.size != cap:
            self._period_updated = np.concatenate([self._period_updated, np.zeros(cap - self._period_updated.size, dtype=bool)])
        updated_now = np.zeros(cap, dtype=bool)
        updated_now[touched] = True
        self._period_updated |= updated_now
        self._confirm(self._period_updated)
        lost = self._end_period(self._period_updated, t_now) if end_period else []
        if end_period:
            self._period_updated = np.zeros(cap, dtype=bool)
        self._record_history((updated_now & (self.status != _FREE)).nonzero()[0])
        out = (updated_now & (self.status == CONFIRMED)).nonzero()[0]
        # All together every CLASSIFY_EVERY steps (one vectorised call: the per-call overhead is
        # what costs), a newly confirmed track at once.
        due = out if self._step_count % CLASSIFY_EVERY == 0 else out[~self.classified[out]]
        if due.size:
            self._classify(due)
        return self._output(updated_now, lost, t_now)

    def _classify(self, slots: npt.NDArray[np.int64]) -> None:
        """Class and its probability from identity and recent kinematics (fusion.classify).

        A track with an identity keeps the identity's class (Remote ID: drone; ADS-B: manned,
        or drone for emitter category B6); the classifier gives its probability.
        """
        states, times = self.history(slots)
        has_rid = np.array([self.uas_id[s] is not None for s in slots.tolist()])
        has_adsb = np.array([self.icao24[s] is not None for s in slots.tolist()])
        feats = features_from_history(states, times, has_remote_id=has_rid, has_adsb=has_adsb, adsb_uav=self.declared_uav[slots])
        probs, cls = classify(feats)
        identified = has_rid | has_adsb
        final = np.where(identified, self.track_class[slots], cls).astype(np.int8)
        prob = probs[np.arange(slots.size), final]
        # A track without ADS-B is called a manned aircraft only on strong kinematic evidence: a
        # fast fixed-wing drone (the Seoul 2022 intruders) looks like a light aircraft, and the
        # map must not show it as one. Below the bar it is "unknown", without a probability.
        doubtful = ~identified & (final == _CLASS_MANNED) & (prob < MANNED_WITHOUT_ADSB_MIN_P)
        final[doubtful] = _CLASS_UNKNOWN
        prob[doubtful] = np.nan
        self.track_class[slots] = final
        self.class_prob[slots] = prob
        self.classified[slots] = True

    def _record_history(self, slots: npt.NDArray[np.int64]) -> None:
        """Append the current state of ``slots`` to their history rings."""
        if slots.size == 0:
            return
        pos = self.hist_n[slots] % HISTORY
        self.hist_x[slots, pos] = self.x[slots]
        self.hist_t[slots, pos] = self.t[slots]
        self.hist_n[slots] += 1

    def history(self, slots: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """States ``(k, HISTORY, 6)`` and times ``(k, HISTORY)`` of ``slots``, oldest first, NaN-padded."""
        order = (self.hist_n[slots, None] + np.arange(HISTORY)[None, :]) % HISTORY  # ring start = oldest
        rows = slots[:, None]
        return self.hist_x[rows, order], self.hist_t[rows, order]

    def _ingest(self, batch: MeasurementBatch) -> npt.NDArray[np.int64]:
        """Associate, update and initiate; returns the slots touched."""
        updated_slots: list[npt.NDArray[np.int64]] = []
        plots = (batch.kind == KIND_PLOT).nonzero()[0]
        self._remember_plots(batch, plots)
        ident = ((batch.kind == KIND_REMOTE_ID) | (batch.kind == KIND_ADSB)).nonzero()[0]
        if ident.size:
            updated_slots.append(self._step_identities(batch, ident))
        if plots.size:
            names = [batch.sensor[i] for i in plots.tolist()]
            distinct = set(names)
            if len(distinct) == 1:
                updated_slots.append(self._step_plots(batch, plots))
            else:
                sensors = np.array(names, dtype=object)
                for sensor in sorted(distinct):
                    updated_slots.append(self._step_plots(batch, plots[sensors == sensor]))
        bearings = (batch.kind == KIND_BEARING).nonzero()[0]
        if bearings.size:
            updated_slots.append(self._step_bearings(batch, bearings))
        return np.concatenate(updated_slots) if updated_slots else np.zeros(0, dtype=np.int64)

    # -- bearings (RF direction finding) ---------------------------------------------------------
    def _step_bearings(self, batch: MeasurementBatch, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Bearing-only observations. Bearings of two or more sensors that cross are first
        triangulated into position fixes, which associate, update and start tracks like plots
        (several sensors agreeing is the strongest evidence, and it keeps a track off the ghost
        intersections of two emitters); each remaining bearing then updates the confirmed track
        it points at, across the bearing (EKF)."""
        touched: list[npt.NDArray[np.int64]] = []
        rest = idx
        if idx.size >= 2:
            fixes, used = self._triangulate(batch, idx)
            if fixes is not None:
                touched.append(self._step_plots(fixes, np.arange(len(fixes))))
                rest = np.setdiff1d(idx, used)
        sensors = np.array(batch.sensor, dtype=object)[rest]
        for sensor in sorted(set(sensors.tolist())):
            b_obs, b_trk = self._associate_bearings(batch, rest[sensors == sensor])
            if b_obs.size:
                self._update_bearings(b_trk, batch, b_obs)
                touched.append(b_trk)
        return np.concatenate(touched) if touched else np.zeros(0, dtype=np.int64)

    def _associate_bearings(self, batch: MeasurementBatch, sel: npt.NDArray[np.int64]
                            ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """GNN between one sensor's bearings and the confirmed non-manned tracks, on the azimuth."""
        cfg = self.config
        empty = np.zeros(0, dtype=np.int64)
        slots = ((self.status == CONFIRMED) & (self.track_class != _CLASS_MANNED)).nonzero()[0]
        if slots.size == 0:
            return empty, empty
        assert batch.bearing is not None
        o = sel.repeat(slots.size)
        s = np.tile(slots, sel.size)
        d = self.x[s, :2] - batch.pos[o, :2]
        # Coarse first: within range and within 30 deg of the bearing (cheap, no prediction).
        near = (d * d).sum(axis=1) <= cfg.bearing_max_range_m**2
        near &= np.abs(wrap_deg(batch.bearing[o, 0] - np.degrees(np.arctan2(d[:, 0], d[:, 1])))) <= 30.0
        o, s = o[near], s[near]
        if o.size == 0:
            return empty, empty
        x, P = kalman.predict(self.x[s], self.P[s], batch.t[o] - self.t[s], cfg.q_h, cfg.q_v)
        h, H = polar_jacobian(x, batch.pos[o])
        y = np.radians(wrap_deg(batch.bearing[o, 0] - np.degrees(h[:, 1])))
        Haz = H[:, 1, :]
        S = np.einsum("ki,kij,kj->k", Haz, P, Haz) + np.radians(batch.bearing[o, 1]) ** 2
        d2 = y * y / S
        ok = d2 <= cfg.bearing_gate_chi2
        oi, si = assign_gnn(o[ok], s[ok], (d2 + np.log(S))[ok])
        return oi, si

    def _update_bearings(self, slots: npt.NDArray[np.int64], batch: MeasurementBatch, obs: npt.NDArray[np.int64]) -> None:
        """EKF update of ``slots`` with one bearing each (azimuth, and elevation where measured)."""
        cfg = self.config
        assert batch.bearing is not None
        has_el = np.isfinite(batch.bearing[obs, 2])
        for group in ((~has_el).nonzero()[0], has_el.nonzero()[0]):
            if group.size == 0:
                continue
            sg, og = slots[group], obs[group]
            m = 2 if has_el[group[0]] else 1
            z = batch.bearing[og][:, [0, 2][:m]]
            R = np.zeros((group.size, m, m))
            R[:, 0, 0] = batch.bearing[og, 1] ** 2
            if m == 2:
                R[:, 1, 1] = batch.bearing[og, 3] ** 2
            dt = batch.t[og] - self.t[sg]
            sensor = batch.pos[og]
            if cfg.motion == "imm":
                state = imm.imm_predict(imm.IMMState(self.mu[sg], self.mx[sg], self.mP[sg], imm.DRONE), dt)
                new, xc, Pc, _ = imm.imm_update_with(state, bearing_update, m, sensor, z, R)
                self.mu[sg], self.mx[sg], self.mP[sg] = new.mu, new.x, new.P
                self.x[sg], self.P[sg] = xc, Pc
            else:
                x, P = kalman.predict(self.x[sg], self.P[sg], dt, cfg.q_h, cfg.q_v)
                self.x[sg], self.P[sg], _, _ = bearing_update(x, P, sensor, z, R)
        self._updated(slots, batch, obs)

    def _triangulate(self, batch: MeasurementBatch, rest: npt.NDArray[np.int64]
                     ) -> tuple[MeasurementBatch | None, npt.NDArray[np.int64]]:
        """Position fixes from bearings of different sensors that cross, and the bearings used.

        Every pair of bearings of two sensors close in time (and in frequency, where both state
        one) that cross at a usable angle is intersected; a third sensor's bearing passing
        through the intersection joins it. Fixes seen by most sensors are taken first, each
        bearing used once. Two sensors and several emitters remain ambiguous (the classic
        ghost intersections) unless frequencies tell the emitters apart; a third sensor resolves it.
        """
        cfg = self.config
        b = batch.bearing
        assert b is not None
        i, j = np.triu_indices(rest.size, 1)
        a, c = rest[i], rest[j]
        sensor_of = np.array(batch.sensor, dtype=object)
        ok = (sensor_of[a] != sensor_of[c]) & (np.abs(batch.t[a] - batch.t[c]) <= cfg.bearing_pair_window_s)
        both_freq = np.isfinite(b[a, 4]) & np.isfinite(b[c, 4])
        ok &= ~both_freq | (np.abs(b[a, 4] - b[c, 4]) <= cfg.bearing_frequency_tolerance_mhz)
        crossing = np.abs(wrap_deg(b[a, 0] - b[c, 0]))
        ok &= (crossing >= cfg.bearing_min_crossing_deg) & (crossing <= 180.0 - cfg.bearing_min_crossing_deg)
        a, c = a[ok], c[ok]
        if a.size == 0:
            return None, np.zeros(0, dtype=np.int64)
        p, cov, valid = self._intersect(batch, np.stack([a, c], axis=1))
        a, c, p, cov = a[valid], c[valid], p[valid], cov[valid]
        if a.size == 0:
            return None, np.zeros(0, dtype=np.int64)
        # Support: bearings of other sensors that pass through a pair's intersection.
        d = p[:, None, :2] - batch.pos[None, rest, :2]  # (pairs, rest, 2)
        rng = np.maximum(np.hypot(d[..., 0], d[..., 1]), 1.0)
        off = np.radians(wrap_deg(b[rest, 0][None, :] - np.degrees(np.arctan2(d[..., 0], d[..., 1]))))
        spread = np.sqrt(np.maximum(cov[:, 0, 0] + cov[:, 1, 1], 0.0))[:, None] / rng
        d2 = off**2 / (np.radians(b[rest, 1])[None, :] ** 2 + spread**2)
        supports = (d2 <= cfg.bearing_gate_chi2) & (rng <= cfg.bearing_max_range_m)
        supports &= np.abs(batch.t[rest][None, :] - batch.t[a][:, None]) <= cfg.bearing_pair_window_s
        supports &= (sensor_of[rest][None, :] != sensor_of[a][:, None]) & (sensor_of[rest][None, :] != sensor_of[c][:, None])
        candidates: list[list[int]] = []
        for g in range(a.size):
            members = [int(a[g]), int(c[g])]
            seen = {sensor_of[a[g]], sensor_of[c[g]]}
            for r in supports[g].nonzero()[0][(d2[g, supports[g]]).argsort()].tolist():
                if sensor_of[rest[r]] not in seen:  # one bearing per sensor in a fix
                    members.append(int(rest[r]))
                    seen.add(sensor_of[rest[r]])
            candidates.append(members)
        # Judge each candidate by all its bearings at once: intersected together, a true fix
        # leaves residuals of the size of the bearing errors; a ghost that caught a third bearing
        # by chance does not. A candidate that fails falls back to its pair.
        table = self._bearing_table(candidates)
        p, cov, valid = self._intersect(batch, table)
        residual = self._bearing_residual(batch, table, p)
        n = (table >= 0).sum(axis=1)
        fails = ~valid | (residual > _CHI2_999[np.minimum(np.maximum(n - 2, 1), len(_CHI2_999)) - 1])
        for g in (fails & (n > 2)).nonzero()[0].tolist():
            candidates[g] = candidates[g][:2]
            n[g], residual[g] = 2, 0.0
        # A fix on an existing track's prediction comes before one that is not: with two
        # emitters, a ghost intersection can catch a third sensor's bearing by chance, but it
        # seldom also lies where a track is expected.
        # Among those, the likelier comes first: its bearings' residuals plus its distance from
        # the track's prediction (d^2 + ln|S|), a greedy step towards the best joint assignment.
        on_track = np.zeros(len(candidates), dtype=bool)
        track_cost = np.zeros(len(candidates))
        active = (self.status != _FREE).nonzero()[0]
        good = valid.nonzero()[0]
        if active.size and good.size:
            present = table[good] >= 0
            t_fix = np.where(present, batch.t[np.where(present, table[good], 0)], 0.0).sum(axis=1) / present.sum(axis=1)
            axis = np.arange(3)
            hit, _, cost = gate_pairs(self.x, self.P, self.t, p[good], np.sqrt(cov[good][:, axis, axis]), t_fix,
                                      cfg.q_h, cfg.q_v, cfg.gate_chi2, rows=active, cov=cov[good])
            if hit.size:
                best = np.full(good.size, np.inf)
                np.minimum.at(best, hit, cost)
                on_track[good] = np.isfinite(best)
                track_cost[good[on_track[good]]] = best[on_track[good]]
        used: set[int] = set()
        groups: list[list[int]] = []
        for g in np.lexsort((residual + track_cost, ~on_track, -n)).tolist():
            if used.isdisjoint(candidates[g]):
                used.update(candidates[g])
                groups.append(candidates[g])
        table = self._bearing_table(groups)
        p, cov, valid = self._intersect(batch, table)
        table, p, cov = table[valid], p[valid], cov[valid]
        k = table.shape[0]
        if k == 0:
            return None, np.zeros(0, dtype=np.int64)
        first = table[:, 0]
        t = np.array([batch.t[row[row >= 0]].mean() for row in table])
        axis = np.arange(3)
        fixes = MeasurementBatch(
            t=t, kind=np.full(k, KIND_PLOT, dtype=np.int8), sensor=["bearing-fix"] * k, identity=[""] * k,
            pos=p, sigma=np.sqrt(cov[:, axis, axis]), vel=np.full((k, 3), np.nan), vel_sigma=np.zeros(k),
            operator_lat=np.full(k, np.nan), operator_lon=np.full(k, np.nan),
            clutter_density=batch.clutter_density[first], cov=cov,
        )
        return fixes, table[table >= 0]

    @staticmethod
    def _bearing_table(groups: list[list[int]]) -> npt.NDArray[np.int64]:
        """Groups of bearing indices as rows of a table, padded with -1."""
        table = np.full((len(groups), max(len(g) for g in groups)), -1, dtype=np.int64)
        for k, g in enumerate(groups):
            table[k, : len(g)] = g
        return table

    @staticmethod
    def _bearing_residual(batch: MeasurementBatch, table: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Sum over each group's bearings of the squared azimuth miss of point ``p``, in sigmas."""
        b = batch.bearing
        assert b is not None
        present = table >= 0
        rows = np.where(present, table, 0)
        d = p[:, None, :2] - batch.pos[rows][..., :2]
        miss = wrap_deg(b[rows, 0] - np.degrees(np.arctan2(d[..., 0], d[..., 1]))) / b[rows, 1]
        return np.where(present, np.nan_to_num(miss, nan=1e6) ** 2, 0.0).sum(axis=1)

    def _intersect(self, batch: MeasurementBatch, table: npt.NDArray[np.int64]):  # noqa: ANN202
        """Triangulate groups of bearings (rows of ``table``, -1 padding): ``(p, cov, valid)``.

        Azimuth-only groups get the height prior; a fix beyond the sensors' range is invalid."""
        cfg = self.config
        b = batch.bearing
        assert b is not None
        present = table >= 0
        rows = np.where(present, table, 0)
        sensor = batch.pos[rows]
        az = np.where(present, b[rows, 0], np.nan)
        sigma = np.where(present, b[rows, 1], 1.0)
        up = np.nanmean(np.where(present, sensor[..., 2], np.nan)) + cfg.bearing_height_m
        p, cov, valid = triangulate_bearings(sensor, az, sigma, up_prior=(up, cfg.bearing_height_sigma_m**2))
        reach = np.hypot(p[:, None, 0] - sensor[..., 0], p[:, None, 1] - sensor[..., 1])
        valid &= np.all(~present | (reach <= cfg.bearing_max_range_m), axis=1)
        return p, cov, valid

    def _step_identities(self, batch: MeasurementBatch, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Associate identity-bearing observations; returns the slots updated."""
        cfg = self.config
        rid = idx[batch.kind[idx] == KIND_REMOTE_ID]
        distrusted: set[str] = set()
        if rid.size:
            # Is each broadcast plausible: no impossible jump, not in two places at once, where
            # the radar sees its drone? The flag travels with the identity to its track
            # (remote_id_flag in the output).
            keys = [batch.identity[i] for i in rid.tolist()]
            sigma_v = np.hypot(batch.sigma[rid, 2], cfg.radar_vertical_allowance_m)
            ref_slots, track_pos, track_cov = self._radar_reference(batch, rid, keys)
            res = check_remote_id(self.plausibility, batch.t[rid], [k[4:] for k in keys], batch.pos[rid], batch.sigma[rid, 0],
                                  sigma_v_m=sigma_v, track_pos=track_pos, track_cov=track_cov,
                                  confirm=lambda i: self._seen_where_claimed(batch, rid[i], ref_slots[i], sigma_v[i]))
            # The radar sees the drone where it claims to be, but the radar-only estimate
            # disagrees: the estimate has lost its drone. It restarts from the next plot.
            self.r_valid[ref_slots[res.confirmed]] = False
            # A broadcast the radar contradicts no longer moves its track: the radar's plots do.
            distrusted = {keys[i] for i in (res.reason_bits & REASON_TRACK).nonzero()[0].tolist()}
        # An identity may report several times within one batch: process its k-th report in
        # round k so each round updates a track at most once (and stays vectorised).
        rounds = occurrence_rounds([batch.identity[i] for i in idx.tolist()])
        order = batch.t[idx].argsort(kind="stable")
        idx, rounds = idx[order], rounds[order]
        touched: list[npt.NDArray[np.int64]] = []
        by_identity = self._by_identity
        for r in range(int(rounds.max()) + 1 if rounds.size else 0):
            sel = idx[rounds == r]
            slots = np.fromiter((by_identity.get(batch.identity[i], -1) for i in sel.tolist()), np.int64, sel.size)
            known = slots >= 0
            if distrusted:
                trusted = np.fromiter((batch.identity[i] not in distrusted for i in sel.tolist()), bool, sel.size)
                keep = trusted | ~known
                self.distrusted_reports += int(keep.size - np.count_nonzero(keep))
                sel, slots, known = sel[keep], slots[keep], known[keep]
            if known.any():
                self._update(slots[known], batch, sel[known])
                touched.append(slots[known])
            fresh = sel[~known]
            if fresh.size:
                # Attach a new identity to an identity-less kinematic track that gates with it.
                anonymous = ((self.status != _FREE) & ~self.identified).nonzero()[0]
                obs_i, trk = self._associate(batch, fresh, anonymous)
                if obs_i.size:
                    # Until now these tracks were the radar's alone: their state is the
                    # radar-only reference the broadcasts are checked against from here on.
                    self._seed_radar_reference(trk)
                    for o, s in zip(obs_i.tolist(), trk.tolist()):
                        self._set_identity(s, batch, o)
                    self._update(trk, batch, obs_i)
                    touched.append(trk)
                rest = _without(fresh, obs_i)
                if rest.size:
                    new = self._initiate(batch, rest)
                    for o, s in zip(rest.tolist(), new.tolist()):
                        self._set_identity(s, batch, o)
                    touched.append(new)
        return np.concatenate(touched) if touched else np.zeros(0, dtype=np.int64)

    def _step_plots(self, batch: MeasurementBatch, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        cfg = self.config
        candidates = (self.status != _FREE).nonzero()[0]
        if cfg.association == "jpda":
            obs_i, trk, shared_obs, shared_trk, clustered = self._associate_jpda(batch, idx, candidates)
        else:
            obs_i, trk = self._associate(batch, idx, candidates)
            shared_obs = shared_trk = clustered = np.zeros(0, dtype=np.int64)
        if obs_i.size:
            self._update(trk, batch, obs_i)
        rest = _without(idx, np.concatenate([obs_i, shared_obs]))  # idx is sorted and unique: setdiff1d's result
        # Second chance for a confirmed track that got no plot: its object may be manoeuvring
        # (a sharp turn of a fixed-wing drone) and its covariance too optimistic. Widen it by one
        # step of manoeuvre-sized process noise and gate again; on a match the update uses the
        # widened covariance, so the velocity catches up within a step or two instead of a new
        # track splitting off.
        idle = _without(candidates[self.status[candidates] == CONFIRMED], np.concatenate([trk, clustered]))  # sorted, unique
        if self._micro_step:
            # In a live micro-batch most tracks are simply not due yet: only one that has gone a
            # while without an update can have missed its plot. (A replay step spans the whole
            # period, so there every track without a plot in it is a candidate.)
            idle = idle[float(np.median(batch.t[idx])) - self.t[idle] >= cfg.manoeuvre_min_age_s]
        m_trk = np.zeros(0, dtype=np.int64)
        if rest.size and idle.size and cfg.motion == "ncv":  # the IMM's manoeuvre model covers it
            # Gate with P + Q(tau) without writing it; only the matched tracks are widened.
            widen = self._widen
            m_obs, m_trk = self._associate(batch, rest, idle, P_add=widen)
            if m_obs.size:
                self.P[m_trk] += widen
                self._update(m_trk, batch, m_obs)
                rest = _without(rest, m_obs)
        # A sensor faster than the step (a 4 Hz counter-drone radar) reports a target several
        # times per step: a leftover plot clearly later than a track's update is its next scan.
        done = np.concatenate([trk, m_trk])
        later: list[npt.NDArray[np.int64]] = []
        sensor = batch.sensor[int(idx[0])]
        for _ in range(cfg.max_scans_per_step - 1):
            if rest.size == 0 or done.size == 0 or not self._probe_rescans(sensor):
                break
            r_obs, r_trk = self._associate(batch, rest, done, min_dt=cfg.min_rescan_s)
            self._rescan_found[sensor] = self._step_count if r_obs.size else self._rescan_found.get(sensor, -1)
            if r_obs.size == 0:
                break
            self._update(r_trk, batch, r_obs)
            later.append(r_trk)
            rest = _without(rest, r_obs)
            done = r_trk
        new = self._initiate_plots(batch, rest)
        return np.concatenate([trk, shared_trk, m_trk, *later, new])

    def _probe_rescans(self, sensor: str) -> bool:
        """Whether to look for a sensor's next scans within this step.

        Most sensors report once per step, and the search then costs a gating pass for nothing;
        a sensor where it last paid off within ``rescan_probe_steps`` is searched every step,
        others every ``rescan_probe_steps``-th step (a faster sensor is found within that).
        """
        last = self._rescan_found.get(sensor, -(10**9))
        period = self.config.rescan_probe_steps
        return self._step_count - last <= period or self._step_count % period == 0

    def _initiate_plots(self, batch: MeasurementBatch, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Start tentative tracks from unassigned plots of one sensor.

        When the sensor saw a new object more than once in this step (close in space, apart in
        time), the first plot starts the track and the later ones update it.
        """
        cfg = self.config
        if idx.size < 2:
            return self._initiate(batch, idx) if idx.size else np.zeros(0, dtype=np.int64)
        pairs = close_pairs(batch.pos[idx], cfg.rescan_radius_m)
        if pairs.size == 0:
            return self._initiate(batch, idx)
        dt = batch.t[idx[pairs[:, 1]]] - batch.t[idx[pairs[:, 0]]]
        apart = np.abs(dt) >= cfg.min_rescan_s
        later_of_pair = np.where(dt[apart] > 0, pairs[apart, 1], pairs[apart, 0])
        later = idx[np.unique(later_of_pair)]
        first = _without(idx, later)
        touched = [self._initiate(batch, first)]
        done = touched[0]
        for _ in range(cfg.max_scans_per_step - 1):
            if later.size == 0 or done.size == 0:
                break
            r_obs, r_trk = self._associate(batch, later, done, min_dt=cfg.min_rescan_s)
            if r_obs.size == 0:
                break
            self._rescan_found[batch.sensor[int(r_obs[0])]] = self._step_count
            self._update(r_trk, batch, r_obs)
            touched.append(r_trk)
            later = _without(later, r_obs)
            done = r_trk
        if later.size:
            touched.append(self._initiate(batch, later))
        return np.concatenate(touched)

    def _associate(
        self,
        batch: MeasurementBatch,
        obs_idx: npt.NDArray[np.int64],
        slots: npt.NDArray[np.int64],
        q: tuple[float, float] | None = None,
        min_dt: float | None = None,
        P_add: npt.NDArray[np.float64] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """GNN between observations and track slots; returns matched (observation, slot) pairs.

        With ``min_dt``, only pairs whose observation is at least that many seconds newer than
        the track state are considered.
        """
        pair_o, pair_s, cost = self._gate(batch, obs_idx, slots, q, min_dt, P_add)
        # Where one track gates with several plots of one sensor (a sensor faster than the step),
        # prefer the earliest: the later ones then update it in time order as its next scans.
        # The bias exceeds any cost difference inside the gate once plots are a scan apart.
        t_obs = batch.t[pair_o]
        if t_obs.size:
            cost = cost + _EARLIER_BIAS_PER_S * (t_obs - t_obs.min())
        return assign_gnn(pair_o, pair_s, cost)

    def _gate(
        self,
        batch: MeasurementBatch,
        obs_idx: npt.NDArray[np.int64],
        slots: npt.NDArray[np.int64],
        q: tuple[float, float] | None = None,
        min_dt: float | None = None,
        P_add: npt.NDArray[np.float64] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Gated (observation, slot) pairs with their cost ``d^2 + ln|S|``."""
        if obs_idx.size == 0 or slots.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        cfg = self.config
        q_h, q_v = q or (cfg.q_h, cfg.q_v)
        alternate = None
        if batch.kind[obs_idx[0]] == KIND_PLOT:
            # Plots gate against a Remote ID track's radar-only estimate where it has one: a
            # broadcast (perhaps false) must not decide which plots are its drone's.
            radar = self.r_valid[slots] & (float(batch.t[obs_idx].max()) - self.rt[slots] <= cfg.radar_support_s)
            alternate = (radar, self.rx, self.rP, self.rt)
        pair_o, pair_s, cost = gate_pairs(
            self.x, self.P, self.t,
            batch.pos[obs_idx], batch.sigma[obs_idx], batch.t[obs_idx],
            q_h, q_v, cfg.gate_chi2, rows=slots, P_add=P_add,
            cov=None if batch.cov is None else batch.cov[obs_idx], alternate=alternate,
        )
        if min_dt is not None:
            newer = batch.t[obs_idx[pair_o]] - self.t[slots[pair_s]] >= min_dt
            pair_o, pair_s, cost = pair_o[newer], pair_s[newer], cost[newer]
        return obs_idx[pair_o], slots[pair_s], cost

    def _associate_jpda(self, batch: MeasurementBatch, obs_idx: npt.NDArray[np.int64], slots: npt.NDArray[np.int64]):  # noqa: ANN202
        """JPDA association of one sensor's plots: uncontested pairs are returned for a plain
        update; tracks in contested clusters are updated here with probability-weighted plots.

        Returns ``(obs, slots, shared_obs, shared_slots, clustered)``: the plain pairs, the plots
        the clusters used (at least even odds of being some track's), the cluster tracks that
        count as detected this step (at least even odds) and all cluster tracks.
        """
        cfg = self.config
        empty = np.zeros(0, dtype=np.int64)
        pair_o, pair_s, cost = self._gate(batch, obs_idx, slots)
        if pair_o.size == 0:
            return empty, empty, empty, empty, empty
        _, o_c, o_n = np.unique(pair_o, return_inverse=True, return_counts=True)
        _, s_c, s_n = np.unique(pair_s, return_inverse=True, return_counts=True)
        single = (o_n[o_c] == 1) & (s_n[s_c] == 1)
        po, ps, pc = pair_o[~single], pair_s[~single], cost[~single]
        if po.size == 0:
            return pair_o, pair_s, empty, empty, empty
        loglik = -0.5 * (pc + 3 * _LN_2PI)
        log_w = np.log(cfg.pd / (1.0 - cfg.pd)) + loglik - np.log(batch.clutter_density[po])
        beta, tracks, beta0 = jpda_marginals(po, ps, log_w)
        self._update_jpda(tracks, po, ps, beta, beta0, batch)
        obs_u, inv = np.unique(po, return_inverse=True)
        taken = np.zeros(obs_u.size)
        np.add.at(taken, inv, beta)
        return pair_o[single], pair_s[single], obs_u[taken >= 0.5], tracks[beta0 <= 0.5], tracks

    def _update_jpda(self, tracks: npt.NDArray[np.int64], po: npt.NDArray[np.int64], ps: npt.NDArray[np.int64],
                     beta: npt.NDArray[np.float64], beta0: npt.NDArray[np.float64], batch: MeasurementBatch) -> None:
        """PDA update of ``tracks`` with their gated plots ``po`` weighted by ``beta`` (Bar-Shalom):
        the combined innovation, and the covariance widened by the spread of the innovations."""
        cfg = self.config
        k = tracks.size
        row = tracks.searchsorted(ps)
        width = int(np.bincount(row, minlength=k).max())
        order = np.lexsort((-beta, row))
        row, obs, b = row[order], po[order], beta[order]
        col = np.arange(row.size) - row.searchsorted(row)  # rank within the track's plots
        B = np.zeros((k, width))
        B[row, col] = b
        Z = np.zeros((k, width, 3))
        Z[row, col] = batch.pos[obs]
        R = np.zeros((k, 3, 3))
        np.add.at(R, row, b[:, None, None] * batch.position_cov(obs))
        first = col == 0
        ref = np.empty(k, dtype=np.int64)
        ref[row[first]] = obs[first]  # each track's most probable plot sets its update time
        detected = B.sum(axis=1)
        R /= np.maximum(detected, 1e-12)[:, None, None]
        dt = batch.t[ref] - self.t[tracks]
        x, P = kalman.predict(self.x[tracks], self.P[tracks], dt, cfg.q_h, cfg.q_v)
        S = P[:, :3, :3] + R
        S_inv, _ = kalman.sym3_inverse(0.5 * (S + S.swapaxes(1, 2)))
        K = P[:, :, :3] @ S_inv
        nu_j = np.where(B[..., None] > 0, Z - x[:, None, :3], 0.0)
        nu = np.einsum("kj,kji->ki", B, nu_j)
        spread = np.einsum("kj,kji,kjl->kil", B, nu_j, nu_j) - nu[:, :, None] * nu[:, None, :]
        Pc = P - K @ S @ K.swapaxes(1, 2)
        Pn = beta0[:, None, None] * P + (1.0 - beta0)[:, None, None] * Pc + K @ spread @ K.swapaxes(1, 2)
        self.x[tracks] = x + np.einsum("kij,kj->ki", K, nu)
        self.P[tracks] = 0.5 * (Pn + Pn.swapaxes(1, 2))
        seen = beta0 <= 0.5
        self._update_radar_reference(tracks[seen], batch, ref[seen])
        self._updated(tracks[seen], batch, ref[seen])
        self.t[tracks[~seen]] = batch.t[ref[~seen]]

    def _update(
        self,
        slots: npt.NDArray[np.int64],
        batch: MeasurementBatch,
        obs_idx: npt.NDArray[np.int64],
        q: tuple[float, float] | None = None,
    ) -> None:
        cfg = self.config
        self._update_radar_reference(slots, batch, obs_idx)
        if cfg.motion == "imm" and q is None:
            self._update_imm(slots, batch, obs_idx)
            return
        q_h, q_v = q or (cfg.q_h, cfg.q_v)
        dt = batch.t[obs_idx] - self.t[slots]
        x, P = kalman.predict(self.x[slots], self.P[slots], dt, q_h, q_v)
        score = cfg.confirmation == "score"
        for g, rows, z, R in self._measurement(batch, obs_idx, diagonal=batch.cov is None):
            if g.size == obs_idx.size:  # one measurement model for all: no gather and scatter
                x, P, nis, logdet = kalman.update(x, P, z, R, rows, likelihood=score)
            else:
                x[g], P[g], nis, logdet = kalman.update(x[g], P[g], z, R, rows, likelihood=score)
            if score:
                # Log-likelihood ratio of "target" over "clutter" for this plot (Blackman &
                # Popoli's track score): ln Pd + ln N(y; 0, S) - ln(clutter density).
                self._score(slots[g], batch, obs_idx[g], -0.5 * (nis + logdet + len(rows) * _LN_2PI))
        self.x[slots] = x
        self.P[slots] = P
        self._updated(slots, batch, obs_idx)

    def _update_radar_reference(self, slots: npt.NDArray[np.int64], batch: MeasurementBatch,
                                obs_idx: npt.NDArray[np.int64]) -> None:
        """Feed the plots that Remote ID tracks took to their radar-only estimates.

        A track without a current estimate (started by its broadcast, or the radar lost it for
        longer than a coast) starts one from the plot, knowing its velocity only to the prior.
        """
        cfg = self.config
        sel = self.has_rid[slots] & (batch.kind[obs_idx] == KIND_PLOT)
        if not sel.any():
            return
        s, o = slots[sel], obs_idx[sel]
        dt = batch.t[o] - self.rt[s]
        have = self.r_valid[s] & (dt <= cfg.confirmed_coast_s)
        if have.any():
            sh, oh = s[have], o[have]
            x, P = kalman.predict(self.rx[sh], self.rP[sh], dt[have], cfg.q_h, cfg.q_v)
            R = batch.sigma[oh] ** 2 if batch.cov is None else batch.cov[oh]  # variances when axis-aligned
            self.rx[sh], self.rP[sh], _, _ = kalman.update(x, P, batch.pos[oh], R, (0, 1, 2), likelihood=False)
        if not have.all():
            sn, on = s[~have], o[~have]
            self.rx[sn] = 0.0
            self.rx[sn, :3] = batch.pos[on]
            P = np.zeros((sn.size, 6, 6))
            P[:, :3, :3] = batch.position_cov(on)
            vel_axes = np.arange(3, 6)
            P[:, vel_axes, vel_axes] = np.array([cfg.init_vel_sigma_h_mps, cfg.init_vel_sigma_h_mps, cfg.init_vel_sigma_v_mps]) ** 2
            self.rP[sn] = P
        self.rt[s] = batch.t[o]
        self.r_valid[s] = True

    def _seed_radar_reference(self, slots: npt.NDArray[np.int64]) -> None:
        """Tracks so far fed by plots alone: their own state is their radar-only estimate."""
        self.rx[slots], self.rP[slots], self.rt[slots] = self.x[slots], self.P[slots], self.t[slots]
        self.r_valid[slots] = True

    def _radar_reference(self, batch: MeasurementBatch, rid: npt.NDArray[np.int64], keys: list[str]):  # noqa: ANN202
        """For Remote ID reports ``rid``: the slots of their tracks that have a current radar-only
        estimate (-1 elsewhere), and that estimate's position and covariance predicted to each
        report's time (NaN rows elsewhere; ``None, None`` if no report has one)."""
        cfg = self.config
        slots = np.fromiter((self._by_identity.get(k, -1) for k in keys), np.int64, len(keys))
        ok = slots >= 0
        ok[ok] = self.r_valid[slots[ok]]
        ok[ok] = batch.t[rid[ok]] - self.rt[slots[ok]] <= cfg.radar_support_s
        slots[~ok] = -1
        if not ok.any():
            return slots, None, None
        s = slots[ok]
        x, P = kalman.predict(self.rx[s], self.rP[s], batch.t[rid[ok]] - self.rt[s], cfg.q_h, cfg.q_v)
        pos = np.full((len(keys), 3), np.nan)
        cov = np.full((len(keys), 3, 3), np.nan)
        pos[ok], cov[ok] = x[:, :3], P[:, :3, :3]
        return slots, pos, cov

    def _remember_plots(self, batch: MeasurementBatch, plots: npt.NDArray[np.int64]) -> None:
        """Keep the batches with plots of the last two ``support_window_s`` (for
        :meth:`_seen_where_claimed`): references only, gathered when a report needs them
        (rarely). A replay keeps two batches, a live runner a few dozen micro-batches."""
        if plots.size == 0:
            return
        recent = self._recent_plots
        newest = float(batch.t[plots].max())
        recent.append((newest, batch, plots))
        while recent[0][0] < newest - 2.0 * self.config.support_window_s:
            recent.popleft()

    def _plots_since(self, t_min: float) -> tuple[npt.NDArray[np.float64], ...]:
        """Positions (ENU m), times (s), horizontal and vertical variances (m^2) of the remembered
        plots no older than ``t_min``."""
        parts = [(b.pos[i], b.t[i], b.sigma[i]) for newest, b, i in self._recent_plots if newest >= t_min]
        if not parts:
            return np.zeros((0, 3)), np.zeros(0), np.zeros(0), np.zeros(0)
        pos, t, sig = (np.concatenate(p) for p in zip(*parts))
        keep = t >= t_min
        pos, t, sig = pos[keep], t[keep], sig[keep]
        return pos, t, 0.5 * (sig[:, 0] ** 2 + sig[:, 1] ** 2), sig[:, 2] ** 2

    def _seen_where_claimed(self, batch: MeasurementBatch, rid: npt.NDArray[np.int64], slots: npt.NDArray[np.int64],
                            sigma_v: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Which Remote ID reports ``rid`` (of tracks ``slots``) have a recent plot where they
        claim to be: the report moved by its track's velocity to the plot's time, the horizontal
        offset within ``support_chi2`` of the two errors (and the track velocity's over the time
        between), the height within three sigma (``sigma_v``: the report's vertical error with
        the radar allowance)."""
        cfg = self.config
        if rid.size == 0:
            return np.zeros(0, dtype=bool)
        p_pos, p_t, p_var_h, p_var_v = self._plots_since(float(batch.t[rid].min()) - cfg.support_window_s)
        if p_t.size == 0:
            return np.zeros(rid.size, dtype=bool)
        s, r = slots, rid
        dt = p_t[None, :] - batch.t[r][:, None]  # (reports, plots)
        moved = batch.pos[r][:, None, :] + self.x[s][:, None, 3:] * dt[:, :, None]
        off = p_pos[None, :, :] - moved
        vel_var = 0.5 * (self.P[s, 3, 3] + self.P[s, 4, 4])
        var_h = batch.sigma[r, 0][:, None] ** 2 + p_var_h[None, :] + vel_var[:, None] * dt * dt
        near = (off[:, :, 0] ** 2 + off[:, :, 1] ** 2 <= cfg.support_chi2 * var_h) & (
            off[:, :, 2] ** 2 <= 9.0 * (sigma_v[:, None] ** 2 + p_var_v[None, :])) & (np.abs(dt) <= cfg.support_window_s)
        return near.any(axis=1)

    def _measurement(self, batch: MeasurementBatch, obs_idx: npt.NDArray[np.int64], diagonal: bool = False):  # noqa: ANN202
        """Group ``obs_idx`` by measurement model; yields ``(group, rows, z, R)``.

        With ``diagonal`` (axis-aligned errors only), ``R`` is the ``(k, m)`` diagonal of the
        measurement covariance, which :func:`.kalman.update` accepts in its place.
        """
        vel = batch.vel[obs_idx]
        has_vel = np.isfinite(vel)
        pattern = has_vel[:, 0] * 1 + has_vel[:, 2] * 2
        for code in sorted(set(pattern.tolist())):  # np.unique's values, without its overhead
            g = (pattern == code).nonzero()[0]
            rows = (0, 1, 2) + ((3, 4) if code & 1 else ()) + ((5,) if code & 2 else ())
            o = obs_idx[g]
            m = len(rows)
            z = np.empty((g.size, m))
            z[:, :3] = batch.pos[o]
            if m > 3:
                z[:, 3:] = vel[g][:, [r - 3 for r in rows[3:]]]
            if diagonal:
                R = np.empty((g.size, m))
                R[:, :3] = batch.sigma[o] ** 2
                R[:, 3:] = (batch.vel_sigma[o] ** 2)[:, None]
            else:
                R = np.zeros((g.size, m, m))
                R[:, :3, :3] = batch.position_cov(o)
                vel_axes = np.arange(3, m)
                R[:, vel_axes, vel_axes] = (batch.vel_sigma[o] ** 2)[:, None]
            yield g, rows, z, R

    def _update_imm(self, slots: npt.NDArray[np.int64], batch: MeasurementBatch, obs_idx: npt.NDArray[np.int64]) -> None:
        """IMM predict and update of ``slots`` with one observation each."""
        cfg = self.config
        dt = batch.t[obs_idx] - self.t[slots]
        manned = self.track_class[slots] == _CLASS_MANNED
        for tuning, group in ((imm.DRONE, (~manned).nonzero()[0]), (imm.MANNED, manned.nonzero()[0])):
            if group.size == 0:
                continue
            s_g, o_g = slots[group], obs_idx[group]
            state = imm.imm_predict(imm.IMMState(self.mu[s_g], self.mx[s_g], self.mP[s_g], tuning), dt[group])
            for g, rows, z, R in self._measurement(batch, o_g):
                new, xc, Pc, loglik = imm.imm_update(state.take(g), z, R, rows)
                sg = s_g[g]
                self.mu[sg], self.mx[sg], self.mP[sg] = new.mu, new.x, new.P
                self.x[sg], self.P[sg] = xc, Pc
                if cfg.confirmation == "score":
                    self._score(sg, batch, o_g[g], loglik)
        self._updated(slots, batch, obs_idx)

    def _score(self, slots: npt.NDArray[np.int64], batch: MeasurementBatch, obs: npt.NDArray[np.int64],
               loglik: npt.NDArray[np.float64]) -> None:
        """Add each update's evidence to the track score: a plot's log-likelihood ratio of target
        over clutter, ``ln Pd + ln p(z) - ln(clutter density)``; an identity report a fixed amount."""
        cfg = self.config
        gain = np.log(cfg.pd) + loglik - np.log(batch.clutter_density[obs])
        np.add.at(self.score, slots, np.where(batch.kind[obs] == KIND_PLOT, gain, cfg.identity_score))

    def _updated(self, slots: npt.NDArray[np.int64], batch: MeasurementBatch, obs_idx: npt.NDArray[np.int64]) -> None:
        """Bookkeeping after ``slots`` took ``obs_idx``: state time, last update, pilot position."""
        self.t[slots] = batch.t[obs_idx]
        self.last_update_t[slots] = np.maximum(self.last_update_t[slots], batch.t[obs_idx])
        self._note_plots(slots, batch, obs_idx)

    def _note_plots(self, slots: npt.NDArray[np.int64], batch: MeasurementBatch, obs_idx: npt.NDArray[np.int64]) -> None:
        """Remember which sensor last gave each slot a plot, and when."""
        plot = batch.kind[obs_idx] == KIND_PLOT
        if plot.any():
            codes = self._sensor_codes
            self.plot_sensor[slots[plot]] = [codes.setdefault(batch.sensor[o], len(codes)) for o in obs_idx[plot].tolist()]
            self.plot_t[slots[plot]] = batch.t[obs_idx[plot]]
        op = np.isfinite(batch.operator_lat[obs_idx])
        self.operator_lat[slots[op]] = batch.operator_lat[obs_idx[op]]
        self.operator_lon[slots[op]] = batch.operator_lon[obs_idx[op]]

    def _initiate(self, batch: MeasurementBatch, obs_idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        cfg = self.config
        k = obs_idx.size
        slots = self._new_slots(k)
        vel = batch.vel[obs_idx]
        known = np.isfinite(vel)
        x = np.zeros((k, 6))
        x[:, :3] = batch.pos[obs_idx]
        x[:, 3:] = np.where(known, vel, 0.0)
        prior = np.array([cfg.init_vel_sigma_h_mps, cfg.init_vel_sigma_h_mps, cfg.init_vel_sigma_v_mps]) ** 2
        P = np.zeros((k, 6, 6))
        P[:, :3, :3] = batch.position_cov(obs_idx)
        vel_axes = np.arange(3, 6)
        P[:, vel_axes, vel_axes] = np.where(known, (batch.vel_sigma[obs_idx] ** 2)[:, None], prior)
        self.x[slots] = x
        self.P[slots] = P
        if cfg.motion == "imm":
            m = imm.DRONE.n_models
            self.mu[slots] = imm.DRONE.initial_mu
            self.mx[slots] = x[:, None, :]
            self.mP[slots] = np.repeat(P[:, None], m, axis=1)
        self.t[slots] = batch.t[obs_idx]
        self.last_update_t[slots] = batch.t[obs_idx]
        self.status[slots] = TENTATIVE
        self.hits[slots] = 0  # the management pass records this step's hit
        is_plot = batch.kind[obs_idx] == KIND_PLOT
        self.score[slots] = np.where(is_plot, 0.0, cfg.identity_score)
        self.track_class[slots] = _CLASS_UNKNOWN
        self.class_prob[slots] = np.nan
        self.classified[slots] = False
        self.declared_uav[slots] = False
        self.has_rid[slots] = False
        self.identified[slots] = False
        self.r_valid[slots] = False
        self.plot_sensor[slots] = -1
        self.plot_t[slots] = np.nan
        self._note_plots(slots, batch, obs_idx)
        self.operator_lat[slots] = batch.operator_lat[obs_idx]
        self.operator_lon[slots] = batch.operator_lon[obs_idx]
        for s in slots.tolist():
            self.uas_id[s] = None
            self.icao24[s] = None
        self.track_id[slots] = np.arange(self._next_track_id, self._next_track_id + k)
        self._next_track_id += k
        return slots

    def _set_identity(self, slot: int, batch: MeasurementBatch, obs: int) -> None:
        key = batch.identity[obs]
        self._by_identity[key] = slot
        self.identified[slot] = True
        if batch.kind[obs] == KIND_REMOTE_ID:
            self.uas_id[slot] = key[4:]
            self.has_rid[slot] = True
            self.track_class[slot] = _CLASS_DRONE
        elif batch.kind[obs] == KIND_ADSB:
            self.icao24[slot] = key[5:]
            # Emitter category B6 (unmanned aerial vehicle): an ADS-B-equipped drone is still a drone.
            uav = batch.declared_uav is not None and bool(batch.declared_uav[obs])
            self.track_class[slot] = _CLASS_DRONE if uav else _CLASS_MANNED
            self.declared_uav[slot] = uav

    # -- track management ----------------------------------------------------------------------
    def _confirm(self, period_updated: npt.NDArray[np.bool_]) -> None:
        """Confirm tentative tracks whose evidence, this period included, is now sufficient."""
        cfg = self.config
        tentative = self.status == TENTATIVE
        if cfg.confirmation == "score":
            confirm = tentative & (self.score >= cfg.confirm_score)
        else:
            provisional = ((self.hits << 1) | period_updated) & self._hit_mask
            confirm = tentative & (self._popcount[provisional] >= cfg.confirm_m)
        if confirm.any():
            self.status[confirm] = CONFIRMED
            self._bridge_gaps(confirm.nonzero()[0], period_updated)

    def _end_period(self, updated: npt.NDArray[np.bool_], t_now: float) -> list[int]:
        """Close a management period: record hits and misses, merge duplicates, delete stale tracks.

        Returns the ids of confirmed tracks that ended.
        """
        cfg = self.config
        active = self.status != _FREE
        self.hits[active] = ((self.hits[active] << 1) | updated[active]) & self._hit_mask
        if cfg.confirmation == "score":
            self.score[active & ~updated] += np.log1p(-cfg.pd)
            np.minimum(self.score, cfg.max_score, out=self.score)
        lost: list[int] = []
        lost.extend(self._merge_duplicates(updated))
        age = t_now - self.last_update_t
        dead = ((self.status == TENTATIVE) & (age > cfg.tentative_coast_s)) | (
            (self.status == CONFIRMED) & (age > cfg.confirmed_coast_s)
        )
        dead_slots = dead.nonzero()[0]
        lost.extend(self.track_id[dead_slots[self.status[dead_slots] == CONFIRMED]].tolist())
        self._free_slots(dead_slots)
        return lost

    def _bridge_gaps(self, newly_confirmed: npt.NDArray[np.int64], updated: npt.NDArray[np.bool_]) -> None:
        """Give a newly confirmed track the id of the coasting track it continues.

        A sharp manoeuvre or a few missed detections can make a track lose its object and a new
        track start on it. When the new track confirms where a coasting confirmed track is
        predicted to be (gated with a manoeuvre-sized process noise), it takes over that track's
        id and identity, so the object keeps one id and its alerts continue.
        """
        cfg = self.config
        coasting = ((self.status == CONFIRMED) & ~updated).nonzero()[0]
        coasting = _without(coasting, newly_confirmed)
        if coasting.size == 0:
            return
        pos_sigma = np.sqrt(np.maximum(self.P[newly_confirmed].diagonal(axis1=1, axis2=2)[:, :3], 1e-6))
        new_i, old_i, cost = gate_pairs(
            self.x[coasting], self.P[coasting], self.t[coasting],
            self.x[newly_confirmed, :3], pos_sigma, self.t[newly_confirmed],
            cfg.manoeuvre_q_h, cfg.manoeuvre_q_v, cfg.gate_chi2,
        )
        new_i, old_i = assign_gnn(new_i, old_i, cost)
        pairs = list(zip(newly_confirmed[new_i].tolist(), coasting[old_i].tolist()))
        # Second chance: a sharp turn at speed (a fixed-wing drone turning 90 deg at 30 m/s
        # within one scan) fits no Gaussian gate around the straight-on prediction, but the
        # object could have flown there at its own speed. Reachable: the new track lies within
        # the old one's speed x elapsed time (plus 25 % and the uncertainties) of where it was last.
        left_new = np.setdiff1d(newly_confirmed, newly_confirmed[new_i], assume_unique=True)
        left_old = np.setdiff1d(coasting, coasting[old_i], assume_unique=True)
        if left_new.size and left_old.size and left_new.size * left_old.size <= 250_000:
            dt = self.t[left_new][:, None] - self.t[left_old][None, :]
            speed = np.linalg.norm(self.x[left_old, 3:5], axis=1)[None, :]
            spread = np.sqrt(np.trace(self.P[left_new, :2, :2], axis1=1, axis2=2)[:, None]
                             + np.trace(self.P[left_old, :2, :2], axis1=1, axis2=2)[None, :])
            reach = 1.25 * speed * np.maximum(dt, 0.0) + 3.0 * spread + cfg.bridge_margin_m
            dist = np.linalg.norm(self.x[left_new, None, :2] - self.x[None, left_old, :2], axis=2)
            ok = (dt > 0) & (dt <= cfg.confirmed_coast_s) & (dist <= reach)
            ni, oi = np.nonzero(ok)
            ni, oi = assign_gnn(ni, oi, (dist / reach)[ni, oi])
            pairs += list(zip(left_new[ni].tolist(), left_old[oi].tolist()))
        for n, o in pairs:
            id_new = self.uas_id[n] or self.icao24[n]
            id_old = self.uas_id[o] or self.icao24[o]
            if id_new and id_old and id_new != id_old:
                continue
            if id_old and not id_new:
                for key in self._identity_keys(o):
                    self._by_identity[key] = n
                self.uas_id[n], self.icao24[n] = self.uas_id[o], self.icao24[o]
                self.track_class[n] = self.track_class[o]
                self.uas_id[o] = self.icao24[o] = None
                self.identified[n] = True
                if self.uas_id[n] is not None:
                    self._take_identity_reference(n, o, receiver_anonymous=True)
            self.track_id[n] = self.track_id[o]
            self._free_slots(np.array([o], dtype=np.int64))

    def _merge_duplicates(self, updated: npt.NDArray[np.bool_]) -> list[int]:
        """Absorb duplicates; returns the ids of confirmed tracks that were absorbed.

        Only clear duplicates are merged in v1: a tentative track gated with a confirmed one, or
        an identity-less track gated with a track that carries an identity (e.g. the radar track
        of an airliner whose ADS-B track runs beside it). Two confirmed anonymous tracks are never
        merged, because they may be two drones in close formation.
        """
        cfg = self.config
        cand = (updated & (self.status != _FREE)).nonzero()[0]
        if cand.size < 2:
            return []
        # Only tracks within merge_radius_m of each other can be duplicates: each such pair is
        # gated both ways (one track's state predicted to the other's time, the other's position
        # as a pseudo-observation with its own position variances), in (observation, track)
        # order. (Gating all candidates against all took 2.5 times as long.)
        close = close_pairs(self.x[cand, :3], cfg.merge_radius_m)
        if close.size == 0:
            return []
        obs_s = cand[np.concatenate([close[:, 0], close[:, 1]])]
        trk_s = cand[np.concatenate([close[:, 1], close[:, 0]])]
        order = np.lexsort((trk_s, obs_s))
        obs_s, trk_s = obs_s[order], trk_s[order]
        R = np.maximum(self.P[obs_s].reshape(-1, 36)[:, _POSITION_DIAGONAL], 1e-6)
        d2, _ = kalman.position_innovation(self.x[trk_s], self.P[trk_s], self.t[obs_s] - self.t[trk_s], self.x[obs_s, :3], R,
                                           cfg.q_h, cfg.q_v)
        gated = d2 <= cfg.gate_chi2
        if not gated.any():
            return []
        sa, sb = trk_s[gated], obs_s[gated]  # pair (track sa, track sb as pseudo-observation)
        # Velocities agree within the tolerance plus three sigma of their own uncertainty: a
        # track started from one plot knows its position but hardly its velocity.
        vel_var = np.trace(self.P[sa, 3:, 3:], axis1=1, axis2=2) + np.trace(self.P[sb, 3:, 3:], axis1=1, axis2=2)
        close_vel = np.linalg.norm(self.x[sa, 3:] - self.x[sb, 3:], axis=1) <= cfg.merge_velocity_mps + 3.0 * np.sqrt(vel_var)
        # One sensor saw both in the same scan: two objects (a close formation), not one.
        a_, b_ = sa[close_vel], sb[close_vel]
        resolved = (self.plot_sensor[a_] == self.plot_sensor[b_]) & (self.plot_sensor[a_] >= 0) & (
            np.abs(self.plot_t[a_] - self.plot_t[b_]) < cfg.min_rescan_s)
        absorbed: list[int] = []
        gone: set[int] = set()
        for a, b in zip(a_[~resolved].tolist(), b_[~resolved].tolist()):
            if a in gone or b in gone or a == b:
                continue
            keep, drop = self._merge_choice(a, b)
            if keep < 0:
                continue
            keep_anonymous = self.uas_id[keep] is None and self.icao24[keep] is None
            if not keep_anonymous and self.uas_id[drop] is None and self.icao24[drop] is None:
                # A radar track absorbed into a Remote ID track hands over its radar-only view.
                if self.has_rid[keep] and not self.r_valid[keep]:
                    self.rx[keep], self.rP[keep], self.rt[keep] = self.x[drop], self.P[drop], self.t[drop]
                    self.r_valid[keep] = True
            if self.uas_id[drop] is not None or self.icao24[drop] is not None:
                for key in self._identity_keys(drop):
                    self._by_identity[key] = keep
                if self.uas_id[drop] is not None and self.uas_id[keep] is None:
                    self._take_identity_reference(keep, drop, receiver_anonymous=keep_anonymous)
                self.identified[keep] = True
                self.uas_id[keep] = self.uas_id[keep] or self.uas_id[drop]
                self.icao24[keep] = self.icao24[keep] or self.icao24[drop]
                self.track_class[keep] = self.track_class[drop]
                self.uas_id[drop] = self.icao24[drop] = None
            self.hits[keep] |= self.hits[drop]
            self.score[keep] = max(self.score[keep], self.score[drop])
            if self.status[drop] == CONFIRMED:
                absorbed.append(int(self.track_id[drop]))
            gone.add(drop)
        if gone:
            self._free_slots(np.array(sorted(gone), dtype=np.int64))
        return absorbed

    def _take_identity_reference(self, receiver: int, giver: int, receiver_anonymous: bool) -> None:
        """``receiver`` takes over ``giver``'s Remote ID: its radar-only estimate is its own state
        if it was a radar track until now, else whatever estimate ``giver`` had."""
        self.has_rid[receiver] = True
        if receiver_anonymous:
            self._seed_radar_reference(np.array([receiver], dtype=np.int64))
        elif self.r_valid[giver]:
            self.rx[receiver], self.rP[receiver], self.rt[receiver] = self.rx[giver], self.rP[giver], self.rt[giver]
            self.r_valid[receiver] = True

    def _merge_choice(self, a: int, b: int) -> tuple[int, int]:
        ida = self.uas_id[a] or self.icao24[a]
        idb = self.uas_id[b] or self.icao24[b]
        if ida and idb:
            return -1, -1  # two identities are two objects
        conf_a, conf_b = self.status[a] == CONFIRMED, self.status[b] == CONFIRMED
        if conf_a and conf_b and not (ida or idb):
            return -1, -1
        if conf_a != conf_b:
            return (a, b) if conf_a else (b, a)
        # Both confirmed, one has an identity; or both tentative: keep the older id (stable ids).
        return (a, b) if self.track_id[a] < self.track_id[b] else (b, a)

    def _identity_keys(self, slot: int) -> list[str]:
        keys = []
        if self.uas_id[slot] is not None:
            keys.append("uas:" + self.uas_id[slot])
        if self.icao24[slot] is not None:
            keys.append("icao:" + self.icao24[slot])
        return keys

    def _free_slots(self, slots: npt.NDArray[np.int64]) -> None:
        for s in slots.tolist():
            for key in self._identity_keys(s):
                if self._by_identity.get(key) == s:
                    del self._by_identity[key]
            self.uas_id[s] = None
            self.icao24[s] = None
        self.status[slots] = _FREE
        self.hits[slots] = 0
        self.has_rid[slots] = False
        self.identified[slots] = False
        self.r_valid[slots] = False
        self.hist_x[slots] = np.nan
        self.hist_t[slots] = np.nan
        self.hist_n[slots] = 0
        self._free.extend(sorted(slots.tolist(), reverse=True))

    # -- output ------------------------------------------------------------------------------
    def _output(self, updated: npt.NDArray[np.bool_], lost: list[int], t_now: float) -> TrackBatch:
        out = (updated & (self.status == CONFIRMED)).nonzero()[0]
        out = out[self.track_id[out].argsort(kind="stable")]
        x = self.x[out]
        lat, lon, alt = self.frame.to_geodetic(x[:, 0], x[:, 1], x[:, 2])
        return TrackBatch(
            t=self.t[out].copy(),
            track_id=self.track_id[out].copy(),
            lat=lat,
            lon=lon,
            alt_m=alt,
            vel_enu_mps=x[:, 3:].copy(),
            track_class=[CLASS_NAMES[c] for c in self.track_class[out].tolist()],
            uas_id=[self.uas_id[s] for s in out.tolist()],
            icao24=[self.icao24[s] for s in out.tolist()],
            operator_lat=self.operator_lat[out].copy(),
            operator_lon=self.operator_lon[out].copy(),
            lost_track_ids=sorted(lost),
            step_time=t_now,
            class_probability=self.class_prob[out].copy(),
            remote_id_flag=self._remote_id_flags(out),
        )

    def _remote_id_flags(self, slots: npt.NDArray[np.int64]) -> list[str | None] | None:
        flags: list[str | None] | None = None
        if not self.plausibility.flag_bits.any():
            return None  # no identity is flagged (the usual case)
        for i, s in enumerate(slots.tolist()):
            uas_id = self.uas_id[s]
            if uas_id is not None and (reasons := self.plausibility.flags(uas_id)):
                if flags is None:
                    flags = [None] * slots.size
                flags[i] = ",".join(reasons)
        return flags

    def close(self, t_now: float) -> list[int]:
        """End of input: every remaining confirmed track is lost. Returns their ids."""
        slots = (self.status != _FREE).nonzero()[0]
        lost = sorted(self.track_id[slots[self.status[slots] == CONFIRMED]].tolist())
        self._free_slots(slots)
        return lost
