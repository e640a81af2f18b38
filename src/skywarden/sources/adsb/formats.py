"""ADS-B readers (``beast``, ``avr``, ``sbs1``, ``readsb-json``, ``modes-csv``) and live stream decoders.

Every frame-based format (Beast, AVR, modes-csv) hands its Mode S frames to one
:class:`~skywarden.sources.adsb.decoder.AdsbDecoder`, and every file reader is its stream decoder
fed with the file in chunks, so a recording and a live connection decode alike. See
docs/sources/adsb.md for the field mapping and the reject and skip reasons.

Times:

* ``modes-csv``: the time stamp column (UNIX s).
* Beast, and AVR ``@``/``<`` lines: only a relative 12 MHz counter. In a file the first frame is
  at ``options.start_time`` (else the current time) and the others follow by counter/12e6. Live,
  the counter is pinned to the reception time and re-pinned when it drifts by more than 2 s.
* AVR ``*`` lines: no time at all; live, the reception time; in a file every frame gets the start
  time, and the speed gate is off (only jumps over 1,000 km are refused).
* SBS-1: the "generated" date and time fields, read as UTC (``--option sbs_utc_offset_h=H`` for
  a receiver writing local time H hours east of UTC); blank, they are the reception time live or
  the start time in a file, as for AVR.
* readsb-json: ``now`` minus ``seen_pos`` of each aircraft.

Example:
    >>> import io
    >>> from skywarden.sources.decode import DecodeOptions, DecodeStats
    >>> lines = b"1457996400,8D406B9058B97218E77D23BEAD12\\n1457996401,8D406B9058B975870B738754F480\\n"
    >>> stats = DecodeStats()
    >>> [o.icao24 for o in read_modes_csv(io.BytesIO(lines), DecodeOptions(), stats)]
    ['406b90']
    >>> stats.messages, stats.decoded, stats.observations, stats.skipped_by_reason
    (2, 2, 1, {'cpr_unpaired': 1})
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec

from skywarden.core.records import AdsbObservation
from skywarden.sources.adsb.decoder import (
    T_MAX,
    T_MIN,
    AdsbDecoder,
    clean_callsign,
    make_observation,
)
from skywarden.sources.adsb.framing import (
    BeastFramer,
    LineSplitter,
    MlatClock,
    SbsMessage,
    parse_avr,
    parse_modes_csv,
    parse_sbs1,
)
from skywarden.sources.adsb.modes import FPM_MPS, FT_M, KT_MPS
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, Record

__all__ = [
    "BeastStreamDecoder",
    "AvrStreamDecoder",
    "Sbs1StreamDecoder",
    "ModesCsvDecoder",
    "read_beast",
    "read_avr",
    "read_sbs1",
    "read_modes_csv",
    "read_readsb_json",
    "readsb_observations",
]

_CHUNK = 1 << 18
_BOM = b"\xef\xbb\xbf"
#: A file whose first this-many units all fail to parse is not in the format asked for.
_SNIFF_UNITS = 20


class _FrameStream:
    """What the frame-based stream decoders share: the decoder, the counters, the time base."""

    format_name = ""

    def __init__(self, options: DecodeOptions, stats: DecodeStats) -> None:
        self.options = options
        self.stats = stats
        self.decoder = AdsbDecoder(options, stats)
        self.clock = MlatClock(options.start_time)
        self._file_t: float | None = None
        self.units = 0
        """Units seen (frames, lines, junk runs), framed or not."""
        self.framed = 0
        """Units that had this format's structure (whatever their content)."""

    def file_time(self) -> float:
        """The fixed time of a file's frames that carry none: the start time, else now."""
        if self._file_t is None:
            self._file_t = self.options.start_time if self.options.start_time is not None else time.time()
        return self._file_t

    def bad_unit(self, where: str, reason: str, detail: str = "") -> None:
        """Count one unit that could not even be framed."""
        self.units += 1
        self.stats.messages += 1
        self.stats.reject(where, reason, detail)

    def replies(self) -> bytes:
        """Nothing is sent back to an ADS-B receiver."""
        return b""

    def feed(self, data: bytes, t_rx: float) -> list[Record]:
        """Decode what ``data`` completes, received at ``t_rx`` (UNIX s UTC)."""
        return self._feed(data, t_rx)

    def _feed(self, data: bytes, t_rx: float | None) -> list[Record]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> list[Record]:
        return []

    def check_format(self, final: bool = False) -> None:
        """Raise :class:`FormatError` when nothing read so far looks like this format."""
        if self.framed == 0 and (self.units >= _SNIFF_UNITS or (final and self.units > 0)):
            raise FormatError(f"nothing in the input looks like a {self.format_name} ({self.units} unusable units read)")

    def read_file(self, stream: BinaryIO) -> Iterator[Record]:
        """Decode a whole recorded file (chunk by chunk, as a stream without reception times)."""
        first = True
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            if first:
                chunk = chunk.removeprefix(_BOM)
                first = False
            yield from self._feed(chunk, None)
            self.check_format()
        yield from self._close()
        self.check_format(final=True)


