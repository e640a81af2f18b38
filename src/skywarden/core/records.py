"""Typed records that flow between pipeline stages.

Every record is an immutable-by-convention :class:`msgspec.Struct`. msgspec was chosen over
dataclasses because the same class definition gives validated JSON decoding at about two million
records per second (the observation format is the system's public interchange format, so every
line must be checked), compact encoding for the store and the tracks/alerts outputs, and
constraint metadata (``ge``/``le``) that rejects impossible values at the boundary.

Units: SI throughout. Times are UNIX seconds, UTC. Geodetic positions are WGS84 degrees, and
altitudes are metres above the WGS84 ellipsoid. Velocities are metres per second in the local
east-north-up frame of the site.

Example:
    >>> from skywarden.core.records import decode_observation
    >>> obs = decode_observation(b'{"kind":"plot","t":1764201600.0,"sensor":"r1","lat":51.1,"lon":-0.19,"alt_m":120}')
    >>> obs.kind, obs.alt_m
    ('plot', 120.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, Union

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = [
    "Latitude",
    "Longitude",
    "AltitudeM",
    "UnixTime",
    "PlotObservation",
    "RemoteIdObservation",
    "AdsbObservation",
    "BearingObservation",
    "Observation",
    "TrackUpdate",
    "TrackBatch",
    "AlertEvent",
    "TrackClass",
    "Zone",
    "SensorStatus",
    "decode_observation",
    "decode_observation_lines",
    "encode_record",
]

#: Degrees north, WGS84.
Latitude = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
#: Degrees east, WGS84.
Longitude = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
#: Metres above the WGS84 ellipsoid. The bounds reject absurd values (the Dead Sea shore is
#: about -430 m, and nothing the system tracks flies above 30 km).
AltitudeM = Annotated[float, msgspec.Meta(ge=-1_000.0, le=30_000.0)]
#: UNIX seconds, UTC. The bounds reject values that are clearly not UNIX seconds
#: (before 1990 or after 2200, e.g. milliseconds sent by mistake).
UnixTime = Annotated[float, msgspec.Meta(ge=631_152_000.0, le=7_258_118_400.0)]
#: A 1-sigma error in metres. Must be positive and sane.
SigmaM = Annotated[float, msgspec.Meta(gt=0.0, le=100_000.0)]
SpeedMps = Annotated[float, msgspec.Meta(ge=0.0, le=2_000.0)]
VerticalSpeedMps = Annotated[float, msgspec.Meta(ge=-500.0, le=500.0)]
TrackDeg = Annotated[float, msgspec.Meta(ge=0.0, le=360.0)]
SensorId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
UasId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Icao24 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{6}$")]

TrackClass = Literal["drone", "manned_aircraft", "bird", "unknown"]


class _ObservationBase(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="kind", gc=False):
    """Fields shared by every observation kind.

    ``gc=False``: observations hold only numbers and strings, so they can never be part of a
    reference cycle; untracked, the millions of them a replay decodes cost the garbage collector
    nothing.
    """

    t: UnixTime
    """Measurement time, UNIX seconds UTC."""
    sensor: SensorId
    """Identifier of the reporting sensor."""
    lat: Latitude
    lon: Longitude
    alt_m: AltitudeM


class PlotObservation(_ObservationBase, frozen=True, kw_only=True, tag="plot"):
    """A non-cooperative position measurement, such as a radar plot."""

    kind: ClassVar[str] = "plot"

    sigma_h_m: SigmaM | None = None
    """Horizontal 1-sigma error, metres; the sensor default applies when absent."""
    sigma_v_m: SigmaM | None = None
    """Vertical 1-sigma error, metres; the sensor default applies when absent."""
    range_m: Annotated[float, msgspec.Meta(ge=0.0, le=2_000_000.0)] | None = None
    """Slant range from the sensor, metres (radar plots decoded from polar measurements)."""
    azimuth_deg: TrackDeg | None = None
    """Azimuth from the sensor, degrees clockwise from true north."""
    elevation_deg: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)] | None = None
    """Elevation from the sensor, degrees above the local horizontal."""
    sigma_range_m: SigmaM | None = None
    """1-sigma error of ``range_m``, metres. With ``sigma_azimuth_deg``, ``range_m`` and
    ``azimuth_deg`` the tracker uses the plot's real error ellipse (narrow along the beam, wide
    across it at long range) instead of the circle ``sigma_h_m``."""
    sigma_azimuth_deg: Annotated[float, msgspec.Meta(gt=0.0, le=45.0)] | None = None
    """1-sigma error of ``azimuth_deg``, degrees."""
    icao24: Icao24 | None = None
    """Mode S address of the target, when an SSR/Mode S radar interrogated it."""
    sensor_track: int | None = None
    """The sensor's own track number, when the sensor reports tracks rather than plots."""


