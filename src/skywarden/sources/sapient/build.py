"""Building SAPIENT v2.0 messages as a sensor node (ASM) would send them: for tests, benchmarks
and simulated sensors.

Each builder returns a complete, ICD-valid ``SapientMessage`` (mandatory fields set, ULIDs and
UUIDs well formed). Positions are WGS84 degrees and metres above the ellipsoid.

Example:
    >>> from skywarden.sources.sapient.validate import violations
    >>> msg = detection_location("a8654cdf-4328-47de-81fa-c495589e30c9", 1_700_000_000.0, 51.17, -1.82, 120.0)
    >>> msg.detection_report.location.y, violations(msg)
    (51.17, [])
"""

from __future__ import annotations

import math
import os
import time

from skywarden.sources.sapient.bindings import ICD_VERSION, Registration, SapientMessage

__all__ = ["new_ulid", "registration", "status_report", "detection_location", "detection_range_bearing", "alert"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(t: float | None = None) -> str:
    """A ULID: 48-bit millisecond time ``t`` (UNIX s; now by default) and 80 random bits, in
    Crockford base 32.

    >>> len(new_ulid(0.0)), new_ulid(0.0)[:10]
    (26, '0000000000')
    """
    ms = int((time.time() if t is None else t) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def _message(node_id: str, t: float) -> SapientMessage:
    msg = SapientMessage(node_id=node_id)
    seconds = math.floor(t)  # t * 1e9 as one float would lose the sub-microsecond digits
    msg.timestamp.seconds, msg.timestamp.nanos = seconds, min(round((t - seconds) * 1e9), 999_999_999)
    return msg


def registration(node_id: str, t: float, *, node_type: int = Registration.NODE_TYPE_RADAR, sub_types: tuple[str, ...] = (),
                 name: str = "test node", icd_version: str = ICD_VERSION, utm_zone: str = "") -> SapientMessage:
    """A minimal valid Registration: one node definition, a 5 s status interval, one default mode
    reporting latitude/longitude in degrees (or UTM in ``utm_zone``) on the WGS84 ellipsoid."""
    msg = _message(node_id, t)
    reg = msg.registration
    reg.icd_version = icd_version
    reg.name = name
    definition = reg.node_definition.add(node_type=node_type)
    definition.node_sub_type.extend(sub_types)
    reg.capabilities.add(category="sensor", type="detection")
    status = reg.status_definition
    status.status_interval.units = Registration.TIME_UNITS_SECONDS
    status.status_interval.value = 5.0
    status.location_definition.location_units = 5 if utm_zone else 1  # UTM_M / LAT_LNG_DEG_M
    status.location_definition.location_datum = 1  # WGS84_E
    if utm_zone:
        status.location_definition.zone = utm_zone
    mode = reg.mode_definition.add(mode_name="default", mode_type=Registration.MODE_TYPE_PERMANENT)
    mode.settle_time.units = Registration.TIME_UNITS_SECONDS
    mode.settle_time.value = 1.0
    region = mode.task.region_definition
    region.region_type.append(Registration.REGION_TYPE_AREA_OF_INTEREST)
    region.region_area.add(location_units=1, location_datum=1)
    reg.config_data.add(manufacturer="skywarden", model="test")
    return msg


def status_report(node_id: str, t: float, lat: float | None = None, lon: float | None = None, alt_m: float = 0.0,
                  *, system: int = 1, mode: str = "default") -> SapientMessage:
    """A StatusReport (system OK by default) with the node's location when ``lat``/``lon`` are given."""
    msg = _message(node_id, t)
    rep = msg.status_report
    rep.report_id = new_ulid(t)
    rep.system = system
    rep.info = 1  # INFO_NEW
    rep.mode = mode
    if lat is not None and lon is not None:
        rep.node_location.x, rep.node_location.y, rep.node_location.z = lon, lat, alt_m
        rep.node_location.coordinate_system = 1
        rep.node_location.datum = 1
    return msg


def detection_location(node_id: str, t: float, lat: float, lon: float, alt_m: float | None = None, *,
                       object_id: str | None = None, error_m: float | None = None, confidence: float | None = None,
                       classification: str | None = None, uas_id: str | None = None,
                       velocity_enu: tuple[float, float, float] | None = None) -> SapientMessage:
    """A DetectionReport with a latitude/longitude location (degrees; ``x`` longitude, ``y``
    latitude); ``error_m`` becomes x/y errors in degrees and the z error in metres."""
    msg = _message(node_id, t)
    det = msg.detection_report
    det.report_id = new_ulid(t)
    det.object_id = object_id or new_ulid(t)
    loc = det.location
    loc.x, loc.y = lon, lat
    if alt_m is not None:
        loc.z = alt_m
    loc.coordinate_system = 1
    loc.datum = 1
    if error_m is not None:
        loc.y_error = error_m / 110_574.0
        loc.x_error = error_m / 110_574.0
        loc.z_error = error_m
    _extras(det, confidence, classification, uas_id, velocity_enu)
    return msg


def detection_range_bearing(node_id: str, t: float, range_m: float, azimuth_deg: float, elevation_deg: float | None = None, *,
                            object_id: str | None = None, datum: int = 1, range_error_m: float | None = None,
                            azimuth_error_deg: float | None = None) -> SapientMessage:
    """A DetectionReport as range (m) and bearing (degrees) from the node, true north by default."""
    msg = _message(node_id, t)
    det = msg.detection_report
    det.report_id = new_ulid(t)
    det.object_id = object_id or new_ulid(t)
    rb = det.range_bearing
    rb.range, rb.azimuth = range_m, azimuth_deg
    if elevation_deg is not None:
        rb.elevation = elevation_deg
    if range_error_m is not None:
        rb.range_error = range_error_m
    if azimuth_error_deg is not None:
        rb.azimuth_error = azimuth_error_deg
    rb.coordinate_system = 1  # DEGREES_M
    rb.datum = datum
    return msg


def _extras(det, confidence, classification, uas_id, velocity_enu) -> None:  # noqa: ANN001 - protobuf message
    if confidence is not None:
        det.detection_confidence = confidence
    if classification is not None:
        det.classification.add(type=classification, confidence=confidence or 1.0)
    if uas_id is not None:
        det.id = uas_id
    if velocity_enu is not None:
        v = det.enu_velocity
        v.east_rate, v.north_rate, v.up_rate = velocity_enu


def alert(node_id: str, t: float, description: str, *, alert_type: int = 2) -> SapientMessage:
    """An Alert (a warning by default) with a new ULID."""
    msg = _message(node_id, t)
    msg.alert.alert_id = new_ulid(t)
    msg.alert.alert_type = alert_type
    msg.alert.status = 1  # ACTIVE
    msg.alert.description = description
    return msg