class BeastStreamDecoder(_FrameStream):
    """Beast binary (dump1090/readsb port 30005), live or from a file.

    Example:
        >>> from skywarden.sources.adsb.framing import beast_encode
        >>> from skywarden.sources.decode import DecodeOptions, DecodeStats
        >>> dec = BeastStreamDecoder(DecodeOptions(), DecodeStats())
        >>> data = beast_encode(bytes.fromhex("8D406B9058B97218E77D23BEAD12"), counter=1)
        >>> data += beast_encode(bytes.fromhex("8D406B9058B975870B738754F480"), counter=12_000_001)
        >>> [round(o.t - 1.7e9, 1) for o in dec.feed(data, 1.7e9)]
        [1.0]
    """

    format_name = "Beast frame"

    def __init__(self, options: DecodeOptions, stats: DecodeStats) -> None:
        super().__init__(options, stats)
        self.framer = BeastFramer()

    def _errors(self) -> None:
        for offset, reason, detail in self.framer.errors:
            self.bad_unit(f"offset {offset}", reason, detail)
        self.framer.errors.clear()

    def _feed(self, data: bytes, t_rx: float | None) -> list[Record]:
        frames = self.framer.feed(data)
        self._errors()
        out: list[Record] = []
        stats = self.stats
        decode = self.decoder.decode
        for f in frames:
            self.units += 1
            self.framed += 1
            if f.kind == 0x31:
                stats.messages += 1
                stats.decoded += 1
                stats.skip("mode_ac")
                continue
            if f.counter:
                t = self.clock.time(f.counter, t_rx)
            else:  # receivers without MLAT time stamps send 0
                t = t_rx if t_rx is not None else self.file_time()
            obs = decode(f.data.hex(), t, f"offset {f.offset}", f.counter != 0 or t_rx is not None)
            if obs is not None:
                out.append(obs)
        return out

    def _close(self) -> list[Record]:
        self.framer.close()
        self._errors()
        return []


class _LineStream(_FrameStream):
    """A line-based stream decoder: cuts lines, then :meth:`_line` decodes one."""

    def __init__(self, options: DecodeOptions, stats: DecodeStats) -> None:
        super().__init__(options, stats)
        self.lines = LineSplitter()

    def _oversized(self) -> None:
        for lineno in self.lines.oversized:
            self.bad_unit(f"line {lineno}", "oversized", f"line longer than {self.lines.max_line} bytes")
        self.lines.oversized.clear()

    def _feed(self, data: bytes, t_rx: float | None) -> list[Record]:
        out: list[Record] = []
        for lineno, text in self.lines.feed(data):
            self._line(lineno, text, t_rx, out)
        self._oversized()
        return out

    def _close(self) -> list[Record]:
        out: list[Record] = []
        for lineno, text in self.lines.close():
            self._line(lineno, text, None, out)
        self._oversized()
        return out

    def _line(self, lineno: int, text: str, t_rx: float | None, out: list[Record]) -> None:  # pragma: no cover
        raise NotImplementedError


