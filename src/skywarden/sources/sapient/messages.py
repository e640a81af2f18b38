"""SAPIENT messages as a detection-only fusion node (DMM) handles them.

:class:`SapientDmm` keeps what the sensor nodes (ASMs) said about themselves and turns each
``SapientMessage`` into skywarden records and, where the ICD asks for one, a reply:

============================  ==============================================================
message                        result
============================  ==============================================================
Registration                   node remembered; ``RegistrationAck`` (accepted for ICD
                               "BSI Flex 335 v2.0", refused with reasons otherwise);
                               ``SensorStatus`` state ``registered``
StatusReport                   ``SensorStatus`` (ok / degraded / fault / offline); the node's
                               location is remembered for its range-bearing detections
DetectionReport                ``PlotObservation`` (``RemoteIdObservation`` when the node
                               registered as a Remote ID receiver and the report has an ``id``)
Alert                          ``AlertAck`` (accepted); ``SensorStatus`` carrying the alert text
Task, TaskAck, AlertAck,       skipped, counted by type (a detection-only DMM neither receives
RegistrationAck, Error         tasks nor acknowledgements from sensors)
============================  ==============================================================

Every message is first checked against the ICD rules in the protos (:mod:`.validate`); a
violation rejects it with the reason ``missing_field`` / ``invalid_ulid`` / ``invalid_uuid`` and
the field's path in the detail, and, on a live link, an ``Error`` message goes back to the node.

Options (``--option key=value``; all optional):

``max_frame_bytes``  largest accepted message (default 1048576).
``validate``  ``false`` to skip the ICD field checks (default ``true``).
``require_registration``  ``true``: reject reports of nodes that have not registered (default
    ``false``, so that recordings without the registration still decode).
``max_range_km``  reject detections farther than this from their node, when its location is
    known (default 500: beyond any ground sensor; catches swapped latitude/longitude).
``min_confidence``  skip detections whose ``detection_confidence`` is below this (default 0).
``ignore_classes``  comma-separated classification types to skip (e.g. ``Human,Vehicle``).
``declination_deg``  magnetic declination (east positive) for ``MAGNETIC`` bearings.
``geoid_undulation_m``  geoid height N above the ellipsoid for ``WGS84_G`` altitudes.
``dmm_node_id``  the UUID skywarden uses as its own ``node_id`` in replies.
"""

from __future__ import annotations

import logging
import math
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from skywarden.core.records import BearingObservation, PlotObservation, RemoteIdObservation, SensorStatus
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, Record
from skywarden.sources.sapient.bindings import (
    ICD_VERSION,
    Alert,
    AlertAck,
    Registration,
    SapientMessage,
    StatusReport,
)
from skywarden.sources.sapient.framing import DEFAULT_MAX_FRAME_BYTES, encode_frame
from skywarden.sources.sapient.geo import (
    UNKNOWN_ALT_SIGMA_M,
    Position,
    Unusable,
    ground_distance_m,
    location_to_wgs84,
    range_bearing_direction,
    range_bearing_to_wgs84,
)
from skywarden.sources.sapient.validate import is_ulid, violations

__all__ = ["SapientConfig", "SapientDmm", "NodeInfo", "Counters", "message_time"]

log = logging.getLogger(__name__)

_MIN_T, _MAX_T = 631_152_000.0, 7_258_118_400.0  # records.UnixTime bounds
_MIN_ALT, _MAX_ALT = -1_000.0, 30_000.0  # records.AltitudeM bounds
_SKIPPED_TYPES = {"task": "task", "task_ack": "task_ack", "alert_ack": "alert_ack",
                  "registration_ack": "registration_ack", "error": "error_message"}
