"""Scoring a tracker run and its alerts against simulator truth: ``skywarden evaluate``.

Two questions are answered:

* **How good is the air picture?** GOSPA per scan (each distinct truth time), comparing every
  target's true position with each confirmed track's latest state, extrapolated to the scan time.
  Tracks are scored online: a track counts at time ``t`` only through an update it had published
  by ``t`` (no retro-dated credit), and only if that update is at most ``max_age_s`` old.
* **Did the right alerts go out, and how fast?** Every visit of a drone to a zone it is not
  allow-listed for is an expected entry; an ``open`` alert for that zone on a track following
  that drone detects it. Other ``open`` alerts are false (with the reason) or duplicates.

All geometry happens in one ENU frame centred on the mean truth position.

Example:
    >>> report = evaluate_files("truth.jsonl", "tracks.jsonl", "alerts.jsonl", "zones.geojson")  # doctest: +SKIP
    >>> print(format_report(report))  # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from skywarden.core.frame import LocalFrame
from skywarden.core.records import AlertEvent
from skywarden.eval.gospa import check_parameters, gospa
from skywarden.eval.inputs import TrackTable, TruthTable, read_alerts, read_tracks, read_truth
from skywarden.eval.report import (
    AlertSummary,
    DuplicateAlert,
    EntryDetail,
    EvaluationReport,
    FalseAlert,
    GospaSummary,
    ScanScore,
)
from skywarden.zones.geojson import load_zones
from skywarden.zones.index import ZoneIndex

__all__ = [
    "Visit",
    "count_id_switches",
    "evaluate",
    "evaluate_files",
    "group_scans",
    "track_states_at",
    "zone_visits",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Truth times closer than this are one scan. It absorbs float noise when a simulator computes each
#: target's timestamp separately; real scans are about a second apart.
SCAN_TOLERANCE_S = 1e-3
#: An alert may come this long before the first inside truth sample (a track leads the truth, or
#: the zone edge lies between two 1 s samples) and still detect the entry, seconds.
ALERT_EARLY_S = 10.0
#: ... or this long after the last inside sample (alert latency outlasting a short visit), seconds.
ALERT_LATE_S = 5.0
#: A track's GOSPA assignment is used for an alert only from a scan this close to the alert, seconds.
ASSOCIATION_WINDOW_S = 2.0


# --------------------------------------------------------------------------------------------
# Scans and track states


def group_scans(t: npt.ArrayLike, tolerance_s: float = SCAN_TOLERANCE_S) -> tuple[FloatArray, IntArray]:
    """Group sample times into scans.

    Times within ``tolerance_s`` of the previous distinct time join its scan; a scan's time is its
    latest sample time, so any track update published at a sample's time counts for the scan.

    Returns:
        ``(scan_t, scan_of)``: the sorted scan times and, for each input time, its scan index.

    Example:
        >>> scan_t, scan_of = group_scans([10.0, 11.0, 10.0, 11.0004])
        >>> scan_t.tolist(), scan_of.tolist()
        ([10.0, 11.0004], [0, 1, 0, 1])
    """
    times, inverse = np.unique(np.asarray(t, dtype=np.float64), return_inverse=True)
    if times.size == 0:
        return times, np.zeros(0, np.intp)
    group = np.concatenate([[0], np.cumsum(np.diff(times) > tolerance_s)])
    last_of_group = np.r_[group[1:] != group[:-1], True]
    return times[last_of_group], group[inverse].astype(np.intp)


def _extrapolate(xyz: FloatArray, vel: FloatArray, dt_s: FloatArray | float) -> FloatArray:
    """Positions ``xyz`` (metres) moved on by velocity ``vel`` (m/s) for ``dt_s`` seconds each."""
    return xyz + vel * np.reshape(dt_s, (-1, 1))


def track_states_at(
    tracks: TrackTable, track_xyz: FloatArray, scan_t: FloatArray, max_age_s: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every track's state at every scan time, from its latest update at most ``max_age_s`` old.

    Each update serves the scans from its own time up to (not including) its track's next update,
    and at most ``max_age_s`` after it; its position is extrapolated linearly with its velocity.
    The whole expansion is vectorised: no loop over tracks or scans.

    Args:
        tracks: updates sorted by (track, time).
        track_xyz: ``(n, 3)`` ENU position of each update, metres.
        scan_t: sorted scan times, UNIX seconds.
        max_age_s: oldest update that still counts, seconds.

    Returns:
        ``(scan, update_row, xyz)`` sorted by scan: for each live (scan, track), the scan index, the
        row of the update used and the extrapolated ENU position at the scan time.
    """
    same_track_next = np.r_[tracks.track[1:] == tracks.track[:-1], False]
    next_t = np.where(same_track_next, np.r_[tracks.t[1:], np.inf], np.inf)
    first = np.searchsorted(scan_t, tracks.t, side="left")
    stop = np.minimum(
        np.searchsorted(scan_t, next_t, side="left"),
        np.searchsorted(scan_t, tracks.t + max_age_s, side="right"),
    )
    count = np.maximum(stop - first, 0)
    row = np.repeat(np.arange(len(tracks)), count)
    offset = np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)
    scan = np.repeat(first, count) + offset
    order = np.argsort(scan, kind="stable")
    scan, row = scan[order].astype(np.intp), row[order].astype(np.intp)
    return scan, row, _extrapolate(track_xyz[row], tracks.vel[row], scan_t[scan] - tracks.t[row])


