"""Scenario files: what the simulator flies, which sensors watch it, and which airspace is restricted.

A scenario is a YAML (``.yaml``/``.yml``) or TOML (``.toml``) document. Top level:

``name``, ``description``
    Free text.
``start_time``
    UNIX seconds, UTC, of scenario time 0.
``duration_s``
    Length of the run, seconds.
``origin``
    ``{lat, lon, alt_m}``: the site origin, which defines the local east-north-up frame.
``sensors``
    A list; each item has ``id``, ``type`` (``radar``, ``remote_id`` or ``adsb``), ``position``
    ``{lat, lon, alt_m}`` and ``range_m`` (horizontal coverage radius), plus per-type fields
    (see :class:`RadarSensor`, :class:`RemoteIdReceiver`, :class:`AdsbReceiver`, :class:`DirectionFinder`).
``targets``
    A list; each item has ``id`` and ``type`` (``drone``, ``manned_aircraft``, ``helicopter`` or
    ``bird``); see :class:`DroneTarget`, :class:`MannedAircraftTarget`, :class:`HelicopterTarget`
    and :class:`BirdTarget`. A helicopter's true class (truth ``kind``) is ``manned_aircraft``. A
    bird with ``flock_size`` N > 1 is a flock of N birds, each its own truth target with the id
    ``<id>-1`` ... ``<id>-N``.
``zones``
    Zones v1 GeoJSON, inline: the whole FeatureCollection or just its ``features`` list.

Positions are WGS84 degrees; every ``alt_m`` is metres above the WGS84 ellipsoid (not above
mean sea level: add the geoid undulation, e.g. about 46 m at Gatwick, 24 m at Seoul). Times
``start_s``/``end_s``/``hover_s`` are seconds of scenario time.

Validation happens once, at load: structure, types and ranges by msgspec (declared on the
classes below), then the rules that span fields (unique ids, a speed for every leg, ...) by
:func:`_check_semantics`. Every problem becomes a :class:`ScenarioError` whose message starts
with the path of the offending field, e.g. ``targets[2].waypoints[0].lat: expected float <= 90.0,
got 95``.

Example:
    >>> scenario = load_scenario("seoul-2022")
    >>> scenario.name, len(scenario.zones) >= 2
    ('seoul-2022', True)
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import msgspec
import yaml

from skywarden.core.records import AltitudeM, Icao24, Latitude, Longitude, UasId, UnixTime, Zone
from skywarden.zones.geojson import ZoneFileError, parse_zones

__all__ = [
    "ScenarioError",
    "GeoPoint",
    "LatLon",
    "Waypoint",
    "RadarSensor",
    "DirectionFinder",
    "RemoteIdReceiver",
    "AdsbReceiver",
    "Sensor",
    "RemoteIdBroadcast",
    "DroneTarget",
    "MannedAircraftTarget",
    "BirdTarget",
    "HelicopterTarget",
    "Target",
    "TargetKind",
    "Scenario",
    "parse_scenario",
    "load_scenario",
    "list_builtin_scenarios",
]


class ScenarioError(ValueError):
    """The scenario cannot be used; the message names the offending field and what is wrong."""


PositiveM = Annotated[float, msgspec.Meta(gt=0.0, le=1_000_000.0)]
NonNegativeS = Annotated[float, msgspec.Meta(ge=0.0, le=86_400.0)]
PositiveS = Annotated[float, msgspec.Meta(gt=0.0, le=86_400.0)]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
SpeedMps = Annotated[float, msgspec.Meta(gt=0.0, le=1_000.0)]
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
TargetKind = Literal["drone", "manned_aircraft", "bird"]


class _Spec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every scenario record: immutable, and a misspelt field is an error, not a no-op."""


class LatLon(_Spec, frozen=True, kw_only=True):
    """A horizontal position, WGS84 degrees."""

    lat: Latitude
    lon: Longitude


class GeoPoint(LatLon, frozen=True, kw_only=True):
    """A 3D position: WGS84 degrees and metres above the WGS84 ellipsoid."""

    alt_m: AltitudeM


