"""Field decoders for the ASTERIX items skywarden uses: one small pure function per item.

Each takes the item's octets (``bytes``, exactly the item, as cut by
:func:`skywarden.sources.asterix.uap.parse_record`) and returns SI values: metres, degrees,
seconds. Resolutions are those of the EUROCONTROL category specifications (CAT048 1.27-1.32,
CAT062 1.16-1.21 and 0.17, CAT034 1.27-1.29).

Example, an I048/040 of ρ = 5 120/256 NM, θ = 16 384 × 360/2^16 °:
    >>> rng, az = polar_position(bytes.fromhex("14004000"))
    >>> rng / 1852, az
    (20.0, 90.0)
"""

from __future__ import annotations

__all__ = [
    "FT",
    "NM",
    "flight_level_to_m",
    "sac_sic",
    "time_of_day",
    "polar_position",
    "cartesian_position_048",
    "mode_3a",
    "flight_level_048",
    "height_3d_048",
    "aircraft_address",
    "aircraft_identification",
    "track_number",
    "target_descriptor_048",
    "wgs84_position_062",
    "wgs84_position_062_v017",
    "geometric_altitude_062",
    "measured_flight_level_062",
    "barometric_altitude_062",
    "track_status_062",
    "position_accuracy_062",
    "sector_azimuth_034",
    "antenna_period_034",
    "radar_position_034",
    "system_status_034",
]

NM = 1852.0
"""One nautical mile in metres."""
FT = 0.3048
"""One foot in metres."""

_ICAO_CHARS = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def flight_level_to_m(flight_level: float) -> float:
    """Pressure altitude in metres for a flight level (hundreds of feet at 1013.25 hPa).

    The result is a *pressure* altitude: above mean sea level only in the ISA standard
    atmosphere; on a given day it differs from the geometric altitude by up to a few hundred
    metres (about 8.5 m per hPa of QNH deviation, more with temperature).

    >>> round(flight_level_to_m(330), 1)
    10058.4
    """
    return flight_level * 100.0 * FT


def sac_sic(octets: bytes) -> tuple[int, int]:
    """I0xx/010 data source identifier: (System Area Code, System Identification Code)."""
    return octets[0], octets[1]


def time_of_day(octets: bytes) -> float:
    """I048/140, I062/070, I034/030: seconds since UTC midnight (1/128 s resolution)."""
    return int.from_bytes(octets[:3], "big") / 128.0


def polar_position(octets: bytes) -> tuple[float, float]:
    """I048/040 measured position: (slant range m, azimuth degrees from north); ρ 1/256 NM, θ 360/2^16 °."""
    rho = int.from_bytes(octets[0:2], "big") / 256.0
    theta = int.from_bytes(octets[2:4], "big") * (360.0 / 65536.0)
    return rho * NM, theta


def cartesian_position_048(octets: bytes) -> tuple[float, float]:
    """I048/042 calculated position relative to the radar: (x east m, y north m); 1/128 NM, signed."""
    x = _signed(int.from_bytes(octets[0:2], "big"), 16) / 128.0
    y = _signed(int.from_bytes(octets[2:4], "big"), 16) / 128.0
    return x * NM, y * NM


def mode_3a(octets: bytes) -> tuple[str, bool, bool]:
    """I048/070, I062/060: (Mode 3/A code as 4 octal digits, validated, garbled)."""
    raw = int.from_bytes(octets[0:2], "big")
    return f"{raw & 0x0FFF:04o}", not raw & 0x8000, bool(raw & 0x4000)


def flight_level_048(octets: bytes) -> tuple[float, bool, bool]:
    """I048/090 flight level in binary: (flight level, validated, garbled); 1/4 FL, 14-bit signed."""
    raw = int.from_bytes(octets[0:2], "big")
    return _signed(raw & 0x3FFF, 14) / 4.0, not raw & 0x8000, bool(raw & 0x4000)


def height_3d_048(octets: bytes) -> float:
    """I048/110 height measured by a 3D radar, metres (25 ft, 14-bit signed)."""
    return _signed(int.from_bytes(octets[0:2], "big") & 0x3FFF, 14) * 25.0 * FT


def aircraft_address(octets: bytes) -> str:
    """I048/220, I062/380 ADR: the 24-bit Mode S address as 6 lower-case hex digits."""
    return f"{int.from_bytes(octets[0:3], 'big'):06x}"


def aircraft_identification(octets: bytes) -> str:
    """I048/240, I062/380 ID: 8 characters of 6 bits (ICAO alphabet), trailing spaces removed."""
    raw = int.from_bytes(octets[0:6], "big")
    return "".join(_ICAO_CHARS[(raw >> shift) & 0x3F] for shift in range(42, -1, -6)).rstrip(" ")


def track_number(octets: bytes, bits: int = 16) -> int:
    """I048/161 (12 bits), I062/040 (16 bits; 15 in edition 0.17): the sensor's track number."""
    return int.from_bytes(octets[0:2], "big") & ((1 << bits) - 1)


def target_descriptor_048(octets: bytes) -> dict[str, int]:
    """I048/020 target report descriptor: TYP (0-7), SIM, RDP, SPI, RAB and, from the first extent, TST.

    TYP: 0 no detection, 1 PSR, 2 SSR, 3 SSR+PSR, 4 Mode S all-call, 5 Mode S roll-call,
    6 all-call + PSR, 7 roll-call + PSR. SIM simulated, RAB field monitor, TST test target.
    """
    first = octets[0]
    out = {"TYP": first >> 5, "SIM": (first >> 4) & 1, "RDP": (first >> 3) & 1, "SPI": (first >> 2) & 1, "RAB": (first >> 1) & 1,
           "TST": 0}
    if first & 1 and len(octets) > 1:
        out["TST"] = octets[1] >> 7
    return out