def count_id_switches(target: npt.ArrayLike, track: npt.ArrayLike) -> int:
    """ID switches in a sequence of (truth target, assigned track) pairs given in time order.

    A switch is a pair whose track differs from the one its target was last assigned to; scans in
    which the target was unassigned do not reset this memory.

    Example:
        >>> count_id_switches([0, 1, 0, 1, 0], [7, 8, 7, 9, 7])
        1
    """
    target_a, track_a = np.asarray(target), np.asarray(track)
    order = np.argsort(target_a, kind="stable")  # stable: keeps each target's pairs in time order
    tg, tr = target_a[order], track_a[order]
    return int(np.sum((tg[1:] == tg[:-1]) & (tr[1:] != tr[:-1])))


@dataclass(frozen=True)
class _Scene:
    """Truth and tracks in one ENU frame, truth grouped into scans."""

    truth: TruthTable
    truth_xyz: FloatArray
    scan_t: FloatArray
    scan_rows: list[IntArray]
    """Truth rows of each scan, one per target."""
    tracks: TrackTable
    track_xyz: FloatArray


def _enu(frame: LocalFrame, lat: FloatArray, lon: FloatArray, alt_m: FloatArray) -> FloatArray:
    return np.column_stack(frame.to_enu(lat, lon, alt_m)).reshape(-1, 3)