class Waypoint(GeoPoint, frozen=True, kw_only=True):
    """A route point. The target flies a straight line to it, then optionally hovers."""

    speed_mps: SpeedMps | None = None
    """Speed along the leg that ends here, m/s (3D); the target's ``speed_mps`` when absent."""
    hover_s: NonNegativeS = 0.0
    """Time spent stationary here after arriving, seconds."""


# ---------------------------------------------------------------------------------- sensors


class _SensorSpec(_Spec, frozen=True, kw_only=True, tag_field="type"):
    id: Identifier
    position: GeoPoint
    range_m: PositiveM
    """Horizontal coverage radius around ``position``, metres."""


class RadarSensor(_SensorSpec, frozen=True, kw_only=True, tag="radar"):
    """A rotating surveillance radar that reports 3D plots (non-cooperative)."""

    scan_period_s: PositiveS = 1.0
    """Time for one full rotation, seconds; the beam points north at each scan start."""
    pd: Probability = 0.9
    """Probability of detecting a target in coverage on one scan."""
    sigma_h_m: PositiveM = 15.0
    """1-sigma plot noise on each horizontal ENU axis, metres."""
    sigma_v_m: PositiveM = 25.0
    """1-sigma plot noise on the up axis, metres."""
    clutter_per_scan: Annotated[float, msgspec.Meta(ge=0.0, le=100_000.0)] = 0.0
    """Mean number of false plots per scan (Poisson), uniform over the coverage disc."""
    clutter_max_height_m: Annotated[float, msgspec.Meta(ge=0.0, le=30_000.0)] = 600.0
    """False plots are uniform in altitude from the radar's altitude to this much above it, metres."""


class RemoteIdReceiver(_SensorSpec, frozen=True, kw_only=True, tag="remote_id"):
    """A receiver of drones' broadcast Remote ID messages."""

    period_s: PositiveS = 1.0
    """Interval between received position messages from each drone, seconds."""
    sigma_h_m: PositiveM = 3.0
    """1-sigma error of the broadcast horizontal position (drone GNSS), metres; also sent as h_acc_m."""
    sigma_v_m: PositiveM = 5.0
    """1-sigma error of the broadcast geodetic altitude, metres."""


class AdsbReceiver(_SensorSpec, frozen=True, kw_only=True, tag="adsb"):
    """A 1090 MHz ADS-B receiver; it hears manned aircraft only."""

    period_s: PositiveS = 1.0
    """Interval between received position messages from each aircraft, seconds."""
    sigma_h_m: PositiveM = 10.0
    """1-sigma error of the reported horizontal position, metres."""
    sigma_v_m: PositiveM = 15.0
    """1-sigma error of the reported altitude, metres (25 ft steps, barometric offsets)."""


class DirectionFinder(_SensorSpec, frozen=True, kw_only=True, tag="rf_df"):
    """An RF direction finder: hears every drone's control and video links within ``range_m`` and
    reports the bearing to it, no range (``bearing`` observations)."""

    period_s: PositiveS = 1.0
    """Interval between bearings of each drone, seconds."""
    pd: Probability = 0.9
    """Probability that a due bearing is reported."""
    sigma_azimuth_deg: Annotated[float, msgspec.Meta(gt=0.0, le=45.0)] = 2.0
    """1-sigma azimuth error, degrees; also sent as ``sigma_azimuth_deg``."""


Sensor = Union[RadarSensor, RemoteIdReceiver, AdsbReceiver, DirectionFinder]


# ---------------------------------------------------------------------------------- targets


class RemoteIdBroadcast(_Spec, frozen=True, kw_only=True):
    """What a drone broadcasts as Remote ID."""

    uas_id: UasId
    operator: LatLon | None = None
    """Operator (pilot) position; the take-off point (first waypoint) when absent, as the
    standards allow when the operator's position is unknown."""


class _TargetSpec(_Spec, frozen=True, kw_only=True, tag_field="type"):
    id: Identifier
    start_s: NonNegativeS = 0.0
    """When the target appears, seconds after ``start_time``."""
    end_s: PositiveS | None = None
    """When it disappears at the latest, seconds after ``start_time``."""


