"""Build valid ADS-B (DF17) frames: for simulators, test fixtures and receiver-feed tests.

Example:
    >>> import rs1090
    >>> frame = identification("43ea01", "DRONE1", "B6")
    >>> rs1090.decode(frame.hex())["callsign"]
    'DRONE1'
    >>> msg = rs1090.decode(airborne_position("43ea01", 51.5, -0.12, 1500, odd=False).hex())
    >>> msg["altitude"], msg["parity"]
    (1500, 'even')
"""

from __future__ import annotations

from skywarden.sources.adsb.cpr import encode_position
from skywarden.sources.adsb.modes import with_parity

__all__ = ["identification", "airborne_position", "airborne_velocity", "altitude_field"]

_CHARS = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


def _df17(icao: str, me: int) -> bytes:
    return with_parity(bytes([0x8D]) + bytes.fromhex(icao) + me.to_bytes(7, "big"))


def identification(icao: str, callsign: str, category: str = "A0") -> bytes:
    """A TC 1-4 identification frame; ``category`` is ``"A0".."D7"`` (``"B6"``: a UAV)."""
    tc = 4 - "ABCD".index(category[0])
    bits = 0
    for c in callsign.upper().ljust(8)[:8]:
        index = _CHARS.find(c)
        bits = (bits << 6) | (index if index > 0 else 32)  # unknown characters become spaces
    return _df17(icao, (tc << 51) | (int(category[1]) << 48) | bits)


def altitude_field(alt_ft: float) -> int:
    """The 12-bit altitude field in 25 ft steps (Q bit set), for -1000..50175 ft."""
    n = max(0, min(0x7FF, round((alt_ft + 1000) / 25)))
    return ((n >> 4) << 5) | 0x10 | (n & 0xF)


def airborne_position(icao: str, lat: float, lon: float, alt_ft: float, odd: bool, tc: int = 11) -> bytes:
    """A TC 9-18 (barometric) or 20-22 (GNSS height) airborne position frame."""
    lat_cpr, lon_cpr = encode_position(lat, lon, odd)
    me = (tc << 51) | (altitude_field(alt_ft) << 36) | (int(odd) << 34) | (lat_cpr << 17) | lon_cpr
    return _df17(icao, me)


def airborne_velocity(icao: str, east_kt: int, north_kt: int, vrate_fpm: int, geo_minus_baro_ft: int = 0) -> bytes:
    """A TC 19 subtype 1 (ground speed) velocity frame."""
    dew, vew = int(east_kt < 0), min(abs(east_kt) + 1, 1023)
    dns, vns = int(north_kt < 0), min(abs(north_kt) + 1, 1023)
    svr, vr = int(vrate_fpm < 0), min(abs(vrate_fpm) // 64 + 1, 511)
    sdif, dalt = int(geo_minus_baro_ft < 0), min(abs(geo_minus_baro_ft) // 25 + 1, 127)
    me = (19 << 51) | (1 << 48) | (dew << 42) | (vew << 32) | (dns << 31) | (vns << 21) | (svr << 19) | (vr << 10)
    me |= (sdif << 7) | dalt
    return _df17(icao, me)
