"""Compact Position Reporting (CPR) for airborne ADS-B positions: global and local decoding.

An airborne position frame carries 17-bit latitude and longitude fractions inside one of the
zones of its format (even: 60 latitude zones, odd: 59). Decoding picks the zone:

* *global*: from one even and one odd frame of the same aircraft a few seconds apart; the zone
  index follows from the difference of the two fractions. If the two resulting latitudes lie in
  different longitude-zone bands (NL differs), the aircraft crossed a band edge between the
  frames and the pair is unusable.
* *local*: from one frame and a reference position less than half a zone away (about 333 km in
  latitude): the receiver, or the aircraft's own last position.

Both give exactly the same position when their preconditions hold: the position is the zone
origin plus the fraction times the zone size, and only the zone index is being chosen.

Example (a real pair of frames of ICAO 406b90, newest odd):
    >>> lat, lon = global_position(68723, 97571, 50053, 95111, newest_odd=True)
    >>> round(lat, 5), round(lon, 5)
    (51.14364, 7.25639)
    >>> lat2, lon2 = local_position(50053, 95111, True, 51.0, 7.0)
    >>> (lat2, lon2) == (lat, lon)
    True
"""

from __future__ import annotations

from bisect import bisect_right
from math import acos, cos, degrees, floor, pi, sqrt

__all__ = ["NZ", "cpr_nl", "global_position", "local_position", "encode_position"]

#: Number of latitude zones between the equator and a pole (1090 MOPS airborne CPR).
NZ = 15
_SCALE = 131072.0  # 2**17


def _nl_boundaries() -> list[float]:
    """Latitudes (degrees, ascending) at which NL, the number of longitude zones, drops by one.

    From the closed-form transition latitude of the MOPS for NL = 2..59.
    """
    a = 1.0 - cos(pi / (2 * NZ))
    return sorted(degrees(acos(sqrt(a / (1.0 - cos(2.0 * pi / nl))))) for nl in range(2, 4 * NZ))


_NL_EDGES = _nl_boundaries()
_NL_MAX = 4 * NZ - 1  # 59 longitude zones at the equator


def cpr_nl(lat: float) -> int:
    """Number of longitude zones (1..59) at latitude ``lat`` (degrees).

    >>> cpr_nl(0.0), cpr_nl(51.14), cpr_nl(88.0)
    (59, 37, 1)
    """
    # NL = 1 + number of transition latitudes above |lat|.
    return 1 + len(_NL_EDGES) - bisect_right(_NL_EDGES, abs(lat))


def _mod(a: float, b: float) -> float:
    """Always-positive remainder (the MOPS ``MOD``)."""
    return a - b * floor(a / b)


def global_position(
    lat_even: int, lon_even: int, lat_odd: int, lon_odd: int, newest_odd: bool
) -> tuple[float, float] | None:
    """Globally unambiguous airborne position from an even and an odd CPR frame.

    Args:
        lat_even, lon_even, lat_odd, lon_odd: the 17-bit CPR fractions (0..131071).
        newest_odd: whether the odd frame is the newer one; the position is that frame's.

    Returns:
        ``(lat, lon)`` in degrees (lon in -180..180), or ``None`` when the two frames straddle a
        longitude-zone band edge (wait for the next pair).
    """
    yl_e = lat_even / _SCALE
    yl_o = lat_odd / _SCALE
    dlat_e = 360.0 / 60.0
    dlat_o = 360.0 / 59.0
    j = floor(59.0 * yl_e - 60.0 * yl_o + 0.5)
    rlat_e = dlat_e * (_mod(j, 60) + yl_e)
    rlat_o = dlat_o * (_mod(j, 59) + yl_o)
    if rlat_e >= 270.0:
        rlat_e -= 360.0
    if rlat_o >= 270.0:
        rlat_o -= 360.0
    if not (-90.0 <= rlat_e <= 90.0 and -90.0 <= rlat_o <= 90.0):
        return None
    nl = cpr_nl(rlat_e)
    if nl != cpr_nl(rlat_o):
        return None
    xl_e = lon_even / _SCALE
    xl_o = lon_odd / _SCALE
    m = floor(xl_e * (nl - 1) - xl_o * nl + 0.5)
    if newest_odd:
        n = max(nl - 1, 1)
        lat = rlat_o
        lon = (360.0 / n) * (_mod(m, n) + xl_o)
    else:
        n = max(nl, 1)
        lat = rlat_e
        lon = (360.0 / n) * (_mod(m, n) + xl_e)
    if lon >= 180.0:
        lon -= 360.0
    return lat, lon


def local_position(lat_cpr: int, lon_cpr: int, odd: bool, ref_lat: float, ref_lon: float) -> tuple[float, float]:
    """Locally unambiguous airborne position from one CPR frame and a reference position.

    Correct when the true position is within half a zone of ``(ref_lat, ref_lon)`` (degrees):
    about 333 km in latitude and at least as much in longitude below 80 degrees latitude.
    Returns ``(lat, lon)`` in degrees, lon in -180..180.
    """
    i = 1 if odd else 0
    yl = lat_cpr / _SCALE
    xl = lon_cpr / _SCALE
    dlat = 360.0 / (60 - i)
    j = floor(ref_lat / dlat) + floor(0.5 + _mod(ref_lat, dlat) / dlat - yl)
    lat = dlat * (j + yl)
    n = cpr_nl(lat) - i
    dlon = 360.0 / n if n > 0 else 360.0
    m = floor(ref_lon / dlon) + floor(0.5 + _mod(ref_lon, dlon) / dlon - xl)
    lon = dlon * (m + xl)
    if lon >= 180.0:
        lon -= 360.0
    elif lon < -180.0:
        lon += 360.0
    return lat, lon


def encode_position(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """The 17-bit airborne CPR fractions ``(lat_cpr, lon_cpr)`` of a position (degrees).

    The inverse of decoding, for simulators and tests: decoding the result gives the position
    back to within the CPR resolution (about 5 m).

    >>> e, o = encode_position(51.5, -0.12, False), encode_position(51.5, -0.12, True)
    >>> lat, lon = global_position(*e, *o, newest_odd=True)
    >>> round(lat, 4), round(lon, 4)
    (51.5, -0.12)
    """
    i = 1 if odd else 0
    dlat = 360.0 / (60 - i)
    yz = floor(_SCALE * _mod(lat, dlat) / dlat + 0.5)
    rlat = dlat * (yz / _SCALE + floor(lat / dlat))
    n = cpr_nl(rlat) - i
    dlon = 360.0 / n if n > 0 else 360.0
    xz = floor(_SCALE * _mod(lon, dlon) / dlon + 0.5)
    return int(yz) & 0x1FFFF, int(xz) & 0x1FFFF
