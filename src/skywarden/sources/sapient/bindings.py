"""The SAPIENT BSI Flex 335 v2.0 protobuf classes, generated at build time (see setup.py).

The modules under ``proto/sapient_msg`` are written by ``grpcio-tools`` when skywarden is built or
installed (``pip install .`` or ``pip install -e .``). A source tree that was never installed has
none; importing this module then raises an ``ImportError`` that says what to run.

Example:
    >>> msg = SapientMessage(node_id="a8654cdf-4328-47de-81fa-c495589e30c9")
    >>> msg.registration_ack.acceptance = True
    >>> msg.WhichOneof("content")
    'registration_ack'
"""

from __future__ import annotations

try:
    from skywarden.sources.sapient.proto.sapient_msg import proto_options_pb2
    from skywarden.sources.sapient.proto.sapient_msg.bsi_flex_335_v2_0 import (
        alert_ack_pb2,
        alert_pb2,
        detection_report_pb2,
        location_pb2,
        range_bearing_pb2,
        registration_ack_pb2,
        registration_pb2,
        sapient_message_pb2,
        status_report_pb2,
    )
except ImportError as exc:  # pragma: no cover - depends on how the tree was installed
    raise ImportError(
        "the SAPIENT protobuf bindings are generated at build time and are missing here; "
        "run `pip install -e .` (or `pip install .`) in the skywarden source tree to generate them "
        f"({exc})"
    ) from exc

__all__ = [
    "SapientMessage",
    "Registration",
    "RegistrationAck",
    "StatusReport",
    "DetectionReport",
    "Alert",
    "AlertAck",
    "Location",
    "RangeBearing",
    "LocationCoordinateSystem",
    "LocationDatum",
    "RangeBearingCoordinateSystem",
    "RangeBearingDatum",
    "proto_options_pb2",
    "ICD_VERSION",
]

SapientMessage = sapient_message_pb2.SapientMessage
Registration = registration_pb2.Registration
RegistrationAck = registration_ack_pb2.RegistrationAck
StatusReport = status_report_pb2.StatusReport
DetectionReport = detection_report_pb2.DetectionReport
Alert = alert_pb2.Alert
AlertAck = alert_ack_pb2.AlertAck
Location = location_pb2.Location
RangeBearing = range_bearing_pb2.RangeBearing
LocationCoordinateSystem = location_pb2.LocationCoordinateSystem
LocationDatum = location_pb2.LocationDatum
RangeBearingCoordinateSystem = range_bearing_pb2.RangeBearingCoordinateSystem
RangeBearingDatum = range_bearing_pb2.RangeBearingDatum

ICD_VERSION = "BSI Flex 335 v2.0"
"""The ``icd_version`` a v2.0 node registers with (Registration.icd_version)."""
