"""Scoring track classification against simulator truth: confusion matrices, precision, recall.

Tracks are matched to truth targets by the evaluator's own GOSPA assignment
(:func:`skywarden.eval.evaluate.evaluate`, same cut-off ``c`` and ``max_age_s``): in each scan
(each distinct truth time) a target and a track are a pair when GOSPA assigns them. A track's
reported class in a scan is the ``class`` of the update that GOSPA scored, i.e. its latest
update at or before the scan time.

Two matrices, rows the true class (the truth's ``kind``; a helicopter is ``manned_aircraft``),
columns the reported class (``unknown``, ``drone``, ``manned_aircraft``, ``bird``):

* **per track-scan**: one count per (scan, matched pair). An extra row ``none`` counts the live
  tracks no target was assigned to in that scan (false tracks), by their class: a false track
  called ``drone`` is a false alarm in the making.
* **per target**: one count per target that was matched at least once: the class its tracks were
  reported as in most of its matched scans (a tie goes to the earlier column, ``unknown`` first).

Recall of a class is its diagonal over its row; precision is its diagonal over its column (the
``none`` row included, so false tracks lower precision). ``unknown`` is never correct.

Example:
    >>> report = classification_files("truth.jsonl", "tracks.jsonl")  # doctest: +SKIP
    >>> print(format_confusion(report.per_scan))  # doctest: +SKIP
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

from skywarden.core.records import TrackUpdate
from skywarden.eval.evaluate import evaluate, track_states_at
from skywarden.eval.inputs import InputStats, TrackTable, TruthTable, read_tracks, read_truth
from skywarden.zones.index import ZoneIndex

__all__ = [
    "REPORTED",
    "TRUE",
    "ConfusionMatrix",
    "ClassificationReport",
    "TargetClass",
    "classification_confusion",
    "classification_files",
    "read_track_classes",
    "format_confusion",
]

#: Reported classes (columns), in the tracker's class order.
REPORTED = ("unknown", "drone", "manned_aircraft", "bird")
#: True classes (rows); ``none`` is the row of tracks matched to no target.
TRUE = ("drone", "manned_aircraft", "bird", "none")


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts ``(len(TRUE), len(REPORTED))``: rows true class, columns reported class."""

    counts: npt.NDArray[np.int64]

    def count(self, true: str, reported: str) -> int:
        return int(self.counts[TRUE.index(true), REPORTED.index(reported)])

    def recall(self, cls: str) -> float | None:
        """Share of the true ``cls`` reported as ``cls`` (None when there is none)."""
        row = self.counts[TRUE.index(cls)]
        return float(row[REPORTED.index(cls)] / row.sum()) if row.sum() else None

    def precision(self, cls: str) -> float | None:
        """Share of the reported ``cls`` that truly is ``cls`` (None when nothing was reported as it)."""
        col = self.counts[:, REPORTED.index(cls)]
        return float(col[TRUE.index(cls)] / col.sum()) if col.sum() else None

    def accuracy(self) -> float | None:
        """Correct share of the rows of real targets (the ``none`` row left out)."""
        real = self.counts[: TRUE.index("none")]
        correct = sum(int(real[i, REPORTED.index(c)]) for i, c in enumerate(TRUE[:-1]))
        return correct / int(real.sum()) if real.sum() else None

    def __add__(self, other: ConfusionMatrix) -> ConfusionMatrix:
        return ConfusionMatrix(self.counts + other.counts)

    def as_dict(self) -> dict[str, object]:
        return {
            "counts": {t: {r: self.count(t, r) for r in REPORTED} for t in TRUE},
            "precision": {c: self.precision(c) for c in REPORTED[1:]},
            "recall": {c: self.recall(c) for c in REPORTED[1:]},
            "accuracy": self.accuracy(),
        }


@dataclass(frozen=True)
class TargetClass:
    """How one truth target was classified."""

    target_id: str
    true_class: str
    reported: str
    """Majority reported class over its matched scans."""
    matched_scans: int
    counts: dict[str, int]
    """Matched scans by reported class."""


