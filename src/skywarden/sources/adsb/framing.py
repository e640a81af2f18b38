"""Receiver feed framing: Beast binary, AVR text, SBS-1 CSV and modes-csv lines; small pure parsers.

Nothing here decodes Mode S content; these functions cut a byte stream into frames or lines and
parse their fields. Incremental parsers keep a partial frame between calls, so the same code
serves a file read in chunks and a live TCP connection.

Beast binary (port 30005): ``0x1A``, a type byte (``'1'`` Mode A/C, 2 bytes; ``'2'`` Mode S
short, 7 bytes; ``'3'`` Mode S long, 14 bytes), a 6-byte big-endian 12 MHz counter, a signal
byte, then the message. Every literal 0x1A after the type byte is doubled.

Example:
    >>> frame = bytes.fromhex("8D406B902015A678D4D220AA4BDA")
    >>> raw = beast_encode(frame, counter=0x1A, signal=0x80)
    >>> raw.hex()
    '1a3300000000001a1a808d406b902015a678d4d220aa4bda'
    >>> framer = BeastFramer()
    >>> [(f.kind, f.counter, f.data == frame) for f in framer.feed(raw[:9]) + framer.feed(raw[9:])]
    [(51, 26, True)]
    >>> parse_avr("@00000000001A8D406B902015A678D4D220AA4BDA;")
    ('frame', 26, '8D406B902015A678D4D220AA4BDA')
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

__all__ = [
    "BEAST_ESC",
    "BEAST_LENGTHS",
    "BeastFrame",
    "BeastFramer",
    "beast_encode",
    "LineSplitter",
    "parse_avr",
    "avr_encode",
    "MlatClock",
    "SbsMessage",
    "parse_sbs1",
    "sbs_time",
    "parse_modes_csv",
    "is_hex",
]

BEAST_ESC = 0x1A
#: Beast type byte -> payload length in bytes (after counter and signal).
BEAST_LENGTHS = {0x31: 2, 0x32: 7, 0x33: 14}
_HEX = frozenset("0123456789abcdefABCDEF")


def is_hex(text: str) -> bool:
    """Whether ``text`` is non-empty and all hexadecimal digits."""
    return bool(text) and _HEX.issuperset(text)


@dataclass(frozen=True, slots=True)
class BeastFrame:
    """One Beast frame: ``kind`` is the type byte (0x31, 0x32, 0x33), ``counter`` the 12 MHz time stamp."""

    kind: int
    counter: int
    signal: int
    data: bytes
    offset: int
    """Byte offset of the frame's 0x1A in the whole stream."""


def beast_encode(message: bytes, counter: int = 0, signal: int = 0) -> bytes:
    """One Beast frame for a Mode A/C (2 bytes) or Mode S (7 or 14 bytes) message, escaped."""
    kind = {2: 0x31, 7: 0x32, 14: 0x33}[len(message)]
    body = (counter & 0xFFFFFFFFFFFF).to_bytes(6, "big") + bytes([signal & 0xFF]) + message
    return bytes([BEAST_ESC, kind]) + body.replace(b"\x1a", b"\x1a\x1a")