class RemoteIdObservation(_ObservationBase, frozen=True, kw_only=True, tag="remote_id"):
    """A drone's own Remote ID broadcast (ASTM F3411 / ASD-STAN) or network Remote ID report."""

    kind: ClassVar[str] = "remote_id"

    uas_id: UasId
    speed_mps: SpeedMps | None = None
    """Ground speed, m/s."""
    track_deg: TrackDeg | None = None
    """Direction of travel, degrees clockwise from true north."""
    vspeed_mps: VerticalSpeedMps | None = None
    """Vertical speed, m/s, positive up."""
    operator_lat: Latitude | None = None
    operator_lon: Longitude | None = None
    h_acc_m: SigmaM | None = None
    """Reported horizontal accuracy, metres (treated as a 1-sigma error)."""
    v_acc_m: SigmaM | None = None
    """Reported vertical accuracy of ``alt_m``, metres."""
    speed_acc_mps: Annotated[float, msgspec.Meta(gt=0.0, le=1_000.0)] | None = None
    """Reported speed accuracy, m/s."""
    operator_alt_m: AltitudeM | None = None
    """Operator (pilot) altitude, metres above the WGS84 ellipsoid."""
    operator_id: str | None = None
    """Operator registration id (Operator ID message)."""
    id_type: str | None = None
    """Kind of ``uas_id``: ``serial_number``, ``caa_registration``, ``utm_assigned_uuid``,
    ``specific_session_id`` or ``none``."""
    ua_type: str | None = None
    """UA type, e.g. ``helicopter_or_multirotor``, ``aeroplane``, ``glider`` (F3411 Basic ID)."""
    status: str | None = None
    """Operational status: ``undeclared``, ``ground``, ``airborne``, ``emergency`` or
    ``remote_id_system_failure``."""
    height_m: Annotated[float, msgspec.Meta(ge=-1_000.0, le=30_000.0)] | None = None
    """Height, metres, above ``height_ref`` (``takeoff`` or ``ground``)."""
    height_ref: Literal["takeoff", "ground"] | None = None
    self_id: str | None = None
    """Free-text description from the Self-ID message."""
    transport: str | None = None
    """How the message travelled: ``wifi_beacon``, ``wifi_nan``, ``bt4``, ``bt5``, ``netrid``, ``mavlink``, ..."""


class AdsbObservation(_ObservationBase, frozen=True, kw_only=True, tag="adsb"):
    """An ADS-B position report of a (normally manned) aircraft."""

    kind: ClassVar[str] = "adsb"

    icao24: Icao24
    callsign: str | None = None
    speed_mps: SpeedMps | None = None
    """Ground speed, m/s."""
    track_deg: TrackDeg | None = None
    """Direction of travel, degrees clockwise from true north."""
    vspeed_mps: VerticalSpeedMps | None = None
    """Vertical rate, m/s, positive up."""
    alt_baro_m: Annotated[float, msgspec.Meta(ge=-1_000.0, le=30_000.0)] | None = None
    """Barometric (pressure) altitude, metres, standard atmosphere 1013.25 hPa. ``alt_m`` is always
    geometric (WGS84 ellipsoid); when only a barometric altitude was available, ``alt_m`` holds it
    corrected by the aircraft's reported geometric-minus-barometric difference where known."""
    category: str | None = None
    """ADS-B emitter category, e.g. ``A3`` (large aircraft) or ``B6`` (unmanned aerial vehicle, a drone)."""
    on_ground: bool | None = None


