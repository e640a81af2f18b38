"""Format ``dronescout-json``: BlueMark DroneScout receiver JSON.

A DroneScout receiver publishes (MQTT) one JSON envelope per received UA state::

    {"protocol": 1.0, "data": {"sensor ID": ..., "RSSI": dBm, "channel": ..., "timestamp": ms,
     "MAC address": "AA:BB:..", "type": "WiFi beacon" | "WiFi NaN" | "BLE legacy" | "BLE long range",
     "UASdata": <base64>}}

``UASdata`` is a little-endian dump of opendroneid-core-c's ``ODID_UAS_Data`` (x86-64 layout,
enums as int32, 921 bytes, values already in physical units; it may be LZMA-compressed and may
end with a NUL or newline). Offsets: /work/shared/reference/formats.md section 1.3 and
:data:`_LAYOUT` below; a block is read only when its validity byte is 1.

Also read: the status envelope (``"data"`` or ``"status"`` with ``"status"``/``"firmware
version"`` and no ``UASdata``), which becomes a :class:`~skywarden.core.records.SensorStatus`
(``normal`` -> state ``ok``); and the flattened decoded dict that the dronecot gateway writes
(``{"UAType":…, "BasicID":…, "Latitude":…, …, "data": {envelope without UASdata}}``).

Input: one JSON object per line, a JSON array of objects, or one (pretty-printed) object per file.
A value that is not valid JSON is counted (``invalid_json``) and reading resumes at the next line.

Counters: messages = JSON values read; decoded = those understood; rejected: ``invalid_json``,
``not_an_object``, ``unknown_message``, ``bad_base64``, ``uasdata_truncated``, ``bad_time``,
``bad_uas_id``, ``bad_operator_id``; skipped: ``no_position`` (a UA state without a valid position).
Time: ``data.timestamp`` (receiver clock, ms). Sensor: ``--sensor``, else the envelope's
``sensor ID``, else ``dronescout``. Transports: ``wifi_beacon``, ``wifi_nan``, ``bt4``, ``bt5``.
"""

from __future__ import annotations

import base64
import binascii
import json
import lzma
import math
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO

from skywarden.core.records import SensorStatus
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, Record
from skywarden.sources.remoteid.assembly import UaAssembler
from skywarden.sources.remoteid.messages import BasicId, Location, Message, OperatorId, SelfId, System

__all__ = ["read_dronescout_json", "decode_uas_data", "TRANSPORTS"]

TRANSPORTS = {"wifi beacon": "wifi_beacon", "wifi nan": "wifi_nan", "ble legacy": "bt4", "ble long range": "bt5"}
UAS_DATA_MIN = 914  # bytes up to and including OperatorIDValid

_BASIC = struct.Struct("<ii21s")
_LOCATION = struct.Struct("<ifffddffifiiiiif")  # @64
_SELF_ID = struct.Struct("<i24s")  # @776
_SYSTEM = struct.Struct("<iiddHHffiifI")  # @808
_OPERATOR = struct.Struct("<i21s")  # @864