class AvrStreamDecoder(_LineStream):
    """Raw hex / AVR text (port 30002): ``*HEX;``, ``@COUNTERHEX;`` or ``<COUNTERSIGHEX;`` per frame."""

    format_name = "AVR frame"

    def _line(self, lineno: int, text: str, t_rx: float | None, out: list[Record]) -> None:
        where = f"line {lineno}"
        stats = self.stats
        for token in text.split(";"):
            token = token.strip()
            if not token:
                continue
            parsed = parse_avr(token)
            if parsed[0] == "error":
                self.bad_unit(where, parsed[1], token[:40])
                continue
            self.units += 1
            self.framed += 1
            if parsed[0] == "mode_ac":
                stats.messages += 1
                stats.decoded += 1
                stats.skip("mode_ac")
                continue
            _, counter, frame_hex = parsed
            if counter:
                t, timed = self.clock.time(counter, t_rx), True
            elif t_rx is not None:
                t, timed = t_rx, True
            else:
                t, timed = self.file_time(), False
            obs = self.decoder.decode(frame_hex, t, where, timed)
            if obs is not None:
                out.append(obs)


class ModesCsvDecoder(_LineStream):
    """``timestamp,hexframe`` lines (extra columns ignored; a header line is skipped)."""

    format_name = "timestamp,hexframe line"

    def _line(self, lineno: int, text: str, t_rx: float | None, out: list[Record]) -> None:
        where = f"line {lineno}"
        parsed = parse_modes_csv(text)
        if isinstance(parsed, str):
            if lineno == 1 and parsed == "bad_timestamp" and not text[:1].isdigit():
                self.units += 1  # a header alone does not make a file modes-csv
                self.stats.messages += 1
                self.stats.skip("header")
                return
            self.bad_unit(where, parsed, text[:60])
            return
        self.units += 1
        self.framed += 1
        t, frame_hex = parsed
        obs = self.decoder.decode(frame_hex, t, where, True)
        if obs is not None:
            out.append(obs)


class Sbs1StreamDecoder(_LineStream):
    """SBS-1 BaseStation CSV (port 30003): positions as the receiver decoded them.

    ``MSG,3`` (airborne position) lines give observations, carrying the latest callsign
    (``MSG,1``), speed, track and vertical rate (``MSG,4``) of the same aircraft. Field 12 is
    pressure altitude: ``alt_baro_m`` is it in metres and ``alt_m`` the same value, since
    SBS-1 carries no geometric height (the approximation is documented in docs/sources/adsb.md).
    """

    format_name = "SBS-1 line"

    def __init__(self, options: DecodeOptions, stats: DecodeStats) -> None:
        super().__init__(options, stats)
        try:
            self.utc_offset_h = float(options.extra.get("sbs_utc_offset_h", 0.0))
        except ValueError:
            raise FormatError(f"option sbs_utc_offset_h={options.extra['sbs_utc_offset_h']!r} is not a number") from None

    def _line(self, lineno: int, text: str, t_rx: float | None, out: list[Record]) -> None:
        where = f"line {lineno}"
        parsed = parse_sbs1(text, self.utc_offset_h)
        if isinstance(parsed, str):
            self.bad_unit(where, parsed, text[:60])
            return
        self.units += 1
        self.framed += 1
        obs = self._message(parsed, where, t_rx)
        if obs is not None:
            out.append(obs)

    def _message(self, m: SbsMessage, where: str, t_rx: float | None) -> AdsbObservation | None:
        stats = self.stats
        stats.messages += 1
        if m.msg_type != "MSG":
            stats.decoded += 1
            stats.skip("sbs_not_msg")
            return None
        if m.t is not None:
            t, timed = m.t, True
        elif t_rx is not None:
            t, timed = t_rx, True
        else:
            t, timed = self.file_time(), False
        if not (T_MIN <= t <= T_MAX):
            stats.reject(where, "bad_timestamp", repr(t))
            return None
        stats.decoded += 1
        dec = self.decoder
        state = dec.table.get(m.icao, t)
        if m.callsign:
            state.callsign = clean_callsign(m.callsign) or state.callsign
        if m.speed_kt is not None or m.track_deg is not None or m.vrate_fpm is not None:
            state.speed_mps = m.speed_kt * KT_MPS if m.speed_kt is not None else None
            state.track_deg = m.track_deg % 360.0 if m.track_deg is not None else None
            state.vspeed_mps = m.vrate_fpm * FPM_MPS if m.vrate_fpm is not None else None
            state.vel_t = t
        if m.altitude_ft is not None:
            state.alt_ft, state.alt_gnss, state.alt_t = m.altitude_ft, False, t
        if m.transmission == 2 or m.on_ground:
            stats.skip("surface_position")
            return None
        if m.lat is None or m.lon is None:
            stats.skip("no_position")
            return None
        if not (-90.0 <= m.lat <= 90.0 and -180.0 <= m.lon <= 180.0) or (m.lat == 0.0 and m.lon == 0.0):
            stats.reject(where, "bad_position", f"{m.lat},{m.lon}")
            return None
        alt_ft = m.altitude_ft
        if alt_ft is None and state.alt_ft is not None and abs(t - state.alt_t) <= dec.settings.altitude_max_age_s:
            alt_ft = state.alt_ft
        if alt_ft is None:
            stats.skip("no_altitude")
            return None
        if not dec.accept_position(state, m.lat, m.lon, t, timed, where):
            return None
        fresh = abs(t - state.vel_t) <= dec.settings.velocity_max_age_s
        obs = make_observation(
            t=t, sensor=dec.sensor, icao=m.icao, lat=m.lat, lon=m.lon, alt_m=alt_ft * FT_M, alt_baro_m=alt_ft * FT_M,
            callsign=state.callsign, category=state.category,
            speed_mps=state.speed_mps if fresh else None, track_deg=state.track_deg if fresh else None,
            vspeed_mps=state.vspeed_mps if fresh else None,
        )
        if isinstance(obs, str):
            stats.reject(where, obs, f"{m.icao} alt {alt_ft} ft")
            return None
        stats.produced(obs)
        return obs