class BearingObservation(_ObservationBase, frozen=True, kw_only=True, tag="bearing"):
    """A direction to a target from a sensor that measures no range: an RF direction finder, an
    acoustic array, a camera's line of sight.

    ``lat``, ``lon`` and ``alt_m`` are the position of the **sensor** (its antenna), not of the
    target. One bearing updates a track that lies along it; bearings of the same target from two
    or more sensors are triangulated into a position.
    """

    kind: ClassVar[str] = "bearing"

    azimuth_deg: TrackDeg
    """Direction to the target, degrees clockwise from true north."""
    sigma_azimuth_deg: Annotated[float, msgspec.Meta(gt=0.0, le=45.0)] | None = None
    """1-sigma error of ``azimuth_deg``, degrees; the sensor default applies when absent."""
    elevation_deg: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)] | None = None
    """Elevation of the target above the sensor's horizontal, degrees, when measured."""
    sigma_elevation_deg: Annotated[float, msgspec.Meta(gt=0.0, le=45.0)] | None = None
    """1-sigma error of ``elevation_deg``, degrees (``sigma_azimuth_deg`` when absent)."""
    frequency_mhz: Annotated[float, msgspec.Meta(gt=0.0, le=100_000.0)] | None = None
    """Centre frequency of the received emission, MHz (RF direction finders)."""


Observation = Union[PlotObservation, RemoteIdObservation, AdsbObservation, BearingObservation]