_SYSTEM_STATE = {
    StatusReport.SYSTEM_OK: "ok",
    StatusReport.SYSTEM_WARNING: "degraded",
    StatusReport.SYSTEM_ERROR: "fault",
    StatusReport.SYSTEM_GOODBYE: "offline",
}
_FAULT_ALERTS = {Alert.ALERT_TYPE_ERROR, Alert.ALERT_TYPE_FATAL}
_KPH = 1.0 / 3.6


def _enum_word(enum_name: str, prefix: str) -> str:
    """``"NODE_TYPE_PASSIVE_RF"``, ``"NODE_TYPE_"`` -> ``"passive_rf"``."""
    return enum_name.removeprefix(prefix).lower()


def _bool(key: str, text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise FormatError(f"sapient option {key}={text!r}: expected true or false")


def _number(key: str, text: str, low: float | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"sapient option {key}={text!r}: expected a number") from None
    if not math.isfinite(value) or (low is not None and value < low):
        raise FormatError(f"sapient option {key}={text!r}: out of range")
    return value


def _default_dmm_id() -> str:
    # Stable across restarts of one host, so sensors see the same DMM after a reconnect.
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"skywarden-dmm.{socket.gethostname()}"))


@dataclass(frozen=True)
class SapientConfig:
    """The SAPIENT options (see the module docstring), parsed from ``DecodeOptions.extra``."""

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    validate: bool = True
    require_registration: bool = False
    max_range_km: float = 500.0
    min_confidence: float = 0.0
    ignore_classes: frozenset[str] = frozenset()
    declination_deg: float | None = None
    geoid_undulation_m: float | None = None
    dmm_node_id: str = field(default_factory=_default_dmm_id)

    @classmethod
    def from_options(cls, options: DecodeOptions) -> SapientConfig:
        """Parse ``options.extra``; :class:`FormatError` (one line) for an unknown key or bad value."""
        kw: dict[str, object] = {}
        for key, text in options.extra.items():
            if key == "max_frame_bytes":
                kw[key] = int(_number(key, text, 1.0))
            elif key in ("validate", "require_registration"):
                kw[key] = _bool(key, text)
            elif key in ("max_range_km", "min_confidence"):
                kw[key] = _number(key, text, 0.0)
            elif key in ("declination_deg", "geoid_undulation_m"):
                kw[key] = _number(key, text)
            elif key == "ignore_classes":
                kw[key] = frozenset(c.strip().lower() for c in text.split(",") if c.strip())
            elif key == "dmm_node_id":
                try:
                    kw[key] = str(uuid.UUID(text))
                except ValueError:
                    raise FormatError(f"sapient option dmm_node_id={text!r}: not a UUID") from None
            else:
                raise FormatError(
                    f"unknown sapient option {key!r}; known: max_frame_bytes, validate, require_registration, max_range_km, "
                    "min_confidence, ignore_classes, declination_deg, geoid_undulation_m, dmm_node_id"
                )
        return cls(**kw)  # type: ignore[arg-type]


@dataclass
class NodeInfo:
    """What the DMM knows about one sensor node (ASM), by its ``node_id``."""

    node_id: str
    registered: bool = False
    refused: bool = False
    icd_version: str = ""
    name: str = ""
    short_name: str = ""
    node_types: tuple[str, ...] = ()
    """``radar``, ``camera``, ``passive_rf``, ... (Registration.node_definition.node_type)."""
    sub_types: tuple[str, ...] = ()
    location_units: str = ""
    """How the node said it reports its location, e.g. ``utm_m / wgs84_e / zone 30U``."""
    coverage_units: str = ""
    utm_zone: str = ""
    """The UTM zone declared at registration (location, then detection definitions)."""
    speed_kph: bool = False
    """Velocities declared in km/h (ENUVelocityUnits) rather than m/s."""
    remote_id: bool = False
    """The node declared itself a Remote ID receiver (a node sub-type or name containing "Remote ID")."""
    location: tuple[float, float, float] | None = None
    """Last known position (lat, lon degrees, metres above the ellipsoid), from a StatusReport."""
    state: str = "ok"
    """Last reported state (StatusReport.system)."""


