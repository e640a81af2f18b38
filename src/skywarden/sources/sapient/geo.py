"""SAPIENT locations and range-bearings to WGS84 positions, checked before they are believed.

A SAPIENT ``Location`` declares its frame (``coordinate_system``, ``datum``, ``utm_zone``), but
real and simulated nodes get it wrong (Dstl's simulator declares UTM and sends latitude/longitude,
latitude in ``x``), so every conversion range-checks the numbers against the declared frame and
raises :class:`Unusable` with a reason instead of returning a position somewhere else on Earth.

Conventions (BSI Flex 335 v2.0, location.proto and range_bearing.proto):

* ``LAT_LNG_DEG_M`` / ``LAT_LNG_RAD_M``: ``x`` is longitude and ``y`` latitude (degrees or
  radians), ``z`` metres; ``x_error``/``y_error`` are in the same angular unit as ``x``/``y``
  and are turned into metres on the ground.
* ``UTM_M``: ``x`` easting and ``y`` northing, metres, in ``utm_zone`` (e.g. ``30U``: zone number
  and MGRS latitude band; bands C-M are south of the equator, N-X north).
* Altitude datum ``WGS84_E``: ``z`` is above the ellipsoid, used as is. ``WGS84_G``: ``z`` is
  above the geoid (about mean sea level); skywarden adds the geoid undulation N given as the
  ``geoid_undulation_m`` option (h = H + N; e.g. about +47 m in southern England); without it the
  altitude is used unconverted and its sigma is raised to at least :data:`GEOID_SIGMA_M`.
* Range-bearing: azimuth clockwise from north, elevation above the node's horizontal, slant
  range; units per ``coordinate_system``. North is true north (``TRUE``), grid north of the node's
  UTM zone (``GRID``, corrected by the meridian convergence) or magnetic north (``MAGNETIC``,
  corrected by the ``declination_deg`` option). ``PLATFORM`` north (the heading of a moving
  platform) is not known to a fusion node and is refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from pyproj import Proj, Transformer

from skywarden.core.frame import LocalFrame
from skywarden.sources.sapient.bindings import (
    Location,
    LocationCoordinateSystem,
    LocationDatum,
    RangeBearing,
    RangeBearingCoordinateSystem,
    RangeBearingDatum,
)

__all__ = [
    "Unusable",
    "Position",
    "UtmZone",
    "parse_utm_zone",
    "location_to_wgs84",
    "range_bearing_to_wgs84",
    "range_bearing_direction",
    "Direction",
    "ground_distance_m",
    "GEOID_SIGMA_M",
    "UNKNOWN_ALT_SIGMA_M",
]

GEOID_SIGMA_M = 50.0
"""Vertical sigma (m) at least given to a geoid (MSL) altitude that could not be converted: the
geoid undulation is within +-50 m over most inhabited land (EGM96 spans -106..+85 m)."""
UNKNOWN_ALT_SIGMA_M = 1_000.0
"""Vertical sigma (m) of a position whose altitude the sensor did not report (a 2-D sensor):
the altitude is then the node's own, and this says the tracker should not trust it."""
MAX_SIGMA_M = 100_000.0
_M_PER_DEG_LAT = 110_574.0  # WGS84, a good enough scale for turning angular errors into metres
_M_PER_DEG_LON_EQ = 111_320.0
_EARTH_RADIUS_M = 6_371_008.8

_LL_DEG = LocationCoordinateSystem.Value("LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M")
_LL_RAD = LocationCoordinateSystem.Value("LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M")
_UTM = LocationCoordinateSystem.Value("LOCATION_COORDINATE_SYSTEM_UTM_M")
_ELLIPSOID = LocationDatum.Value("LOCATION_DATUM_WGS84_E")
_GEOID = LocationDatum.Value("LOCATION_DATUM_WGS84_G")
_RB_UNITS = {  # coordinate_system -> (radians per angle unit, metres per range unit)
    RangeBearingCoordinateSystem.Value("RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M"): (math.pi / 180.0, 1.0),
    RangeBearingCoordinateSystem.Value("RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_M"): (1.0, 1.0),
    RangeBearingCoordinateSystem.Value("RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM"): (math.pi / 180.0, 1000.0),
    RangeBearingCoordinateSystem.Value("RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM"): (1.0, 1000.0),
}
_RB_TRUE = RangeBearingDatum.Value("RANGE_BEARING_DATUM_TRUE")
_RB_MAGNETIC = RangeBearingDatum.Value("RANGE_BEARING_DATUM_MAGNETIC")
_RB_GRID = RangeBearingDatum.Value("RANGE_BEARING_DATUM_GRID")
_RB_PLATFORM = RangeBearingDatum.Value("RANGE_BEARING_DATUM_PLATFORM")