@dataclass(frozen=True)
class ClassificationReport:
    per_scan: ConfusionMatrix
    per_target: ConfusionMatrix
    targets: list[TargetClass]
    unmatched_targets: list[str]
    """Targets no track was ever matched to (not in the per-target matrix)."""


def _empty() -> npt.NDArray[np.int64]:
    return np.zeros((len(TRUE), len(REPORTED)), dtype=np.int64)


def classification_confusion(
    truth: TruthTable,
    tracks: TrackTable,
    track_class: Sequence[str] | npt.ArrayLike,
    *,
    c: float = 100.0,
    max_age_s: float = 3.0,
) -> ClassificationReport:
    """Confusion matrices of the classes of ``tracks`` against ``truth``.

    Args:
        truth: truth table (:func:`skywarden.eval.inputs.read_truth`).
        tracks: track updates (:func:`skywarden.eval.inputs.read_tracks`).
        track_class: the reported class of each row of ``tracks`` (same order), a name in
            :data:`REPORTED` or its index (see :func:`read_track_classes`).
        c: GOSPA cut-off, metres: a track further than this from a target is never its match.
        max_age_s: a track update older than this at a scan does not count (as in ``evaluate``).
    """
    cls_arr = np.asarray(track_class)
    if cls_arr.dtype.kind in "iu":
        cls_idx = cls_arr.astype(np.int64)
    else:
        lookup = {name: i for i, name in enumerate(REPORTED)}
        cls_idx = np.array([lookup[str(v)] for v in cls_arr.tolist()], dtype=np.int64)
    if cls_idx.size != len(tracks):
        raise ValueError(f"track_class has {cls_idx.size} entries for {len(tracks)} track updates")

    gospa_summary, _ = evaluate(truth, tracks, [], ZoneIndex([]), c=c, max_age_s=max_age_s)
    scan_t = np.array([s.t for s in gospa_summary.per_scan], dtype=np.float64)
    target_index = {tid: i for i, tid in enumerate(truth.target_ids)}
    p_scan, p_target, p_track = [], [], []
    for s, score in enumerate(gospa_summary.per_scan):
        for tid, track_id in score.assignment.items():
            p_scan.append(s)
            p_target.append(target_index[tid])
            p_track.append(tracks.index_of(track_id))
    pair_scan = np.asarray(p_scan, dtype=np.int64)
    pair_target = np.asarray(p_target, dtype=np.int64)
    pair_track = np.asarray(p_track, dtype=np.int64)

    # The update GOSPA scored: the track's latest at or before the scan time. Rows are sorted by
    # (track, t), so one searchsorted over a combined (track, time) key finds them all.
    if len(tracks):
        t0 = float(tracks.t.min())
        span = float(max(tracks.t.max(), scan_t.max(initial=t0)) - t0) + 1.0
        key = tracks.track * span + (tracks.t - t0)
        row = np.searchsorted(key, pair_track * span + (scan_t[pair_scan] - t0), side="right") - 1
    else:
        row = np.zeros(0, dtype=np.int64)
    reported = cls_idx[row]

    true_row = np.array([TRUE.index(k) if k in TRUE[:-1] else -1 for k in truth.target_kinds], dtype=np.int64)
    per_scan = _empty()
    ok = true_row[pair_target] >= 0
    np.add.at(per_scan, (true_row[pair_target[ok]], reported[ok]), 1)

    # False tracks: live (scan, track) states that GOSPA assigned to no target.
    live_scan, live_row, _ = track_states_at(tracks, np.zeros((len(tracks), 3)), scan_t, max_age_s)
    live_track = tracks.track[live_row]
    n_tracks = max(len(tracks.track_ids), 1)
    assigned = set((pair_scan * n_tracks + pair_track).tolist())
    free = np.array([k not in assigned for k in (live_scan * n_tracks + live_track).tolist()], dtype=bool)
    np.add.at(per_scan, (np.full(int(free.sum()), TRUE.index("none")), cls_idx[live_row[free]]), 1)

    # Per target: majority of its matched scans.
    per_target = _empty()
    counts = np.zeros((len(truth.target_ids), len(REPORTED)), dtype=np.int64)
    np.add.at(counts, (pair_target, reported), 1)
    targets, unmatched = [], []
    for g, tid in enumerate(truth.target_ids):
        kind = truth.target_kinds[g]
        n = int(counts[g].sum())
        if n == 0:
            unmatched.append(tid)
            continue
        majority = int(np.argmax(counts[g]))
        if true_row[g] >= 0:
            per_target[true_row[g], majority] += 1
        targets.append(
            TargetClass(
                target_id=tid, true_class=kind, reported=REPORTED[majority], matched_scans=n,
                counts={REPORTED[j]: int(v) for j, v in enumerate(counts[g]) if v},
            )
        )
    return ClassificationReport(
        per_scan=ConfusionMatrix(per_scan), per_target=ConfusionMatrix(per_target), targets=targets, unmatched_targets=unmatched
    )


