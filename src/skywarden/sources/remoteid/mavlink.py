"""Format ``mavlink``: MAVLink OPEN_DRONE_ID_* messages from a telemetry log or a raw stream.

Read: OPEN_DRONE_ID_BASIC_ID (12900), LOCATION (12901), SELF_ID (12903), SYSTEM (12904),
OPERATOR_ID (12905) and MESSAGE_PACK (12915, air-format messages inside); AUTHENTICATION (12902)
is decoded and not used. MAVLink v1 and v2 frames are cut out here and decoded, CRC checked, by
pymavlink (LGPL-3, imported only when this format is used; ``pip install pymavlink``).

Input: a ``.tlog`` (QGroundControl / MAVProxy telemetry log: an 8-byte big-endian UNIX
microsecond time stamp before each message) or a raw MAVLink byte stream (as from a DroneScout
Bridge or a flight controller's serial port), told apart by their first bytes.

Units on MAVLink differ from the air format and are converted: direction cdeg (36100 unknown),
speeds cm/s (25500 / 6300 unknown), lat/lon degE7, altitudes float m (-1000 unknown), area radius
m. UAs are told apart by ``id_or_mac`` (a MAC address when only its first 6 bytes are set, else
its hex; all zero: ``sysid:compid``).

Time: the tlog time stamp. A raw stream has none: the Location's own time stamp (seconds after
the hour) is placed in the hour nearest ``--start-time`` (default: the time of reading), and
messages without one take ``--start-time`` itself.

Counters: messages = MAVLink frames; decoded = frames that pass the CRC; skipped
``not_open_drone_id`` (other MAVLink traffic), ``unknown_mavlink_message`` (a message id the
``common`` dialect does not have), ``no_position``; rejected ``bad_crc``, ``truncated``, ``resync``
(bytes that are not a frame, counted once per run of them), ``bad_time``, ``pack_header``,
``pack_truncated``, ``bad_uas_id``, ``bad_operator_id``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from skywarden.core.records import RemoteIdObservation
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError
from skywarden.sources.remoteid.assembly import HoldQueue, UaAssembler, hold_seconds
from skywarden.sources.remoteid.dronescout import _location, _system
from skywarden.sources.remoteid.messages import (
    BasicId,
    Location,
    Message,
    MessageError,
    OperatorId,
    SelfId,
    decode_uas_id,
    full_time,
    salvage_pack,
)
from skywarden.sources.remoteid.transport import mac_text

__all__ = ["read_mavlink", "frames", "convert"]

_V1, _V2 = 0xFE, 0xFD
_OPEN_DRONE_ID = {12900, 12901, 12902, 12903, 12904, 12905, 12915}
_T_MIN_US, _T_MAX_US = 631_152_000 * 10**6, 7_258_118_400 * 10**6


def _pymavlink() -> Any:
    try:
        from pymavlink.dialects.v20 import common
    except ImportError:
        raise FormatError("reading MAVLink needs pymavlink: pip install pymavlink") from None
    return common


def _frame_len(data: bytes, at: int) -> int | None:
    """Length of the MAVLink frame starting at ``at`` (its magic byte), ``None`` if cut short."""
    if at + 3 > len(data):
        return None
    if data[at] == _V2:
        return 12 + data[at + 1] + (13 if data[at + 2] & 1 else 0)
    return 8 + data[at + 1]


def _msgid(data: bytes, at: int) -> int:
    if data[at] == _V2:
        return data[at + 7] | (data[at + 8] << 8) | (data[at + 9] << 16)
    return data[at + 5]


def is_tlog(data: bytes) -> bool:
    """Whether ``data`` starts like a telemetry log: a plausible UNIX µs stamp, then a MAVLink frame."""
    if len(data) < 9 or data[8] not in (_V1, _V2):
        return False
    return _T_MIN_US <= struct.unpack_from(">Q", data)[0] <= _T_MAX_US


def frames(data: bytes, tlog: bool, stats: DecodeStats) -> Iterator[tuple[float | None, int, bytes]]:
    """``(tlog time or None, byte offset, frame bytes)`` of each MAVLink frame; garbage is counted."""
    at, n = 0, len(data)
    in_garbage = False
    while at < n:
        start = at
        t: float | None = None
        if tlog:
            if at + 9 > n:
                stats.messages += 1
                stats.reject(f"offset {at}", "truncated", "telemetry log ends inside a time stamp")
                return
            us = struct.unpack_from(">Q", data, at)[0]
            at += 8
            if data[at] not in (_V1, _V2) or not _T_MIN_US <= us <= _T_MAX_US:
                if not in_garbage:
                    stats.messages += 1
                    stats.reject(f"offset {start}", "resync", "not a time stamp and a MAVLink frame")
                in_garbage = True
                at = start + 1
                while at + 8 < n and not (data[at + 8] in (_V1, _V2) and _T_MIN_US <= struct.unpack_from(">Q", data, at)[0] <= _T_MAX_US):
                    at += 1
                if at + 8 >= n:
                    return
                continue
            t = us / 1e6
        elif data[at] not in (_V1, _V2):
            if not in_garbage:
                stats.messages += 1
                stats.reject(f"offset {at}", "resync", f"byte {data[at]:#04x} is not a MAVLink start")
            in_garbage = True
            at += 1
            continue
        size = _frame_len(data, at)
        if size is None or at + size > n:
            stats.messages += 1
            stats.reject(f"offset {at}", "truncated", "the input ends inside a MAVLink frame")
            return
        in_garbage = False
        yield t, at, data[at:at + size]
        at += size


def _id_key(id_or_mac: Any, msg: Any) -> str:
    raw = bytes(id_or_mac) if isinstance(id_or_mac, (list, bytes, bytearray)) else b""
    if not any(raw):
        return f"{msg.get_srcSystem()}:{msg.get_srcComponent()}"
    if not any(raw[6:]):
        return mac_text(raw[:6])
    return raw.rstrip(b"\0").hex()


def _chars(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    if isinstance(value, (list, tuple)):
        return bytes(v & 0xFF for v in value)
    return bytes(value or b"")


def _text(value: Any) -> str:
    return _chars(value).split(b"\0", 1)[0].decode("ascii", "replace").strip()


def _scaled(raw: Any, scale: float, unknown: int) -> float | None:
    return None if raw == unknown else raw * scale


def convert(msg: Any) -> tuple[list[Message], str | None]:
    """The Remote ID messages of one decoded pymavlink message, and a reject reason (packs)."""
    kind = msg.get_type()
    if kind == "OPEN_DRONE_ID_LOCATION":
        return [_location(
            msg.status, _scaled(msg.direction, 0.01, 36100), _scaled(msg.speed_horizontal, 0.01, 25500),
            _scaled(msg.speed_vertical, 0.01, 6300), msg.latitude / 1e7, msg.longitude / 1e7, msg.altitude_barometric,
            msg.altitude_geodetic, msg.height_reference, msg.height, msg.horizontal_accuracy, msg.vertical_accuracy,
            msg.barometer_accuracy, msg.speed_accuracy, round(msg.timestamp, 3),  # float32: drop its noise
        )], None
    if kind == "OPEN_DRONE_ID_BASIC_ID":
        return [BasicId(msg.id_type, msg.ua_type, decode_uas_id(msg.id_type, _chars(msg.uas_id).ljust(20, b"\0")[:20]))], None
    if kind == "OPEN_DRONE_ID_SYSTEM":
        return [_system(msg.operator_location_type, msg.classification_type, msg.operator_latitude / 1e7,
                        msg.operator_longitude / 1e7, msg.area_count, msg.area_radius, msg.area_ceiling, msg.area_floor,
                        msg.category_eu, msg.class_eu, msg.operator_altitude_geo)], None
    if kind == "OPEN_DRONE_ID_OPERATOR_ID":
        return [OperatorId(msg.operator_id_type, _text(msg.operator_id))], None
    if kind == "OPEN_DRONE_ID_SELF_ID":
        return [SelfId(msg.description_type, _text(msg.description))], None
    if kind == "OPEN_DRONE_ID_MESSAGE_PACK":
        raw = bytes([0xF2, msg.single_message_size, msg.msg_pack_size]) + _chars(msg.messages)
        try:
            return salvage_pack(raw)
        except MessageError:
            return [], "pack_header"
    return [], None  # AUTHENTICATION: decoded, not used


def read_mavlink(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[RemoteIdObservation]:
    """Observations from the OPEN_DRONE_ID messages of a tlog or raw MAVLink stream (see the module doc).

    Raises:
        FormatError: the input starts neither like a tlog nor like a MAVLink frame, or pymavlink
            is not installed.
    """
    data = stream.read()
    if not data:
        return
    tlog = is_tlog(data)
    if not tlog and data[0] not in (_V1, _V2):
        raise FormatError(f"not MAVLink: starts with {data[:4].hex()}, neither a tlog time stamp nor a MAVLink v1/v2 frame")
    common = _pymavlink()
    mav = common.MAVLink(None)
    mav.robust_parsing = True
    assembler = UaAssembler(options, "mavlink")
    hold = HoldQueue(assembler, hold_seconds(options))
    t_ref = options.start_time if options.start_time is not None else time.time()
    for t, at, frame in frames(data, tlog, stats):
        stats.messages += 1
        where = f"offset {at}"
        if _msgid(frame, 0) not in _OPEN_DRONE_ID:
            if _msgid(frame, 0) not in common.mavlink_map:
                stats.skip("unknown_mavlink_message")
            else:
                stats.skip("not_open_drone_id")
            continue
        try:
            msg = mav.decode(bytearray(frame))
        except common.MAVError as exc:
            stats.reject(where, "bad_crc" if "CRC" in str(exc) else "bad_frame", str(exc)[:200])
            continue
        except (struct.error, ValueError, IndexError) as exc:
            stats.reject(where, "bad_frame", repr(exc)[:200])
            continue
        messages, problem = convert(msg)
        key = _id_key(getattr(msg, "id_or_mac", None), msg)
        if t is None:
            loc = next((m for m in messages if isinstance(m, Location)), None)
            t = full_time(loc.timestamp_s, t_ref) if loc is not None and loc.timestamp_s is not None else t_ref
        observations = assembler.feed_counted(key, t, messages, "mavlink", stats, where, problem)
        for obs in hold.push(key, t, observations) if observations else hold.tick(key, t):
            stats.produced(obs)
            yield obs
    for obs in hold.flush():
        stats.produced(obs)
        yield obs