class TrackUpdate(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One confirmed track's state after an update; a line of TRACKS.jsonl."""

    t: float
    """State time, UNIX seconds UTC."""
    track_id: int
    lat: float
    lon: float
    alt_m: float
    vel_east_mps: float
    vel_north_mps: float
    vel_up_mps: float
    class_: TrackClass = msgspec.field(name="class")
    uas_id: str | None = None
    icao24: str | None = None
    operator_lat: float | None = None
    operator_lon: float | None = None
    class_probability: float | None = None
    """Probability of ``class`` given the evidence so far (0 to 1), when the classifier gives one."""
    remote_id_flag: str | None = None
    """Why the track's Remote ID is implausible: comma-separated reasons of
    :mod:`skywarden.fusion.plausibility` (``jump``: an impossible jump; ``two_places``: heard in
    two places at once; ``track_mismatch``: disagrees with the radar track), or absent."""


AlertKind = Literal["zone_entry", "remote_id_inconsistent"]
AlertState = Literal["open", "acknowledged", "resolved"]


class AlertEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A change in an alert's lifecycle; a line of ALERTS.jsonl.

    ``kind`` is ``zone_entry`` (a track entered a zone) or ``remote_id_inconsistent`` (a track's
    Remote ID broadcast is implausible: spoofed or faulty; ``zone_id`` is then empty and
    ``reason`` of the ``open`` event says why).
    """

    t: float
    """Event time, UNIX seconds UTC (the track's state time that caused it)."""
    alert_id: int
    zone_id: str
    track_id: int
    kind: AlertKind
    state: AlertState
    uas_id: str | None = None
    reason: str | None = None
    """Why the state changed, e.g. ``entered``, ``left_zone``, ``track_lost``, ``operator``."""
    by: str | None = None
    """Who changed the state, for operator actions (the token's name)."""
    comment: str | None = None
    """The operator's comment, for operator actions."""


class SensorStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a sensor says about itself (SAPIENT StatusReport, DroneScout status, ASTERIX CAT034, ...).

    Sensor status is not an observation: decoders yield it beside observations, and the pipeline
    shows it in the sensor panel.
    """

    t: float
    """Report time, UNIX seconds UTC."""
    sensor: str
    state: str
    """``ok``, ``degraded``, ``fault``, ``offline`` or the sensor's own word for it."""
    lat: float | None = None
    """Sensor position, WGS84 degrees, when it reports one."""
    lon: float | None = None
    alt_m: float | None = None
    detail: str | None = None
    """Free text: mode, field of view, fault description."""


_observation_decoder = msgspec.json.Decoder(Observation)
_encoder = msgspec.json.Encoder()


def decode_observation(line: bytes | str) -> Observation:
    """Decode and validate one line of observation JSON Lines v1.

    Raises:
        msgspec.DecodeError: the line is not valid JSON (invalid UTF-8 included).
        msgspec.ValidationError: a field is missing, mistyped or out of range; the message names it.
    """
    try:
        return _observation_decoder.decode(line)
    except UnicodeDecodeError as exc:  # msgspec lets invalid UTF-8 inside a string through as this
        raise msgspec.DecodeError(f"JSON is malformed: invalid UTF-8 ({exc.reason} at byte {exc.start})") from None


def decode_observation_lines(buf: bytes) -> list[Observation]:
    """Decode a buffer of observation JSON Lines v1 in one call (msgspec ``decode_lines``).

    Unlike line-by-line decoding, blank lines are skipped and a value may span lines or share
    one; callers that must match :func:`decode_observation` per line check the layout first.
    Raises like :func:`decode_observation` (for the first bad value, without its line).
    """
    try:
        return _observation_decoder.decode_lines(buf)
    except UnicodeDecodeError as exc:
        raise msgspec.DecodeError(f"JSON is malformed: invalid UTF-8 ({exc.reason} at byte {exc.start})") from None


def encode_record(record: msgspec.Struct) -> bytes:
    """Encode a record as one compact JSON object (no trailing newline)."""
    return _encoder.encode(record)


class Zone(msgspec.Struct, frozen=True, kw_only=True):
    """A restricted volume of airspace: a footprint and an altitude band.

    ``geometry`` is a GeoJSON geometry (RFC 7946, longitude first, WGS84 degrees): a Polygon or
    MultiPolygon, or a Point with ``radius_m`` for a circle.
    """

    id: str
    name: str
    geometry: dict
    radius_m: float | None = None
    """Circle radius in metres (geodesic), only for Point geometry."""
    lower_m: float = 0.0
    """Floor of the band, metres above the WGS84 ellipsoid."""
    upper_m: float = float("inf")
    """Ceiling of the band, metres above the WGS84 ellipsoid; unlimited by default."""
    allow_uas_ids: frozenset[str] = frozenset()
    """Remote ID ``uas_id``s authorised to fly inside."""


@dataclass(slots=True)
class TrackBatch:
    """Confirmed tracks updated in one tracker step, as parallel arrays (fusion -> zones, alerts).

    Positions are WGS84 (degrees, metres above the ellipsoid); velocities are ENU m/s.
    ``lost_track_ids`` lists the confirmed tracks that ended in this step (deleted or merged).
    """

    t: npt.NDArray[np.float64]
    track_id: npt.NDArray[np.int64]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    alt_m: npt.NDArray[np.float64]
    vel_enu_mps: npt.NDArray[np.float64]
    track_class: list[str]
    uas_id: list[str | None]
    icao24: list[str | None]
    operator_lat: npt.NDArray[np.float64]
    operator_lon: npt.NDArray[np.float64]
    lost_track_ids: list[int]
    step_time: float
    """The tracker's clock at the end of the step, UNIX seconds UTC."""
    class_probability: npt.NDArray[np.float64] | None = None
    """Per track, the probability of ``track_class`` (NaN where unknown); None: no classifier."""
    remote_id_flag: list[str | None] | None = None
    """Per track, why its Remote ID is implausible, or None; the list itself is None when no
    track is flagged."""

    def __len__(self) -> int:
        return int(self.t.size)

    def to_updates(self) -> list[TrackUpdate]:
        """The batch as one :class:`TrackUpdate` record per track."""
        n = len(self)
        vel = self.vel_enu_mps.T.tolist() if n else [[], [], []]
        # NaN (not reported / no probability) becomes None, column by column.
        op_lat = [v if v == v else None for v in self.operator_lat.tolist()]
        op_lon = [lo if la is not None else None for la, lo in zip(op_lat, self.operator_lon.tolist())]
        probs = [p if p == p else None for p in self.class_probability.tolist()] if self.class_probability is not None else [None] * n
        flags = self.remote_id_flag if self.remote_id_flag is not None else [None] * n
        return [
            TrackUpdate(
                t=t, track_id=tid, lat=la, lon=lo, alt_m=al, vel_east_mps=ve, vel_north_mps=vn, vel_up_mps=vu,
                class_=cls, uas_id=uas, icao24=icao, operator_lat=ola, operator_lon=olo,  # type: ignore[arg-type]
                class_probability=p, remote_id_flag=flag,
            )
            for t, tid, la, lo, al, ve, vn, vu, cls, uas, icao, ola, olo, p, flag in zip(
                self.t.tolist(), self.track_id.tolist(), self.lat.tolist(), self.lon.tolist(), self.alt_m.tolist(), *vel,
                self.track_class, self.uas_id, self.icao24, op_lat, op_lon, probs, flags,
            )
        ]