def wgs84_position_062(octets: bytes) -> tuple[float, float]:
    """I062/105 (editions 1.x): (latitude, longitude) degrees; 32-bit signed each, 180/2^25 °."""
    lat = _signed(int.from_bytes(octets[0:4], "big"), 32) * (180.0 / 2**25)
    lon = _signed(int.from_bytes(octets[4:8], "big"), 32) * (180.0 / 2**25)
    return lat, lon


def wgs84_position_062_v017(octets: bytes) -> tuple[float, float]:
    """I062/105 (edition 0.17): (latitude, longitude) degrees; 24-bit signed each, 180/2^23 °."""
    lat = _signed(int.from_bytes(octets[0:3], "big"), 24) * (180.0 / 2**23)
    lon = _signed(int.from_bytes(octets[3:6], "big"), 24) * (180.0 / 2**23)
    return lat, lon


def geometric_altitude_062(octets: bytes) -> float:
    """I062/130 calculated track geometric altitude, metres above mean sea level (6.25 ft, signed)."""
    return _signed(int.from_bytes(octets[0:2], "big"), 16) * 6.25 * FT


def measured_flight_level_062(octets: bytes) -> float:
    """I062/136 measured flight level (1/4 FL, signed)."""
    return _signed(int.from_bytes(octets[0:2], "big"), 16) / 4.0


def barometric_altitude_062(octets: bytes) -> tuple[float, bool]:
    """I062/135 calculated barometric altitude: (flight level, QNH correction applied); 1/4 FL, 15-bit signed."""
    raw = int.from_bytes(octets[0:2], "big")
    return _signed(raw & 0x7FFF, 15) / 4.0, bool(raw & 0x8000)


def track_status_062(octets: bytes) -> dict[str, int]:
    """I062/080 track status: CNF (tentative) from the first part; SIM, TSE (track ends), TSB (track begins) from the first extent."""
    first = octets[0]
    out = {"CNF": (first >> 1) & 1, "SIM": 0, "TSE": 0, "TSB": 0}
    if first & 1 and len(octets) > 1:
        second = octets[1]
        out.update(SIM=second >> 7, TSE=(second >> 6) & 1, TSB=(second >> 5) & 1)
    return out


def position_accuracy_062(octets: bytes) -> tuple[float, float]:
    """I062/500 APC sub-field: estimated accuracy (1 sigma) of the Cartesian position, (x m, y m); 0.5 m."""
    return int.from_bytes(octets[0:2], "big") * 0.5, int.from_bytes(octets[2:4], "big") * 0.5


def sector_azimuth_034(octets: bytes) -> float:
    """I034/020 sector number as the azimuth of the sector's start, degrees (360/2^8)."""
    return octets[0] * (360.0 / 256.0)


def antenna_period_034(octets: bytes) -> float:
    """I034/041 antenna rotation period, seconds (1/128 s)."""
    return int.from_bytes(octets[0:2], "big") / 128.0


def radar_position_034(octets: bytes) -> tuple[float, float, float]:
    """I034/120 3D position of the data source: (latitude °, longitude °, height m); 180/2^23 °, 1 m."""
    height = _signed(int.from_bytes(octets[0:2], "big"), 16)
    lat = _signed(int.from_bytes(octets[2:5], "big"), 24) * (180.0 / 2**23)
    lon = _signed(int.from_bytes(octets[5:8], "big"), 24) * (180.0 / 2**23)
    return lat, lon, float(height)


def system_status_034(subfields: dict[str, bytes]) -> tuple[str, list[str]]:
    """I034/050 system configuration and status: (``ok`` | ``degraded`` | ``fault``, findings).

    ``subfields`` maps COM/PSR/SSR/MDS to their octets. COM NOGO (operational use inhibited) is a
    fault; a sensor with no channel selected is a fault of that sensor; overloads, a
    disconnected monitoring system and an invalid time source are degradations.
    """
    findings: list[str] = []
    state = "ok"

    def worse(new: str) -> None:
        nonlocal state
        if new == "fault" or (new == "degraded" and state == "ok"):
            state = new

    com = subfields.get("COM")
    if com:
        c = com[0]
        if c & 0x80:
            findings.append("NOGO: operational use inhibited")
            worse("fault")
        if c & 0x10:
            findings.append("RDP overload")
            worse("degraded")
        if c & 0x08:
            findings.append("transmission subsystem overload")
            worse("degraded")
        if c & 0x04:
            findings.append("monitoring system disconnected")
            worse("degraded")
        if c & 0x02:
            findings.append("time source invalid")
            worse("degraded")
    for name in ("PSR", "SSR", "MDS"):
        octets = subfields.get(name)
        if not octets:
            continue
        s = octets[0]
        if (s >> 5) & 3 == 0:
            findings.append(f"{name}: no channel selected")
            worse("fault")
        if s & 0x10:
            findings.append(f"{name}: overload")
            worse("degraded")
        if s & 0x08:
            findings.append(f"{name}: monitoring system disconnected")
            worse("degraded")
    return state, findings
