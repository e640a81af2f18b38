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

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import BinaryIO

import msgspec
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from skywarden.core.records import Observation, decode_observation, decode_observation_lines
from skywarden.sources.decode import DecodeStats

__all__ = [
    "IngestReport", "Reject", "read_observations", "read_observation_batches", "open_observation_file", "classify_error",
    "read_observation_records",
]


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
            except (msgspec.DecodeError, UnicodeDecodeError):
                return "invalid_json"
        msg = str(exc)
        if msg.startswith("Object missing required field"):
            return "missing_field"
        if "$.kind" in msg:
            return "unknown_kind"
        return "invalid_value"
    return "invalid_json"


class _TimeOutlierColumns:
    """Rejects observations whose time disagrees with most of their neighbours.

    The neighbours are the ``window`` valid observations before and after in file order. An
    observation is kept when at least half of its neighbours lie within ``max_skew_s`` of it.
    This keeps a genuine recording gap (each side has its own half of agreeing neighbours) and
    drops an isolated corrupt time, or a short run of them, without any prior knowledge of the
    file's epoch. Decisions are made ``chunk`` observations at a time with numpy (measured 4x
    faster than one observation at a time in Python), on parallel lists (line numbers,
    observations, raw lines): no tuple per observation.
    """

    def __init__(self, max_skew_s: float, window: int = 8, chunk: int = 256) -> None:
        self.max_skew_s = max_skew_s
        self.window = window
        self.chunk = chunk
        self._before: list[float] = []
        self._lines: list[int] = []
        self._obs: list[Observation] = []
        self._raws: list[bytes] = []

    def push(self, lines: list[int], obs: list[Observation], raws: list[bytes]):  # noqa: ANN201
        """Add items; return ``(lines, obs, raws, keep)`` of those decided now, or None."""
        self._lines += lines
        self._obs += obs
        self._raws += raws
        ready = len(self._obs) - self.window
        return self._decide(ready) if ready >= self.chunk else None

    def flush(self):  # noqa: ANN201
        return self._decide(len(self._obs))

    def _decide(self, count: int):  # noqa: ANN202
        if count == 0:
            return None
        w = self.window
        times = np.fromiter((o.t for o in self._obs), np.float64, len(self._obs))
        left = self._before[-w:]
        padded = np.concatenate([np.full(w - len(left), np.nan), left, times, np.full(w, np.nan)])
        windows = sliding_window_view(padded, 2 * w + 1)[:count]  # row k is centred on item k
        centre = times[:count, None]
        agreeing = np.count_nonzero(np.abs(windows - centre) <= self.max_skew_s, axis=1) - 1
        neighbours = np.count_nonzero(~np.isnan(windows), axis=1) - 1
        keep = (neighbours == 0) | (2 * agreeing >= neighbours)
        decided = (self._lines[:count], self._obs[:count], self._raws[:count], keep)
        self._before = (self._before + times[:count].tolist())[-w:]
        del self._lines[:count], self._obs[:count], self._raws[:count]
        return decided


def read_observations(
    lines: BinaryIO | Iterable[bytes],
    report: IngestReport,
    *,
    max_time_skew_s: float = 3600.0,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[int, Observation, bytes]]:
    """Decode observation JSON Lines v1, yielding ``(line_no, observation, raw_line)`` for valid lines.

    :func:`read_observation_batches` one observation at a time.

    Args:
        lines: an open binary file, or raw lines (bytes).
        report: receives the counts and the rejects.
        max_time_skew_s: a line whose time is further than this from most of its neighbours is
            rejected as ``time_outlier``.
        should_stop: polled after each chunk read; when it returns True reading stops cleanly
            and the lines already read are still yielded.
    """
    stream = lines if hasattr(lines, "read") else _LineStream(lines)
    for line_nos, observations, raws in read_observation_batches(
        stream, report, max_time_skew_s=max_time_skew_s, should_stop=should_stop  # type: ignore[arg-type]
    ):
        yield from zip(line_nos, observations, raws)  # type: ignore[misc]


