"""Broadcast Remote ID messages (ASTM F3411-19/-22a, ASD-STAN EN 4709-002): decode and encode.

Every message is 25 bytes. Byte 0 holds the message type (high nibble) and the protocol version
(low nibble: 0 F3411-19, 1 EN 4709-002 / F3411 v1.1, 2 F3411-22a). Every version is decoded the
same way and a newer version is never rejected: fields added later sit in bytes older versions
reserved. Multi-byte fields are little-endian.

Each field has a small pure decode function and its inverse (``decode_speed``/``encode_speed``,
...). The decoded structs carry SI units (m, m/s, degrees, seconds) and ``None`` for the
"unknown" sentinels; enumerations stay the integers of the air format, with name tables
(:data:`STATUS_NAMES`, ...) for the observation strings.

Errors: :func:`decode_message` raises :class:`MessageError` (a ``ValueError``) in two cases only:
fewer than 25 bytes, or a Message Pack (type 0xF) whose size byte is not 25, whose count is over 9
or larger than the bytes present, or that nests another pack. Any other 25 bytes decode to some
message; a type it does not know (6-14) becomes :class:`UnknownMessage`.

Example:
    >>> loc = Location(status=2, direction_deg=90.0, speed_mps=5.0, vspeed_mps=0.5, lat=47.1987, lon=8.7302,
    ...                alt_baro_m=None, alt_geo_m=520.5, height_m=10.0)
    >>> raw = encode_message(loc)
    >>> len(raw), raw[0] >> 4
    (25, 1)
    >>> back = decode_message(raw)
    >>> back.lat, back.speed_mps, back.alt_geo_m, back.alt_baro_m
    (47.1987, 5.0, 520.5, None)
"""

from __future__ import annotations

import struct
import uuid
from typing import Union

import msgspec

__all__ = [
    "MESSAGE_SIZE",
    "TYPE_PACK",
    "MessageError",
    "BasicId",
    "Location",
    "AuthPage",
    "SelfId",
    "System",
    "OperatorId",
    "MessagePack",
    "UnknownMessage",
    "Message",
    "decode_message",
    "decode_messages",
    "decode_locations",
    "decode_location",
    "encode_location",
    "decode_pack_payload",
    "salvage_pack",
    "encode_message",
    "encode_pack",
    "ID_TYPE_NAMES",
    "UA_TYPE_NAMES",
    "STATUS_NAMES",
    "HEIGHT_REF_NAMES",
    "name_of",
    "h_accuracy_m",
    "v_accuracy_m",
    "speed_accuracy_mps",
    "full_time",
    "SYSTEM_EPOCH",
]

MESSAGE_SIZE = 25
MAX_PACK = 9
#: Authentication and System timestamps count seconds from 2019-01-01 00:00 UTC.
SYSTEM_EPOCH = 1_546_300_800

TYPE_BASIC_ID = 0
TYPE_LOCATION = 1
TYPE_AUTH = 2
TYPE_SELF_ID = 3
TYPE_SYSTEM = 4
TYPE_OPERATOR_ID = 5
TYPE_PACK = 0xF

ID_TYPE_NAMES = ("none", "serial_number", "caa_registration", "utm_assigned_uuid", "specific_session_id")
UA_TYPE_NAMES = (
    "none", "aeroplane", "helicopter_or_multirotor", "gyroplane", "hybrid_lift", "ornithopter", "glider", "kite",
    "free_balloon", "captive_balloon", "airship", "free_fall_or_parachute", "rocket", "tethered_powered_aircraft",
    "ground_obstacle", "other",
)
STATUS_NAMES = ("undeclared", "ground", "airborne", "emergency", "remote_id_system_failure")
HEIGHT_REF_NAMES = ("takeoff", "ground")
OPERATOR_LOCATION_NAMES = ("takeoff", "live_gnss", "fixed")


class MessageError(ValueError):
    """Bytes that cannot be a Remote ID message or Message Pack (wrong length, broken pack)."""


