"""Recorded sensor formats: one registry, one options record, one set of counters.

Every decoder of a sensor format is a *reader*: a generator function

    reader(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]

that turns the bytes of a recorded file into observation records (``PlotObservation``,
``RemoteIdObservation``, ``AdsbObservation``) and, where the sensor says something about itself,
:class:`~skywarden.core.records.SensorStatus` records. A reader never raises on bad input: every
message it cannot use is counted in ``stats`` with a reason, and it carries on with the next one.
The only exception it may let through is :class:`FormatError`, for input that is not this format
at all (a PNG given as pcap), which the CLI reports in one line.

:data:`FORMATS` maps the public format names of ``skywarden decode --format`` and
``skywarden replay --format`` to their readers. The readers live in the format's own subpackage
(``sources.remoteid``, ``sources.adsb``, ``sources.asterix``, ``sources.sapient``) and are
imported only when used, so a format's dependencies cost nothing to users of the others.

Example:
    >>> import io
    >>> stats = DecodeStats()
    >>> stream = io.BytesIO(b'{"kind":"plot","t":1700000000,"sensor":"r","lat":1,"lon":2,"alt_m":3}\\n')
    >>> [r.kind for r in decode_stream("jsonl", stream, DecodeOptions(), stats)]
    ['plot']
    >>> stats.observations
    1
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, Union

from skywarden.core.records import Observation, SensorStatus

__all__ = [
    "Record",
    "DecodeOptions",
    "DecodeStats",
    "FormatError",
    "FileFormat",
    "StreamDecoder",
    "FORMATS",
    "decode_stream",
    "get_format",
]

Record = Union[Observation, SensorStatus]
Reader = Callable[[BinaryIO, "DecodeOptions", "DecodeStats"], Iterator[Record]]


class FormatError(Exception):
    """The input is not in the format asked for at all (not a pcap, not protobuf, ...).

    The message says what was expected and what was found, in one line.
    """


@dataclass(frozen=True)
class DecodeOptions:
    """What a decoder needs to know that the recording itself does not say.

    Attributes:
        sensor: the sensor id to put on the records; ``None`` lets the format choose one (a
            receiver's own id where the recording names it, else the format name).
        sensor_lat, sensor_lon, sensor_alt_m: the sensor's position (WGS84 degrees, metres above
            the ellipsoid). Radar plots in polar coordinates need it; ADS-B uses it as the
            reference for local CPR decoding and to reject positions beyond radio range.
        start_time: UNIX seconds UTC. Formats that carry only a time of day (ASTERIX) take the
            date from it; formats with only relative time stamps (Beast's 12 MHz counter) count
            from it. ``None`` means: use the capture's own time where there is one (pcap), else
            the current time.
        edition: per-category edition overrides for ASTERIX, e.g. ``{"48": "1.31"}``.
        extra: further ``key=value`` options of one format (``--option key=value``).
    """

    sensor: str | None = None
    sensor_lat: float | None = None
    sensor_lon: float | None = None
    sensor_alt_m: float | None = None
    start_time: float | None = None
    edition: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def sensor_position(self) -> tuple[float, float, float] | None:
        """``(lat_deg, lon_deg, alt_m)`` when the position is known, else ``None``."""
        if self.sensor_lat is None or self.sensor_lon is None:
            return None
        return (self.sensor_lat, self.sensor_lon, self.sensor_alt_m or 0.0)


@dataclass
class DecodeStats:
    """Counters of one decoder run or one live sensor connection.

    ``messages`` counts the units the format is made of (packets, frames, lines, records);
    ``decoded`` those that decoded cleanly (whether or not they carried a position);
    ``observations`` and ``statuses`` the records produced; ``rejected_by_reason`` what could not
    be used and why (corrupt, truncated, wrong checksum, implausible value); ``skipped_by_reason``
    what was understood but deliberately not used (a proprietary DJI frame, a surface position,
    a message type without position). ``first_rejects`` keeps the first few rejects with where
    they were (``"packet 17"``, ``"line 5"``, ``"offset 1032"``) for the user to look at.
    """

    messages: int = 0
    decoded: int = 0
    observations: int = 0
    statuses: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    first_rejects: list[tuple[str, str, str]] = field(default_factory=list)
    last_seen_t: float | None = None
    """Time (UNIX s) of the newest record produced."""
    max_kept: int = 20

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    def reject(self, where: str, reason: str, detail: str = "") -> None:
        """Count one unusable message. ``reason`` is a short snake_case word; ``detail`` says more."""
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1
        if len(self.first_rejects) < self.max_kept:
            self.first_rejects.append((where, reason, detail))

    def skip(self, reason: str, n: int = 1) -> None:
        """Count ``n`` messages that were understood but deliberately not used."""
        self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + n

    def produced(self, record: Record) -> None:
        """Count one record handed on (readers call it for each record they yield)."""
        if isinstance(record, SensorStatus):
            self.statuses += 1
        else:
            self.observations += 1
        if self.last_seen_t is None or record.t > self.last_seen_t:
            self.last_seen_t = record.t

    def merge(self, other: DecodeStats) -> None:
        """Add another run's counters to these."""
        self.messages += other.messages
        self.decoded += other.decoded
        self.observations += other.observations
        self.statuses += other.statuses
        for reason, n in other.rejected_by_reason.items():
            self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + n
        for reason, n in other.skipped_by_reason.items():
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + n
        room = self.max_kept - len(self.first_rejects)
        self.first_rejects.extend(other.first_rejects[: max(room, 0)])
        if other.last_seen_t is not None and (self.last_seen_t is None or other.last_seen_t > self.last_seen_t):
            self.last_seen_t = other.last_seen_t

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "decoded": self.decoded,
            "observations": self.observations,
            "statuses": self.statuses,
            "rejected": self.rejected,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "skipped": self.skipped,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "first_rejects": [list(r) for r in self.first_rejects],
            "last_seen_t": self.last_seen_t,
        }


