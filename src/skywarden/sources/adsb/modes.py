"""Small pure functions on raw Mode S frames: CRC-24, downlink format, emitter category, units.

Field decoding (altitudes, velocities, callsigns, Comm-B registers) is rs1090's job; these are
the few things rs1090 does not hand us in the form we need: the CRC residue (to tell a corrupted
frame from one rs1090 merely does not know), the emitter category as the standard's two-character
code (rs1090 gives a wake-vortex word instead) and the unit conversions.

Example:
    >>> frame = bytes.fromhex("8D406B902015A678D4D220AA4BDA")
    >>> crc24_residue(frame), downlink_format(frame[0]), emitter_category(frame)
    (0, 17, 'A0')
    >>> with_parity(frame[:11]) == frame
    True
"""

from __future__ import annotations

__all__ = [
    "CRC24_GENERATOR",
    "crc24",
    "crc24_residue",
    "with_parity",
    "downlink_format",
    "frame_length",
    "type_code",
    "emitter_category",
    "ft_to_m",
    "kt_to_mps",
    "fpm_to_mps",
    "FT_M",
    "KT_MPS",
    "FPM_MPS",
]

#: The Mode S parity generator polynomial (ICAO Annex 10 Vol IV, 24 bits plus the implicit x^24).
CRC24_GENERATOR = 0xFFF409

#: Exact conversion factors (international foot, international knot).
FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0
FPM_MPS = FT_M / 60.0


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte << 16
        for _ in range(8):
            reg = ((reg << 1) ^ CRC24_GENERATOR) if reg & 0x800000 else (reg << 1)
            reg &= 0xFFFFFF
        table.append(reg)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc24(data: bytes) -> int:
    """Mode S CRC-24 of ``data`` (the parity an encoder appends), byte-wise with a table."""
    reg = 0
    table = _CRC_TABLE
    for byte in data:
        reg = ((reg << 8) & 0xFFFFFF) ^ table[((reg >> 16) ^ byte) & 0xFF]
    return reg


def crc24_residue(frame: bytes) -> int:
    """CRC of the data bits XOR the transmitted parity: 0 for an intact DF17/DF18 frame.

    For DF11 the low 7 bits may hold the interrogator id; for DF0/4/5/16/20/21 the residue *is*
    the aircraft address (address/parity overlay), so it cannot show corruption on its own.
    """
    if len(frame) < 4:
        return -1
    return crc24(frame[:-3]) ^ int.from_bytes(frame[-3:], "big")


def with_parity(data: bytes) -> bytes:
    """``data`` (4 or 11 bytes) with its CRC-24 parity appended: a valid DF11/DF17/DF18 frame."""
    return data + crc24(data).to_bytes(3, "big")


def downlink_format(first_byte: int) -> int:
    """The downlink format (0..24) from a frame's first byte; 24 and above are all Comm-D (DF24)."""
    df = first_byte >> 3
    return 24 if df >= 24 else df


def frame_length(df: int) -> int:
    """Frame length in bytes for a downlink format: 7 (56 bits) below DF16, else 14 (112 bits)."""
    return 14 if df >= 16 else 7


def type_code(frame: bytes) -> int:
    """ADS-B type code (first 5 bits of the ME field) of a DF17/DF18 frame."""
    return frame[4] >> 3


def emitter_category(frame: bytes) -> str | None:
    """Emitter category ``"A0".."D7"`` of an identification frame (TC 1-4), else ``None``.

    The set letter comes from the type code (TC 4 = A, 3 = B, 2 = C, 1 = D) and the digit is the
    3-bit category field. ``"B6"`` is an unmanned aerial vehicle: a drone.

    >>> emitter_category(bytes.fromhex("8D4840D6202CC371C32CE0576098"))
    'A0'
    """
    if len(frame) != 14:
        return None
    tc = frame[4] >> 3
    if not 1 <= tc <= 4:
        return None
    return "DCBA"[tc - 1] + str(frame[4] & 0x07)


def ft_to_m(ft: float) -> float:
    """Feet to metres."""
    return ft * FT_M


def kt_to_mps(kt: float) -> float:
    """Knots to metres per second."""
    return kt * KT_MPS


def fpm_to_mps(fpm: float) -> float:
    """Feet per minute to metres per second."""
    return fpm * FPM_MPS
