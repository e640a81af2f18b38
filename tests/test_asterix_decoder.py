"""ASTERIX decoder behaviour: editions, options, time of day and midnight, CAT034 status, live UDP."""

from __future__ import annotations

import io

import pytest

from skywarden.core.records import PlotObservation, SensorStatus
from skywarden.sources.asterix.files import AsterixStreamDecoder, read_asterix, slant_to_ground
from skywarden.sources.decode import FORMATS, DecodeOptions, DecodeStats, FormatError

RECORD_048 = bytes.fromhex("d590" "19c9" "356d4d" "14004000" "0190" "4ca123" "0042")
DAY = 1699920000.0  # 2023-11-14 00:00:00 UTC


def block(category: int, *records: bytes) -> bytes:
    body = b"".join(records)
    return bytes([category]) + (len(body) + 3).to_bytes(2, "big") + body


def record_048_at(tod_s: float) -> bytes:
    return bytes.fromhex("d590" "19c9") + round(tod_s * 128).to_bytes(3, "big") + bytes.fromhex("14004000" "0190" "4ca123" "0042")


def decode(data: bytes, **kw) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    options = DecodeOptions(**{"sensor_lat": 45.0, "sensor_lon": 16.0, **kw})
    return list(read_asterix(io.BytesIO(data), options, stats)), stats


def test_registered_names_resolve() -> None:
    fmt = FORMATS["asterix"]
    assert fmt.reader() is read_asterix
    assert isinstance(fmt.stream_decoder(DecodeOptions(), DecodeStats()), AsterixStreamDecoder)


@pytest.mark.parametrize(("edition", "message"), [
    ({"48": "1.99"}, "known: 1.27, 1.28, 1.29, 1.30, 1.31, 1.32"),
    ({"62": "2.0"}, "known: 0.17, 1.16"),
    ({"21": "2.6"}, "category 21 is not decoded"),
    ({"x": "1"}, "must be a number"),
])
def test_unknown_editions_are_a_format_error(edition: dict, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode(block(48, RECORD_048), edition=edition)


def test_edition_keys_accept_cat_prefix() -> None:
    records, _ = decode(block(48, RECORD_048), edition={"cat048": "1.31"})
    assert len(records) == 1


@pytest.mark.parametrize("extra", [{"sigma_range_m": "-1"}, {"sigma_range_m": "x"}, {"nonsense": "1"}, {"position_1": "1,2"},
                                   {"position_1_2": "91,0"}])
def test_bad_options_are_a_format_error(extra: dict) -> None:
    with pytest.raises(FormatError):
        decode(block(48, RECORD_048), extra=extra)


def test_time_from_start_time_date_and_midnight_rollover() -> None:
    data = block(48, record_048_at(86399.5), record_048_at(0.25), record_048_at(10.0))
    records, _ = decode(data, start_time=DAY + 3600)
    assert [r.t for r in records] == [DAY + 86399.5, DAY + 86400.25, DAY + 86410.0]


def test_live_datagrams_are_dated_near_reception() -> None:
    stats = DecodeStats()
    decoder = AsterixStreamDecoder(DecodeOptions(sensor_lat=45.0, sensor_lon=16.0), stats)
    [before] = decoder.feed(block(48, record_048_at(86399.0)), DAY + 86400 + 2.0)  # received just after midnight
    [after] = decoder.feed(block(48, record_048_at(1.0)), DAY + 86400 + 2.0)
    assert before.t == DAY + 86399.0 and after.t == DAY + 86401.0
    no_time = bytes.fromhex("9590" "19c9" "14004000" "0190" "4ca123" "0042")  # FSPEC without I048/140
    [plot] = decoder.feed(block(48, no_time), 1700000123.5)
    assert plot.t == 1700000123.5 and stats.messages == 3


def test_default_altitude_without_mode_c_and_sigma() -> None:
    no_fl = bytes.fromhex("d190" "19c9" "356d4d" "14004000" "4ca123" "0042")  # 010, 140, 040, (no 090), 220, 161
    [plot], _ = decode(block(48, no_fl), extra={"default_alt_m": "120", "default_alt_sigma_m": "400"}, start_time=DAY)
    assert isinstance(plot, PlotObservation)
    assert plot.alt_m == 120.0 and plot.sigma_v_m == 400.0 and plot.elevation_deg is None
    assert plot.sigma_h_m == pytest.approx((50.0**2 + (37040 * 0.001745329) ** 2) ** 0.5, rel=0.01)


def test_no_sensor_position_is_counted_once_with_detail() -> None:
    stats = DecodeStats()
    records = list(read_asterix(io.BytesIO(block(48, RECORD_048, RECORD_048, RECORD_048)), DecodeOptions(), stats))
    assert records == [] and stats.rejected_by_reason == {"no_sensor_position": 3}
    assert len(stats.first_rejects) == 1 and "--sensor-position" in stats.first_rejects[0][2]


def test_simulated_and_test_targets_are_skipped() -> None:
    # FSPEC 010, 140, 020, 040; I048/020 SIM set / RAB set / TST in the first extent
    for descriptor, reason in (("b0", "simulated_or_test"), ("a2", "field_monitor"), ("a180", "simulated_or_test")):
        rec = bytes.fromhex("f0" "19c9" "356d4d" + descriptor + "14004000")
        records, stats = decode(block(48, rec))
        assert records == [] and stats.skipped_by_reason == {reason: 1}


def test_cat034_status_position_and_faults() -> None:
    position = (150).to_bytes(2, "big") + round(45.5 / 180 * 2**23).to_bytes(3, "big") + round(16.25 / 180 * 2**23).to_bytes(3, "big")
    north = bytes([0b11100001, 0b00010000]) + bytes.fromhex("19c9" "01" "356d4d") + position  # 010, 000, 030 | 120
    fault = bytes([0b11000100]) + bytes.fromhex("19c9" "04" "80" "80")  # 010, 000 (jamming strobe), 050 with COM NOGO
    stats = DecodeStats()
    records = list(read_asterix(io.BytesIO(block(34, north, fault) + block(48, RECORD_048)), DecodeOptions(start_time=DAY), stats))
    status_ok, status_fault, plot = records
    assert isinstance(status_ok, SensorStatus) and status_ok.state == "ok" and status_ok.detail == "north marker"
    assert status_ok.lat == pytest.approx(45.5, abs=1e-5) and status_ok.lon == pytest.approx(16.25, abs=1e-5) and status_ok.alt_m == 150
    assert status_fault.state == "fault" and "NOGO" in status_fault.detail and "jamming strobe" in status_fault.detail
    # the plot of the same SAC/SIC uses the position the radar announced
    assert isinstance(plot, PlotObservation) and plot.lat == pytest.approx(45.5, abs=0.01) and plot.lon > 16.25


def test_slant_to_ground_geometry() -> None:
    ground, elevation = slant_to_ground(100_000.0, 0.0, 10_000.0)
    assert 99_000 < ground < 100_000 and 5.0 < elevation < 6.0
    assert slant_to_ground(0.0, 0.0, 0.0) == (0.0, None)
    ground, elevation = slant_to_ground(1000.0, 0.0, 5000.0)  # unreachable height clamps
    assert ground >= 0 and elevation == 90.0