class BeastFramer:
    """Cuts a Beast byte stream into frames, keeping a partial frame between :meth:`feed` calls.

    Problems are collected in :attr:`errors` as ``(offset, reason, detail)``, one per bad unit:
    ``beast_sync`` (bytes outside any frame), ``beast_type`` (unknown type byte),
    ``beast_truncated`` (a frame cut short by the next frame's start) and, from :meth:`close`,
    ``truncated`` (the stream ended inside a frame). After an error the framer resynchronises on
    the next unescaped 0x1A.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._base = 0  # stream offset of _buf[0]
        self._quiet = False  # inside a junk run already reported
        self.errors: list[tuple[int, str, str]] = []
        self.frames = 0

    def feed(self, data: bytes) -> list[BeastFrame]:
        """Frames completed by ``data``; errors found go to :attr:`errors`."""
        buf = self._buf + data if self._buf else bytes(data)
        out: list[BeastFrame] = []
        errors = self.errors
        n = len(buf)
        i = 0
        # One error per bad run of bytes, however the stream was cut into chunks: after a
        # reported error, the bytes up to the next 0x1A belong to it.
        quiet = self._quiet
        while i < n:
            pos = buf.find(b"\x1a", i)
            if pos < 0:
                if not quiet:
                    errors.append((self._base + i, "beast_sync", "bytes without a frame start"))
                quiet = True
                i = n
                break
            if pos > i and not quiet:
                errors.append((self._base + i, "beast_sync", f"{pos - i} bytes without a frame start"))
            quiet = False
            if pos + 1 >= n:
                i = pos
                break
            kind = buf[pos + 1]
            length = BEAST_LENGTHS.get(kind)
            if length is None:
                if kind == BEAST_ESC:  # an escaped 0x1A seen out of sync: part of a lost frame
                    errors.append((self._base + pos, "beast_sync", "escaped 0x1a outside a frame"))
                    i = pos + 2
                else:
                    errors.append((self._base + pos, "beast_type", f"type byte 0x{kind:02x}"))
                    i = pos + 2
                quiet = True
                continue
            need = 7 + length
            start = pos + 2
            chunk = buf[start:start + need]
            if len(chunk) == need and BEAST_ESC not in chunk:  # fast path: nothing escaped
                body = chunk
                end = start + need
            else:
                body, end = self._unescape(buf, start, need)
                if body is None:
                    if end < 0:  # incomplete: wait for more bytes
                        i = pos
                        break
                    errors.append((self._base + pos, "beast_truncated", f"frame cut after {end - start} bytes"))
                    i = end
                    continue
            quiet = False
            out.append(BeastFrame(kind, int.from_bytes(body[:6], "big"), body[6], bytes(body[7:]), self._base + pos))
            i = end
        self._base += i
        self._buf = buf[i:]
        self._quiet = quiet
        self.frames += len(out)
        return out

    @staticmethod
    def _unescape(buf: bytes, start: int, need: int) -> tuple[bytes | None, int]:
        """Un-escape ``need`` bytes from ``buf[start:]``.

        Returns ``(body, end)``; ``(None, -1)`` when ``buf`` ends first; ``(None, j)`` when an
        unescaped 0x1A at ``j`` (the next frame) cuts the frame short.
        """
        out = bytearray()
        j = start
        n = len(buf)
        while len(out) < need:
            if j >= n:
                return None, -1
            b = buf[j]
            if b == BEAST_ESC:
                if j + 1 >= n:
                    return None, -1
                if buf[j + 1] != BEAST_ESC:
                    return None, j
                j += 2
            else:
                j += 1
            out.append(b)
        return bytes(out), j

    def close(self) -> None:
        """End of stream: a partial frame left over is an error (``truncated``)."""
        self._quiet = False
        if self._buf:
            self.errors.append((self._base, "truncated", f"{len(self._buf)} bytes at the end"))
            self._base += len(self._buf)
            self._buf = b""


class LineSplitter:
    """Cuts a byte stream into text lines (LF, CRLF or CR), keeping a partial line between calls.

    A line longer than ``max_line`` bytes is dropped and reported in :attr:`oversized` (its
    line number), so a stream without line ends cannot grow memory without bound.
    """

    def __init__(self, max_line: int = 4096) -> None:
        self._buf = b""
        self._dropping = False
        self.max_line = max_line
        self.lineno = 0
        self.oversized: list[int] = []

    def feed(self, data: bytes) -> list[tuple[int, str]]:
        """Complete, non-empty lines as ``(line number, text)``, decoded as Latin-1 and stripped."""
        buf = self._buf + data if self._buf else bytes(data)
        # A CR at the very end may be the first half of a CRLF split across two calls: hold it.
        hold = buf.endswith(b"\r")
        work = (buf[:-1] if hold else buf).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        last = work.rfind(b"\n")
        lines: list[tuple[int, str]] = []
        if last < 0:
            self._buf = buf
        else:
            for raw in work[:last].split(b"\n"):
                self.lineno += 1
                if self._dropping:  # the tail of an oversized line
                    self._dropping = False
                    continue
                if len(raw) > self.max_line:
                    self.oversized.append(self.lineno)
                    continue
                text = raw.decode("latin-1").strip()
                if text:
                    lines.append((self.lineno, text))
            self._buf = work[last + 1:] + (b"\r" if hold else b"")
        if len(self._buf) > self.max_line:
            if not self._dropping:
                self.oversized.append(self.lineno + 1)
            self._buf = b""
            self._dropping = True
        return lines

    def close(self) -> list[tuple[int, str]]:
        """The last line, if the stream did not end with a line end."""
        rest, self._buf = self._buf, b""
        if self._dropping:
            self._dropping = False
            return []
        text = rest.decode("latin-1").strip()
        return [(self.lineno + 1, text)] if text else []


def parse_avr(line: str) -> tuple[str, int | None, str] | tuple[str, str]:
    """Parse one AVR / raw text token.

    Returns ``("frame", counter_or_None, hex)`` for ``*HEX;``, ``@CCCCCCCCCCCCHEX;`` (12 hex digits
    of 12 MHz counter) and ``<CCCCCCCCCCCCSSHEX;`` (counter and signal level); ``("mode_ac", hex)``
    for a 4-digit Mode A/C reply; ``("error", reason)`` otherwise.

    >>> parse_avr("*8D4840D6202CC371C32CE0576098;")
    ('frame', None, '8D4840D6202CC371C32CE0576098')
    >>> parse_avr("*8D4840;")
    ('error', 'bad_length')
    """
    text = line.strip()
    if text.endswith(";"):
        text = text[:-1]
    if not text:
        return ("error", "empty")
    mark = text[0]
    counter: int | None = None
    if mark == "*":
        body = text[1:]
    elif mark in "@%":
        head, body = text[1:13], text[13:]
        if len(head) != 12 or not is_hex(head):
            return ("error", "bad_timestamp")
        counter = int(head, 16)
    elif mark == "<":
        head, body = text[1:13], text[15:]
        if len(text) < 15 or not is_hex(text[1:15]):
            return ("error", "bad_timestamp")
        counter = int(head, 16)
    else:
        return ("error", "not_avr")
    if not is_hex(body):
        return ("error", "bad_hex")
    if len(body) == 4:
        return ("mode_ac", body)
    if len(body) not in (14, 28):
        return ("error", "bad_length")
    return ("frame", counter, body)


def avr_encode(message: bytes, counter: int | None = None) -> str:
    """One AVR line (without line end): ``*HEX;``, or ``@COUNTERHEX;`` with a 12 MHz counter."""
    if counter is None:
        return f"*{message.hex().upper()};"
    return f"@{counter & 0xFFFFFFFFFFFF:012X}{message.hex().upper()};"


class MlatClock:
    """Turns a receiver's 12 MHz counter into UNIX time: ``t0 + (counter - first counter) / 12e6``.

    The counter's origin is arbitrary (receiver power-on), so the first frame is pinned to
    ``t0``. A counter that runs backwards (receiver restart) re-pins at the last time. With a
    reception time ``t_rx`` (live input), the clock re-pins on ``t_rx`` whenever it drifts more
    than ``max_drift_s`` from it (GPS receivers that put time of day in the counter wrap daily).
    """

    def __init__(self, t0: float | None, max_drift_s: float = 2.0) -> None:
        self.t0 = t0
        self.c0: int | None = None
        self.last_t: float | None = None
        self.max_drift_s = max_drift_s

    def time(self, counter: int, t_rx: float | None = None) -> float:
        """UNIX seconds of a frame with 12 MHz ``counter``."""
        if self.c0 is None or counter < self.c0:
            self.c0 = counter
            base = self.last_t if self.last_t is not None else (self.t0 if self.t0 is not None else (t_rx or time.time()))
            self.t0 = t_rx if t_rx is not None else base
        t = self.t0 + (counter - self.c0) / 12e6
        if t_rx is not None and abs(t - t_rx) > self.max_drift_s:
            self.t0, self.c0, t = t_rx, counter, t_rx
        self.last_t = t
        return t


@dataclass(frozen=True, slots=True)
class SbsMessage:
    """The fields of one SBS-1 BaseStation line that matter here (``None`` where blank)."""

    msg_type: str
    transmission: int | None
    icao: str
    t: float | None
    callsign: str | None
    altitude_ft: float | None
    speed_kt: float | None
    track_deg: float | None
    lat: float | None
    lon: float | None
    vrate_fpm: float | None
    on_ground: bool | None


def _num(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return value


def sbs_time(date: str, clock: str, utc_offset_h: float = 0.0) -> float | None:
    """UNIX seconds from SBS-1 date ``YYYY/MM/DD`` and time ``HH:MM:SS(.fff)``; ``None`` when blank.

    The fields carry no zone: they are read as UTC shifted by ``utc_offset_h`` (the receiver's
    offset east of UTC, when it writes local time).

    >>> sbs_time("2013/04/05", "12:00:01.500")
    1365163201.5
    """
    date = date.strip()
    clock = clock.strip()
    if not date or not clock:
        return None
    y, mo, d = (int(x) for x in date.replace("-", "/").split("/"))
    hms = clock.split(":")
    if len(hms) != 3:
        raise ValueError("time is not HH:MM:SS")
    h, mi, sec = int(hms[0]), int(hms[1]), float(hms[2])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and 0 <= h < 24 and 0 <= mi < 60 and 0 <= sec < 61):
        raise ValueError("date or time out of range")
    return calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0)) + sec - utc_offset_h * 3600.0


_SBS_TYPES = frozenset({"MSG", "SEL", "ID", "AIR", "STA", "CLK"})


def parse_sbs1(line: str, utc_offset_h: float = 0.0) -> SbsMessage | str:
    """Parse one SBS-1 line into an :class:`SbsMessage`, or return a reject reason.

    Missing trailing fields count as blank; fields past the 22nd are ignored. The time is the
    "generated" date and time (fields 7 and 8), else the "logged" ones (9 and 10).

    >>> m = parse_sbs1("MSG,3,,,4B1908,,,,,,,2525,,,33.96693,-118.25598,,,0,0,0,0")
    >>> m.icao, m.altitude_ft, m.lat, m.on_ground
    ('4b1908', 2525.0, 33.96693, False)
    """
    fields = line.split(",")
    kind = fields[0].strip().upper()
    if kind not in _SBS_TYPES:
        return "not_sbs1"
    if len(fields) < 5:
        return "bad_field_count"
    if len(fields) < 22:
        fields += [""] * (22 - len(fields))
    icao = fields[4].strip().lower()
    if len(icao) != 6 or not is_hex(icao):
        return "bad_icao"
    try:
        transmission = int(fields[1]) if fields[1].strip() else None
        t = sbs_time(fields[6], fields[7], utc_offset_h)
        if t is None:
            t = sbs_time(fields[8], fields[9], utc_offset_h)
        ground = fields[21].strip()
        msg = SbsMessage(
            msg_type=kind,
            transmission=transmission,
            icao=icao,
            t=t,
            callsign=fields[10].strip() or None,
            altitude_ft=_num(fields[11]),
            speed_kt=_num(fields[12]),
            track_deg=_num(fields[13]),
            lat=_num(fields[14]),
            lon=_num(fields[15]),
            vrate_fpm=_num(fields[16]),
            on_ground=(int(ground) != 0) if ground else None,
        )
    except (ValueError, OverflowError):
        return "bad_value"
    return msg


def parse_modes_csv(line: str) -> tuple[float, str] | str:
    """``(timestamp, hex frame)`` from a ``timestamp,hexframe[,...]`` line, or a reject reason.

    The frame is the first field after the time stamp with 4, 14 or 28 hex digits (quotes
    stripped), so both ``ts,"hex",icao,tc`` and ``ts,icao,hex`` layouts work.

    >>> parse_modes_csv('1457996400,"8D406B909945DE10000405999BE4","406B90",19')
    (1457996400.0, '8D406B909945DE10000405999BE4')
    """
    fields = line.split(",")
    try:
        t = float(fields[0].strip().strip('"'))
    except ValueError:
        return "bad_timestamp"
    if t != t or len(fields) < 2:
        return "bad_timestamp" if t != t else "no_frame"
    for raw in fields[1:]:
        text = raw.strip().strip('"').strip()
        if len(text) in (14, 28) and is_hex(text):
            return t, text
    for raw in fields[1:]:
        text = raw.strip().strip('"').strip()
        if text and len(text) != 6 and is_hex(text):
            return "bad_length"
    return "no_frame"
