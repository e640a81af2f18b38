"""The evaluation report: typed records, their JSON form and a short text summary.

Times are UNIX seconds, UTC; distances metres; delays seconds. A value that is undefined for the
run (a mean over nothing, recall with no expected entry) is ``None``, which is ``null`` in JSON.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import msgspec

from skywarden.eval.inputs import InputStats

__all__ = [
    "ScanScore",
    "GospaSummary",
    "EntryDetail",
    "FalseAlert",
    "DuplicateAlert",
    "AlertSummary",
    "EvaluationReport",
    "report_to_dict",
    "format_report",
]


class ScanScore(msgspec.Struct, frozen=True, kw_only=True):
    """GOSPA of one scan (one distinct truth time)."""

    t: float
    gospa: float
    """GOSPA distance, metres (for ``p = 1``)."""
    localisation: float
    """Sum of the assigned pairs' ``d ** p``."""
    missed: int
    """Truth targets with no track within ``c``."""
    false: int
    """Tracks with no truth target within ``c``."""
    assignment: dict[str, int]
    """Truth ``target_id`` -> ``track_id``, only pairs closer than ``c``."""


class GospaSummary(msgspec.Struct, frozen=True, kw_only=True):
    """GOSPA over all scans, with the parameters used.

    The ``mean_*_part`` values are the means of the three terms of ``GOSPA ** p``; with ``p = 1``
    they are metres and add up to :attr:`mean`.
    """

    c: float
    p: float
    alpha: float
    max_age_s: float
    warmup_s: float
    scans: int
    mean: float | None
    mean_localisation_part: float | None
    mean_missed_part: float | None
    mean_false_part: float | None
    mean_missed_targets: float | None
    """Missed truth targets per scan."""
    mean_false_tracks: float | None
    """False tracks per scan."""
    scans_after_warmup: int
    mean_after_warmup: float | None
    """Mean GOSPA over scans at least ``warmup_s`` after the first scan (drops track initiation)."""
    id_switches: int
    """Scans in which a truth target's assigned track differs from the track it was last assigned to."""
    per_scan: list[ScanScore]


class EntryDetail(msgspec.Struct, frozen=True, kw_only=True):
    """One expected zone entry (a visit of a drone that is not allow-listed) and its first alert."""

    target_id: str
    zone_id: str
    entry_t: float
    """Time of the first truth sample inside the zone."""
    exit_t: float
    """Time of the last truth sample inside the zone."""
    detected: bool
    alert_t: float | None = None
    delay_s: float | None = None
    """``max(0, alert_t - entry_t)``."""
    alert_id: int | None = None


class FalseAlert(msgspec.Struct, frozen=True, kw_only=True):
    """An ``open`` alert that matches no expected zone entry."""

    alert_id: int
    t: float
    zone_id: str
    track_id: int
    target_id: str | None
    """The truth target the alert's track followed at the time, if any."""
    target_kind: str | None
    reason: str
    """``no target`` (clutter), ``manned_aircraft``, ``bird``, ``drone allow-listed`` (a visit of an
    allow-listed drone), ``drone outside zone`` (no visit of that zone near the alert time), or
    another truth kind."""


class DuplicateAlert(msgspec.Struct, frozen=True, kw_only=True):
    """A further ``open`` alert on an entry that an earlier alert already detected."""

    alert_id: int
    t: float
    zone_id: str
    track_id: int
    target_id: str
    entry_t: float
    first_alert_id: int


class AlertSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Zone-entry alerts against the true zone entries."""

    open_alerts: int
    expected: int
    detected: int
    recall: float | None
    allow_listed_visits: int
    """Visits of allow-listed drones, which expect no alert."""
    delays_s: list[float]
    delay_mean_s: float | None
    delay_max_s: float | None
    entries: list[EntryDetail]
    false_alerts: list[FalseAlert]
    duplicates: list[DuplicateAlert]


class EvaluationReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything ``skywarden evaluate`` measures for one run."""

    gospa: GospaSummary
    alerts: AlertSummary
    inputs: dict[str, InputStats]
    """How each input was read, keyed ``truth``, ``tracks``, ``alerts``."""


def report_to_dict(report: EvaluationReport) -> dict:
    """The report as plain dicts, lists and numbers, ready for ``json.dump``."""
    return msgspec.to_builtins(report)


def _clock(t: float) -> str:
    """UNIX seconds as a UTC time of day, e.g. ``12:00:31.0Z``."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S.%f")[:-5] + "Z"


def _num(value: float | None, unit: str = "", fmt: str = ".1f") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def format_report(report: EvaluationReport, max_listed: int = 10) -> str:
    """A short human-readable summary of the report, a few lines of text.

    Args:
        report: the evaluation.
        max_listed: at most this many missed entries and false alerts are listed one by one.
    """
    g, a = report.gospa, report.alerts
    lines = [
        f"GOSPA (c={g.c:g} m, p={g.p:g}, alpha={g.alpha:g}) over {g.scans} scans: "
        f"mean {_num(g.mean, ' m')} = localisation {_num(g.mean_localisation_part)} "
        f"+ missed {_num(g.mean_missed_part)} + false {_num(g.mean_false_part)}",
        f"  after the first {g.warmup_s:g} s ({g.scans_after_warmup} scans): {_num(g.mean_after_warmup, ' m')}; "
        f"per scan {_num(g.mean_missed_targets, fmt='.2f')} missed targets, "
        f"{_num(g.mean_false_tracks, fmt='.2f')} false tracks; ID switches: {g.id_switches}",
        f"Zone entries: {a.expected} expected, {a.detected} detected, recall "
        f"{'n/a' if a.recall is None else f'{a.recall:.1%}'}; delay mean {_num(a.delay_mean_s, ' s')}, "
        f"max {_num(a.delay_max_s, ' s')} ({a.allow_listed_visits} allow-listed visits not expected)",
    ]
    missed = [e for e in a.entries if not e.detected]
    for e in missed[:max_listed]:
        lines.append(f"  missed: {e.target_id} in {e.zone_id} at {_clock(e.entry_t)}")
    if len(missed) > max_listed:
        lines.append(f"  ... and {len(missed) - max_listed} more missed entries")
    reasons = Counter(f.reason for f in a.false_alerts)
    lines.append(
        f"False alerts: {len(a.false_alerts)} of {a.open_alerts} open"
        + (" (" + ", ".join(f"{r}: {n}" for r, n in reasons.most_common()) + ")" if reasons else "")
        + f"; duplicate alerts: {len(a.duplicates)}"
    )
    for f in a.false_alerts[:max_listed]:
        target = f" ({f.target_id})" if f.target_id is not None else ""
        lines.append(f"  alert {f.alert_id} at {_clock(f.t)} zone {f.zone_id} track {f.track_id}: {f.reason}{target}")
    if len(a.false_alerts) > max_listed:
        lines.append(f"  ... and {len(a.false_alerts) - max_listed} more false alerts")
    lines.append(
        "Inputs: "
        + "; ".join(f"{name} {s.records} records, bad lines: {s.skipped}" for name, s in report.inputs.items())
    )
    for name, s in report.inputs.items():
        for err in s.errors:
            lines.append(f"  {name}: {err}")
    return "\n".join(lines)