class _RouteTarget(_TargetSpec, frozen=True, kw_only=True):
    waypoints: Annotated[tuple[Waypoint, ...], msgspec.Meta(min_length=1)]
    """The route: the target appears at the first waypoint and disappears after the last."""
    speed_mps: SpeedMps | None = None
    """Default leg speed, m/s, for waypoints without their own ``speed_mps``."""


class DroneTarget(_RouteTarget, frozen=True, kw_only=True, tag="drone"):
    """A small unmanned aircraft flying a waypoint route."""

    remote_id: RemoteIdBroadcast | None = None
    """Remote ID it broadcasts; absent means it broadcasts nothing."""
    authorised: bool = False
    """Informational ground truth: whether it is allowed where it flies. Alerting decides by the
    zones' ``allow_uas_ids``, not by this flag."""


class MannedAircraftTarget(_RouteTarget, frozen=True, kw_only=True, tag="manned_aircraft"):
    """A manned aircraft with an ADS-B transponder."""

    icao24: Icao24
    callsign: Annotated[str, msgspec.Meta(min_length=1, max_length=8)] | None = None
    authorised: bool = True


class HelicopterTarget(_RouteTarget, frozen=True, kw_only=True, tag="helicopter"):
    """A helicopter (manned, class ``manned_aircraft``) flying a waypoint route; ``hover_s`` on a
    waypoint makes it hover. Typically 30-70 m/s, 150-600 m above ground.

    With ``icao24`` it transmits ADS-B (emitter category ``A7``, rotorcraft); without it (a police
    or military helicopter with ADS-B off) only radar sees it.
    """

    icao24: Icao24 | None = None
    callsign: Annotated[str, msgspec.Meta(min_length=1, max_length=8)] | None = None
    authorised: bool = True


class BirdTarget(_TargetSpec, frozen=True, kw_only=True, tag="bird"):
    """A bird or a flock of birds: slow, erratic wandering around a point; only radar sees it."""

    position: GeoPoint
    """Centre of the area it wanders in."""
    wander_radius_m: PositiveM = 300.0
    """It stays within this horizontal distance of ``position``, metres."""
    speed_mps: SpeedMps = 10.0
    """Typical airspeed, m/s; each straight stretch varies around it."""
    turn_sd_deg: Annotated[float, msgspec.Meta(ge=0.0, le=180.0)] = 50.0
    """Standard deviation of the heading change between stretches, degrees."""
    flock_size: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 1
    """Number of birds. A flock follows one wandering route; each bird keeps its own offset from
    it (uniform in a disc of radius ``flock_spread_m``, up to +-10 m in height) and jitters
    around that offset at every turn (sd 20 % of the spread, at most 10 m; 3 m in height), so
    each flies its own erratic path. Each is a separate truth target ``<id>-<k>``."""
    flock_spread_m: PositiveM = 40.0
    """Radius of the flock, metres."""
    authorised: bool = True


Target = Union[DroneTarget, MannedAircraftTarget, HelicopterTarget, BirdTarget]

KIND_OF: dict[type, TargetKind] = {
    DroneTarget: "drone",
    MannedAircraftTarget: "manned_aircraft",
    HelicopterTarget: "manned_aircraft",
    BirdTarget: "bird",
}


def body_ids(target: Target) -> list[str]:
    """The truth target ids of one scenario target: its id, or ``<id>-1`` ... ``<id>-N`` for a flock."""
    if isinstance(target, BirdTarget) and target.flock_size > 1:
        return [f"{target.id}-{k}" for k in range(1, target.flock_size + 1)]
    return [target.id]


class Scenario(_Spec, frozen=True, kw_only=True):
    """A validated scenario. Build one with :func:`parse_scenario` or :func:`load_scenario`."""

    name: Identifier
    description: str = ""
    start_time: UnixTime
    """UNIX seconds, UTC, of scenario time 0."""
    duration_s: PositiveS
    origin: GeoPoint
    """Site origin; the local ENU frame is tangent to the ellipsoid here."""
    sensors: tuple[Sensor, ...] = ()
    targets: tuple[Target, ...] = ()
    zones: tuple[Zone, ...] = ()
    """Parsed zones v1 (the document's ``zones`` is GeoJSON)."""