class _LineStream:
    """An iterable of lines read as a stream (each line ends with a newline, added if missing)."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._lines = iter(lines)

    def read(self, size: int) -> bytes:
        parts, length = [], 0
        for line in self._lines:
            if not line.endswith(b"\n"):
                line += b"\n"
            parts.append(line)
            length += len(line)
            if length >= size:
                break
        return b"".join(parts)


def read_observation_batches(
    stream: BinaryIO,
    report: IngestReport,
    *,
    max_time_skew_s: float = 3600.0,
    should_stop: Callable[[], bool] | None = None,
    chunk_bytes: int = 1 << 20,
    raw: bool = True,
) -> Iterator[tuple[list[int], list[Observation], list[bytes | None]]]:
    """Decode observation JSON Lines v1 a batch at a time: yields ``(line_numbers, observations,
    raw_lines)`` lists of the accepted lines, in file order (see :func:`read_observations`).

    The stream is read ``chunk_bytes`` at a time. A chunk whose every line is one JSON object
    (starts with ``{``, ends with ``}``: no blank lines, no CR) is decoded with one
    ``decode_lines`` call; any other chunk, or one that fails to decode, line by line (the same
    decisions and rejects). ``should_stop`` is polled once per chunk. Without ``raw``
    the raw lines of whole-chunk decodes come back as None (nothing stores them).
    """
    outliers = _TimeOutlierColumns(max_time_skew_s)
    decode = decode_observation
    decode_errors = (msgspec.DecodeError, msgspec.ValidationError)
    detail = f" is more than {max_time_skew_s:g} s from most neighbouring lines"

    def emit(decided) -> Iterator[tuple[list[int], list[Observation], list[bytes]]]:  # noqa: ANN001
        if decided is None:
            return
        lines, obs, raws, keep = decided
        if keep.all():
            report.accepted += len(obs)
            yield lines, obs, raws
            return
        ok = keep.tolist()
        for line_no, o, good in zip(lines, obs, ok):
            if good:
                report.accepted += 1
            else:
                report.reject(line_no, "time_outlier", f"t={o.t}{detail}")
        if any(ok):
            yield list(compress(lines, ok)), list(compress(obs, ok)), list(compress(raws, ok))

    # The outlier filter is fed every 1,024 valid lines, however the chunks fall, so the rejects
    # come out in the same order.
    p_lines: list[int] = []
    p_obs: list[Observation] = []
    p_raws: list[bytes] = []
    line_no = 0
    rest = b""
    while True:
        block = stream.read(chunk_bytes)
        if block:
            buf = rest + block
            cut = buf.rfind(b"\n") + 1
            buf, rest = buf[:cut], buf[cut:]
        else:
            buf, rest = rest, b""
            if buf and not buf.endswith(b"\n"):
                buf += b"\n"  # the last line of a file without a final newline
        if buf:
            # Every line one object: each newline has '}' before it and '{' after it (numpy on
            # the bytes: a fifth of the time of two bytes.count calls).
            arr = np.frombuffer(buf, dtype=np.uint8)
            nl = np.flatnonzero(arr == 10)
            n = nl.size
            obs: list[Observation] | None = None
            if arr[0] == 123 and bool((arr[nl - 1] == 125).all()) and bool((arr[nl[:-1] + 1] == 123).all()):
                try:
                    obs = decode_observation_lines(buf)
                except decode_errors:
                    obs = None
                if obs is not None and len(obs) != n:
                    obs = None
            if obs is not None:
                if raw:
                    raws = buf.split(b"\n")
                    raws.pop()  # after the final newline
                else:
                    raws = [None] * n
                lines = list(range(line_no + 1, line_no + n + 1))
                line_no += n
                report.lines += n
                i = 0
                while i < n:
                    take = min(n - i, 1024 - len(p_obs))
                    p_lines += lines[i:i + take]
                    p_obs += obs[i:i + take]
                    p_raws += raws[i:i + take]
                    i += take
                    if len(p_obs) >= 1024:
                        yield from emit(outliers.push(p_lines, p_obs, p_raws))
                        p_lines, p_obs, p_raws = [], [], []
            else:
                raws = buf.split(b"\n")
                raws.pop()  # after the final newline
                for line in raws:
                    line_no += 1
                    if not line.strip():
                        continue
                    report.lines += 1
                    try:
                        o = decode(line)
                    except decode_errors as exc:
                        report.reject(line_no, classify_error(exc, line), str(exc))
                    else:
                        p_lines.append(line_no)
                        p_obs.append(o)
                        p_raws.append(line.rstrip(b"\r\n"))
                        if len(p_obs) >= 1024:
                            yield from emit(outliers.push(p_lines, p_obs, p_raws))
                            p_lines, p_obs, p_raws = [], [], []
        if not block or (should_stop is not None and should_stop()):
            break
    if p_obs:
        yield from emit(outliers.push(p_lines, p_obs, p_raws))
    yield from emit(outliers.flush())


def open_observation_file(path: str | Path) -> BinaryIO:
    """Open an observation file for :func:`read_observations`; ``-`` means standard input."""
    if str(path) == "-":
        import sys

        return sys.stdin.buffer
    return open(path, "rb")  # noqa: SIM115 - the caller owns the handle


def read_observation_records(stream: BinaryIO, options: object, stats: DecodeStats) -> Iterator[Observation]:
    """Reader of the ``jsonl`` format for :mod:`skywarden.sources.decode`: observations, counted in ``stats``."""
    report = IngestReport(max_kept=stats.max_kept)
    try:
        for _, obs, _ in read_observations(stream, report):
            stats.produced(obs)
            yield obs
    finally:
        stats.messages += report.lines
        stats.decoded += report.accepted
        for rej in report.rejects:
            if len(stats.first_rejects) < stats.max_kept:
                stats.first_rejects.append((f"line {rej.line_no}", rej.reason, rej.detail))
        for reason, n in report.rejected_by_reason.items():
            stats.rejected_by_reason[reason] = stats.rejected_by_reason.get(reason, 0) + n


class JsonLinesStreamDecoder:
    """Observation JSON Lines v1 arriving in arbitrary chunks (a TCP connection we opened, a
    datagram of lines): the :class:`~skywarden.sources.decode.StreamDecoder` of format ``jsonl``.

    >>> stats = DecodeStats()
    >>> decoder = JsonLinesStreamDecoder(None, stats)
    >>> decoder.feed(b'{"kind":"plot","t":1700000000,"sensor":"r","lat":1,', 0.0)
    []
    >>> [o.kind for o in decoder.feed(b'"lon":2,"alt_m":3}\\nnot json\\n', 0.0)]
    ['plot']
    >>> stats.rejected_by_reason
    {'invalid_json': 1}
    """

    max_line_bytes = 65_536

    def __init__(self, options: object, stats: DecodeStats) -> None:
        self.stats = stats
        self._partial = b""
        self._discarding = False

    def feed(self, data: bytes, t_rx: float) -> list[Observation]:
        out: list[Observation] = []
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if self._discarding:  # the rest of an oversized line
                self._discarding = False
                continue
            self._line(line, out)
        if len(self._partial) > self.max_line_bytes:
            self.stats.messages += 1
            self.stats.reject(f"message {self.stats.messages}", "oversized", f"a line longer than {self.max_line_bytes} bytes")
            self._partial = b""
            self._discarding = True
        return out

    def _line(self, line: bytes, out: list[Observation]) -> None:
        if not line.strip():
            return
        self.stats.messages += 1
        if len(line) > self.max_line_bytes:
            self.stats.reject(f"message {self.stats.messages}", "oversized", f"a line longer than {self.max_line_bytes} bytes")
            return
        try:
            obs = decode_observation(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.stats.reject(f"message {self.stats.messages}", classify_error(exc, line), str(exc))
            return
        self.stats.decoded += 1
        self.stats.produced(obs)
        out.append(obs)

    def replies(self) -> bytes:
        return b""
