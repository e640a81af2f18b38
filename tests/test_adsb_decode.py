"""ADS-B decoding against the real recordings in ../shared/data/adsb and an independent reference.

The pyModeS sample and oracle are GPL-3 data: they are read from ../shared and never copied.
The oracle (golden_v2.json) holds per-frame fields (altitude, velocity, callsign, CPR format) but
no positions, so positions are checked against rs1090's own CPR decoder (Rust, independent of
ours): its batch decoder, which pairs even/odd frames globally, and its single-frame local decoder
relative to a fixed reference point near the flight.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import pytest
import rs1090
from conftest import shared_data

from skywarden.core.records import AdsbObservation, encode_record
from skywarden.sources.adsb.decoder import AdsbDecoder, haversine_m
from skywarden.sources.adsb.formats import (
    BeastStreamDecoder,
    read_avr,
    read_beast,
    read_modes_csv,
    read_readsb_json,
    read_sbs1,
)
from skywarden.sources.adsb.framing import avr_encode, beast_encode
from skywarden.sources.adsb.modes import KT_MPS, crc24_residue, with_parity
from skywarden.sources.decode import DecodeOptions, DecodeStats, decode_stream

FIXTURES = Path(__file__).resolve().parent / "data" / "adsb"


def pymodes(name: str) -> Path:
    return shared_data("adsb", "pymodes", name)


def sample_rows() -> list[tuple[float, str]]:
    with pymodes("sample_data_adsb.csv").open() as fh:
        return [(float(r[0]), r[1]) for r in csv.reader(fh)]


def decode_file(reader, data: bytes, options: DecodeOptions | None = None) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    out = list(reader(io.BytesIO(data), options or DecodeOptions(), stats))
    return out, stats


def decode_by_frame(rows: list[tuple[float, str]], options: DecodeOptions | None = None) -> tuple[dict[int, AdsbObservation], AdsbDecoder]:
    stats = DecodeStats()
    dec = AdsbDecoder(options or DecodeOptions(), stats)
    out = {}
    for i, (t, frame) in enumerate(rows):
        obs = dec.decode(frame, t, f"line {i + 1}")
        if obs is not None:
            out[i] = obs
    return out, dec


# -- modes-csv on the real DF17 sample ----------------------------------------------------------


def test_modes_csv_sample_counts() -> None:
    obs, stats = decode_file(read_modes_csv, pymodes("sample_data_adsb.csv").read_bytes())
    assert stats.messages == 2000
    assert stats.decoded == 2000
    assert stats.rejected == 0
    # 937 airborne position frames: all but the first few (waiting for an even/odd pair) resolve.
    assert stats.observations == len(obs) == 933
    assert stats.skipped_by_reason == {"no_position": 1063, "cpr_unpaired": 4}
    assert stats.messages == stats.observations + stats.skipped + stats.rejected
    assert {o.icao24 for o in obs} == {"406b90"}
    assert {o.callsign for o in obs[5:]} == {"EZY85MH"}
    assert all(51.0 < o.lat < 52.0 and 4.5 < o.lon < 7.5 for o in obs)
    # pressure altitude 36,000 ft descending to about 22,000 ft; the geometric one is near it.
    assert all(6_000 < o.alt_baro_m < 11_100 and abs(o.alt_m - o.alt_baro_m) < 200 for o in obs)
    assert all(o.speed_mps is not None and 100 < o.speed_mps < 300 for o in obs)
    for o in obs:  # every record survives the public format's validation
        assert AdsbObservation.__name__ and encode_record(o)


def test_positions_match_reference_decoder_exactly() -> None:
    """Acceptance: airborne positions match a reference decoder to within a few metres (here: exact)."""
    rows = sample_rows()
    ours, _ = decode_by_frame(rows)
    # Reference 1: rs1090's batch decoder with time stamps (global even/odd pairing).
    ref = rs1090.decode([f for _, f in rows], [t for t, _ in rows])
    ref_pos = {i: (r["latitude"], r["longitude"]) for i, r in enumerate(ref) if r and "latitude" in r}
    common = sorted(set(ours) & set(ref_pos))
    assert len(common) >= 750
    assert set(ref_pos) <= set(ours)  # we resolve every position rs1090 resolves, and more
    err = [haversine_m(ours[i].lat, ours[i].lon, *ref_pos[i]) for i in common]
    # Reference 2: rs1090 local decoding of every one of our frames from one fixed point.
    reference = (51.4, 6.0)
    err_local = []
    for i, o in ours.items():
        r = rs1090.decode(rows[i][1], reference=reference)
        err_local.append(haversine_m(o.lat, o.lon, r["latitude"], r["longitude"]))
    print(f"\nvs rs1090 batch: n={len(err)} max={max(err):.3f} m median={statistics.median(err):.3f} m;"
          f" vs rs1090 local: n={len(err_local)} max={max(err_local):.3f} m")
    assert max(err) < 0.01
    assert max(err_local) < 0.01


def test_reader_positions_are_the_per_frame_positions() -> None:
    """read_modes_csv gives the same observations as the per-frame decoder."""
    rows = sample_rows()
    ours, _ = decode_by_frame(rows)
    obs, _ = decode_file(read_modes_csv, pymodes("sample_data_adsb.csv").read_bytes())
    assert [(o.t, o.lat, o.lon, o.alt_m) for o in obs] == [(o.t, o.lat, o.lon, o.alt_m) for o in ours.values()]


def test_fields_match_golden_oracle() -> None:
    """Altitude, CPR format, velocity, callsign and category agree with the pyModeS oracle."""
    golden = json.loads(pymodes("golden_v2.json").read_text())
    rows = sample_rows()
    stats = DecodeStats()
    dec = AdsbDecoder(DecodeOptions(), stats)
    checked: dict[str, set[str]] = {"altitude": set(), "velocity": set(), "callsign": set()}
    for i, (t, frame) in enumerate(rows):
        obs = dec.decode(frame, t, f"line {i + 1}")
        g = golden.get(frame.lower())
        if g is None:
            continue
        state = dec.table.aircraft[g["icao"]]
        if 9 <= g.get("typecode", 0) <= 18:
            assert state.alt_ft == g["altitude"]
            assert (state.odd and state.odd[2] == t) if g["cpr_format"] else (state.even and state.even[2] == t)
            if obs is not None:
                assert obs.alt_baro_m == pytest.approx(g["altitude"] * 0.3048)
            checked["altitude"].add(frame)
        elif g.get("typecode") == 19:
            assert state.speed_mps / KT_MPS == pytest.approx(g["groundspeed"], abs=1.0)  # pyModeS rounds to whole knots
            assert state.track_deg == pytest.approx(g["track"], abs=0.01)
            assert state.vspeed_mps / (0.3048 / 60) == pytest.approx(g["vertical_rate"], abs=0.5)
            checked["velocity"].add(frame)
        elif 1 <= g.get("typecode", 0) <= 4:
            assert state.callsign == g["callsign"].strip("_")
            assert state.category == "DCBA"[g["typecode"] - 1] + str(g["category"])
            checked["callsign"].add(frame)
    assert {k: len(v) for k, v in checked.items()} == {"altitude": 185, "velocity": 14, "callsign": 1}


@pytest.mark.parametrize("name", ["sample_data_commb_df20.csv", "sample_data_commb_df21.csv"])
def test_comm_b_samples_decode_and_are_counted(name: str) -> None:
    data = pymodes(name).read_bytes()
    obs, stats = decode_file(read_modes_csv, data)
    assert obs == []
    assert stats.messages == stats.decoded == 5000
    assert stats.rejected == 0
    assert stats.skipped_by_reason == {"comm_b": 5000}
    # the oracle's DF20 altitudes / DF21 squawks are what rs1090 reads from these frames
    golden = json.loads(pymodes("golden_v2.json").read_text())
    lines = data.decode("utf-8-sig").splitlines()
    seen = set()
    for line in lines:
        frame = line.split(",")[2].lower()
        g = golden.get(frame)
        if g is None:
            continue
        m = rs1090.decode(frame)
        assert m["icao24"] == g["icao"].lower()
        if "altitude" in g and g["df"] == 20:
            assert m["altitude"] == g["altitude"]
        if "squawk" in g and g["df"] == 21:
            assert m["squawk"] == g["squawk"]
        seen.add(frame)
    assert len(seen) == 200


def test_rs1090_crc_rejects_every_single_bit_error() -> None:
    """Flip every bit of 100 real DF17 frames: none may decode as ADS-B."""
    rows = sample_rows()[:100]
    stats = DecodeStats()
    dec = AdsbDecoder(DecodeOptions(), stats)
    outcomes: dict[str, int] = {}
    for t, frame in rows:
        raw = bytes.fromhex(frame)
        for bit in range(112):
            bad = bytearray(raw)
            bad[bit // 8] ^= 0x80 >> (bit % 8)
            assert crc24_residue(bytes(bad)) != 0
            before = dict(stats.rejected_by_reason), dict(stats.skipped_by_reason)
            assert dec.decode(bytes(bad).hex(), t, "flip") is None
            if bit >= 5:  # beyond the DF field the only possible outcome is a CRC reject
                assert stats.rejected_by_reason.get("bad_crc", 0) == before[0].get("bad_crc", 0) + 1
            else:
                for reason, n in {**stats.rejected_by_reason, **stats.skipped_by_reason}.items():
                    if n != {**before[0], **before[1]}.get(reason, 0):
                        outcomes[reason] = outcomes.get(reason, 0) + 1
    assert stats.observations == 0
    assert dec.table.aircraft == {}  # no corrupted frame created aircraft state
    assert stats.rejected_by_reason["bad_crc"] == 100 * 107
    # a flipped DF bit turns DF17 into a short-format DF (wrong length) or a DF with overlaid parity
    assert set(outcomes) <= {"bad_length", "comm_d", "comm_b", "military", "undecodable", "bad_crc", "tisb_adsr",
                            "surveillance_reply"}


# -- Beast and AVR framing of the same real frames ----------------------------------------------


def beast_bytes(rows: list[tuple[float, str]]) -> bytes:
    t0 = rows[0][0]
    # signal 0x1a forces an escaped byte into every frame
    return b"".join(beast_encode(bytes.fromhex(f), counter=round((t - t0) * 12e6) + 1, signal=0x1A) for t, f in rows)


def test_beast_decodes_like_modes_csv() -> None:
    rows = sample_rows()
    csv_obs, _ = decode_file(read_modes_csv, pymodes("sample_data_adsb.csv").read_bytes())
    data = beast_bytes(rows)
    assert data.count(b"\x1a\x1a") >= len(rows)
    obs, stats = decode_file(read_beast, data, DecodeOptions(start_time=rows[0][0]))
    assert stats.messages == 2000 and stats.rejected == 0
    assert [(o.t, o.lat, o.lon, o.alt_m, o.speed_mps) for o in obs] == [
        (pytest.approx(c.t, abs=1e-6), c.lat, c.lon, c.alt_m, c.speed_mps) for c in csv_obs]


def test_beast_with_junk_and_bad_frames_keeps_the_good_ones() -> None:
    rows = sample_rows()[:400]
    good = beast_bytes(rows)
    frames = good.split(b"\x1a3")[1:]
    corrupted = bytearray(beast_encode(bytes.fromhex(rows[5][1]), counter=1))
    corrupted[-1] ^= 0x01  # parity byte
    junk = b"\x00\xffnoise" + bytes(corrupted) + b"\x1a\x39\x01\x02" + b"\x1a3\x00\x01"  # junk, bad CRC, bad type, cut frame
    data = b"".join(junk + b"\x1a3" + f if i % 50 == 0 else b"\x1a3" + f for i, f in enumerate(frames))
    ref, _ = decode_file(read_beast, good, DecodeOptions(start_time=rows[0][0]))
    obs, stats = decode_file(read_beast, data, DecodeOptions(start_time=rows[0][0]))
    assert [(o.lat, o.lon) for o in obs] == [(o.lat, o.lon) for o in ref]
    assert stats.rejected_by_reason == {"beast_sync": 8, "bad_crc": 8, "beast_type": 8, "beast_truncated": 8}
    assert stats.messages == stats.observations + stats.skipped + stats.rejected


def test_beast_live_stream_matches_file() -> None:
    rows = sample_rows()
    data = beast_bytes(rows)
    file_obs, _ = decode_file(read_beast, data, DecodeOptions(start_time=rows[0][0]))
    stats = DecodeStats()
    dec = BeastStreamDecoder(DecodeOptions(), stats)
    live = []
    # one chunk per frame, received at its own time: the clock stays pinned to the counter
    for (t, _), chunk in zip(rows, data.split(b"\x1a3")[1:]):
        live += dec.feed(b"\x1a3" + chunk, t + 0.05)
    assert dec.replies() == b""
    assert [(o.lat, o.lon) for o in live] == [(o.lat, o.lon) for o in file_obs]
    # live, the counter is pinned to the first reception time, 0.05 s after the frame
    assert all(abs(a.t - b.t - 0.05) < 1e-6 for a, b in zip(live, file_obs))


def test_avr_decodes_like_modes_csv() -> None:
    rows = sample_rows()
    csv_obs, _ = decode_file(read_modes_csv, pymodes("sample_data_adsb.csv").read_bytes())
    t0 = rows[0][0]
    timed = "\r\n".join(avr_encode(bytes.fromhex(f), round((t - t0) * 12e6) + 1) for t, f in rows).encode()
    obs, stats = decode_file(read_avr, timed, DecodeOptions(start_time=t0))
    assert stats.messages == 2000 and stats.rejected == 0
    assert [(round(o.t, 6), o.lat, o.lon) for o in obs] == [(c.t, c.lat, c.lon) for c in csv_obs]
    plain = "\n".join(avr_encode(bytes.fromhex(f)) for _, f in rows).encode()
    obs2, stats2 = decode_file(read_avr, plain, DecodeOptions(start_time=t0))
    # no time stamps: every frame at the start time, positions still exact
    assert stats2.rejected == 0 and {o.t for o in obs2} == {t0}
    assert {(o.lat, o.lon) for o in obs2} == {(c.lat, c.lon) for c in csv_obs}


# -- SBS-1 on the real node-sbs1 lines ----------------------------------------------------------


def test_sbs1_real_lines() -> None:
    data = shared_data("adsb", "sbs1_node-sbs1", "msgs.txt").read_bytes()
    lines = data.decode().splitlines()
    assert len(lines) == 4184
    obs, stats = decode_file(read_sbs1, data, DecodeOptions(start_time=1_365_000_000.0))
    assert stats.messages == stats.decoded == 4184
    assert stats.rejected == 0
    with_pos = [ln for ln in lines if ln.startswith("MSG,3,") and ln.split(",")[14]]
    assert stats.observations == len(obs) == len(with_pos) == 74
    assert stats.skipped_by_reason == {"no_position": 4184 - 74}
    los_angeles = (33.94, -118.41)
    for o in obs:
        assert haversine_m(o.lat, o.lon, *los_angeles) < 100_000
        assert 0 < o.alt_m < 13_000 and o.alt_m == o.alt_baro_m
        assert o.t == 1_365_000_000.0
    assert sum(o.callsign is not None for o in obs) > 20
    assert sum(o.speed_mps is not None for o in obs) > 50


def test_sbs1_times_and_velocity_context() -> None:
    text = (
        b"MSG,1,1,1,40621D,1,2013/04/05,12:00:00.000,2013/04/05,12:00:00.100,EZY123  ,,,,,,,,,,,0\n"
        b"MSG,4,1,1,40621D,1,2013/04/05,12:00:01.000,2013/04/05,12:00:01.100,,,420,90.5,,,-640,,,,,0\n"
        b"MSG,3,1,1,40621D,1,2013/04/05,12:00:02.000,2013/04/05,12:00:02.100,,30000,,,51.5,-0.1,,,0,0,0,0\n"
        b"MSG,3,1,1,40621D,1,2013/04/05,12:00:03.000,2013/04/05,12:00:03.100,,30000,,,55.0,-0.1,,,0,0,0,0\n"
        b"MSG,2,1,1,40621D,1,2013/04/05,12:00:04.000,,,,,,,51.5,-0.1,,,,,,-1\n"
        b"STA,,1,1,40621D,1,2013/04/05,12:00:05.000,,,RM\n"
        b"MSG,3,1,1,XYZ,1,2013/04/05,12:00:05.000,,,,1000,,,51.5,-0.1,,,0,0,0,0\n"
    )
    obs, stats = decode_file(read_sbs1, text)
    assert len(obs) == 1
    o = obs[0]
    assert o.t == 1365163202.0 and o.callsign == "EZY123" and o.icao24 == "40621d"
    assert o.speed_mps == pytest.approx(420 * KT_MPS) and o.track_deg == 90.5
    assert o.vspeed_mps == pytest.approx(-640 * 0.3048 / 60)
    assert stats.rejected_by_reason == {"implausible_position": 1, "bad_icao": 1}  # 390 km in 1 s; bad hex ident
    assert stats.skipped_by_reason == {"no_position": 2, "surface_position": 1, "sbs_not_msg": 1}


# -- readsb aircraft.json -----------------------------------------------------------------------


def test_readsb_json_fixture() -> None:
    data = (FIXTURES / "aircraft.json").read_bytes()
    obs, stats = decode_file(read_readsb_json, data, DecodeOptions(sensor="rx1"))
    assert stats.messages == 6 and stats.rejected == 0
    assert stats.skipped_by_reason == {"surface_position": 1, "non_icao_address": 1, "no_position": 1}
    by = {o.icao24: o for o in obs}
    assert set(by) == {"4ca7b3", "43ea01", "a1b2c3"}
    ryr = by["4ca7b3"]
    assert ryr.t == pytest.approx(1764201600.4 - 0.6)
    assert ryr.sensor == "rx1" and ryr.callsign == "RYR8KT" and ryr.category == "A3"
    assert ryr.alt_m == pytest.approx(36525 * 0.3048) and ryr.alt_baro_m == pytest.approx(36000 * 0.3048)
    assert ryr.speed_mps == pytest.approx(447.2 * KT_MPS) and ryr.vspeed_mps == pytest.approx(32 * 0.3048 / 60)
    drone = by["43ea01"]
    assert drone.category == "B6"  # unmanned aerial vehicle
    mlat = by["a1b2c3"]
    assert mlat.alt_m == mlat.alt_baro_m == pytest.approx(12000 * 0.3048)  # no geometric altitude: baro stands in
    assert mlat.vspeed_mps == pytest.approx(-1024 * 0.3048 / 60)


def test_readsb_json_polls_skip_repeats() -> None:
    snap = json.loads((FIXTURES / "aircraft.json").read_text())
    later = json.loads(json.dumps(snap))
    later["now"] += 1.0
    for ac in later["aircraft"]:
        if "seen_pos" in ac:
            ac["seen_pos"] += 1.0  # no new position since the last poll
    polls = (json.dumps(snap) + "\n" + json.dumps(later) + "\n{broken\n").encode()
    obs, stats = decode_file(read_readsb_json, polls)
    assert len(obs) == 3
    assert stats.skipped_by_reason["repeated_position"] == 3
    assert stats.rejected_by_reason == {"bad_json": 1}
    as_array, _ = decode_file(read_readsb_json, json.dumps([snap, later]).encode())
    assert len(as_array) == 3


# -- synthetic frames for what the sample lacks: GNSS height, UAV category, receiver gating -----


def position_frame(icao: str, tc: int, alt_field: int, odd: bool, lat_cpr: int, lon_cpr: int) -> str:
    me = (tc << 51) | (alt_field << 36) | (int(odd) << 34) | (lat_cpr << 17) | lon_cpr
    return with_parity(bytes([0x8D]) + bytes.fromhex(icao) + me.to_bytes(7, "big")).hex()


def ident_frame(icao: str, tc: int, cat: int) -> str:
    chars = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"
    bits = 0
    for c in "UAV1    ":
        bits = (bits << 6) | chars.index(c)
    me = (tc << 51) | (cat << 48) | bits
    return with_parity(bytes([0x8D]) + bytes.fromhex(icao) + me.to_bytes(7, "big")).hex()


def test_gnss_height_uav_category_and_receiver_range() -> None:
    rows = sample_rows()
    even = next(rs1090.decode(f) for _, f in rows if rs1090.decode(f).get("parity") == "even")
    odd = next(rs1090.decode(f) for _, f in rows if rs1090.decode(f).get("parity") == "odd")
    t = 1_700_000_000.0
    frames = [
        ident_frame("abcdef", 3, 6),
        position_frame("abcdef", 20, 0x3B8, False, even["lat_cpr"], even["lon_cpr"]),
        position_frame("abcdef", 20, 0x3B8, True, odd["lat_cpr"], odd["lon_cpr"]),
    ]
    stats = DecodeStats()
    dec = AdsbDecoder(DecodeOptions(), stats)
    out = [dec.decode(f, t + i, f"frame {i}") for i, f in enumerate(frames)]
    o = out[-1]
    assert o is not None and o.category == "B6" and o.callsign == "UAV1"
    gnss_ft = rs1090.decode(frames[2])["altitude"]
    assert o.alt_m == pytest.approx(gnss_ft * 0.3048) and o.alt_baro_m is None
    # a receiver 1,400 km away cannot have heard it
    far = AdsbDecoder(DecodeOptions(sensor_lat=40.0, sensor_lon=-3.0), DecodeStats())
    assert [far.decode(f, t + i, "x") for i, f in enumerate(frames)] == [None, None, None]
    assert far.stats.rejected_by_reason == {"out_of_range": 1}
    # ... nor one 1,400 km away that promises a 300 km range: its local decode would alias, and
    # the range gate catches that as soon as the even/odd pair arrives
    far300 = AdsbDecoder(DecodeOptions(sensor_lat=40.0, sensor_lon=-3.0, extra={"max_range_km": "300"}), DecodeStats())
    out300 = [far300.decode(f, t + i, "x") for i, f in enumerate(frames)]
    assert out300[2] is None and far300.stats.rejected
    # a receiver nearby with a range below half a CPR zone decodes locally from the first frame on
    near = AdsbDecoder(DecodeOptions(sensor_lat=51.0, sensor_lon=6.5, extra={"max_range_km": "300"}), DecodeStats())
    first = near.decode(frames[1], t, "x")
    ref = rs1090.decode(frames[1], reference=(51.0, 6.5))
    assert first is not None and (first.lat, first.lon) == pytest.approx((ref["latitude"], ref["longitude"]), abs=1e-9)


def test_phantom_jump_rejected_then_reacquired() -> None:
    rows = [r for r in sample_rows() if rs1090.decode(r[1]).get("bds") == "05"][:60]
    stats = DecodeStats()
    dec = AdsbDecoder(DecodeOptions(), stats)
    for i, (t, f) in enumerate(rows[:20]):
        dec.decode(f, t, f"line {i}")
    state = dec.table.aircraft["406b90"]
    lat, lon, t_last = state.pos
    # CRC-valid frames of the same aircraft whose position is far from the last one
    phantom = position_frame("406b90", 11, 0xC38, False, 70000, 30000)
    n_obs = stats.observations
    for k in range(3):
        assert dec.decode(phantom, t_last + 0.5, f"phantom {k}") is None
    assert stats.rejected_by_reason == {"implausible_position": 3}
    assert stats.observations == n_obs
    assert state.pos is None  # three in a row: the last position is no longer trusted
    for i, (t, f) in enumerate(rows[20:]):
        dec.decode(f, t, f"line {i}")
    assert stats.observations >= n_obs + 35  # re-acquired from the next even/odd pair
    assert haversine_m(lat, lon, *state.pos[:2]) < 50_000


def test_ttl_eviction_bounds_memory() -> None:
    stats = DecodeStats()
    dec = AdsbDecoder(DecodeOptions(extra={"ttl_s": "60", "max_aircraft": "100"}), stats)
    t = 1_700_000_000.0
    for k in range(1000):
        icao = f"{k:06x}"
        dec.decode(ident_frame(icao, 4, 3), t + k * 0.5, "x")
        assert len(dec.table) <= 100
    assert dec.table.evicted >= 900
    assert stats.decoded == 1000


def test_decode_stream_registry_and_cli_names() -> None:
    stats = DecodeStats()
    out = list(decode_stream("modes-csv", io.BytesIO(b"ts,frame\n1457996400,8D406B9058B97218E77D23BEAD12\n"),
                             DecodeOptions(), stats))
    assert out == [] and stats.skipped_by_reason == {"header": 1, "cpr_unpaired": 1}