_ZONE = re.compile(r"\s*(\d{1,2})\s*([C-HJ-NP-X])\s*", re.IGNORECASE)
_BANDS = "CDEFGHJKLMNPQRSTUVWX"


class Unusable(Exception):
    """A location that cannot be turned into a WGS84 position: ``reason`` (snake_case) and ``detail``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Position:
    """A WGS84 position (degrees, metres above the ellipsoid) with 1-sigma errors in metres.

    ``alt_m`` is ``None`` when the sensor gave no altitude. ``range_m``, ``azimuth_deg`` (true) and
    ``elevation_deg`` are set for positions measured as range-bearing.
    """

    lat: float
    lon: float
    alt_m: float | None
    sigma_h_m: float | None = None
    sigma_v_m: float | None = None
    range_m: float | None = None
    azimuth_deg: float | None = None
    elevation_deg: float | None = None
    sigma_range_m: float | None = None
    sigma_azimuth_deg: float | None = None


@dataclass(frozen=True, slots=True)
class UtmZone:
    """A UTM zone number (1-60), its hemisphere and its MGRS latitude band (a letter C-X)."""

    number: int
    band: str

    @property
    def north(self) -> bool:
        return self.band >= "N"

    @property
    def band_lat_deg(self) -> tuple[float, float]:
        """The band's latitude span, degrees (band X spans 12 degrees, 72-84 N)."""
        south = -80.0 + 8.0 * _BANDS.index(self.band)
        return south, (84.0 if self.band == "X" else south + 8.0)


def parse_utm_zone(text: str) -> UtmZone:
    """``"30U"`` -> zone 30, band U. A zone without its band letter is refused: the hemisphere
    would be a guess.

    >>> parse_utm_zone("30U"), parse_utm_zone(" 33h ").north
    (UtmZone(number=30, band='U'), False)
    """
    match = _ZONE.fullmatch(text)
    if match is None or not 1 <= int(match.group(1)) <= 60:
        raise Unusable("invalid_utm_zone", f"utm_zone {text[:20]!r} is not a zone number 1-60 with its latitude band letter (e.g. 30U)")
    return UtmZone(int(match.group(1)), match.group(2).upper())


@lru_cache(maxsize=128)
def _utm_to_wgs84(number: int, north: bool) -> Transformer:
    return Transformer.from_crs(f"EPSG:{(32600 if north else 32700) + number}", "EPSG:4326", always_xy=True)


@lru_cache(maxsize=128)
def _utm_proj(number: int, north: bool) -> Proj:
    return Proj(f"EPSG:{(32600 if north else 32700) + number}")


@lru_cache(maxsize=64)
def _frame(lat: float, lon: float, alt: float) -> LocalFrame:
    return LocalFrame(lat, lon, alt, name="sapient-node")


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _sigma(value: float | None) -> float | None:
    """A usable 1-sigma error in metres, or ``None`` (absent, zero, negative, NaN or absurd)."""
    if value is None or not math.isfinite(value) or value <= 0.0 or value > MAX_SIGMA_M:
        return None
    return value