def read_beast(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Observations from a Beast binary recording (a dump of port 30005)."""
    return BeastStreamDecoder(options, stats).read_file(stream)


def read_avr(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Observations from an AVR / raw hex recording (a dump of port 30002)."""
    return AvrStreamDecoder(options, stats).read_file(stream)


def read_sbs1(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Observations from an SBS-1 BaseStation recording (a dump of port 30003)."""
    return Sbs1StreamDecoder(options, stats).read_file(stream)


def read_modes_csv(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Observations from ``timestamp,hexframe`` lines."""
    return ModesCsvDecoder(options, stats).read_file(stream)


# -- readsb / dump1090 aircraft.json -----------------------------------------------------------

_CATEGORIES = frozenset(f"{s}{d}" for s in "ABCD" for d in range(8))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def _snapshots(data: bytes) -> Iterator[tuple[str, Any]]:
    """``(where, document)`` for a single JSON document, a JSON array of them, or JSON Lines."""
    # msgspec raises UnicodeDecodeError, not DecodeError, for invalid UTF-8 inside a string
    # (found by bench/fuzz_decoders.py).
    try:
        doc = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        for lineno, line in enumerate(data.splitlines(), 1):
            if line.strip():
                try:
                    yield f"line {lineno}", msgspec.json.decode(line)
                except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                    yield f"line {lineno}", msgspec.DecodeError(f"invalid JSON: {exc}")
        return
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield f"snapshot {i}", item
    else:
        yield "snapshot 0", doc


def readsb_observations(doc: Any, where: str, decoder: AdsbDecoder, default_t: float | None = None) -> Iterator[AdsbObservation]:
    """Observations from one parsed ``aircraft.json`` snapshot (counts go to ``decoder.stats``).

    One message per aircraft entry. ``alt_m`` is ``alt_geom`` (WGS84) when present, else
    ``alt_baro`` (pressure altitude, the documented approximation); ``alt_baro: "ground"`` is a
    surface position (skipped). A position already reported by an earlier snapshot (same
    ``now - seen_pos``) is skipped as ``repeated_position``.
    """
    stats = decoder.stats
    if not isinstance(doc, dict) or not isinstance(doc.get("aircraft"), list):
        stats.messages += 1
        stats.reject(where, "bad_snapshot", "not an object with an aircraft list")
        return
    now = _number(doc.get("now"))
    timed = now is not None
    if now is None:
        now = default_t if default_t is not None else time.time()
    for i, ac in enumerate(doc["aircraft"]):
        stats.messages += 1
        at = f"{where} aircraft {i}"
        if not isinstance(ac, dict) or not isinstance(ac.get("hex"), str):
            stats.reject(at, "bad_entry", "no hex address")
            continue
        hexid = ac["hex"].strip().lower()
        if hexid.startswith("~"):
            stats.decoded += 1
            stats.skip("non_icao_address")
            continue
        if len(hexid) != 6 or any(c not in "0123456789abcdef" for c in hexid):
            stats.reject(at, "bad_icao", hexid[:12])
            continue
        seen_pos = _number(ac.get("seen_pos"))
        t = now - (seen_pos if seen_pos is not None and seen_pos >= 0 else 0.0)
        if not (T_MIN <= t <= T_MAX):
            stats.reject(at, "bad_timestamp", repr(t))
            continue
        stats.decoded += 1
        state = decoder.table.get(hexid, t)
        callsign = clean_callsign(ac.get("flight"))
        if callsign:
            state.callsign = callsign
        category = ac.get("category")
        if isinstance(category, str) and category.upper() in _CATEGORIES:
            state.category = category.upper()
        lat, lon = _number(ac.get("lat")), _number(ac.get("lon"))
        if ac.get("alt_baro") == "ground":
            stats.skip("surface_position")
            continue
        if lat is None or lon is None:
            stats.skip("no_position")
            continue
        if state.pos is not None and abs(state.pos[2] - t) < 0.05 and state.pos[:2] == (lat, lon):
            stats.skip("repeated_position")
            continue
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            stats.reject(at, "bad_position", f"{lat},{lon}")
            continue
        alt_baro, alt_geom = _number(ac.get("alt_baro")), _number(ac.get("alt_geom"))
        if alt_baro is None and alt_geom is None:
            stats.skip("no_altitude")
            continue
        if not decoder.accept_position(state, lat, lon, t, timed, at):
            continue
        gs, track = _number(ac.get("gs")), _number(ac.get("track"))
        rate = _number(ac.get("geom_rate"))
        if rate is None:
            rate = _number(ac.get("baro_rate"))
        alt_m = (alt_geom if alt_geom is not None else alt_baro) * FT_M  # type: ignore[operator]
        obs = make_observation(
            t=t, sensor=decoder.sensor, icao=hexid, lat=lat, lon=lon, alt_m=alt_m,
            alt_baro_m=alt_baro * FT_M if alt_baro is not None else None,
            callsign=state.callsign, category=state.category,
            speed_mps=gs * KT_MPS if gs is not None else None,
            track_deg=track % 360.0 if track is not None else None,
            vspeed_mps=rate * FPM_MPS if rate is not None else None,
        )
        if isinstance(obs, str):
            stats.reject(at, obs, f"{hexid} alt {alt_m:.0f} m")
            continue
        stats.produced(obs)
        yield obs


def read_readsb_json(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Observations from readsb/dump1090 ``aircraft.json``: one snapshot, a JSON array of snapshots,
    or JSON Lines with one snapshot per line (a recording of polls)."""
    data = stream.read()
    if isinstance(data, str):
        data = data.encode()
    data = data.removeprefix(_BOM)
    head = data.lstrip()[:1]
    if not head:
        return
    if head not in (b"{", b"["):
        raise FormatError(f"readsb-json expects a JSON object or array, found {data.lstrip()[:16]!r}")
    decoder = AdsbDecoder(options, stats)
    default_t = options.start_time if options.start_time is not None else time.time()
    for where, doc in _snapshots(data):
        if isinstance(doc, Exception):
            stats.messages += 1
            stats.reject(where, "bad_json", str(doc)[:80])
            continue
        yield from readsb_observations(doc, where, decoder, default_t)
