"""Zones v1: reading and writing restricted-airspace zones as a GeoJSON FeatureCollection.

Each Feature is one zone. Geometry is a Polygon or MultiPolygon (longitude, latitude, WGS84), or a
Point with ``properties.radius_m`` for a circle. Properties: ``id`` (required, unique), ``name``,
``lower_m`` and ``upper_m`` (metres above the WGS84 ellipsoid, like ``alt_m``; default 0 and
unlimited) and ``allow_uas_ids`` (a list of Remote ID ``uas_id``s allowed inside).

Example:
    >>> zones = parse_zones({"type": "FeatureCollection", "features": [{
    ...     "type": "Feature", "geometry": {"type": "Point", "coordinates": [126.978, 37.531]},
    ...     "properties": {"id": "P-73", "name": "Yongsan", "radius_m": 3700, "upper_m": 1500}}]})
    >>> zones[0].id, zones[0].radius_m
    ('P-73', 3700.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from skywarden.core.records import Zone

__all__ = ["ZoneFileError", "load_zones", "parse_zones", "zones_to_geojson", "write_zones"]


class ZoneFileError(ValueError):
    """The zone file cannot be used; the message names the offending feature and what to fix."""


def _number(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ZoneFileError(f"{where}: {what} must be a finite number of metres, got {value!r}")
    return float(value)


def _check_position(lon: Any, lat: Any, where: str) -> None:
    for v in (lon, lat):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ZoneFileError(f"{where}: coordinates must be numbers [lon, lat], got {[lon, lat]!r}")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ZoneFileError(
            f"{where}: coordinate [{lon}, {lat}] is not a WGS84 position; GeoJSON order is [longitude, latitude]"
        )


def _parse_feature(index: int, feature: Any) -> Zone:
    where = f"feature #{index}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ZoneFileError(f"{where}: expected a GeoJSON object with \"type\": \"Feature\"")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise ZoneFileError(f"{where}: properties must be an object")
    zone_id = props.get("id", feature.get("id"))
    if zone_id is None or (isinstance(zone_id, str) and not zone_id.strip()):
        raise ZoneFileError(f"{where}: properties.id is required (a unique zone identifier)")
    zone_id = str(zone_id)
    where = f"feature #{index} (id {zone_id!r})"
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        raise ZoneFileError(f"{where}: geometry is missing")
    gtype = geometry.get("type")
    radius_m: float | None = None
    if gtype == "Point":
        coords = geometry.get("coordinates")
        if not isinstance(coords, (list, tuple)) or len(coords) < 2:
            raise ZoneFileError(f"{where}: Point coordinates must be [lon, lat]")
        _check_position(coords[0], coords[1], where)
        if "radius_m" not in props:
            raise ZoneFileError(f"{where}: a Point zone needs properties.radius_m (circle radius in metres)")
        radius_m = _number(props["radius_m"], "radius_m", where)
        if radius_m <= 0:
            raise ZoneFileError(f"{where}: radius_m must be positive, got {radius_m}")
    elif gtype in ("Polygon", "MultiPolygon"):
        try:
            geom = shape(geometry)
        except Exception as exc:  # shapely raises several types for malformed coordinates
            raise ZoneFileError(f"{where}: {gtype} coordinates are malformed ({exc})") from None
        if geom.is_empty:
            raise ZoneFileError(f"{where}: {gtype} is empty")
        minx, miny, maxx, maxy = geom.bounds
        _check_position(minx, miny, where)
        _check_position(maxx, maxy, where)
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            raise ZoneFileError(f"{where}: {gtype} is not a valid polygon ({reason}); fix the ring so it does not cross itself")
    else:
        raise ZoneFileError(f"{where}: geometry type {gtype!r} is not supported; use Polygon, MultiPolygon or Point with radius_m")
    lower_m = _number(props.get("lower_m", 0.0) if props.get("lower_m") is not None else 0.0, "lower_m", where)
    upper_raw = props.get("upper_m")
    upper_m = math.inf if upper_raw is None else _number(upper_raw, "upper_m", where)
    if upper_m <= lower_m:
        raise ZoneFileError(f"{where}: upper_m ({upper_m}) must be above lower_m ({lower_m})")
    allow = props.get("allow_uas_ids", [])
    if allow is None:
        allow = []
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ZoneFileError(f"{where}: allow_uas_ids must be a list of uas_id strings")
    name = props.get("name", zone_id)
    return Zone(
        id=zone_id,
        name=str(name),
        geometry=geometry,
        radius_m=radius_m,
        lower_m=lower_m,
        upper_m=upper_m,
        allow_uas_ids=frozenset(allow),
    )


def parse_zones(document: Any) -> list[Zone]:
    """Validate a decoded GeoJSON FeatureCollection and return its zones, in file order.

    Raises:
        ZoneFileError: naming the first feature that is invalid and why.
    """
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ZoneFileError("zone file: expected a GeoJSON FeatureCollection ({\"type\": \"FeatureCollection\", \"features\": [...]})")
    features = document.get("features")
    if not isinstance(features, list):
        raise ZoneFileError("zone file: \"features\" must be a list")
    zones: list[Zone] = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        zone = _parse_feature(i, feature)
        if zone.id in seen:
            raise ZoneFileError(f"feature #{i} (id {zone.id!r}): duplicate zone id; ids must be unique")
        seen.add(zone.id)
        zones.append(zone)
    return zones


def load_zones(path: str | Path) -> list[Zone]:
    """Read and validate a zones v1 GeoJSON file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZoneFileError(f"zone file {p}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ZoneFileError(f"zone file {p}: not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZoneFileError(f"zone file {p}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    try:
        return parse_zones(document)
    except ZoneFileError as exc:
        raise ZoneFileError(f"zone file {p}: {exc}") from None


def zones_to_geojson(zones: Iterable[Zone]) -> dict:
    """The zones as a zones v1 FeatureCollection (round-trips through :func:`parse_zones`)."""
    features = []
    for z in zones:
        props: dict[str, Any] = {"id": z.id, "name": z.name, "lower_m": z.lower_m}
        if math.isfinite(z.upper_m):
            props["upper_m"] = z.upper_m
        if z.radius_m is not None:
            props["radius_m"] = z.radius_m
        props["allow_uas_ids"] = sorted(z.allow_uas_ids)
        features.append({"type": "Feature", "geometry": z.geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def write_zones(zones: Sequence[Zone], path: str | Path) -> None:
    Path(path).write_text(json.dumps(zones_to_geojson(zones), indent=1) + "\n", encoding="utf-8")
