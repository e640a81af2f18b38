"""Format ``netrid-json``: ASTM F3411 network Remote ID flights as JSON.

Two shapes are read, each as one JSON object, a JSON array of them, or one per line (a recorded
series of polls):

* the F3411-22a USS response ``GET /uss/flights`` (``GetFlightsResponse``):
  ``{"timestamp": Time, "flights": [RIDFlight{id, aircraft_type, current_state: RIDAircraftState,
  recent_positions: [{time, position}], simulated, ...}]}``, with details either inside a flight
  (``"details"``, the ``/uss/flights/{id}/details`` body) or absent;
* the InterUSS test-flight **injection** file: ``{"flights": [{reference_time, states:
  [RIDAircraftState with plain-string timestamps], flight_details, aircraft_type}]}``.

Parsing is plain ``json`` plus small mapping functions rather than the ``uas-standards`` models:
the injection shape is not one of its types (timestamps are plain strings there), the mapping
needs only a dozen fields, and it keeps the dependency list short (``uas-standards`` pulls in
jsonschema, lxml and arrow); unknown or extra fields are tolerated either way.

Mapping: ``uas_id`` is the serial number, else the registration id, UTM id, session id (from
``details.uas_id`` or the older flat fields), else the flight ``id`` (``id_type`` then
``none``). ``alt_m`` is ``position.alt`` (WGS84, m); without it, the pressure altitude or
``height`` as in :mod:`.assembly`. Accuracy strings (``HA10m``, ``VA3m``, ``SA1mps``) map to the
same bounds as the broadcast enums. Each ``current_state`` and each of ``recent_positions`` gives
an observation; a (flight, time) already produced is not produced again, so overlapping polls do
not duplicate positions. Sensor: ``--sensor`` or ``netrid``; transport ``netrid``.

Times: RFC 3339 strings or ``{"value", "format"}`` objects. For the injection shape,
``--start-time`` moves the flight so that its ``reference_time`` falls at that time, as the
InterUSS test driver does.

Counters: messages = aircraft states and recent positions read (plus unusable top-level
values); rejected ``invalid_json``, ``not_an_object``, ``unknown_message`` (no ``flights``),
``not_a_flight``, ``bad_time``; skipped ``no_position`` (a state without a valid position) and
``duplicate`` (a flight and time already produced).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from skywarden.core.records import RemoteIdObservation
from skywarden.sources.decode import DecodeOptions, DecodeStats, Record
from skywarden.sources.remoteid.assembly import UaAssembler
from skywarden.sources.remoteid.dronescout import _location, _system, json_text, json_values
from skywarden.sources.remoteid.messages import BasicId, Message, OperatorId, SelfId

__all__ = ["read_netrid_json", "parse_time", "H_ACC_CODES", "V_ACC_CODES", "SPEED_ACC_CODES"]

UA_TYPE_CODES = {name: i for i, name in enumerate((
    "NotDeclared", "Aeroplane", "Helicopter", "Gyroplane", "HybridLift", "Ornithopter", "Glider", "Kite", "FreeBalloon",
    "CaptiveBalloon", "Airship", "FreeFallOrParachute", "Rocket", "TetheredPoweredAircraft", "GroundObstacle", "Other"))}
STATUS_CODES = {name: i for i, name in enumerate(("Undeclared", "Ground", "Airborne", "Emergency", "RemoteIDSystemFailure"))}
HEIGHT_CODES = {"TakeoffLocation": 0, "GroundLevel": 1}
H_ACC_CODES = {"HAUnknown": 0, "HA10NMPlus": 0, **{name: i + 1 for i, name in enumerate((
    "HA10NM", "HA4NM", "HA2NM", "HA1NM", "HA05NM", "HA03NM", "HA01NM", "HA005NM", "HA30m", "HA10m", "HA3m", "HA1m"))}}
V_ACC_CODES = {"VAUnknown": 0, "VA150mPlus": 0, **{name: i + 1 for i, name in enumerate(("VA150m", "VA45m", "VA25m", "VA10m", "VA3m", "VA1m"))}}
SPEED_ACC_CODES = {"SAUnknown": 0, "SA10mpsPlus": 0, **{name: i + 1 for i, name in enumerate(("SA10mps", "SA3mps", "SA1mps", "SA03mps"))}}
OPERATOR_LOCATION_CODES = {"Takeoff": 0, "Dynamic": 1, "Fixed": 2}
_ID_FIELDS = (("serial_number", 1), ("registration_id", 2), ("registration_number", 2), ("utm_id", 3), ("specific_session_id", 4))


def parse_time(value: Any) -> float | None:
    """UNIX seconds of an RFC 3339 string or an F3411 ``Time`` object; ``None`` if unreadable.

    >>> parse_time({"value": "2022-01-01T00:00:01Z", "format": "RFC3339"})
    1640995201.0
    """
    if isinstance(value, dict):
        value = value.get("value")
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    t = dt.timestamp()
    return t if math.isfinite(t) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _identity(flight: dict, details: dict) -> list[Message]:
    """Basic ID, System, Operator ID and Self-ID equivalents of a flight and its details."""
    out: list[Message] = []
    ua_type = UA_TYPE_CODES.get(str(flight.get("aircraft_type", details.get("aircraft_type", ""))), 0)
    uas = _dict(details.get("uas_id"))
    for key, id_type in _ID_FIELDS:
        value = uas.get(key) or details.get(key)
        if isinstance(value, str) and value.strip():
            out.append(BasicId(id_type, ua_type, value.strip()[:64]))
            break
    else:
        fid = flight.get("id") or details.get("id")
        if isinstance(fid, str) and fid.strip():
            out.append(BasicId(0, ua_type, fid.strip()[:64]))
    loc = _dict(details.get("operator_location"))
    pos = _dict(loc.get("position")) or loc
    if pos:
        altitude = loc.get("altitude")
        alt = altitude.get("value") if isinstance(altitude, dict) else altitude
        eu = _dict(details.get("eu_classification"))
        out.append(_system(OPERATOR_LOCATION_CODES.get(str(loc.get("location_type", "")), 0), 1 if eu else 0, pos.get("lat"),
                           pos.get("lng"), 1, 0, None, None, 0, 0, alt))
    if isinstance(details.get("operator_id"), str) and details["operator_id"].strip():
        out.append(OperatorId(0, details["operator_id"].strip()))
    if isinstance(details.get("operation_description"), str) and details["operation_description"].strip():
        out.append(SelfId(0, details["operation_description"].strip()))
    return out


def _state_location(state: dict, position: dict | None = None):
    """A :class:`~.messages.Location` from an RIDAircraftState (or a bare recent position)."""
    pos = _dict(position if position is not None else state.get("position"))
    height = _dict(state.get("height")) or _dict(pos.get("height"))
    return _location(
        STATUS_CODES.get(str(state.get("operational_status", "")), 0), state.get("track"), state.get("speed"),
        state.get("vertical_speed"), pos.get("lat"), pos.get("lng"), pos.get("pressure_altitude"), pos.get("alt"),
        HEIGHT_CODES.get(str(height.get("reference", "")), 0), height.get("distance"),
        H_ACC_CODES.get(str(pos.get("accuracy_h", "")), 0), V_ACC_CODES.get(str(pos.get("accuracy_v", "")), 0), 0,
        SPEED_ACC_CODES.get(str(state.get("speed_accuracy", "")), 0), None,
    )


class _Reader:
    def __init__(self, options: DecodeOptions, stats: DecodeStats) -> None:
        self.options = options
        self.stats = stats
        self.assembler = UaAssembler(options, "netrid")
        self.seen: dict[tuple[str, float], None] = {}

    def flight(self, where: str, flight: Any, out: list[RemoteIdObservation]) -> None:
        stats = self.stats
        if not isinstance(flight, dict):
            stats.messages += 1
            stats.reject(where, "not_a_flight", type(flight).__name__)
            return
        details = _dict(flight.get("details")) or _dict(flight.get("flight_details"))
        key = str(flight.get("id") or details.get("id") or details.get("serial_number") or where)
        identity = _identity(flight, details)
        shift = 0.0
        if "states" in flight and self.options.start_time is not None:
            ref = parse_time(flight.get("reference_time"))
            if ref is not None:
                shift = self.options.start_time - ref
        items: list[tuple[Any, dict, dict | None]] = []
        states = flight.get("states")
        if isinstance(states, list):
            items += [(s.get("timestamp") if isinstance(s, dict) else None, s, None) for s in states]
        if isinstance(flight.get("current_state"), dict):
            items.append((flight["current_state"].get("timestamp"), flight["current_state"], None))
        recent = flight.get("recent_positions")
        if isinstance(recent, list):
            items += [(r.get("time"), {}, _dict(r.get("position"))) for r in recent if isinstance(r, dict)]
        if not items:
            stats.messages += 1
            stats.reject(where, "not_a_flight", "a flight without states, current_state or recent_positions")
            return
        for stamp, state, position in items:
            stats.messages += 1
            if not isinstance(state, dict):
                stats.reject(where, "not_a_flight", "an aircraft state that is not an object")
                continue
            t = parse_time(stamp)
            if t is None or not 631_152_000.0 <= t + shift <= 7_258_118_400.0:
                stats.reject(where, "bad_time", f"timestamp {stamp!r}")
                continue
            t += shift
            if (key, t) in self.seen:
                stats.decoded += 1
                stats.skip("duplicate")
                continue
            observations = self.assembler.feed_counted(key, t, [*identity, _state_location(state, position)], "netrid", stats, where)
            if observations:
                self.seen[(key, t)] = None
                if len(self.seen) > 100_000:  # keep memory bounded on long recordings
                    for old in list(self.seen)[:50_000]:
                        del self.seen[old]
            out.extend(observations)


def read_netrid_json(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Observations of every flight in NetRID JSON (see the module doc).

    Raises:
        FormatError: the input does not start with a JSON object or array.
    """
    text = json_text(stream, "NetRID JSON")
    reader = _Reader(options, stats)
    for line, obj in json_values(text, stats):
        where = f"line {line}"
        if not isinstance(obj, dict):
            stats.messages += 1
            stats.reject(where, "not_an_object", type(obj).__name__)
            continue
        flights = obj.get("flights")
        if not isinstance(flights, list):
            if "current_state" in obj or "states" in obj:
                flights = [obj]  # a bare RIDFlight
            else:
                stats.messages += 1
                stats.reject(where, "unknown_message", "no flights list")
                continue
        out: list[RemoteIdObservation] = []
        for i, flight in enumerate(flights):
            reader.flight(f"{where} flight {i}", flight, out)
        out.sort(key=lambda o: o.t)
        for o in out:
            stats.produced(o)
            yield o
