"""Format remoteid-pcap on the real captures, synthetic Bluetooth 4 adverts, and bad frames."""

from __future__ import annotations

import io
import math
from pathlib import Path

import dpkt
import msgspec
import pytest
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.core.records import RemoteIdObservation
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, decode_stream
from skywarden.sources.remoteid.capture import read_capture
from skywarden.sources.remoteid.messages import BasicId, Location, OperatorId, System, encode_message, encode_pack
from skywarden.sources.remoteid.transport import TransportError, ble_pdu, radiotap_frame, wifi_frame

FIXTURES = Path(__file__).resolve().parent / "data" / "remoteid"


def shared(name: str) -> Path:
    return shared_data("remoteid", name)


def decode(path: Path, options: DecodeOptions | None = None) -> tuple[list[RemoteIdObservation], DecodeStats]:
    stats = DecodeStats()
    with path.open("rb") as f:
        obs = list(decode_stream("remoteid-pcap", f, options or DecodeOptions(), stats))
    return obs, stats


def distance_m(lat1, lon1, lat2, lon2) -> float:
    dy = (lat2 - lat1) * 111_195.0
    dx = (lon2 - lon1) * 111_195.0 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def packet_outcomes(stats: DecodeStats) -> int:
    """decoded + rejected + skipped packets (no_position counts messages; capture_* the file)."""
    rejected = sum(n for r, n in stats.rejected_by_reason.items() if not r.startswith("capture_"))
    skipped = sum(n for r, n in stats.skipped_by_reason.items() if r != "no_position")
    return stats.decoded + rejected + skipped


def valid(obs: RemoteIdObservation) -> None:
    """Every produced record passes the record's own range validation."""
    msgspec.json.decode(msgspec.json.encode(obs), type=RemoteIdObservation)


def test_parrot_anafi_real_flight():
    obs, stats = decode(shared("cdc_remoteidreceiver/parrot_anafi4_real.pcapng"))
    assert stats.messages == 5091 and stats.decoded == 1140 and stats.rejected == 0
    assert stats.skipped_by_reason == {"no_remote_id": 3951}
    assert len(obs) == 1140 == stats.observations
    assert {o.uas_id for o in obs} == {"1588E040445AC004418"}  # the hold gave the first ones the real ID
    assert all(o.id_type == "serial_number" and o.ua_type == "helicopter_or_multirotor" for o in obs)
    assert all(distance_m(47.1987, 8.7302, o.lat, o.lon) < 50 for o in obs)
    assert all(o.operator_lat is not None and distance_m(47.198656, 8.7302205, o.operator_lat, o.operator_lon) < 50 for o in obs)
    heights = [o.height_m for o in obs]
    assert min(heights) == 0.0 and max(heights) == 11.0
    assert obs[0].status == "ground" and {o.status for o in obs} == {"ground", "airborne"}
    assert 120 < obs[-1].t - obs[0].t < 125
    assert all(a.t <= b.t for a, b in zip(obs, obs[1:]))
    assert {o.transport for o in obs} == {"wifi_beacon"} and {o.sensor for o in obs} == {"remoteid"}
    for o in obs[::50]:
        valid(o)
    assert packet_outcomes(stats) == stats.messages


def test_parrot_message_time_agrees_with_capture_time():
    capture, _ = decode(shared("cdc_remoteidreceiver/parrot_anafi4_real.pcapng"))
    message, _ = decode(shared("cdc_remoteidreceiver/parrot_anafi4_real.pcapng"), DecodeOptions(extra={"time": "message"}))
    assert len(message) == len(capture)
    # the drone's own clock runs 1-2 s behind the receiver's
    assert all(abs(a.t - b.t) < 3 for a, b in zip(capture, message))


def test_parrot_height_on_the_sensor_altitude():
    obs, _ = decode(shared("cdc_remoteidreceiver/parrot_anafi4_real.pcapng"),
                    DecodeOptions(sensor="rx1", sensor_lat=47.2, sensor_lon=8.73, sensor_alt_m=460.0))
    assert {o.sensor for o in obs} == {"rx1"}
    assert all(o.alt_m == 460.0 + o.height_m for o in obs)


def test_spoofed_parrot_is_counted_and_decoded():
    obs, stats = decode(shared("cdc_remoteidreceiver/parrot_anafi4_spoofed.pcapng"))
    assert stats.rejected_by_reason == {"pack_truncated": 26}  # the spoofer writes a short last message
    assert len(obs) == 26
    assert all(o.uas_id == "1588E040445AC004418" for o in obs)
    assert all(distance_m(47.378, 8.535, o.lat, o.lon) < 1500 for o in obs)  # Zurich, ~ 25 km from the real flight
    assert all(distance_m(47.1987, 8.7302, o.lat, o.lon) > 20_000 for o in obs)
    assert packet_outcomes(stats) == stats.messages


