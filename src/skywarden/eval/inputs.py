"""Reading the evaluator's JSON Lines inputs into column tables, skipping and counting bad lines.

Evaluation files come from simulators, trackers and hand edits, so one broken line must not sink a
whole run: every line that is not valid JSON, misses a field or holds an impossible value is
skipped, counted, and the first few are described in :class:`InputStats`. Blank lines are ignored.

Truth and tracks files can hold millions of lines, so numeric fields go straight into a typed
``array`` (8 bytes a value) instead of a list of record objects (a few hundred bytes each).

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "alerts.jsonl"
    >>> _ = path.write_text('{"t":1764201600,"alert_id":1,"zone_id":"Z","track_id":7,"kind":"zone_entry","state":"open"}\\nnot json\\n')
    >>> alerts, stats = read_alerts(path)
    >>> alerts[0].track_id, stats.records, stats.skipped
    (7, 1, 1)
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from skywarden.core.records import AlertEvent, TrackUpdate
from skywarden.sim.files import decode_truth

__all__ = [
    "InputStats",
    "TruthTable",
    "TrackTable",
    "read_truth",
    "read_tracks",
    "read_alerts",
]

#: How many skipped lines are described in :attr:`InputStats.errors`; the rest are only counted.
MAX_ERRORS_KEPT = 5

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class InputStats(msgspec.Struct, kw_only=True):
    """How one input file was read."""

    path: str
    lines: int = 0
    """Non-blank lines."""
    records: int = 0
    """Lines used."""
    skipped: int = 0
    """Lines that were malformed or held impossible values."""
    errors: list[str] = msgspec.field(default_factory=list)
    """Descriptions of the first few skipped lines, ``"line N: why"``."""

    def skip(self, line_no: int, why: str) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(f"line {line_no}: {why}")


T = TypeVar("T")


def _records(path: str | Path, decode: Callable[[bytes], T], stats: InputStats) -> Iterator[tuple[int, T]]:
    """Decode each non-blank line of ``path``; yield ``(line number, record)``, skip and count the rest."""
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            stats.lines += 1
            try:
                record = decode(line)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # ValidationError is a DecodeError
                stats.skip(line_no, str(exc))
                continue
            yield line_no, record


@dataclass(frozen=True)
class TruthTable:
    """Truth samples as columns, sorted by (target, time).

    ``target`` indexes :attr:`target_ids` and :attr:`target_kinds`; positions are WGS84 degrees and
    metres above the ellipsoid, velocities ENU metres per second.
    """

    t: npt.NDArray[np.float64]
    target: npt.NDArray[np.intp]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    alt_m: npt.NDArray[np.float64]
    vel: npt.NDArray[np.float64]
    """``(n, 3)`` east, north, up velocity, m/s."""
    uas_id: list[str | None]
    target_ids: list[str]
    target_kinds: list[str]
    """Kind of each target, from its first sample."""

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class TrackTable:
    """Confirmed-track updates as columns, sorted by (track, time); a track's updates are contiguous.

    ``track`` indexes :attr:`track_ids`.
    """

    t: npt.NDArray[np.float64]
    track: npt.NDArray[np.intp]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    alt_m: npt.NDArray[np.float64]
    vel: npt.NDArray[np.float64]
    """``(n, 3)`` east, north, up velocity, m/s."""
    track_ids: npt.NDArray[np.int64]
    """Distinct track ids, sorted."""

    def __len__(self) -> int:
        return len(self.t)

    def rows_of(self, track: int) -> slice:
        """The rows of dense track index ``track``, oldest first."""
        lo, hi = np.searchsorted(self.track, [track, track + 1])
        return slice(int(lo), int(hi))

    def index_of(self, track_id: int) -> int:
        """Dense index of track id ``track_id``, or -1 if the file has no update of it."""
        i = int(np.searchsorted(self.track_ids, track_id))
        return i if i < len(self.track_ids) and self.track_ids[i] == track_id else -1


_decode_track = msgspec.json.Decoder(TrackUpdate).decode
_decode_alert = msgspec.json.Decoder(AlertEvent).decode


def _position_problem(lat: float, lon: float) -> str | None:
    """Why a position cannot be used, or None. (msgspec already rejects infinities and NaN.)"""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return f"position ({lat}, {lon}) is not WGS84 degrees"
    return None


#: The kinematic fields shared by truth samples and track updates; one flat ``array("d")`` holds
#: them row after row, one ``extend`` per line.
_STATE = operator.attrgetter("t", "lat", "lon", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps")


def _state_matrix(states: array) -> npt.NDArray[np.float64]:
    """The flat :data:`_STATE` rows as an ``(n, 7)`` matrix (no copy)."""
    return np.frombuffer(states, dtype=np.float64).reshape(-1, 7)


def _state_fields(m: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """Columns of an :func:`_state_matrix`, named as the table fields."""
    return {"t": m[:, 0], "lat": m[:, 1], "lon": m[:, 2], "alt_m": m[:, 3], "vel": m[:, 4:7]}


def read_truth(path: str | Path) -> tuple[TruthTable, InputStats]:
    """Read a simulator TRUTH.jsonl file (format: :mod:`skywarden.sim.files`)."""
    stats = InputStats(path=str(path))
    states = array("d")
    target = array("q")
    target_index: dict[str, int] = {}
    kinds: list[str] = []
    uas_id: list[str | None] = []
    shared: dict[str | None, str | None] = {}  # one string object per distinct uas_id, not per line
    for line_no, s in _records(path, decode_truth, stats):
        problem = _position_problem(s.lat, s.lon)
        if problem is not None:
            stats.skip(line_no, problem)
            continue
        if s.target_id not in target_index:
            target_index[s.target_id] = len(target_index)
            kinds.append(s.kind)
        states.extend(_STATE(s))
        target.append(target_index[s.target_id])
        uas_id.append(shared.setdefault(s.uas_id, s.uas_id))
    stats.records = len(target)
    target_np = np.frombuffer(target, dtype=np.int64).astype(np.intp)
    m = _state_matrix(states)
    order = np.lexsort((m[:, 0], target_np))
    return (
        TruthTable(
            **_state_fields(m[order]),
            target=target_np[order],
            uas_id=[uas_id[i] for i in order.tolist()],
            target_ids=list(target_index),
            target_kinds=kinds,
        ),
        stats,
    )


def _track_problem(u: TrackUpdate) -> str | None:
    """Why an update that decoded cannot be scored, or None. TrackUpdate itself checks types only."""
    if not (_INT64_MIN <= u.track_id <= _INT64_MAX):
        return f"track_id {u.track_id} does not fit in 64 bits"
    return _position_problem(u.lat, u.lon)


def read_tracks(path: str | Path) -> tuple[TrackTable, InputStats]:
    """Read a tracker TRACKS.jsonl file (one confirmed-track update per line)."""
    stats = InputStats(path=str(path))
    states = array("d")
    ids = array("q")
    for line_no, u in _records(path, _decode_track, stats):
        problem = _track_problem(u)
        if problem is not None:
            stats.skip(line_no, problem)
            continue
        states.extend(_STATE(u))
        ids.append(u.track_id)
    stats.records = len(ids)
    track_ids, track = np.unique(np.frombuffer(ids, dtype=np.int64), return_inverse=True)
    m = _state_matrix(states)
    # Stable sort: of two updates of one track with the same time, the later line stays later and wins.
    order = np.lexsort((m[:, 0], track))
    return (
        TrackTable(**_state_fields(m[order]), track=track.astype(np.intp)[order], track_ids=track_ids),
        stats,
    )


def read_alerts(path: str | Path) -> tuple[list[AlertEvent], InputStats]:
    """Read an ALERTS.jsonl file, sorted by (time, alert id)."""
    stats = InputStats(path=str(path))
    alerts = [a for _, a in _records(path, _decode_alert, stats)]
    stats.records = len(alerts)
    return sorted(alerts, key=lambda a: (a.t, a.alert_id)), stats