class Counters:
    """Applies each count to the connection's or file's stats and to per-node stats, if kept."""

    __slots__ = ("stats", "by_node")

    def __init__(self, stats: DecodeStats, by_node: dict[str, DecodeStats] | None = None) -> None:
        self.stats = stats
        self.by_node = by_node

    def _all(self, node: str | None) -> list[DecodeStats]:
        if self.by_node is None:
            return [self.stats]
        return [self.stats, self.by_node.setdefault(node or "unidentified", DecodeStats())]

    def message(self, node: str | None) -> None:
        for s in self._all(node):
            s.messages += 1

    def decoded(self, node: str | None) -> None:
        for s in self._all(node):
            s.decoded += 1

    def reject(self, node: str | None, where: str, reason: str, detail: str = "") -> None:
        for s in self._all(node):
            s.reject(where, reason, detail)

    def skip(self, node: str | None, reason: str) -> None:
        for s in self._all(node):
            s.skip(reason)

    def produced(self, node: str | None, record: Record) -> None:
        for s in self._all(node):
            s.produced(record)


def message_time(msg: SapientMessage) -> float:
    """The message's ``timestamp``, UNIX seconds UTC (nanosecond resolution kept as a float)."""
    return msg.timestamp.seconds + msg.timestamp.nanos / 1e9