@pytest.mark.parametrize(("name", "dji", "packets"), [("mavic_alessa_spoofed.pcapng", 10, 10), ("mavic_multiple_spoofed.pcapng", 77, 239)])
def test_dji_droneid_is_skipped(name, dji, packets):
    path = FIXTURES / name if (FIXTURES / name).exists() else shared(f"cdc_remoteidreceiver/{name}")
    obs, stats = decode(path)
    assert obs == [] and stats.messages == packets
    assert stats.skipped_by_reason["dji_droneid"] == dji
    assert packet_outcomes(stats) == packets


def test_bt5_long_range_with_corrupt_packets():
    obs, stats = decode(shared("odid_wireshark/odid_bt5_lr_sample.pcapng"))
    assert stats.messages == 274
    assert stats.rejected_by_reason == {"ble_crc_error": 30}  # the corrupted packets
    assert stats.decoded == 244
    # the test transmitter had no GNSS fix: every Location says 0/0, so no observations
    assert stats.skipped_by_reason == {"no_position": 222} and obs == []
    assert packet_outcomes(stats) == stats.messages


def test_bt5_identity_messages():
    from skywarden.sources.capture import read_packets
    from skywarden.sources.remoteid.capture import frame_of, payload_messages

    ids, operators = set(), set()
    for packet in read_packets(shared("odid_wireshark/odid_bt5_lr_sample.pcapng").open("rb"), DecodeStats()):
        try:
            frame = frame_of(packet.linktype, packet.data)
        except TransportError:
            continue
        assert frame.transport == "bt5" and frame.mac == "e0:7d:ea:eb:2f:1c"
        for payload in frame.payloads:
            for msg in payload_messages(payload)[0]:
                if isinstance(msg, BasicId):
                    ids.add(msg.uas_id)
                elif isinstance(msg, OperatorId):
                    operators.add(msg.operator_id)
    assert ids == {"SSEVTFG93700070"} and operators == {"FIN87astrdge12kxyz8"}


def test_wifi_beacon_sample():
    obs, stats = decode(FIXTURES / "odid_wifi_bcn_sample.pcap")
    assert stats.messages == stats.decoded == 21 and len(obs) == 21
    o = obs[0]
    assert o.uas_id == "MFG1A0123456789" and o.operator_id == "GBR-OP-123ABCD" and o.self_id == "Recreational"
    assert distance_m(45.545, -122.968, o.lat, o.lon) < 500
    assert o.operator_lat == 45.5443876 and o.alt_m == 237.0 and o.height_m == 100.0
    assert (o.h_acc_m, o.v_acc_m, o.speed_acc_mps) == (30.0, 25.0, 10.0)
    for o in obs:
        valid(o)


def test_wifi_nan_sample():
    obs, stats = decode(FIXTURES / "odid_wifi_sample.pcap")
    assert stats.messages == 63 and stats.decoded == 42
    assert stats.skipped_by_reason == {"nan_sync_beacon": 21}
    assert {o.transport for o in obs} == {"wifi_nan", "wifi_beacon"}
    assert len(obs) == 31
    # this capture never carries a Basic ID: the placeholder derived from the MAC stands in
    assert {o.uas_id for o in obs} == {"mac:84:cc:a8:60:43:24"}
    assert all(distance_m(45.545, -122.968, o.lat, o.lon) < 1000 for o in obs)


def test_not_a_capture():
    with pytest.raises(FormatError):
        list(read_capture(io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(40)), DecodeOptions(), DecodeStats()))


# --- synthetic Bluetooth 4 legacy adverts (LINKTYPE_BLUETOOTH_LE_LL) --------------------------------

def bt4_advert(msg: bytes, adv_a: bytes = bytes.fromhex("665544332211"), counter: int = 0) -> bytes:
    ad = bytes([len(msg) + 5, 0x16, 0xFA, 0xFF, 0x0D, counter]) + msg
    payload = adv_a + ad
    return bytes.fromhex("d6be898e") + bytes([0x42, len(payload)]) + payload + b"\0\0\0"


def pcap_bytes(frames: list[bytes], linktype: int, t0: float = 1_700_000_000.0) -> bytes:
    buf = io.BytesIO()
    writer = dpkt.pcap.Writer(buf, linktype=linktype)
    for i, frame in enumerate(frames):
        writer.writepkt(frame, ts=t0 + 0.1 * i)
    return buf.getvalue()