def _num(value: Any, unknown: float | None = None, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    """A finite number in ``[lo, hi]`` that is not the ``unknown`` sentinel, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    if not math.isfinite(v) or v == unknown or not lo <= v <= hi:
        return None
    return v


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 256 else default


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def _latlon(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    la, lo = _num(lat, None, -90, 90), _num(lon, None, -180, 180)
    if la is None or lo is None or (la == 0 and lo == 0):
        return None, None
    return la, lo


def _location(status: Any, direction: Any, speed: Any, vspeed: Any, lat: Any, lon: Any, baro: Any, geo: Any, height_type: Any,
              height: Any, h_acc: Any, v_acc: Any, baro_acc: Any, speed_acc: Any, ts: Any) -> Location:
    """A Location from physical values with opendroneid's sentinels (361 deg, 255 m/s, 63 m/s, -1000 m)."""
    la, lo = _latlon(lat, lon)
    return Location(
        status=_int(status), direction_deg=_num(direction, 361, 0, 360), speed_mps=_num(speed, 255, 0, 254.25),
        vspeed_mps=_num(vspeed, 63, -62, 62), lat=la, lon=lo, alt_baro_m=_num(baro, -1000), alt_geo_m=_num(geo, -1000),
        height_m=_num(height, -1000), height_type=_int(height_type) & 1, h_acc=_int(h_acc), v_acc=_int(v_acc),
        baro_acc=_int(baro_acc), speed_acc=_int(speed_acc), timestamp_s=_num(ts, None, 0, 3600),
    )


def _system(loc_type: Any, cls_type: Any, lat: Any, lon: Any, count: Any, radius: Any, ceiling: Any, floor: Any, cat: Any,
            cls: Any, alt: Any) -> System:
    la, lo = _latlon(lat, lon)
    return System(
        operator_location_type=_int(loc_type), classification_type=_int(cls_type), operator_lat=la, operator_lon=lo,
        area_count=_int(count, 1), area_radius_m=_num(radius, None, 0, 2550) or 0.0, area_ceiling_m=_num(ceiling, -1000),
        area_floor_m=_num(floor, -1000), category_eu=_int(cat), class_eu=_int(cls), operator_alt_m=_num(alt, -1000),
    )


def decode_uas_data(raw: bytes) -> list[Message]:
    """The valid blocks of an ``ODID_UAS_Data`` dump as messages (Basic IDs, Location, Self-ID,
    System, Operator ID; authentication pages are not used). ``raw`` has at least 914 bytes."""
    out: list[Message] = []
    for i in range(2):
        if raw[892 + i] == 1:
            ua_type, id_type, uas = _BASIC.unpack_from(raw, 32 * i)
            out.append(BasicId(_int(id_type), _int(ua_type), _text(uas)))
    if raw[912] == 1:
        out.append(_system(*_SYSTEM.unpack_from(raw, 808)[:11]))
    if raw[913] == 1:
        id_type, op = _OPERATOR.unpack_from(raw, 864)
        out.append(OperatorId(_int(id_type), _text(op)))
    if raw[911] == 1:
        desc_type, desc = _SELF_ID.unpack_from(raw, 776)
        out.append(SelfId(_int(desc_type), _text(desc)))
    if raw[894] == 1:
        v = _LOCATION.unpack_from(raw, 64)
        out.append(_location(*v[:14], v[15]))  # TSAccuracy (v[14]) is not used
    return out


def _flat_messages(obj: dict) -> list[Message]:
    """Messages of dronecot's flattened dict (``null`` = unknown)."""
    out: list[Message] = []
    if isinstance(obj.get("BasicID"), str):
        out.append(BasicId(_int(obj.get("IDType")), _int(obj.get("UAType")), obj["BasicID"].strip()))
    if "OperatorLatitude" in obj:
        out.append(_system(obj.get("OperatorLocationType"), obj.get("ClassificationType"), obj.get("OperatorLatitude"),
                           obj.get("OperatorLongitude"), obj.get("AreaCount"), obj.get("AreaRadius"), obj.get("AreaCeiling"),
                           obj.get("AreaFloor"), obj.get("CategoryEU"), obj.get("ClassEU"), obj.get("OperatorAltitudeGeo")))
    if isinstance(obj.get("OperatorID"), str):
        out.append(OperatorId(_int(obj.get("OperatorIdType")), obj["OperatorID"].strip()))
    if isinstance(obj.get("Desc"), str):
        out.append(SelfId(_int(obj.get("DescType")), obj["Desc"].strip()))
    if "Latitude" in obj:
        ts = obj.get("TimeStamp")
        out.append(_location(obj.get("Status"), obj.get("Direction"), obj.get("SpeedHorizontal"), obj.get("SpeedVertical"),
                             obj.get("Latitude"), obj.get("Longitude"), obj.get("AltitudeBaro"), obj.get("AltitudeGeo"),
                             obj.get("HeightType"), obj.get("Height"), obj.get("HorizAccuracy"), obj.get("VertAccuracy"),
                             obj.get("BaroAccuracy"), obj.get("SpeedAccuracy"), ts if isinstance(ts, (int, float)) else None))
    return out


def _uas_bytes(text: str) -> bytes:
    """The ``ODID_UAS_Data`` bytes of a ``UASdata`` string (base64, perhaps LZMA inside).

    Raises:
        ValueError: ``bad_base64`` or ``uasdata_truncated`` as the message.
    """
    try:
        raw = base64.b64decode(text.strip().rstrip("\0").strip(), validate=False)
    except (binascii.Error, ValueError):
        raise ValueError("bad_base64") from None
    if raw[:6] == b"\xfd7zXZ\0" or raw[:3] == b"\x5d\0\0":
        try:
            raw = lzma.decompress(raw)
        except lzma.LZMAError:
            raise ValueError("bad_lzma") from None
    if len(raw) < UAS_DATA_MIN:
        raise ValueError("uasdata_truncated")
    return raw


def json_text(stream: BinaryIO, what: str) -> str:
    """The stream as text, after checking it starts like JSON (an object or an array).

    Raises:
        FormatError: it does not; the message names ``what`` was expected.
    """
    text = stream.read().decode("utf-8", "replace")
    head = text.lstrip(" \t\r\n\ufeff")[:1]
    if head and head not in "{[":
        raise FormatError(f"not {what}: starts with {head!r}, expected a JSON object or array")
    return text


def json_values(text: str, stats: DecodeStats) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of each top-level JSON value (JSON lines, an array, or one object)."""
    decoder = json.JSONDecoder()
    n = len(text)
    pos = 0
    while pos < n and text[pos] in " \t\r\n\ufeff":
        pos += 1
    if pos < n and text[pos] == "[":
        pos += 1
    while True:
        while pos < n and text[pos] in " \t\r\n,]":
            pos += 1
        if pos >= n:
            return
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            stats.messages += 1
            stats.reject(f"line {line}", "invalid_json", exc.msg)
            nxt = text.find("\n", pos + 1)
            # resume at the next line that starts an object
            while nxt != -1 and text[nxt + 1:nxt + 2] not in ("{", "["):
                nxt = text.find("\n", nxt + 1)
            if nxt == -1:
                return
            pos = nxt + 1
            continue
        except RecursionError:
            stats.messages += 1
            stats.reject(f"line {line}", "invalid_json", "nested too deeply")
            return
        yield line, value


def _status(data: dict, t: float | None, options: DecodeOptions) -> SensorStatus | None:
    if t is None:
        return None
    state = str(data.get("status", "unknown"))
    detail = ", ".join(f"{k} {data[k]}" for k in ("model", "firmware version") if data.get(k) is not None) or None
    sensor = options.sensor or str(data.get("sensor ID") or "dronescout")
    return SensorStatus(t=t, sensor=sensor[:128], state="ok" if state == "normal" else state, detail=detail)


def _time_ms(value: Any) -> float | None:
    t = _num(value)
    if t is None:
        return None
    t /= 1000.0
    return t if 631_152_000.0 <= t <= 7_258_118_400.0 else None


def read_dronescout_json(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Observations and sensor status from DroneScout JSON (see the module doc).

    Raises:
        FormatError: the input does not start with a JSON object or array.
    """
    text = json_text(stream, "DroneScout JSON")
    assembler = UaAssembler(options, "dronescout")
    for line, obj in json_values(text, stats):
        stats.messages += 1
        where = f"line {line}"
        if not isinstance(obj, dict):
            stats.reject(where, "not_an_object", type(obj).__name__)
            continue
        data = obj.get("data") if isinstance(obj.get("data"), dict) else obj.get("status")
        if not isinstance(data, dict):
            data = {}
        t = _time_ms(data.get("timestamp"))
        if "UASdata" in data or "Latitude" in obj or "BasicID" in obj:
            if "UASdata" in data:
                try:
                    messages = decode_uas_data(_uas_bytes(str(data["UASdata"])))
                except ValueError as exc:
                    stats.reject(where, str(exc))
                    continue
            else:
                messages = _flat_messages(obj)
            if t is None:
                stats.reject(where, "bad_time", f"timestamp {data.get('timestamp')!r} is not UNIX milliseconds")
                continue
            mac = str(data.get("MAC address") or "unknown").lower()
            assembler.sensor = options.sensor or str(data.get("sensor ID") or "dronescout")[:128] or "dronescout"
            transport = TRANSPORTS.get(str(data.get("type", "")).lower())
            observations = assembler.feed_counted(mac, t, messages, transport, stats, where)
            for o in observations:
                stats.produced(o)
                yield o
        elif "status" in data or "firmware version" in data:
            status = _status(data, t, options)
            if status is None:
                stats.reject(where, "bad_time", "status without a UNIX millisecond timestamp")
                continue
            stats.decoded += 1
            stats.produced(status)
            yield status
        else:
            stats.reject(where, "unknown_message", "neither UASdata nor a sensor status")