class _ClassOnly(msgspec.Struct, kw_only=True):
    track_id: int
    t: float
    class_: str = msgspec.field(name="class")


def read_track_classes(path: str | Path) -> tuple[TrackTable, list[str], InputStats]:
    """Read a TRACKS.jsonl file: its table (:func:`read_tracks`) and each row's ``class``, aligned.

    Lines that :func:`read_tracks` skips are skipped here too; ties in (track, time) keep file
    order in both, so the classes line up with the table's rows.
    """
    table, stats = read_tracks(path)
    decode_full = msgspec.json.Decoder(TrackUpdate).decode
    ids, times, classes = array("q"), array("d"), []
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                u = decode_full(line)
            except (msgspec.DecodeError, UnicodeDecodeError):
                continue
            if not (-90.0 <= u.lat <= 90.0 and -180.0 <= u.lon <= 180.0 and -(2**63) <= u.track_id < 2**63):
                continue
            ids.append(u.track_id)
            times.append(u.t)
            classes.append(u.class_)
    track_ids = np.frombuffer(ids, dtype=np.int64)
    order = np.lexsort((np.frombuffer(times, dtype=np.float64), np.searchsorted(table.track_ids, track_ids)))
    if order.size != len(table):
        raise ValueError(f"{path}: {order.size} classes for {len(table)} track rows")
    return table, [classes[i] for i in order.tolist()], stats


def classification_files(truth_path: str | Path, tracks_path: str | Path, *, c: float = 100.0, max_age_s: float = 3.0) -> ClassificationReport:
    """:func:`classification_confusion` of a TRUTH.jsonl and a TRACKS.jsonl file (the tracks' own ``class``)."""
    truth, _ = read_truth(truth_path)
    tracks, classes, _ = read_track_classes(tracks_path)
    return classification_confusion(truth, tracks, classes, c=c, max_age_s=max_age_s)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100.0 * v:.1f} %"


def format_confusion(m: ConfusionMatrix, title: str = "") -> str:
    """A Markdown table: counts with row recall, then a precision row."""
    head = "| true \\ reported | " + " | ".join(REPORTED) + " | recall |"
    lines = ([f"**{title}**", ""] if title else []) + [head, "|---|" + "---:|" * (len(REPORTED) + 1)]
    for i, t in enumerate(TRUE):
        if t == "none" and not m.counts[i].any():
            continue
        label = "none (false track)" if t == "none" else t
        recall = _pct(m.recall(t)) if t != "none" else ""
        lines.append(f"| {label} | " + " | ".join(str(int(v)) for v in m.counts[i]) + f" | {recall} |")
    lines.append("| precision | - | " + " | ".join(_pct(m.precision(c)) for c in REPORTED[1:]) + " | |")
    return "\n".join(lines)
