"""Source adapter for observation JSON Lines v1 (docs/formats.md), the public interchange format.

A bad line never stops the run: it is counted in an :class:`IngestReport` with its line number
and reason, and the good lines around it flow on. Reasons:

``invalid_json``
    the line is not valid JSON (NaN and Infinity are not JSON either).
``missing_field``
    a required field is absent.
``unknown_kind``
    ``kind`` is not ``plot``, ``remote_id`` or ``adsb``.
``invalid_value``
    a field has the wrong type or an impossible value (latitude 91, altitude 10^6 m, ...).
``time_outlier``
    ``t`` is far (more than ``max_time_skew_s``) from the times of most of its neighbours.

Example:
    >>> import io
    >>> report = IngestReport()
    >>> lines = io.BytesIO(b'{"kind":"plot","t":1700000000,"sensor":"r","lat":1,"lon":2,"alt_m":3}\\nnot json\\n')
    >>> [obs.kind for _, obs, _ in read_observations(lines, report)]
    ['plot']
    >>> report.rejected_by_reason
    {'invalid_json': 1}
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec

from skywarden.core.records import Observation, decode_observation

__all__ = ["IngestReport", "Reject", "read_observations", "open_observation_file", "classify_error"]


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected input line."""

    line_no: int
    reason: str
    detail: str


@dataclass
class IngestReport:
    """Counts what a source read, accepted and rejected, and why.

    ``rejects`` keeps the first ``max_kept`` rejects with their line numbers; the counters are
    always complete.
    """

    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    max_kept: int = 1000

    def reject(self, line_no: int, reason: str, detail: str) -> None:
        self.rejected += 1
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1
        if len(self.rejects) < self.max_kept:
            self.rejects.append(Reject(line_no, reason, detail))

    def by_reason(self) -> Counter[str]:
        return Counter(self.rejected_by_reason)


def classify_error(exc: Exception, raw: bytes | None = None) -> str:
    """Map a msgspec decoding error to a reject reason.

    msgspec validates while it parses, so a truncated line can fail on a field before the parser
    reaches the broken end; ``raw`` lets such a line be reported as ``invalid_json``.
    """
    if isinstance(exc, msgspec.ValidationError):
        if raw is not None:
            try:
                msgspec.json.decode(raw)
            except msgspec.DecodeError:
                return "invalid_json"
        msg = str(exc)
        if msg.startswith("Object missing required field"):
            return "missing_field"
        if "$.kind" in msg:
            return "unknown_kind"
        return "invalid_value"
    return "invalid_json"


class _TimeOutlierFilter:
    """Rejects observations whose time disagrees with most of their neighbours.

    The neighbours are the ``window`` valid observations before and after in file order. An
    observation is kept when at least half of its neighbours lie within ``max_skew_s`` of it.
    This keeps a genuine recording gap (each side has its own half of agreeing neighbours) and
    drops an isolated corrupt time, or a short run of them, without any prior knowledge of the
    file's epoch.
    """

    def __init__(self, max_skew_s: float, window: int = 8) -> None:
        self.max_skew_s = max_skew_s
        self.window = window
        self._before: deque[float] = deque(maxlen=window)
        self._pending: deque[tuple[int, Observation, bytes]] = deque()

    def push(self, line_no: int, obs: Observation, raw: bytes) -> Iterator[tuple[int, Observation, bytes, bool]]:
        self._pending.append((line_no, obs, raw))
        if len(self._pending) > self.window:
            yield self._decide()

    def flush(self) -> Iterator[tuple[int, Observation, bytes, bool]]:
        while self._pending:
            yield self._decide()

    def _decide(self) -> tuple[int, Observation, bytes, bool]:
        line_no, obs, raw = self._pending.popleft()
        t = obs.t
        neighbours = list(self._before)
        neighbours.extend(o.t for _, o, _ in self._pending)
        self._before.append(t)
        if not neighbours:
            return line_no, obs, raw, True
        lo, hi = t - self.max_skew_s, t + self.max_skew_s
        # Fast path (almost every line): all neighbours agree. min/max run in C.
        if min(neighbours) >= lo and max(neighbours) <= hi:
            return line_no, obs, raw, True
        agreeing = sum(1 for n in neighbours if lo <= n <= hi)
        return line_no, obs, raw, 2 * agreeing >= len(neighbours)


def read_observations(
    lines: Iterable[bytes],
    report: IngestReport,
    *,
    max_time_skew_s: float = 3600.0,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[int, Observation, bytes]]:
    """Decode observation JSON Lines v1, yielding ``(line_no, observation, raw_line)`` for valid lines.

    Args:
        lines: raw lines (bytes), e.g. an open binary file.
        report: receives the counts and the rejects.
        max_time_skew_s: a line whose time is further than this from most of its neighbours is
            rejected as ``time_outlier``.
        should_stop: polled after each line; when it returns True reading stops cleanly and the
            lines already read are still yielded.
    """
    outliers = _TimeOutlierFilter(max_time_skew_s)

    def emit(decided: Iterable[tuple[int, Observation, bytes, bool]]) -> Iterator[tuple[int, Observation, bytes]]:
        for line_no, obs, raw, ok in decided:
            if ok:
                report.accepted += 1
                yield line_no, obs, raw
            else:
                report.reject(line_no, "time_outlier", f"t={obs.t} is more than {max_time_skew_s:g} s from most neighbouring lines")

    line_no = 0
    for line_no, raw in enumerate(lines, start=1):
        report.lines += 1
        if not raw.strip():
            report.lines -= 1  # blank lines (e.g. a trailing newline) are not records
            continue
        try:
            obs = decode_observation(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            report.reject(line_no, classify_error(exc, raw), str(exc))
        else:
            yield from emit(outliers.push(line_no, obs, raw.rstrip(b"\r\n")))
        if should_stop is not None and should_stop():
            break
    yield from emit(outliers.flush())


def open_observation_file(path: str | Path) -> BinaryIO:
    """Open an observation file for :func:`read_observations`; ``-`` means standard input."""
    if str(path) == "-":
        import sys

        return sys.stdin.buffer
    return open(path, "rb")  # noqa: SIM115 - the caller owns the handle
