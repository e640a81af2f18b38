"""``skywarden decode``: turn a recorded sensor file into observation JSON Lines v1."""

from __future__ import annotations

import datetime as dt
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import msgspec

from skywarden.core.records import SensorStatus
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, decode_stream

__all__ = ["parse_options", "run_decode", "format_stats", "open_input"]


class OptionError(ValueError):
    """A decode option the user gave cannot be understood; the message says which and why."""


def parse_time(text: str) -> float:
    """``--start-time``: UNIX seconds, an ISO 8601 time (UTC unless it says otherwise) or a date.

    >>> parse_time("2024-05-01")
    1714521600.0
    >>> parse_time("1714521600.5")
    1714521600.5
    """
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise OptionError(f"--start-time {text!r}: expected UNIX seconds, a date (2024-05-01) or an ISO time (2024-05-01T12:00:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def parse_options(
    sensor: str | None = None,
    sensor_position: str | None = None,
    start_time: str | None = None,
    edition: list[str] | None = None,
    option: list[str] | None = None,
) -> DecodeOptions:
    """Build :class:`DecodeOptions` from the command-line strings.

    >>> parse_options(sensor_position="45.5,16.0,120", edition=["48=1.31"]).sensor_position
    (45.5, 16.0, 120.0)
    """
    lat = lon = alt = None
    if sensor_position:
        parts = sensor_position.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) not in (2, 3) or not (-90 <= values[0] <= 90 and -180 <= values[1] <= 180):
            raise OptionError(f"--sensor-position {sensor_position!r}: expected LAT,LON[,ALT_M] in WGS84 degrees and metres")
        lat, lon = values[0], values[1]
        alt = values[2] if len(values) == 3 else 0.0

    def pairs(items: list[str] | None, flag: str) -> dict[str, str]:
        out = {}
        for item in items or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise OptionError(f"{flag} {item!r}: expected KEY=VALUE")
            out[key.strip()] = value.strip()
        return out

    return DecodeOptions(
        sensor=sensor,
        sensor_lat=lat,
        sensor_lon=lon,
        sensor_alt_m=alt,
        start_time=parse_time(start_time) if start_time else None,
        edition=pairs(edition, "--edition"),
        extra=pairs(option, "--option"),
    )


def open_input(path: str | Path) -> IO[bytes]:
    """Open a recorded file (``-`` is standard input)."""
    if str(path) == "-":
        return sys.stdin.buffer
    return open(path, "rb")  # noqa: SIM115 - the caller owns the handle


def run_decode(
    fmt: str,
    path: str | Path,
    out: IO[bytes],
    options: DecodeOptions,
    status_out: IO[bytes] | None = None,
) -> tuple[DecodeStats, float]:
    """Decode ``path`` in format ``fmt``; observations go to ``out`` as JSON Lines v1.

    Sensor status records go to ``status_out`` when given. Returns the counters and the wall time.

    Raises:
        FormatError: the file is not in that format at all.
    """
    stats = DecodeStats()
    encoder = msgspec.json.Encoder()
    started = time.perf_counter()
    with ExitStack() as stack:
        stream = stack.enter_context(open_input(path))
        buffer = bytearray()
        for record in decode_stream(fmt, stream, options, stats):
            if isinstance(record, SensorStatus):
                if status_out is not None:
                    status_out.write(encoder.encode(record) + b"\n")
                continue
            encoder.encode_into(record, buffer, -1)
            buffer += b"\n"
            if len(buffer) > 1 << 16:
                out.write(buffer)
                buffer.clear()
        out.write(buffer)
    return stats, time.perf_counter() - started


def format_stats(stats: DecodeStats, wall_s: float | None = None) -> str:
    """A few human lines summarising a decode run."""
    lines = [
        f"messages:      {stats.messages}",
        f"  decoded:     {stats.decoded}",
        f"  rejected:    {stats.rejected}"
        + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(stats.rejected_by_reason.items())) + ")" if stats.rejected else ""),
        f"  skipped:     {stats.skipped}"
        + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(stats.skipped_by_reason.items())) + ")" if stats.skipped else ""),
    ]
    for where, reason, detail in stats.first_rejects[:5]:
        lines.append(f"    {where}: {reason}" + (f": {detail}" if detail else ""))
    lines.append(f"observations:  {stats.observations}")
    if stats.statuses:
        lines.append(f"sensor status: {stats.statuses}")
    if wall_s is not None:
        lines.append(f"wall time:     {wall_s:.2f} s")
    return "\n".join(lines)


__all__ += ["FormatError", "OptionError", "parse_time"]