def name_of(table: tuple[str, ...], code: int | None) -> str | None:
    """The name of enumeration value ``code`` in ``table``; ``None`` for reserved or absent codes."""
    if code is None or not 0 <= code < len(table):
        return None
    return table[code]


# --- message structs -------------------------------------------------------------------------

class BasicId(msgspec.Struct, frozen=True, gc=False):
    """Basic ID (type 0). ``uas_id`` is text for ID types 0-2, the canonical UUID string for
    type 3 (UTM-assigned UUID, 16 binary bytes) and lowercase hex for type 4 (specific session ID,
    the first byte being the session-ID scheme; trailing zero bytes are padding)."""

    id_type: int
    ua_type: int
    uas_id: str
    version: int = 2


class Location(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Location/Vector (type 1). ``None`` marks a field the UA declared unknown.

    Attributes:
        status: operational status code (:data:`STATUS_NAMES`).
        direction_deg: track over ground, degrees clockwise from true north.
        speed_mps: ground speed, m/s. vspeed_mps: vertical speed, m/s, up positive.
        lat, lon: WGS84 degrees; both ``None`` when the UA sent 0/0 or an impossible value.
        alt_baro_m: pressure altitude (standard atmosphere 1013.25 hPa), metres.
        alt_geo_m: geodetic altitude, metres above the WGS84 ellipsoid.
        height_m: height above take-off (``height_type`` 0) or ground (1), metres.
        h_acc, v_acc, baro_acc, speed_acc: accuracy enum codes (see :func:`h_accuracy_m`).
        timestamp_s: seconds since the start of the current UTC hour (0.1 s resolution).
        ts_acc_s: timestamp accuracy, seconds.
    """

    status: int = 0
    direction_deg: float | None = None
    speed_mps: float | None = None
    vspeed_mps: float | None = None
    lat: float | None = None
    lon: float | None = None
    alt_baro_m: float | None = None
    alt_geo_m: float | None = None
    height_m: float | None = None
    height_type: int = 0
    h_acc: int = 0
    v_acc: int = 0
    baro_acc: int = 0
    speed_acc: int = 0
    timestamp_s: float | None = None
    ts_acc_s: float | None = None
    version: int = 2


class AuthPage(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One page of an Authentication message (type 2).

    Page 0 carries ``last_page``, ``length`` (bytes of authentication data over all pages) and
    ``timestamp`` (UNIX s, from seconds since 2019-01-01) and 17 data bytes; pages 1-15 carry
    23 data bytes and leave those three fields ``None``.
    """

    auth_type: int
    page: int
    data: bytes
    last_page: int | None = None
    length: int | None = None
    timestamp: float | None = None
    version: int = 2


class SelfId(msgspec.Struct, frozen=True, gc=False):
    """Self-ID (type 3): description type (0 text, 1 emergency, 2 extended status) and text."""

    desc_type: int
    text: str
    version: int = 2


class System(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """System (type 4): operator position and operating area.

    Attributes:
        operator_location_type: 0 take-off, 1 live GNSS, 2 fixed.
        classification_type: 0 undeclared, 1 EU.
        operator_lat, operator_lon: WGS84 degrees, ``None`` when unknown (0/0).
        area_count: number of aircraft in the area; area_radius_m: metres.
        area_ceiling_m, area_floor_m, operator_alt_m: metres above the WGS84 ellipsoid.
        category_eu, class_eu: EU category (0-3) and class (0 undeclared, 1-7 = C0-C6).
        timestamp: UNIX seconds (sent as seconds since 2019-01-01), ``None`` when 0.
    """

    operator_location_type: int = 0
    classification_type: int = 0
    operator_lat: float | None = None
    operator_lon: float | None = None
    area_count: int = 1
    area_radius_m: float = 0.0
    area_ceiling_m: float | None = None
    area_floor_m: float | None = None
    category_eu: int = 0
    class_eu: int = 0
    operator_alt_m: float | None = None
    timestamp: float | None = None
    version: int = 2


class OperatorId(msgspec.Struct, frozen=True, gc=False):
    """Operator ID (type 5): id type (0 = operator ID) and the registration number."""

    id_type: int
    operator_id: str
    version: int = 2


class MessagePack(msgspec.Struct, frozen=True, gc=False):
    """Message Pack (type 0xF): up to 9 messages."""

    messages: tuple
    version: int = 2


class UnknownMessage(msgspec.Struct, frozen=True, gc=False):
    """A message of a type this decoder does not know (6-14): kept, not rejected."""

    msg_type: int
    raw: bytes
    version: int = 2


Message = Union[BasicId, Location, AuthPage, SelfId, System, OperatorId, MessagePack, UnknownMessage]


# --- field codecs ------------------------------------------------------------------------------

def decode_direction(raw: int, ew: int) -> float | None:
    """Track direction, degrees clockwise from true north: ``raw`` plus 180 when the E/W bit is set.

    361 (sent as 181 with the bit set) means unknown; anything above 360 is treated so too.
    """
    deg = raw + 180 if ew else raw
    return None if deg > 360 else float(deg)


def encode_direction(deg: float | None) -> tuple[int, int]:
    """``(raw byte, E/W bit)`` for a direction in degrees (``None`` -> unknown, 361)."""
    if deg is None:
        return 181, 1
    d = int(round(deg))
    if not 0 <= d <= 360:
        d %= 360
    return (d - 180, 1) if d >= 180 else (d, 0)


def decode_speed(raw: int, mult: int) -> float | None:
    """Ground speed, m/s: ``raw * 0.25`` (multiplier bit 0) or ``raw * 0.75 + 63.75`` (bit 1).

    255 with the multiplier set (255 m/s) means unknown.
    """
    if mult:
        return None if raw == 255 else raw * 0.75 + 63.75
    return raw * 0.25


def encode_speed(mps: float | None) -> tuple[int, int]:
    """``(raw byte, multiplier bit)`` for a ground speed in m/s, clamped to 0-254.25."""
    if mps is None:
        return 255, 1
    if mps <= 63.75:
        return max(0, int(round(mps / 0.25))), 0
    return min(254, int(round((mps - 63.75) / 0.75))), 1


def decode_vspeed(raw: int) -> float | None:
    """Vertical speed, m/s, up positive: signed ``raw * 0.5``; 63 m/s (raw 126) means unknown, and
    values beyond the format's +-62 m/s are treated so too."""
    return None if not -124 <= raw <= 124 else raw * 0.5


def encode_vspeed(mps: float | None) -> int:
    """Signed raw byte for a vertical speed in m/s, clamped to +-62 m/s."""
    if mps is None:
        return 126
    return max(-124, min(124, int(round(mps / 0.5))))


def decode_latlon(raw_lat: int, raw_lon: int) -> tuple[float | None, float | None]:
    """WGS84 degrees from int32 units of 1e-7 degree; ``(None, None)`` for 0/0 or an impossible value."""
    if raw_lat == 0 and raw_lon == 0:
        return None, None
    lat = raw_lat / 1e7  # division, not * 1e-7: gives the nearest double to the decimal value
    lon = raw_lon / 1e7
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, None
    return lat, lon


def encode_latlon(lat: float | None, lon: float | None) -> tuple[int, int]:
    """int32 units of 1e-7 degree; ``None`` -> 0/0 (unknown)."""
    if lat is None or lon is None:
        return 0, 0
    return int(round(lat * 1e7)), int(round(lon * 1e7))


def decode_altitude(raw: int) -> float | None:
    """Altitude or height, metres: ``raw * 0.5 - 1000``; -1000 m (raw 0) means unknown."""
    return None if raw == 0 else raw * 0.5 - 1000.0


def encode_altitude(m: float | None) -> int:
    """uint16 for an altitude in metres (``None`` -> unknown), clamped to -999.5-31767.5 m."""
    if m is None:
        return 0
    return max(1, min(0xFFFF, int(round((m + 1000.0) * 2))))


def decode_timestamp(raw: int) -> float | None:
    """Seconds since the start of the UTC hour from tenths; 0xFFFF (and > 3600 s) means unknown."""
    return None if raw > 36000 else raw / 10


def encode_timestamp(s: float | None) -> int:
    """Tenths of a second since the hour (``None`` -> 0xFFFF)."""
    if s is None:
        return 0xFFFF
    return max(0, min(36000, int(round(s * 10))))


def decode_ts_accuracy(raw: int) -> float | None:
    """Timestamp accuracy, seconds: low nibble times 0.1 s; 0 means unknown."""
    return None if raw == 0 else raw / 10


def decode_text(raw: bytes) -> str:
    """An ASCII field with NUL or space padding. Bytes outside printable ASCII are kept as
    U+FFFD so that a corrupted field stays visibly corrupted (see :func:`is_clean_text`)."""
    text = raw.split(b"\0", 1)[0].decode("ascii", "replace")
    return text.strip()


def is_clean_text(text: str) -> bool:
    """Whether ``text`` is non-empty printable ASCII (a plausible ID)."""
    return bool(text) and text.isascii() and text.isprintable()


def encode_text(text: str, size: int) -> bytes:
    """``text`` as ASCII (others -> '?'), cut or NUL-padded to ``size`` bytes."""
    return text.encode("ascii", "replace")[:size].ljust(size, b"\0")


def decode_uas_id(id_type: int, raw: bytes) -> str:
    """The UAS ID as text: ASCII for types 0-2, UUID for 3, hex for 4 (see :class:`BasicId`)."""
    if id_type == 3 and any(raw[:16]) and not any(raw[16:]) and not _looks_ascii(raw):
        return str(uuid.UUID(bytes=bytes(raw[:16])))
    if id_type == 4 and not _looks_ascii(raw):
        return bytes(raw).rstrip(b"\0").hex()
    return decode_text(raw)


def _looks_ascii(raw: bytes) -> bool:
    text = raw.rstrip(b"\0")
    return bool(text) and all(32 <= b < 127 for b in text)


def encode_uas_id(id_type: int, uas_id: str) -> bytes:
    """20 bytes for a UAS ID (inverse of :func:`decode_uas_id`)."""
    if id_type == 3:
        try:
            return uuid.UUID(uas_id).bytes.ljust(20, b"\0")
        except ValueError:
            pass
    if id_type == 4:
        try:
            raw = bytes.fromhex(uas_id)
            if len(raw) <= 20 and not _looks_ascii(raw):
                return raw.ljust(20, b"\0")
        except ValueError:
            pass
    return encode_text(uas_id, 20)


# Accuracy enum -> metres (or m/s). The table gives the upper bound of each class (the 95 %
# bounds of the standard); skywarden reports the bound itself as the accuracy, a conservative
# choice. Code 0 ("unknown or worse than the largest class") and reserved codes give None.
_NM = 1852.0
_H_ACC = (None, 10 * _NM, 4 * _NM, 2 * _NM, 1 * _NM, 0.5 * _NM, 0.3 * _NM, 0.1 * _NM, 0.05 * _NM, 30.0, 10.0, 3.0, 1.0)
_V_ACC = (None, 150.0, 45.0, 25.0, 10.0, 3.0, 1.0)
_S_ACC = (None, 10.0, 3.0, 1.0, 0.3)


def h_accuracy_m(code: int) -> float | None:
    """Horizontal accuracy bound, metres: 1 < 10 NM ... 9 < 30 m, 10 < 10 m, 11 < 3 m, 12 < 1 m."""
    return _H_ACC[code] if 0 <= code < len(_H_ACC) else None


def v_accuracy_m(code: int) -> float | None:
    """Vertical (geodetic or barometric) accuracy bound, metres: 1 < 150 m ... 6 < 1 m."""
    return _V_ACC[code] if 0 <= code < len(_V_ACC) else None


def speed_accuracy_mps(code: int) -> float | None:
    """Speed accuracy bound, m/s: 1 < 10, 2 < 3, 3 < 1, 4 < 0.3."""
    return _S_ACC[code] if 0 <= code < len(_S_ACC) else None


def full_time(seconds_after_hour: float, t_ref: float) -> float:
    """UNIX time of a "seconds since the hour" stamp, taking the hour that puts it nearest ``t_ref``.

    >>> full_time(3599.5, 1_700_000_000.0 - 1_700_000_000.0 % 3600 + 1.0)  # just after the hour
    1699999199.5
    """
    hour = t_ref - t_ref % 3600
    t = hour + seconds_after_hour
    if t - t_ref > 1800:
        t -= 3600
    elif t_ref - t > 1800:
        t += 3600
    return t


def _system_time(raw: int) -> float | None:
    return None if raw == 0 else float(SYSTEM_EPOCH + raw)


def _encode_system_time(t: float | None) -> int:
    if t is None:
        return 0
    return max(0, min(0xFFFFFFFF, int(round(t - SYSTEM_EPOCH))))


# --- decoders per message type -----------------------------------------------------------------

_LOCATION = struct.Struct("<BBBBbiiHHHBBHBx")
_SYSTEM = struct.Struct("<BBiiHBHHBHIx")
_AUTH0 = struct.Struct("<BBBBI")


def decode_location(data: bytes, offset: int = 0) -> Location:
    """Decode a Location/Vector message of 25 bytes at ``offset``."""
    head, flags, direction, speed, vspeed, lat, lon, baro, geo, height, acc1, acc2, ts, tsacc = _LOCATION.unpack_from(data, offset)
    la, lo = decode_latlon(lat, lon)
    return Location(
        status=flags >> 4,
        direction_deg=decode_direction(direction, flags & 2),
        speed_mps=decode_speed(speed, flags & 1),
        vspeed_mps=decode_vspeed(vspeed),
        lat=la,
        lon=lo,
        alt_baro_m=decode_altitude(baro),
        alt_geo_m=decode_altitude(geo),
        height_m=decode_altitude(height),
        height_type=(flags >> 2) & 1,
        h_acc=acc1 & 0xF,
        v_acc=acc1 >> 4,
        baro_acc=acc2 >> 4,
        speed_acc=acc2 & 0xF,
        timestamp_s=decode_timestamp(ts),
        ts_acc_s=decode_ts_accuracy(tsacc & 0xF),
        version=head & 0xF,
    )


def decode_basic_id(data: bytes, offset: int = 0) -> BasicId:
    """Decode a Basic ID message of 25 bytes at ``offset``."""
    b1 = data[offset + 1]
    id_type = b1 >> 4
    return BasicId(id_type, b1 & 0xF, decode_uas_id(id_type, data[offset + 2:offset + 22]), data[offset] & 0xF)


def decode_auth(data: bytes, offset: int = 0) -> AuthPage:
    """Decode one Authentication page of 25 bytes at ``offset``."""
    head, b1 = data[offset], data[offset + 1]
    page = b1 & 0xF
    if page == 0:
        _, _, last, length, ts = _AUTH0.unpack_from(data, offset)
        return AuthPage(auth_type=b1 >> 4, page=0, data=bytes(data[offset + 8:offset + 25]), last_page=last,
                        length=length, timestamp=_system_time(ts), version=head & 0xF)
    return AuthPage(auth_type=b1 >> 4, page=page, data=bytes(data[offset + 2:offset + 25]), version=head & 0xF)


def decode_self_id(data: bytes, offset: int = 0) -> SelfId:
    """Decode a Self-ID message of 25 bytes at ``offset``."""
    return SelfId(data[offset + 1], decode_text(data[offset + 2:offset + 25]), data[offset] & 0xF)


def decode_system(data: bytes, offset: int = 0) -> System:
    """Decode a System message of 25 bytes at ``offset``."""
    head, b1, lat, lon, count, radius, ceiling, floor, cat, alt, ts = _SYSTEM.unpack_from(data, offset)
    la, lo = decode_latlon(lat, lon)
    return System(
        operator_location_type=b1 & 3,
        classification_type=(b1 >> 2) & 7,
        operator_lat=la,
        operator_lon=lo,
        area_count=count,
        area_radius_m=radius * 10.0,
        area_ceiling_m=decode_altitude(ceiling),
        area_floor_m=decode_altitude(floor),
        category_eu=cat >> 4,
        class_eu=cat & 0xF,
        operator_alt_m=decode_altitude(alt),
        timestamp=_system_time(ts),
        version=head & 0xF,
    )


def decode_operator_id(data: bytes, offset: int = 0) -> OperatorId:
    """Decode an Operator ID message of 25 bytes at ``offset``."""
    return OperatorId(data[offset + 1], decode_text(data[offset + 2:offset + 22]), data[offset] & 0xF)


_DECODERS = {
    TYPE_BASIC_ID: decode_basic_id,
    TYPE_LOCATION: decode_location,
    TYPE_AUTH: decode_auth,
    TYPE_SELF_ID: decode_self_id,
    TYPE_SYSTEM: decode_system,
    TYPE_OPERATOR_ID: decode_operator_id,
}


def decode_message(data: bytes, offset: int = 0) -> Message:
    """Decode the message at ``offset``: 25 bytes, or a whole Message Pack (3 + 25 N bytes).

    Bytes after the message are ignored.

    Raises:
        MessageError: fewer than 25 bytes from ``offset``, or a broken Message Pack.
    """
    if len(data) - offset < 1:
        raise MessageError("no message")
    head = data[offset]
    if head >> 4 == TYPE_PACK:
        return MessagePack(tuple(decode_pack_payload(data, offset)), head & 0xF)
    if len(data) - offset < MESSAGE_SIZE:
        raise MessageError(f"a Remote ID message is 25 bytes, got {len(data) - offset}")
    decoder = _DECODERS.get(head >> 4)
    if decoder is not None:
        return decoder(data, offset)
    return UnknownMessage(head >> 4, bytes(data[offset:offset + MESSAGE_SIZE]), head & 0xF)


def decode_pack_payload(data: bytes, offset: int = 0) -> list[Message]:
    """The messages of the Message Pack starting at ``offset`` (its type byte).

    Raises:
        MessageError: size byte not 25, more than 9 messages, fewer bytes than the count says,
            or a pack inside the pack.
    """
    if len(data) - offset < 3:
        raise MessageError("Message Pack header truncated")
    size, count = data[offset + 1], data[offset + 2]
    if size != MESSAGE_SIZE:
        raise MessageError(f"Message Pack message size {size}, not 25")
    if count > MAX_PACK:
        raise MessageError(f"Message Pack of {count} messages (at most 9)")
    start = offset + 3
    if len(data) < start + count * MESSAGE_SIZE:
        raise MessageError(f"Message Pack of {count} messages truncated to {len(data) - start} bytes")
    out = []
    for i in range(count):
        at = start + i * MESSAGE_SIZE
        if data[at] >> 4 == TYPE_PACK:
            raise MessageError("Message Pack inside a Message Pack")
        out.append(decode_message(data, at))
    return out


def salvage_pack(data: bytes, offset: int = 0) -> tuple[list[Message], str | None]:
    """The whole messages of a possibly damaged Message Pack, and what was wrong with it.

    A pack whose size byte is not 25, or whose count is over 9, gives no messages (its header
    cannot be trusted); a pack cut short gives the whole messages before the cut. Returns
    ``(messages, None)`` for a sound pack, else ``(messages, reason)`` with reason
    ``pack_header``, ``pack_truncated`` or ``pack_nested``.
    """
    if len(data) - offset < 3 or data[offset + 1] != MESSAGE_SIZE or data[offset + 2] > MAX_PACK:
        return [], "pack_header"
    count = data[offset + 2]
    whole = min(count, (len(data) - offset - 3) // MESSAGE_SIZE)
    out: list[Message] = []
    for i in range(whole):
        at = offset + 3 + i * MESSAGE_SIZE
        if data[at] >> 4 == TYPE_PACK:
            return out, "pack_nested"
        out.append(decode_message(data, at))
    return out, None if whole == count else "pack_truncated"


def decode_messages(data: bytes, offset: int = 0) -> list[Message]:
    """The messages at ``offset``: one message, or the contents of a Message Pack (flattened).

    Raises:
        MessageError: as :func:`decode_message`.
    """
    if len(data) - offset >= 1 and data[offset] >> 4 == TYPE_PACK:
        return decode_pack_payload(data, offset)
    return [decode_message(data, offset)]


# --- encoders ------------------------------------------------------------------------------------

def _head(msg_type: int, version: int) -> int:
    return (msg_type << 4) | (version & 0xF)


def encode_location(m: Location) -> bytes:
    """25 bytes of a Location/Vector message (values quantised to the air format's steps)."""
    direction, ew = encode_direction(m.direction_deg)
    speed, mult = encode_speed(m.speed_mps)
    lat, lon = encode_latlon(m.lat, m.lon)
    flags = ((m.status & 0xF) << 4) | ((m.height_type & 1) << 2) | (ew << 1) | mult
    return _LOCATION.pack(
        _head(TYPE_LOCATION, m.version), flags, direction, speed, encode_vspeed(m.vspeed_mps), lat, lon,
        encode_altitude(m.alt_baro_m), encode_altitude(m.alt_geo_m), encode_altitude(m.height_m),
        ((m.v_acc & 0xF) << 4) | (m.h_acc & 0xF), ((m.baro_acc & 0xF) << 4) | (m.speed_acc & 0xF),
        encode_timestamp(m.timestamp_s), 0 if m.ts_acc_s is None else max(0, min(15, int(round(m.ts_acc_s * 10)))),
    )


def encode_basic_id(m: BasicId) -> bytes:
    """25 bytes of a Basic ID message."""
    return bytes([_head(TYPE_BASIC_ID, m.version), ((m.id_type & 0xF) << 4) | (m.ua_type & 0xF)]) + \
        encode_uas_id(m.id_type, m.uas_id) + b"\0\0\0"


def encode_auth(m: AuthPage) -> bytes:
    """25 bytes of one Authentication page."""
    b1 = ((m.auth_type & 0xF) << 4) | (m.page & 0xF)
    if m.page == 0:
        head = _AUTH0.pack(_head(TYPE_AUTH, m.version), b1, (m.last_page or 0) & 0xFF, (m.length or 0) & 0xFF,
                           _encode_system_time(m.timestamp))
        return head + bytes(m.data[:17]).ljust(17, b"\0")
    return bytes([_head(TYPE_AUTH, m.version), b1]) + bytes(m.data[:23]).ljust(23, b"\0")


def encode_self_id(m: SelfId) -> bytes:
    """25 bytes of a Self-ID message."""
    return bytes([_head(TYPE_SELF_ID, m.version), m.desc_type & 0xFF]) + encode_text(m.text, 23)


def encode_system(m: System) -> bytes:
    """25 bytes of a System message."""
    lat, lon = encode_latlon(m.operator_lat, m.operator_lon)
    return _SYSTEM.pack(
        _head(TYPE_SYSTEM, m.version), ((m.classification_type & 7) << 2) | (m.operator_location_type & 3), lat, lon,
        max(0, min(0xFFFF, m.area_count)), max(0, min(255, int(round(m.area_radius_m / 10)))),
        encode_altitude(m.area_ceiling_m), encode_altitude(m.area_floor_m),
        ((m.category_eu & 0xF) << 4) | (m.class_eu & 0xF), encode_altitude(m.operator_alt_m),
        _encode_system_time(m.timestamp),
    )


def encode_operator_id(m: OperatorId) -> bytes:
    """25 bytes of an Operator ID message."""
    return bytes([_head(TYPE_OPERATOR_ID, m.version), m.id_type & 0xFF]) + encode_text(m.operator_id, 20) + b"\0\0\0"


def encode_pack(messages: list[Message] | tuple, version: int = 2) -> bytes:
    """A Message Pack of up to 9 messages (3 + 25 N bytes)."""
    if len(messages) > MAX_PACK:
        raise MessageError(f"a Message Pack holds at most 9 messages, not {len(messages)}")
    return bytes([_head(TYPE_PACK, version), MESSAGE_SIZE, len(messages)]) + b"".join(encode_message(m) for m in messages)


def encode_message(m: Message) -> bytes:
    """The bytes of any message (25, or 3 + 25 N for a :class:`MessagePack`)."""
    if isinstance(m, Location):
        return encode_location(m)
    if isinstance(m, BasicId):
        return encode_basic_id(m)
    if isinstance(m, System):
        return encode_system(m)
    if isinstance(m, OperatorId):
        return encode_operator_id(m)
    if isinstance(m, SelfId):
        return encode_self_id(m)
    if isinstance(m, AuthPage):
        return encode_auth(m)
    if isinstance(m, MessagePack):
        return encode_pack(m.messages, m.version)
    if isinstance(m, UnknownMessage):
        return bytes([_head(m.msg_type, m.version)]) + bytes(m.raw[1:25]).ljust(24, b"\0")
    raise TypeError(f"not a Remote ID message: {type(m).__name__}")


# --- batched Location decoding ---------------------------------------------------------------------

def _location_dtype():
    import numpy as np

    return np.dtype([
        ("head", "u1"), ("flags", "u1"), ("direction", "u1"), ("speed", "u1"), ("vspeed", "i1"), ("lat", "<i4"), ("lon", "<i4"),
        ("baro", "<u2"), ("geo", "<u2"), ("height", "<u2"), ("acc1", "u1"), ("acc2", "u1"), ("ts", "<u2"), ("tsacc", "u1"),
        ("reserved", "u1"),
    ])


def decode_locations(buf: bytes) -> dict:
    """Decode many Location messages at once: ``buf`` holds N back-to-back 25-byte messages.

    Returns a dict of numpy arrays of length N with the :class:`Location` field names (floats with
    NaN for unknown, ints for enums), plus ``msg_type`` so callers can mask out other types.
    About 70 times the per-message rate (29 M vs 0.4 M messages/s, bench/decode_remoteid.py),
    for receivers that batch.
    """
    import numpy as np

    if len(buf) % MESSAGE_SIZE:
        raise MessageError(f"{len(buf)} bytes is not a whole number of 25-byte messages")
    a = np.frombuffer(buf, dtype=_location_dtype())
    flags = a["flags"]
    nan = np.nan
    direction = a["direction"].astype(np.float64) + np.where(flags & 2, 180.0, 0.0)
    mult = (flags & 1).astype(bool)
    speed_raw = a["speed"].astype(np.float64)
    speed = np.where(mult, speed_raw * 0.75 + 63.75, speed_raw * 0.25)
    vs = a["vspeed"].astype(np.float64)
    lat_raw, lon_raw = a["lat"], a["lon"]
    lat, lon = lat_raw / 1e7, lon_raw / 1e7
    no_pos = ((lat_raw == 0) & (lon_raw == 0)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)

    def alt(raw):
        return np.where(raw == 0, nan, raw * 0.5 - 1000.0)

    ts = a["ts"]
    tsacc = (a["tsacc"] & 0xF).astype(np.float64)
    return {
        "msg_type": a["head"] >> 4,
        "version": a["head"] & 0xF,
        "status": flags >> 4,
        "direction_deg": np.where(direction > 360, nan, direction),
        "speed_mps": np.where(mult & (a["speed"] == 255), nan, speed),
        "vspeed_mps": np.where(np.abs(vs) > 124, nan, vs * 0.5),
        "lat": np.where(no_pos, nan, lat),
        "lon": np.where(no_pos, nan, lon),
        "alt_baro_m": alt(a["baro"]),
        "alt_geo_m": alt(a["geo"]),
        "height_m": alt(a["height"]),
        "height_type": (flags >> 2) & 1,
        "h_acc": a["acc1"] & 0xF,
        "v_acc": a["acc1"] >> 4,
        "baro_acc": a["acc2"] >> 4,
        "speed_acc": a["acc2"] & 0xF,
        "timestamp_s": np.where(ts > 36000, nan, ts / 10),
        "ts_acc_s": np.where(tsacc == 0, nan, tsacc / 10),
    }