# ------------------------------------------------------------------------------- validation

_MSGSPEC_ERROR = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _lookup(document: Any, path: str) -> tuple[bool, Any]:
    """The value at a msgspec error path such as ``.targets[2].waypoints[0].lat``, if present."""
    node = document
    for key, index in _PATH_TOKEN.findall(path):
        try:
            node = node[key] if key else node[int(index)]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, node


def _explain(exc: msgspec.ValidationError, document: Mapping[str, Any]) -> str:
    """Rewrite msgspec's message so it starts with the field path and shows the bad value."""
    match = _MSGSPEC_ERROR.match(str(exc))
    assert match is not None  # the pattern matches any string
    msg, path = match["msg"].replace("`", ""), (match["path"] or "").lstrip(".")
    missing = re.match(r"Object missing required field (\S+)", msg)
    unknown = re.match(r"Object contains unknown field (\S+)", msg)
    if missing:
        return f"{_join(path, missing[1])}: required field is missing"
    if unknown:
        return f"{_join(path, unknown[1])}: unknown field (misspelt, or not valid for this type)"
    found, value = _lookup(document, match["path"] or "")
    tag_choices = _TAGS.get(path.split("[", 1)[0]) if path.endswith(".type") else None
    if msg.startswith("Invalid value") and tag_choices:
        return f"{path}: unknown type {value!r}; expected one of {', '.join(tag_choices)}"
    detail = msg[:1].lower() + msg[1:]
    if found and not isinstance(value, (dict, list)) and "got" not in detail:
        detail += f", got {value!r}"
    return f"{path or 'scenario'}: {detail}"


def _tags(*types: type[msgspec.Struct]) -> list[str]:
    return [str(t.__struct_config__.tag) for t in types]


#: The accepted ``type`` values of each tagged list, for error messages.
_TAGS = {
    "sensors": _tags(RadarSensor, RemoteIdReceiver, AdsbReceiver),
    "targets": _tags(DroneTarget, MannedAircraftTarget, HelicopterTarget, BirdTarget),
}


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _leg_speed_check(target: DroneTarget | MannedAircraftTarget | HelicopterTarget, where: str) -> None:
    for j, wp in enumerate(target.waypoints[1:], start=1):
        if wp.speed_mps is None and target.speed_mps is None:
            raise ScenarioError(
                f"{where}.waypoints[{j}].speed_mps: required (the target has no default speed_mps)"
            )
    first = target.waypoints[0]
    if len(target.waypoints) == 1 and first.hover_s == 0.0 and target.end_s is None:
        raise ScenarioError(f"{where}.waypoints: a single waypoint needs hover_s > 0, or give more waypoints")


def _check_semantics(scenario: Scenario) -> None:
    """Rules that span fields; msgspec has already checked types and ranges."""
    seen_sensors: set[str] = set()
    for i, sensor in enumerate(scenario.sensors):
        if sensor.id in seen_sensors:
            raise ScenarioError(f"sensors[{i}].id: duplicate sensor id {sensor.id!r}")
        seen_sensors.add(sensor.id)
    seen_targets: set[str] = set()
    seen_uas: set[str] = set()
    seen_icao: set[str] = set()
    for i, target in enumerate(scenario.targets):
        where = f"targets[{i}]"
        if target.id in seen_targets:
            raise ScenarioError(f"{where}.id: duplicate target id {target.id!r}")
        seen_targets.add(target.id)
        if target.start_s >= scenario.duration_s:
            raise ScenarioError(
                f"{where}.start_s: {target.start_s} is not before the end of the scenario (duration_s {scenario.duration_s})"
            )
        if target.end_s is not None and target.end_s <= target.start_s:
            raise ScenarioError(f"{where}.end_s: {target.end_s} must be after start_s ({target.start_s})")
        if isinstance(target, (DroneTarget, MannedAircraftTarget, HelicopterTarget)):
            _leg_speed_check(target, where)
        if isinstance(target, DroneTarget) and target.remote_id is not None:
            if target.remote_id.uas_id in seen_uas:
                raise ScenarioError(f"{where}.remote_id.uas_id: duplicate uas_id {target.remote_id.uas_id!r}")
            seen_uas.add(target.remote_id.uas_id)
        if isinstance(target, (MannedAircraftTarget, HelicopterTarget)) and target.icao24 is not None:
            # ICAO addresses are case-insensitive hex; compare them normalised.
            if target.icao24.lower() in seen_icao:
                raise ScenarioError(f"{where}.icao24: duplicate icao24 {target.icao24!r}")
            seen_icao.add(target.icao24.lower())
    # Flock members are truth targets of their own: their ids must clash with no other target's.
    bodies: dict[str, int] = {}
    for i, target in enumerate(scenario.targets):
        for body in body_ids(target):
            if body in bodies and body != target.id:
                raise ScenarioError(f"targets[{i}].flock_size: flock member id {body!r} is already used by targets[{bodies[body]}]")
            bodies.setdefault(body, i)
    for i, target in enumerate(scenario.targets):
        if bodies.get(target.id, i) != i:
            raise ScenarioError(f"targets[{i}].id: {target.id!r} is already a flock member id of targets[{bodies[target.id]}]")