def _larger(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def ground_distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance, metres (spherical; for plausibility checks, not for measurement).

    >>> round(ground_distance_m(51.0, -1.0, 52.0, -1.0) / 1000.0, 1)
    111.2
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _altitude(loc: Location, geoid_undulation_m: float | None) -> tuple[float | None, float | None]:
    """``(alt_m above the ellipsoid or None, minimum vertical sigma)`` of a location's ``z``."""
    if not loc.HasField("z"):
        return None, None
    z = loc.z
    if not math.isfinite(z):
        raise Unusable("implausible_location", f"z = {z}")
    if loc.datum == _ELLIPSOID:
        return z, None
    if loc.datum == _GEOID and geoid_undulation_m is not None:
        return z + geoid_undulation_m, None
    # geoid height without a known undulation, or an unspecified datum: use it, say it is rough
    return z, GEOID_SIGMA_M


def location_to_wgs84(loc: Location, zone_fallback: str = "", geoid_undulation_m: float | None = None) -> Position:
    """A SAPIENT ``Location`` as a WGS84 :class:`Position`; :class:`Unusable` when it cannot be one.

    ``zone_fallback`` is the UTM zone the node declared at registration, used when the location
    carries none.

    >>> from skywarden.sources.sapient.bindings import Location
    >>> loc = Location(x=-1.8223, y=51.1739, z=120.0, x_error=0.0001, coordinate_system=1, datum=1)
    >>> p = location_to_wgs84(loc)
    >>> (p.lat, p.lon, p.alt_m, round(p.sigma_h_m, 1))
    (51.1739, -1.8223, 120.0, 7.0)
    >>> location_to_wgs84(Location(x=51.17, y=-1.82, coordinate_system=5, datum=1, utm_zone="30U"))
    Traceback (most recent call last):
    ...
    skywarden.sources.sapient.geo.Unusable: implausible_location: declared UTM 30U but easting 51.17 m, northing -1.82 m are outside the zone (they look like degrees)
    """
    x, y = loc.x, loc.y
    if not _finite(x, y):
        raise Unusable("implausible_location", f"x = {x}, y = {y}")
    system = loc.coordinate_system
    if system in (_LL_DEG, _LL_RAD):
        if system == _LL_RAD:
            x, y = math.degrees(x), math.degrees(y)
        if not (-90.0 <= y <= 90.0 and -180.0 <= x <= 180.0):
            unit = "degrees" if system == _LL_DEG else "radians"
            raise Unusable("implausible_location", f"latitude y = {loc.y}, longitude x = {loc.x} are not {unit}")
        lat, lon = y, x
        scale = 1.0 if system == _LL_DEG else 180.0 / math.pi
        sx = _sigma(loc.x_error * scale * _M_PER_DEG_LON_EQ * math.cos(math.radians(lat))) if loc.HasField("x_error") else None
        sy = _sigma(loc.y_error * scale * _M_PER_DEG_LAT) if loc.HasField("y_error") else None
    elif system == _UTM:
        zone_text = loc.utm_zone or zone_fallback
        if not zone_text:
            raise Unusable("missing_utm_zone", "UTM location without utm_zone, and the node declared no zone at registration")
        zone = parse_utm_zone(zone_text)
        if not (100_000.0 <= x <= 900_000.0 and 0.0 <= y <= 10_000_000.0):
            looks = " (they look like degrees)" if abs(x) <= 180.0 and abs(y) <= 180.0 else ""
            raise Unusable(
                "implausible_location",
                f"declared UTM {zone.number}{zone.band} but easting {x} m, northing {y} m are outside the zone{looks}",
            )
        lon, lat = _utm_to_wgs84(zone.number, zone.north).transform(x, y)
        south, north = zone.band_lat_deg
        if not (south - 1.0 <= lat <= north + 1.0):
            raise Unusable(
                "implausible_location",
                f"UTM {zone.number}{zone.band} easting {x} m, northing {y} m is at latitude {lat:.3f}, outside band {zone.band} ({south:g}..{north:g})",
            )
        sx = _sigma(loc.x_error) if loc.HasField("x_error") else None
        sy = _sigma(loc.y_error) if loc.HasField("y_error") else None
    else:
        name = LocationCoordinateSystem.Name(system) if system in LocationCoordinateSystem.values() else str(system)
        raise Unusable("unsupported_coordinate_system", f"location coordinate_system {name}")
    alt, min_sigma_v = _altitude(loc, geoid_undulation_m)
    sigma_v = _sigma(loc.z_error) if loc.HasField("z_error") else None
    return Position(lat, lon, alt, _larger(sx, sy), _larger(sigma_v, min_sigma_v))


def grid_convergence_deg(lat: float, lon: float, zone_text: str = "") -> float:
    """Meridian convergence (degrees) at a point: the true azimuth of grid north in its UTM zone
    (``zone_text``, else the standard zone of ``lon``). True azimuth = grid azimuth + this.

    >>> round(grid_convergence_deg(51.0, -1.0), 2)
    1.55
    """
    if zone_text:
        zone = parse_utm_zone(zone_text)
        number, north = zone.number, zone.north
    else:
        number, north = int((lon + 180.0) // 6.0) % 60 + 1, lat >= 0.0
    return float(_utm_proj(number, north).get_factors(lon, lat).meridian_convergence)


@dataclass(frozen=True, slots=True)
class Direction:
    """A SAPIENT range-bearing's direction from its node: azimuth from true north and elevation
    (degrees), with their 1-sigma errors where the node stated them."""

    azimuth_deg: float
    elevation_deg: float | None = None
    sigma_azimuth_deg: float | None = None
    sigma_elevation_deg: float | None = None


def range_bearing_direction(
    rb: RangeBearing,
    origin: tuple[float, float, float],
    declination_deg: float | None = None,
    zone_text: str = "",
) -> Direction:
    """The direction of a SAPIENT ``RangeBearing`` from ``origin`` (the node: lat, lon degrees),
    with the azimuth turned to true north; raises :class:`Unusable` with a reason.

    >>> from skywarden.sources.sapient.bindings import RangeBearing
    >>> range_bearing_direction(RangeBearing(azimuth=90.0, azimuth_error=2.0, coordinate_system=3, datum=1), (51.0, -1.0, 0.0))
    Direction(azimuth_deg=90.0, elevation_deg=None, sigma_azimuth_deg=2.0, sigma_elevation_deg=None)
    """
    units = _RB_UNITS.get(rb.coordinate_system)
    if units is None:
        raise Unusable("unsupported_coordinate_system", f"range_bearing coordinate_system {rb.coordinate_system}")
    rad, _ = units
    if not rb.HasField("azimuth"):
        raise Unusable("missing_azimuth", "range_bearing without azimuth")
    az_deg = math.degrees(rb.azimuth * rad)
    el_deg = math.degrees(rb.elevation * rad) if rb.HasField("elevation") else None
    if not _finite(az_deg, 0.0 if el_deg is None else el_deg) or (el_deg is not None and not -90.0 <= el_deg <= 90.0):
        raise Unusable("implausible_location", f"azimuth {rb.azimuth}, elevation {rb.elevation} in the declared units")
    lat0, lon0, _ = origin
    datum = rb.datum
    if datum == _RB_TRUE:
        pass
    elif datum == _RB_GRID:
        az_deg += grid_convergence_deg(lat0, lon0, zone_text)
    elif datum == _RB_MAGNETIC:
        if declination_deg is None:
            raise Unusable("magnetic_bearing", "azimuth from magnetic north; set the declination_deg option to use it")
        az_deg += declination_deg
    elif datum == _RB_PLATFORM:
        raise Unusable("platform_bearing", "azimuth relative to the platform heading, which the fusion node does not know")
    else:
        raise Unusable("unspecified_datum", "range_bearing datum (which north) not specified")

    def angle_sigma(field: str) -> float | None:
        if not rb.HasField(field):
            return None
        sigma = _sigma(math.degrees(getattr(rb, field) * rad))
        return sigma if sigma is not None and sigma <= 45.0 else None

    return Direction(az_deg % 360.0, el_deg, angle_sigma("azimuth_error"), angle_sigma("elevation_error"))


def range_bearing_to_wgs84(
    rb: RangeBearing,
    origin: tuple[float, float, float],
    declination_deg: float | None = None,
    zone_text: str = "",
) -> Position:
    """A SAPIENT ``RangeBearing`` measured from ``origin`` (the node: lat, lon degrees, metres
    above the ellipsoid) as a WGS84 :class:`Position`, exactly (pyproj's topocentric frame).

    ``declination_deg`` (east positive) turns magnetic azimuths into true ones; ``zone_text`` is
    the UTM zone whose grid north a ``GRID`` azimuth refers to (default: the origin's zone).
    A range-bearing without ``range`` (a bearing-only sensor) raises ``Unusable("no_range")``
    (see :func:`range_bearing_direction`); without ``elevation`` the target is put at the node's
    height (``sigma_v_m`` then :data:`UNKNOWN_ALT_SIGMA_M`).

    >>> from skywarden.sources.sapient.bindings import RangeBearing
    >>> p = range_bearing_to_wgs84(RangeBearing(azimuth=90.0, elevation=0.0, range=1.0, coordinate_system=3, datum=1), (51.0, -1.0, 100.0))
    >>> round(p.lat, 5), round(p.lon, 5), round(p.alt_m, 2), p.range_m
    (51.0, -0.98575, 100.08, 1000.0)
    """
    direction = range_bearing_direction(rb, origin, declination_deg, zone_text)
    if not rb.HasField("range"):
        raise Unusable("no_range", "bearing-only report (no range)")
    rad, metres = _RB_UNITS[rb.coordinate_system]
    az_deg = direction.azimuth_deg
    el_deg = direction.elevation_deg or 0.0
    r = rb.range * metres
    if not _finite(r) or not (0.0 <= r <= 2_000_000.0):
        raise Unusable("implausible_location", f"range {rb.range}, azimuth {rb.azimuth}, elevation {rb.elevation} in the declared units")
    lat0, lon0, alt0 = origin
    az, el = math.radians(az_deg), math.radians(el_deg)
    horizontal = r * math.cos(el)
    lat, lon, alt = _frame(lat0, lon0, alt0).to_geodetic([horizontal * math.sin(az)], [horizontal * math.cos(az)], [r * math.sin(el)])
    sigma_r = _sigma(rb.range_error * metres) if rb.HasField("range_error") else None
    sigma_az = _sigma(r * rb.azimuth_error * rad) if rb.HasField("azimuth_error") else None
    if rb.HasField("elevation"):
        sigma_v = _sigma(r * rb.elevation_error * rad) if rb.HasField("elevation_error") else None
    else:
        sigma_v = UNKNOWN_ALT_SIGMA_M
    return Position(
        float(lat[0]), float(lon[0]), float(alt[0]), _larger(sigma_r, sigma_az), sigma_v,
        range_m=r, azimuth_deg=az_deg, elevation_deg=el_deg,
        sigma_range_m=sigma_r, sigma_azimuth_deg=direction.sigma_azimuth_deg,
    )