def test_bt4_legacy_rotation():
    """BT4 adverts carry one message each: Location first (held), then Basic ID and System."""
    msgs = [Location(status=2, lat=51.5, lon=-0.1, alt_geo_m=120.0, speed_mps=3.0, direction_deg=10.0),
            BasicId(1, 2, "BT4SERIAL01"), System(operator_lat=51.5001, operator_lon=-0.1001),
            Location(status=2, lat=51.5001, lon=-0.1, alt_geo_m=121.0)]
    data = pcap_bytes([bt4_advert(encode_message(m), counter=i) for i, m in enumerate(msgs)], 251)
    stats = DecodeStats()
    obs = list(read_capture(io.BytesIO(data), DecodeOptions(), stats))
    assert stats.decoded == 4 and len(obs) == 2
    assert [o.uas_id for o in obs] == ["BT4SERIAL01", "BT4SERIAL01"]
    assert obs[0].operator_lat is None and obs[1].operator_lat == 51.5001 and obs[0].transport == "bt4"
    assert (obs[0].speed_mps, obs[0].track_deg, obs[0].alt_m) == (3.0, 10.0, 120.0)
    stats = DecodeStats()
    obs = list(read_capture(io.BytesIO(data), DecodeOptions(extra={"hold_s": "0"}), stats))
    assert obs[0].uas_id == "mac:11:22:33:44:55:66" and obs[1].uas_id == "BT4SERIAL01"


# --- bad input ------------------------------------------------------------------------------------

WIFI_FRAME = (FIXTURES / "odid_wifi_bcn_sample.pcap").read_bytes()


def real_wifi_frames() -> list[bytes]:
    from skywarden.sources.capture import read_packets

    return [p.data for p in read_packets(io.BytesIO(WIFI_FRAME), DecodeStats())]


FRAMES = real_wifi_frames()


def run(data: bytes) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    try:
        obs = list(read_capture(io.BytesIO(data), DecodeOptions(), stats))
    except FormatError:
        return [], stats
    for o in obs:
        valid(o)
    return obs, stats


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(FRAMES[0])), st.data())
def test_truncated_and_mutated_wifi_frames(cut, data):
    """A good frame cut anywhere or with random bytes changed, between two good frames."""
    bad = bytearray(FRAMES[0][:cut])
    for _ in range(data.draw(st.integers(0, 4))):
        if bad:
            bad[data.draw(st.integers(0, len(bad) - 1))] = data.draw(st.integers(0, 255))
    obs, stats = run(pcap_bytes([FRAMES[1], bytes(bad), FRAMES[2]], 127))
    assert stats.messages == 3
    assert packet_outcomes(stats) == 3
    assert sum(o.uas_id == "MFG1A0123456789" for o in obs) >= 2  # the good frames around it


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=5), st.sampled_from([127, 105, 251, 256, 272, 1]))
def test_random_frames(frames, linktype):
    obs, stats = run(pcap_bytes(frames, linktype))
    assert stats.messages == len(frames) and packet_outcomes(stats) == len(frames)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_ble_pdu_and_80211(raw):
    for fn in (ble_pdu, wifi_frame, radiotap_frame):
        try:
            fn(raw)
        except TransportError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 9), st.integers(0, 255), st.integers(0, 255))
def test_bt5_pack_headers(count, size, declared):
    """Extended adverts with a Message Pack whose size/count bytes lie."""
    pack = bytearray(encode_pack([Location(lat=1.0, lon=1.0)] * count))
    if len(pack) > 2:
        pack[1] = size if size != 25 or declared > 9 else 25
        pack[2] = declared
    ad = bytes([min(255, len(pack) + 5), 0x16, 0xFA, 0xFF, 0x0D, 0]) + bytes(pack)
    payload = bytes([0x07, 0x01]) + bytes.fromhex("665544332211") + ad
    pdu = bytes([0x07, min(255, len(payload))]) + payload[:255]
    obs, stats = run(pcap_bytes([bytes.fromhex("d6be898e") + pdu + b"\0\0\0"], 251))
    assert packet_outcomes(stats) == 1
    assert len(obs) <= min(count, declared)


def test_truncated_capture_file():
    data = (FIXTURES / "odid_wifi_bcn_sample.pcap").read_bytes()
    obs, stats = run(data[:-50])
    assert stats.rejected_by_reason.get("capture_truncated") == 1
    assert len(obs) == 20
