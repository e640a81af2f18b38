"""Format mavlink: OPEN_DRONE_ID messages built with pymavlink itself, in tlogs and raw streams."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, decode_stream
from skywarden.sources.remoteid.messages import BasicId, Location, encode_pack

common = pytest.importorskip("pymavlink.dialects.v20.common", reason="pymavlink is an optional dependency")

MAC = [0x90, 0x3A, 0xE6, 0x5B, 0xC8, 0xA8] + [0] * 14
T0 = 1_680_365_730.0


def build() -> list:
    """A heartbeat, identity messages and three Locations (one inside a Message Pack)."""
    m = common
    pack = encode_pack([BasicId(1, 2, "PACKSERIAL"), Location(status=2, lat=47.2, lon=8.73, height_m=5.0, timestamp_s=935.0)])
    return [
        m.MAVLink_heartbeat_message(2, 3, 0, 0, 0, 3),
        m.MAVLink_open_drone_id_location_message(0, 0, MAC, 1, 8400, 0, 0, 471987103, 87302371, -1000, -1000, 0, 0.0, 0, 0, 0, 0, 929.1, 0),
        m.MAVLink_open_drone_id_basic_id_message(0, 0, MAC, 1, 2, list(b"1588E040445AC004418".ljust(20, b"\0"))),
        m.MAVLink_open_drone_id_system_message(0, 0, MAC, 1, 1, 471986560, 87302205, 1, 0, -1000, -1000, 1, 2, 452.5, 0),
        m.MAVLink_open_drone_id_operator_id_message(0, 0, MAC, 0, b"CHE-OP-1234"),
        m.MAVLink_open_drone_id_self_id_message(0, 0, MAC, 0, b"survey"),
        m.MAVLink_open_drone_id_location_message(0, 0, MAC, 2, 36100, 25500, 6300, 471987200, 87302400, 480.0, 490.5, 0, 11.0,
                                                 10, 4, 3, 2, 930.0, 1),
        m.MAVLink_open_drone_id_message_pack_message(0, 0, [1, 2, 3, 4, 5, 6] + [0] * 14, 25, 2, list(pack[3:]) + [0] * (225 - 50)),
    ]


def encode(msgs, tlog: bool, t0: float = T0) -> bytes:
    mav = common.MAVLink(None, 1, 1)
    out = b""
    for i, msg in enumerate(msgs):
        frame = msg.pack(mav)
        out += (struct.pack(">Q", int((t0 + i) * 1e6)) if tlog else b"") + frame
    return out


def decode(data: bytes, options: DecodeOptions | None = None):
    stats = DecodeStats()
    return list(decode_stream("mavlink", io.BytesIO(data), options or DecodeOptions(), stats)), stats


def test_tlog():
    obs, stats = decode(encode(build(), tlog=True))
    assert stats.messages == 8 and stats.decoded == 7 and stats.skipped_by_reason == {"not_open_drone_id": 1}
    assert len(obs) == 3
    first, second, packed = obs
    assert first.t == T0 + 1 and first.uas_id == "1588E040445AC004418"  # held until the Basic ID came
    assert (first.lat, first.lon, first.track_deg, first.speed_mps) == (47.1987103, 8.7302371, 84.0, 0.0)
    assert second.operator_lat == 47.198656 and second.operator_alt_m == 452.5 and second.operator_id == "CHE-OP-1234"
    assert second.self_id == "survey" and second.alt_m == 490.5 and second.height_m == 11.0
    assert second.track_deg is None and second.speed_mps is None and second.vspeed_mps is None
    assert (second.h_acc_m, second.v_acc_m, second.speed_acc_mps) == (10.0, 10.0, 3.0)
    assert packed.uas_id == "PACKSERIAL" and packed.lat == 47.2 and packed.transport == "mavlink"
    assert {o.sensor for o in obs} == {"mavlink"}


def test_raw_stream_uses_message_time():
    hour = T0 - T0 % 3600
    obs, stats = decode(encode(build(), tlog=False), DecodeOptions(start_time=T0))
    assert len(obs) == 3 and stats.decoded == 7
    assert [o.t for o in obs] == [hour + 929.1, hour + 930.0, hour + 935.0]


def test_bad_crc_and_garbage_between_frames():
    frames = [encode([msg], tlog=False) for msg in build()]
    broken = bytearray(frames[6])
    broken[-1] ^= 0xFF
    data = b"".join(frames[:6]) + b"\x01\x02garbage" + bytes(broken) + frames[7]
    obs, stats = decode(data, DecodeOptions(start_time=T0))
    assert stats.rejected_by_reason == {"resync": 1, "bad_crc": 1}
    assert len(obs) == 2


def test_not_mavlink():
    with pytest.raises(FormatError):
        decode(b"GIF89a" + bytes(20))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10_000), st.binary(max_size=30), st.booleans())
def test_truncated_and_random(cut, junk, tlog):
    data = encode(build(), tlog=tlog)
    data = data[: cut % (len(data) + 1)] + junk
    try:
        obs, stats = decode(data, DecodeOptions(start_time=T0))
    except FormatError:
        return
    assert stats.decoded + stats.rejected + stats.skipped - stats.skipped_by_reason.get("no_position", 0) == stats.messages


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    try:
        decode(b"\xfd" + data, DecodeOptions(start_time=T0))
    except FormatError:
        pass