def _scene(truth: TruthTable, tracks: TrackTable) -> _Scene:
    if len(truth):
        frame = LocalFrame(float(np.mean(truth.lat)), float(np.mean(truth.lon)), float(np.mean(truth.alt_m)))
    elif len(tracks):
        frame = LocalFrame(float(np.mean(tracks.lat)), float(np.mean(tracks.lon)), float(np.mean(tracks.alt_m)))
    else:
        frame = LocalFrame(0.0, 0.0)
    scan_t, scan_of = group_scans(truth.t)
    # One sample per target per scan: a repeated line would otherwise count as a second target.
    key = scan_of.astype(np.int64) * max(len(truth.target_ids), 1) + truth.target
    _, first_rows = np.unique(key, return_index=True)  # sorted by key, hence by scan
    bounds = np.searchsorted(scan_of[first_rows], np.arange(len(scan_t) + 1))
    return _Scene(
        truth=truth,
        truth_xyz=_enu(frame, truth.lat, truth.lon, truth.alt_m),
        scan_t=scan_t,
        scan_rows=[first_rows[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
        tracks=tracks,
        track_xyz=_enu(frame, tracks.lat, tracks.lon, tracks.alt_m),
    )


@dataclass(frozen=True)
class _Assignments:
    """All GOSPA pairs of a run, sorted by (scan, track) for lookup."""

    scan: IntArray
    track: IntArray
    target: IntArray

    def target_of(self, scan: int, track: int) -> int:
        """The truth target ``track`` was assigned to in ``scan``, or -1."""
        lo, hi = np.searchsorted(self.scan, [scan, scan + 1])
        i = lo + int(np.searchsorted(self.track[lo:hi], track))
        return int(self.target[i]) if i < hi and self.track[i] == track else -1


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _score_scans(
    scene: _Scene, *, c: float, p: float, alpha: float, max_age_s: float, warmup_s: float
) -> tuple[GospaSummary, _Assignments]:
    """GOSPA of every scan, its means and the ID switches; also the assignments for alert scoring."""
    est_scan, est_row, est_xyz = track_states_at(scene.tracks, scene.track_xyz, scene.scan_t, max_age_s)
    est_bounds = np.searchsorted(est_scan, np.arange(len(scene.scan_t) + 1))
    truth, track_ids = scene.truth, scene.tracks.track_ids
    per_scan: list[ScanScore] = []
    chunks: list[IntArray] = [np.zeros((0, 3), np.intp)]  # rows (scan, target, track), in scan order
    for s, t in enumerate(scene.scan_t.tolist()):
        rows = scene.scan_rows[s]
        est = slice(est_bounds[s], est_bounds[s + 1])
        result = gospa(scene.truth_xyz[rows], est_xyz[est], c=c, p=p, alpha=alpha)
        pair = np.array(result.assignment, dtype=np.intp).reshape(-1, 2)
        target = truth.target[rows[pair[:, 0]]]
        track = scene.tracks.track[est_row[est][pair[:, 1]]]
        chunks.append(np.column_stack([np.full(len(pair), s), target, track]))
        per_scan.append(
            ScanScore(
                t=t,
                gospa=result.distance,
                localisation=result.localisation,
                missed=result.missed,
                false=result.false,
                assignment={truth.target_ids[g]: int(track_ids[k]) for g, k in zip(target.tolist(), track.tolist())},
            )
        )
    pair_scan, pair_target, pair_track = np.concatenate(chunks).T
    by_scan_track = np.lexsort((pair_track, pair_scan))
    assignments = _Assignments(
        scan=pair_scan[by_scan_track], track=pair_track[by_scan_track], target=pair_target[by_scan_track]
    )

    gap_cost = c**p / alpha
    settled = [r.gospa for r in per_scan if r.t >= scene.scan_t[0] + warmup_s] if per_scan else []
    summary = GospaSummary(
        c=c,
        p=p,
        alpha=alpha,
        max_age_s=max_age_s,
        warmup_s=warmup_s,
        scans=len(per_scan),
        mean=_mean([r.gospa for r in per_scan]),
        mean_localisation_part=_mean([r.localisation for r in per_scan]),
        # With alpha = 2 each missed target and each false track costs c^p / 2 of GOSPA^p.
        mean_missed_part=_mean([gap_cost * r.missed for r in per_scan]),
        mean_false_part=_mean([gap_cost * r.false for r in per_scan]),
        mean_missed_targets=_mean([r.missed for r in per_scan]),
        mean_false_tracks=_mean([r.false for r in per_scan]),
        scans_after_warmup=len(settled),
        mean_after_warmup=_mean(settled),
        id_switches=count_id_switches(pair_target, pair_track),
        per_scan=per_scan,
    )
    return summary, assignments


# --------------------------------------------------------------------------------------------
# Zone visits and alerts


@dataclass(frozen=True)
class Visit:
    """One maximal run of a drone's truth samples inside one zone's volume."""

    target: int
    """Dense truth target index."""
    zone_id: str
    entry_t: float
    """First inside sample time, UNIX seconds."""
    exit_t: float
    """Last inside sample time, UNIX seconds."""
    allow_listed: bool
    """The drone's Remote ID ``uas_id`` (at entry) is on the zone's allow list."""


def zone_visits(truth: TruthTable, zones: ZoneIndex) -> list[Visit]:
    """Every visit of every drone to every zone, sorted by entry time.

    A visit starts at a drone's first sample or at an outside -> inside step, and lasts while
    consecutive samples stay inside. Manned aircraft and birds make no visits.
    """
    is_drone = np.array([k == "drone" for k in truth.target_kinds], dtype=bool)
    rows = np.flatnonzero(is_drone[truth.target])
    if rows.size == 0 or len(zones) == 0:
        return []
    inside = zones.inside(truth.lat[rows], truth.lon[rows], truth.alt_m[rows])
    target = truth.target[rows]
    same = target[1:] == target[:-1]  # consecutive rows of one drone (rows are sorted by target, time)
    none = np.zeros((1, len(zones)), dtype=bool)
    prev_inside = np.vstack([none, inside[:-1] & same[:, None]])
    next_inside = np.vstack([inside[1:] & same[:, None], none])
    starts, ends = inside & ~prev_inside, inside & ~next_inside
    visits = []
    for j, zone_id in enumerate(zones.ids):
        # Within one column, runs neither nest nor overlap, so the k-th start pairs with the k-th end.
        for a, b in zip(rows[starts[:, j]], rows[ends[:, j]]):
            visits.append(
                Visit(
                    target=int(truth.target[a]),
                    zone_id=zone_id,
                    entry_t=float(truth.t[a]),
                    exit_t=float(truth.t[b]),
                    allow_listed=truth.uas_id[a] in zones.allow_lists[j],
                )
            )
    return sorted(visits, key=lambda v: (v.entry_t, v.target, v.zone_id))


def _nearest_scan(scan_t: FloatArray, t: float) -> int:
    """Index of the scan nearest ``t`` if within :data:`ASSOCIATION_WINDOW_S`, else -1."""
    if scan_t.size == 0:
        return -1
    i = int(np.searchsorted(scan_t, t))
    best = min((j for j in (i - 1, i) if 0 <= j < scan_t.size), key=lambda j: abs(scan_t[j] - t))
    return best if abs(scan_t[best] - t) <= ASSOCIATION_WINDOW_S else -1


def _target_of_alert(scene: _Scene, assignments: _Assignments, alert: AlertEvent, c: float, max_age_s: float) -> int:
    """The truth target an alert's track followed at alert time, or -1 for none (clutter).

    First the track's GOSPA assignment in the nearest scan; failing that (a duplicate track, a
    track too new or too stale to score) the nearest truth target within ``c``, comparing track
    and truth both extrapolated to the alert time.
    """
    track = scene.tracks.index_of(alert.track_id)
    scan = _nearest_scan(scene.scan_t, alert.t)
    if track < 0 or scan < 0:
        return -1
    target = assignments.target_of(scan, track)
    if target >= 0:
        return target
    rows = scene.tracks.rows_of(track)
    age = np.abs(scene.tracks.t[rows] - alert.t)
    if age.min() > max_age_s:
        return -1
    u = rows.start + int(np.argmin(age))
    track_xyz = _extrapolate(scene.track_xyz[u], scene.tracks.vel[u], alert.t - scene.tracks.t[u])
    truth_rows = scene.scan_rows[scan]
    truth_xyz = _extrapolate(scene.truth_xyz[truth_rows], scene.truth.vel[truth_rows], alert.t - scene.truth.t[truth_rows])
    dist = np.linalg.norm(truth_xyz - track_xyz, axis=1)
    nearest = int(np.argmin(dist))
    return int(scene.truth.target[truth_rows[nearest]]) if dist[nearest] < c else -1


def _closest_visit(visits: list[Visit], t: float) -> Visit | None:
    """The visit whose alert window holds ``t`` and whose [entry, exit] interval is nearest ``t``."""
    candidates = [v for v in visits if v.entry_t - ALERT_EARLY_S <= t <= v.exit_t + ALERT_LATE_S]
    return min(candidates, key=lambda v: max(v.entry_t - t, t - v.exit_t, 0.0), default=None)


def _score_alerts(
    scene: _Scene,
    assignments: _Assignments,
    alerts: list[AlertEvent],
    zones: ZoneIndex,
    *,
    c: float,
    max_age_s: float,
) -> AlertSummary:
    """Match ``open`` alerts to drone zone visits; recall, delays, false and duplicate alerts."""
    visits = zone_visits(scene.truth, zones)
    by_target_zone: dict[tuple[int, str], list[Visit]] = defaultdict(list)
    for v in visits:
        by_target_zone[(v.target, v.zone_id)].append(v)
    first_alert: dict[Visit, AlertEvent] = {}
    false_alerts: list[FalseAlert] = []
    duplicates: list[DuplicateAlert] = []
    ids, kinds = scene.truth.target_ids, scene.truth.target_kinds

    # Zone alerts are scored against the truth's zone visits; other kinds (remote_id_inconsistent)
    # have no zone visit to match.
    open_alerts = [a for a in alerts if a.state == "open" and a.kind == "zone_entry"]
    for alert in open_alerts:  # in time order, so the first match of a visit is its earliest alert
        target = _target_of_alert(scene, assignments, alert, c, max_age_s)
        visit = _closest_visit(by_target_zone.get((target, alert.zone_id), []), alert.t) if target >= 0 else None
        if visit is None or visit.allow_listed:
            if target < 0:
                reason = "no target"
            elif kinds[target] == "drone":
                reason = "drone allow-listed" if visit is not None else "drone outside zone"
            else:
                reason = kinds[target]
            false_alerts.append(
                FalseAlert(
                    alert_id=alert.alert_id,
                    t=alert.t,
                    zone_id=alert.zone_id,
                    track_id=alert.track_id,
                    target_id=ids[target] if target >= 0 else None,
                    target_kind=kinds[target] if target >= 0 else None,
                    reason=reason,
                )
            )
        elif visit in first_alert:
            duplicates.append(
                DuplicateAlert(
                    alert_id=alert.alert_id,
                    t=alert.t,
                    zone_id=alert.zone_id,
                    track_id=alert.track_id,
                    target_id=ids[target],
                    entry_t=visit.entry_t,
                    first_alert_id=first_alert[visit].alert_id,
                )
            )
        else:
            first_alert[visit] = alert

    entries = []
    for v in visits:
        if v.allow_listed:
            continue
        hit = first_alert.get(v)
        entries.append(
            EntryDetail(
                target_id=ids[v.target],
                zone_id=v.zone_id,
                entry_t=v.entry_t,
                exit_t=v.exit_t,
                detected=hit is not None,
                alert_t=hit.t if hit else None,
                delay_s=max(0.0, hit.t - v.entry_t) if hit else None,
                alert_id=hit.alert_id if hit else None,
            )
        )
    delays = [e.delay_s for e in entries if e.delay_s is not None]
    return AlertSummary(
        open_alerts=len(open_alerts),
        expected=len(entries),
        detected=len(delays),
        recall=len(delays) / len(entries) if entries else None,
        allow_listed_visits=sum(v.allow_listed for v in visits),
        delays_s=delays,
        delay_mean_s=_mean(delays),
        delay_max_s=max(delays) if delays else None,
        entries=entries,
        false_alerts=false_alerts,
        duplicates=duplicates,
    )


# --------------------------------------------------------------------------------------------
# Whole run


def evaluate(
    truth: TruthTable,
    tracks: TrackTable,
    alerts: list[AlertEvent],
    zones: ZoneIndex,
    *,
    c: float = 100.0,
    p: float = 1.0,
    alpha: float = 2.0,
    max_age_s: float = 3.0,
    warmup_s: float = 10.0,
) -> tuple[GospaSummary, AlertSummary]:
    """GOSPA and alert scores of in-memory inputs (see :func:`evaluate_files`)."""
    check_parameters(c, p, alpha)  # here too, so a bad value fails even on a run with no scans
    scene = _scene(truth, tracks)
    gospa_summary, assignments = _score_scans(scene, c=c, p=p, alpha=alpha, max_age_s=max_age_s, warmup_s=warmup_s)
    alert_summary = _score_alerts(scene, assignments, alerts, zones, c=c, max_age_s=max_age_s)
    return gospa_summary, alert_summary


def evaluate_files(
    truth_path: str | Path,
    tracks_path: str | Path,
    alerts_path: str | Path,
    zones_path: str | Path,
    *,
    c: float = 100.0,
    p: float = 1.0,
    alpha: float = 2.0,
    max_age_s: float = 3.0,
    warmup_s: float = 10.0,
) -> EvaluationReport:
    """Score a run: truth, tracks and alerts JSON Lines against a zones v1 GeoJSON file.

    Args:
        truth_path: simulator TRUTH.jsonl.
        tracks_path: tracker TRACKS.jsonl (confirmed-track updates).
        alerts_path: ALERTS.jsonl.
        zones_path: zones v1 GeoJSON.
        c: GOSPA cut-off, metres; also the farthest a track may be from a target to follow it.
        p: GOSPA order.
        alpha: GOSPA alpha (2 for the missed/false decomposition).
        max_age_s: a track update older than this at a scan time leaves the track out, seconds.
        warmup_s: :attr:`GospaSummary.mean_after_warmup` skips scans this soon after the first, seconds.

    Malformed lines are skipped and counted in :attr:`EvaluationReport.inputs`.

    Raises:
        OSError: an input cannot be read.
        skywarden.zones.geojson.ZoneFileError: the zone file is invalid.
        ValueError: a bad GOSPA parameter.
    """
    zones = ZoneIndex(load_zones(zones_path))
    truth, truth_stats = read_truth(truth_path)
    tracks, track_stats = read_tracks(tracks_path)
    alerts, alert_stats = read_alerts(alerts_path)
    gospa_summary, alert_summary = evaluate(
        truth, tracks, alerts, zones, c=c, p=p, alpha=alpha, max_age_s=max_age_s, warmup_s=warmup_s
    )
    return EvaluationReport(
        gospa=gospa_summary,
        alerts=alert_summary,
        inputs={"truth": truth_stats, "tracks": track_stats, "alerts": alert_stats},
    )