class _Reject(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Outcome:
    records: list[Record] = field(default_factory=list)
    replies: list[SapientMessage] = field(default_factory=list)


class SapientDmm:
    """The fusion-node side of SAPIENT for one run (a file) or one server (many connections).

    ``handle`` takes one parsed message and returns the records it yields; replies for the node
    are queued in :attr:`outbox` as framed bytes (``uint32`` LE length + message), for the caller
    to send back on the node's connection or to drop (files).

    Args:
        options: sensor override (``options.sensor``), a fallback node position
            (``options.sensor_position``, used for range-bearing detections of a node that has not
            reported its location) and the SAPIENT options in ``options.extra``.
        clock: the time put on replies (UNIX seconds).
    """

    def __init__(self, options: DecodeOptions, config: SapientConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.config = config or SapientConfig.from_options(options)
        self.nodes: dict[str, NodeInfo] = {}
        self.outbox: list[bytes] = []
        self._clock = clock

    # -- entry point ---------------------------------------------------------------------------

    def handle(self, msg: SapientMessage, where: str, counters: Counters, raw: bytes | None = None) -> list[Record]:
        """Handle one message (already counted as a message by the caller); count its outcome."""
        node_id = msg.node_id or None
        try:
            outcome = self._dispatch(msg, raw)
        except _Reject as exc:
            counters.reject(node_id, where, exc.reason, exc.detail)
            return []
        except _Skip as exc:
            counters.skip(node_id, exc.reason)
            return []
        counters.decoded(node_id)
        for reply in outcome.replies:
            self.outbox.append(encode_frame(reply.SerializeToString()))
        for record in outcome.records:
            counters.produced(node_id, record)
        return outcome.records

    def take_replies(self) -> bytes:
        """The queued replies, framed, and empty the queue."""
        if not self.outbox:
            return b""
        out = b"".join(self.outbox)
        self.outbox.clear()
        return out

    def _dispatch(self, msg: SapientMessage, raw: bytes | None) -> _Outcome:
        kind = msg.WhichOneof("content")
        if kind in _SKIPPED_TYPES:
            raise _Skip(_SKIPPED_TYPES[kind])
        if self.config.validate:
            problems = violations(msg)
            if problems:
                self._reply_error(msg, raw, [f"{p.reason}: {p.path}" for p in problems])
                if kind == "registration" and msg.node_id:
                    self._refuse(msg, [f"{p.reason}: {p.path}" for p in problems])
                first = problems[0]
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                raise _Reject(first.reason, f"{first.path}{more}")
        if kind is None:  # only reachable with validate=false
            raise _Reject("missing_field", "content")
        t = message_time(msg)
        if not _MIN_T <= t <= _MAX_T:
            raise _Reject("invalid_time", f"timestamp {t:.3f} is not a plausible UNIX time")
        if kind == "registration":
            return self._registration(msg, t)
        node = self.nodes.get(msg.node_id)
        if node is not None and node.refused:
            raise _Reject("registration_refused", f"node {msg.node_id} was refused at registration")
        if self.config.require_registration and (node is None or not node.registered):
            raise _Reject("unregistered_node", f"node {msg.node_id} has not registered")
        if node is None:
            node = self.nodes[msg.node_id] = NodeInfo(msg.node_id)
        if kind == "status_report":
            return self._status(msg, node, t)
        if kind == "detection_report":
            return self._detection(msg, node, t)
        if kind == "alert":
            return self._alert(msg, node, t)
        raise _Skip(kind)  # pragma: no cover - every oneof member is handled above

    def _sensor(self, msg: SapientMessage) -> str:
        return self.options.sensor or msg.node_id

    def _reply(self, to: SapientMessage) -> SapientMessage:
        reply = SapientMessage(node_id=self.config.dmm_node_id, destination_id=to.node_id)
        reply.timestamp.FromNanoseconds(int(self._clock() * 1e9))
        return reply

    def _reply_error(self, msg: SapientMessage, raw: bytes | None, problems: list[str]) -> None:
        reply = self._reply(msg)
        reply.error.packet = (raw or b"")[:4096]
        reply.error.error_message.extend(problems[:20])
        self.outbox.append(encode_frame(reply.SerializeToString()))

    # -- registration --------------------------------------------------------------------------

    def _refuse(self, msg: SapientMessage, reasons: list[str]) -> None:
        node = self.nodes.setdefault(msg.node_id, NodeInfo(msg.node_id))
        node.refused, node.registered = True, False
        reply = self._reply(msg)
        reply.registration_ack.acceptance = False
        reply.registration_ack.ack_response_reason.extend(reasons[:20])
        self.outbox.append(encode_frame(reply.SerializeToString()))

    def _registration(self, msg: SapientMessage, t: float) -> _Outcome:
        reg = msg.registration
        if reg.icd_version.strip().lower() != ICD_VERSION.lower():
            self._refuse(msg, [f"ICD version {reg.icd_version!r} is not supported; this fusion node speaks {ICD_VERSION}"])
            raise _Reject("unsupported_icd_version", f"icd_version {reg.icd_version[:40]!r}")
        node = NodeInfo(msg.node_id, registered=True, icd_version=reg.icd_version, name=reg.name, short_name=reg.short_name)
        node.node_types = tuple(_enum_word(Registration.NodeType.Name(d.node_type), "NODE_TYPE_")
                                if d.node_type in Registration.NodeType.values() else str(d.node_type)
                                for d in reg.node_definition)
        node.sub_types = tuple(s for d in reg.node_definition for s in d.node_sub_type)
        status_def = reg.status_definition
        node.location_units = _location_type_text(status_def.location_definition) if status_def.HasField("location_definition") else ""
        node.coverage_units = _location_type_text(status_def.coverage_definition) if status_def.HasField("coverage_definition") else ""
        zones = [status_def.location_definition.zone] + [
            d.location_type.zone for m in reg.mode_definition for d in m.detection_definition
        ]
        node.utm_zone = next((z for z in zones if z), "")
        node.speed_kph = any(
            d.velocity_type.enu_velocity_units.east_north_rate_units == 2  # SPEED_UNITS_KPH
            for m in reg.mode_definition for d in m.detection_definition
        )
        marker = "".join(c for c in " ".join((*node.sub_types, reg.name, reg.short_name)).lower() if c.isalnum())
        node.remote_id = "remoteid" in marker
        previous = self.nodes.get(msg.node_id)
        if previous is not None:
            node.location = previous.location  # a re-registration does not move the node
        self.nodes[msg.node_id] = node
        reply = self._reply(msg)
        reply.registration_ack.acceptance = True
        reply.registration_ack.ack_response_reason.append("Accepted")
        kinds = "/".join(node.node_types + node.sub_types) or "unspecified type"
        maker = "; ".join(f"{c.manufacturer} {c.model}".strip() for c in reg.config_data)
        detail = f"registered: {reg.name or msg.node_id}" + (f" ({reg.short_name})" if reg.short_name else "")
        detail += f", {kinds}" + (f", {maker}" if maker else "") + f", ICD {reg.icd_version}"
        if node.location_units:
            detail += f", location in {node.location_units}"
        status = SensorStatus(t=t, sensor=self._sensor(msg), state="registered", detail=detail)
        return _Outcome([status], [reply])

    # -- status --------------------------------------------------------------------------------

    def _status(self, msg: SapientMessage, node: NodeInfo, t: float) -> _Outcome:
        rep = msg.status_report
        state = _SYSTEM_STATE.get(rep.system, "unknown")
        parts = [f"mode {rep.mode}"] if rep.mode else []
        worst = 0
        for s in rep.status:
            level = StatusReport.StatusLevel.Name(s.status_level) if s.status_level in StatusReport.StatusLevel.values() else ""
            kind = StatusReport.StatusType.Name(s.status_type) if s.status_type in StatusReport.StatusType.values() else ""
            parts.append(f"{_enum_word(kind, 'STATUS_TYPE_')}: {s.status_value}".strip() + (f" ({_enum_word(level, 'STATUS_LEVEL_').removesuffix('_status')})" if level else ""))
            worst = max(worst, s.status_level)
        if rep.HasField("power"):
            p = rep.power
            power = f"power {_enum_word(StatusReport.PowerSource.Name(p.source), 'POWERSOURCE_')}" if p.source in StatusReport.PowerSource.values() else "power"
            if p.HasField("level"):
                power += f" {p.level}%"
            if p.status == StatusReport.POWERSTATUS_FAULT:
                power += " fault"
                worst = max(worst, StatusReport.STATUS_LEVEL_WARNING_STATUS)
            parts.append(power)
        if state == "ok" and worst >= StatusReport.STATUS_LEVEL_WARNING_STATUS:
            state = "degraded"  # the system says OK but reports a warning or an error of its own
        node.state = state
        lat = lon = alt = None
        if rep.HasField("node_location"):
            try:
                pos = location_to_wgs84(rep.node_location, node.utm_zone, self.config.geoid_undulation_m)
            except Unusable as exc:
                parts.append(f"node_location unusable: {exc.reason} ({exc.detail})")
            else:
                lat, lon = pos.lat, pos.lon
                alt = pos.alt_m if pos.alt_m is not None else (node.location[2] if node.location else 0.0)
                node.location = (lat, lon, alt)
        status = SensorStatus(t=t, sensor=self._sensor(msg), state=state, lat=lat, lon=lon, alt_m=alt, detail="; ".join(parts) or None)
        return _Outcome([status])

    # -- detection -----------------------------------------------------------------------------

    def _origin(self, node: NodeInfo) -> tuple[float, float, float] | None:
        return node.location or self.options.sensor_position

    def _detection(self, msg: SapientMessage, node: NodeInfo, t: float) -> _Outcome:
        det = msg.detection_report
        config = self.config
        if det.HasField("detection_confidence") and det.detection_confidence < config.min_confidence:
            raise _Skip("low_confidence")
        if config.ignore_classes and det.classification:
            top = max(det.classification, key=lambda c: c.confidence)
            if top.type.strip().lower() in config.ignore_classes:
                raise _Skip("ignored_class")
        origin = self._origin(node)
        which = det.WhichOneof("location_oneof")
        try:
            if which == "location":
                pos = location_to_wgs84(det.location, node.utm_zone, config.geoid_undulation_m)
            elif which == "range_bearing":
                if origin is None:
                    raise _Reject("no_node_location", "range-bearing detection, but the node has not reported its location (StatusReport)")
                pos = range_bearing_to_wgs84(det.range_bearing, origin, config.declination_deg, node.utm_zone)
            else:
                raise _Reject("missing_field", "detection_report.location_oneof")
        except Unusable as exc:
            if exc.reason == "no_range" and origin is not None:
                return _Outcome([self._bearing(det, node, t, origin, self._sensor(msg))])
            raise _Reject(exc.reason, exc.detail) from None
        alt, sigma_v = pos.alt_m, pos.sigma_v_m
        if alt is None:  # a 2-D location: put it at the node's height, and say it is unknown
            alt = origin[2] if origin is not None else 0.0
            sigma_v = UNKNOWN_ALT_SIGMA_M
        if not _MIN_ALT <= alt <= _MAX_ALT:
            raise _Reject("implausible_location", f"altitude {alt:.1f} m")
        if origin is not None and which == "location":
            distance = ground_distance_m(origin[0], origin[1], pos.lat, pos.lon)
            if distance > config.max_range_km * 1000.0:
                raise _Reject("implausible_location", f"{distance / 1000.0:.0f} km from its node (max_range_km {config.max_range_km:g})")
        sensor = self._sensor(msg)
        if node.remote_id and det.id and len(det.id) <= 64:
            return _Outcome([self._remote_id(det, node, t, sensor, pos, alt, sigma_v)])
        plot = PlotObservation(
            t=t, sensor=sensor, lat=pos.lat, lon=pos.lon, alt_m=alt,
            sigma_h_m=pos.sigma_h_m, sigma_v_m=sigma_v,
            range_m=pos.range_m, azimuth_deg=pos.azimuth_deg, elevation_deg=pos.elevation_deg,
            sigma_range_m=pos.sigma_range_m, sigma_azimuth_deg=pos.sigma_azimuth_deg,
            sensor_track=_ulid_track(det.object_id),
        )
        return _Outcome([plot])

    def _bearing(self, det: Message, node: NodeInfo, t: float, origin: tuple[float, float, float], sensor: str) -> BearingObservation:
        """A bearing-only detection (an RF direction finder, no range): a direction from the node."""
        d = range_bearing_direction(det.range_bearing, origin, self.config.declination_deg, node.utm_zone)
        return BearingObservation(
            t=t, sensor=sensor, lat=origin[0], lon=origin[1], alt_m=origin[2],
            azimuth_deg=d.azimuth_deg, sigma_azimuth_deg=d.sigma_azimuth_deg,
            elevation_deg=d.elevation_deg, sigma_elevation_deg=d.sigma_elevation_deg,
        )

    def _remote_id(self, det: Message, node: NodeInfo, t: float, sensor: str, pos: Position, alt: float,
                   sigma_v: float | None) -> RemoteIdObservation:
        speed = track = vspeed = None
        if det.HasField("enu_velocity"):
            v = det.enu_velocity
            scale = _KPH if node.speed_kph else 1.0
            east, north = v.east_rate * scale, v.north_rate * scale
            if math.isfinite(east) and math.isfinite(north):
                s = math.hypot(east, north)
                if s <= 2_000.0:
                    speed = s
                    track = math.degrees(math.atan2(east, north)) % 360.0
            if v.HasField("up_rate") and math.isfinite(v.up_rate) and abs(v.up_rate * scale) <= 500.0:
                vspeed = v.up_rate * scale
        return RemoteIdObservation(
            t=t, sensor=sensor, lat=pos.lat, lon=pos.lon, alt_m=alt, uas_id=det.id,
            speed_mps=speed, track_deg=track, vspeed_mps=vspeed,
            h_acc_m=pos.sigma_h_m, v_acc_m=sigma_v, transport="sapient",
        )

    # -- alert ---------------------------------------------------------------------------------

    def _alert(self, msg: SapientMessage, node: NodeInfo, t: float) -> _Outcome:
        alert = msg.alert
        kind = _enum_word(Alert.AlertType.Name(alert.alert_type), "ALERT_TYPE_") if alert.alert_type in Alert.AlertType.values() else "unspecified"
        status = _enum_word(Alert.AlertStatus.Name(alert.status), "ALERT_STATUS_") if alert.status in Alert.AlertStatus.values() else "unspecified"
        detail = f"alert {alert.alert_id} {kind} {status}"
        if alert.HasField("priority") and alert.priority in Alert.DiscretePriority.values():
            detail += f" priority {_enum_word(Alert.DiscretePriority.Name(alert.priority), 'DISCRETE_PRIORITY_')}"
        if alert.description:
            detail += f": {alert.description}"
        state = "fault" if alert.alert_type in _FAULT_ALERTS else node.state
        reply = self._reply(msg)
        reply.alert_ack.alert_id = alert.alert_id
        reply.alert_ack.alert_ack_status = AlertAck.ALERT_ACK_STATUS_ACCEPTED
        reply.alert_ack.reason.append("Alert received")
        return _Outcome([SensorStatus(t=t, sensor=self._sensor(msg), state=state, detail=detail)], [reply])


def _location_type_text(lt: Message) -> str:
    """A registration ``LocationType`` in a few words, e.g. ``utm_m, wgs84_e, zone 30U``."""
    parts = []
    which = lt.WhichOneof("coordinates_oneof")
    if which == "location_units":
        parts.append(_enum_word(_name(lt.DESCRIPTOR.fields_by_name["location_units"], lt.location_units), "LOCATION_COORDINATE_SYSTEM_"))
    elif which == "range_bearing_units":
        parts.append(_enum_word(_name(lt.DESCRIPTOR.fields_by_name["range_bearing_units"], lt.range_bearing_units), "RANGE_BEARING_COORDINATE_SYSTEM_"))
    which = lt.WhichOneof("datum_oneof")
    if which == "location_datum":
        parts.append(_enum_word(_name(lt.DESCRIPTOR.fields_by_name["location_datum"], lt.location_datum), "LOCATION_DATUM_"))
    elif which == "range_bearing_datum":
        parts.append(_enum_word(_name(lt.DESCRIPTOR.fields_by_name["range_bearing_datum"], lt.range_bearing_datum), "RANGE_BEARING_DATUM_"))
    if lt.zone:
        parts.append(f"zone {lt.zone}")
    return ", ".join(parts)


def _name(field_descriptor, value: int) -> str:  # noqa: ANN001 - a protobuf FieldDescriptor
    v = field_descriptor.enum_type.values_by_number.get(value)
    return v.name if v is not None else str(value)


def _ulid_track(object_id: str) -> int | None:
    """The sensor's object ULID as a track number: its low 63 bits (the ULID's random part, so
    distinct objects get distinct numbers), or ``None`` when it is not a ULID.

    >>> _ulid_track("01GGYFBAXH4VYRQYEX7S3XGK3H") == _ulid_track("01ggyfbaxh4vyrqyex7s3xgk3h")
    True
    >>> _ulid_track("0000000000000000000000000Z"), _ulid_track("not a ulid")
    (31, None)
    """
    if not is_ulid(object_id):
        return None
    # Crockford base 32 -> the digits int() reads in base 32 (0-9, A-V)
    return int(object_id.upper().translate(_CROCKFORD_TO_INT), 32) & ((1 << 63) - 1)


_CROCKFORD_TO_INT = str.maketrans("0123456789ABCDEFGHJKMNPQRSTVWXYZ", "0123456789ABCDEFGHIJKLMNOPQRSTUV")