class StreamDecoder(Protocol):
    """Decodes a live byte stream (a TCP connection) or a sequence of datagrams (UDP), incrementally.

    One instance serves one connection or one UDP socket; it keeps partial frames between calls.
    """

    def feed(self, data: bytes, t_rx: float) -> list[Record]:
        """Decode what ``data`` completes; ``t_rx`` is the reception time (UNIX s UTC), used where
        the format carries no absolute time of its own. Bad frames are counted, never raised."""
        ...

    def replies(self) -> bytes:
        """Bytes to send back to the peer (SAPIENT acknowledgements); ``b""`` for most formats."""
        ...


StreamFactory = Callable[["DecodeOptions", "DecodeStats"], StreamDecoder]


def _load(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class FileFormat:
    """One sensor format: its public name, where its reader lives and what it reads."""

    name: str
    reader_path: str
    """``"package.module:function"`` of the file reader, imported on first use."""
    description: str
    stream_path: str | None = None
    """``"package.module:Class"`` of its :class:`StreamDecoder` for live TCP/UDP input, if it has one."""

    def reader(self) -> Reader:
        return _load(self.reader_path)

    def stream_decoder(self, options: DecodeOptions, stats: DecodeStats) -> StreamDecoder:
        """A new live decoder for one connection; :class:`FormatError` when the format has none."""
        if self.stream_path is None:
            raise FormatError(f"format {self.name!r} has no live stream decoder; it is read from files or polled")
        return _load(self.stream_path)(options, stats)


FORMATS: dict[str, FileFormat] = {
    f.name: f
    for f in [
        FileFormat("jsonl", "skywarden.sources.jsonl:read_observation_records", "observation JSON Lines v1 (docs/formats.md)",
                   "skywarden.sources.jsonl:JsonLinesStreamDecoder"),
        FileFormat("remoteid-pcap", "skywarden.sources.remoteid.capture:read_capture",
                   "broadcast Remote ID in a pcap/pcapng capture: Wi-Fi Beacon, Wi-Fi NAN, Bluetooth 4 and 5"),
        FileFormat("dronescout-json", "skywarden.sources.remoteid.dronescout:read_dronescout_json",
                   "DroneScout receiver JSON (base64 ODID_UAS_Data), one object per line or a JSON array"),
        FileFormat("netrid-json", "skywarden.sources.remoteid.netrid:read_netrid_json",
                   "F3411 network Remote ID flights JSON (InterUSS injection or DSS flights response)"),
        FileFormat("mavlink", "skywarden.sources.remoteid.mavlink:read_mavlink",
                   "MAVLink OPEN_DRONE_ID_* messages (a .tlog telemetry log or raw MAVLink v1/v2 stream)"),
        FileFormat("beast", "skywarden.sources.adsb.formats:read_beast", "Mode-S Beast binary (dump1090/readsb port 30005)",
                   "skywarden.sources.adsb.formats:BeastStreamDecoder"),
        FileFormat("avr", "skywarden.sources.adsb.formats:read_avr", "raw hex / AVR lines, *8D...; or @TIMESTAMP...; (port 30002)",
                   "skywarden.sources.adsb.formats:AvrStreamDecoder"),
        FileFormat("sbs1", "skywarden.sources.adsb.formats:read_sbs1", "SBS-1 BaseStation CSV (port 30003)",
                   "skywarden.sources.adsb.formats:Sbs1StreamDecoder"),
        FileFormat("readsb-json", "skywarden.sources.adsb.formats:read_readsb_json", "readsb/dump1090 aircraft.json"),
        FileFormat("modes-csv", "skywarden.sources.adsb.formats:read_modes_csv", "lines of timestamp,hexframe (extra columns ignored)"),
        FileFormat("sapient", "skywarden.sources.sapient.files:read_sapient",
                   "SAPIENT BSI Flex 335 v2.0: length-prefixed protobuf stream, or protobuf-JSON messages",
                   "skywarden.sources.sapient.node:SapientStreamDecoder"),
        FileFormat("asterix", "skywarden.sources.asterix.files:read_asterix",
                   "EUROCONTROL ASTERIX CAT048/062/034: raw data blocks or a pcap of UDP datagrams",
                   "skywarden.sources.asterix.files:AsterixStreamDecoder"),
    ]
}


def get_format(name: str) -> FileFormat:
    """The format called ``name``; a :class:`FormatError` listing the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise FormatError(f"unknown format {name!r}; known formats: {', '.join(FORMATS)}") from None


def decode_stream(fmt: str, stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Decode a recorded ``stream`` in format ``fmt``; counts go to ``stats``."""
    return get_format(fmt).reader()(stream, options, stats)