def _parse_zone_document(raw: Any) -> tuple[Zone, ...]:
    if raw is None:
        return ()
    document = {"type": "FeatureCollection", "features": raw} if isinstance(raw, list) else raw
    try:
        return tuple(parse_zones(document))
    except ZoneFileError as exc:
        raise ScenarioError(f"zones: {exc}") from None


def parse_scenario(document: Any, source: str = "scenario") -> Scenario:
    """Validate a decoded scenario document (a mapping, as from YAML/TOML) into a :class:`Scenario`.

    Args:
        document: the decoded document.
        source: a name for the document used to prefix error messages (e.g. its file name).

    Raises:
        ScenarioError: ``"<source>: <field path>: <problem>"`` for the first problem found.
    """
    if not isinstance(document, Mapping):
        raise ScenarioError(f"{source}: expected a mapping of scenario fields at the top level")
    fields = dict(document)
    zones_raw = fields.pop("zones", None)
    try:
        scenario = msgspec.convert(fields, Scenario)
        zones = _parse_zone_document(zones_raw)
        scenario = msgspec.structs.replace(scenario, zones=zones)
        _check_semantics(scenario)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {_explain(exc, fields)}") from None
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    return scenario


# ---------------------------------------------------------------------------------- loading

_SUFFIXES = (".yaml", ".yml", ".toml")


def _builtin_dir() -> importlib.resources.abc.Traversable:
    return importlib.resources.files("skywarden.sim").joinpath("scenarios")


def list_builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package, sorted."""
    return sorted(p.name.rsplit(".", 1)[0] for p in _builtin_dir().iterdir() if p.name.endswith(".yaml"))


def _decode(text: str, suffix: str, source: str) -> Any:
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{source}: not valid TOML ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML ({exc})") from None


def load_scenario(source: str | Path) -> Scenario:
    """Load a built-in scenario by name (see :func:`list_builtin_scenarios`) or a scenario file.

    A string is a file path if it ends in ``.yaml``, ``.yml`` or ``.toml`` or contains a path
    separator; otherwise it names a built-in scenario.

    Raises:
        ScenarioError: unknown name, unreadable file, or an invalid scenario.
    """
    text_source = str(source)
    is_path = isinstance(source, Path) or text_source.endswith(_SUFFIXES) or "/" in text_source or "\\" in text_source
    if not is_path:
        resource = _builtin_dir().joinpath(f"{text_source}.yaml")
        if not resource.is_file():
            raise ScenarioError(
                f"no built-in scenario {text_source!r}; built-ins are {', '.join(list_builtin_scenarios())}, "
                "or give a path to a .yaml/.yml/.toml file"
            )
        return parse_scenario(_decode(resource.read_text(encoding="utf-8"), ".yaml", text_source), text_source)
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ScenarioError(f"{path}: unsupported scenario file type {suffix!r}; use .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    return parse_scenario(_decode(text, suffix, str(path)), str(path))

