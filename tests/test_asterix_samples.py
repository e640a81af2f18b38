"""ASTERIX decoder on the real Croatia Control recordings (GPL data: read from ../shared, never copied).

Golden values were read off the blocks by hand (formats.md section 3 walks cat048.raw) and agree
with libasterix 0.36.3 (tests/test_asterix_oracle.py).
"""

from __future__ import annotations

import io

import pytest
from conftest import shared_data

from skywarden.core.records import PlotObservation, SensorStatus
from skywarden.sources.asterix import items as it
from skywarden.sources.asterix.files import read_asterix
from skywarden.sources.asterix.uap import get_uap, parse_record
from skywarden.sources.decode import DecodeOptions, DecodeStats


def sample(name: str) -> bytes:
    return shared_data("asterix", "croatiacontrol", name).read_bytes()


def decode(name: str, options: DecodeOptions | None = None) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    records = list(read_asterix(io.BytesIO(sample(name)), options or DecodeOptions(), stats))
    return records, stats


def balanced(stats: DecodeStats) -> bool:
    return stats.messages == stats.observations + stats.statuses + stats.rejected + stats.skipped


def test_cat048_raw_golden_items() -> None:
    data = sample("cat048.raw")
    assert data[0] == 48 and int.from_bytes(data[1:3], "big") == len(data) == 48
    found, end = parse_record(data, 3, len(data), get_uap(48, "1.32"))
    assert end == len(data)
    octets = {k: data[a:b] for k, (a, b) in found.items()}
    assert sorted(found) == ["010", "020", "040", "070", "090", "140", "161", "170", "200", "220", "230", "240", "250"]
    assert it.sac_sic(octets["010"]) == (25, 201)
    assert it.time_of_day(octets["140"]) == pytest.approx(27354.6015625)
    rng, az = it.polar_position(octets["040"])
    assert rng / it.NM == pytest.approx(197.68359375) and az == pytest.approx(340.13671875)
    assert it.mode_3a(octets["070"]) == ("1000", True, False)
    assert it.flight_level_048(octets["090"]) == (330.0, True, False)
    assert it.target_descriptor_048(octets["020"])["TYP"] == 5
    assert it.aircraft_address(octets["220"]) == "3c660c"
    assert it.aircraft_identification(octets["240"]) == "DLH65A"
    assert it.track_number(octets["161"], 12) == 3563


def test_cat048_raw_plot_needs_and_uses_radar_position() -> None:
    records, stats = decode("cat048.raw")
    assert records == [] and stats.rejected_by_reason == {"no_sensor_position": 1} and balanced(stats)
    day = 1462406400.0  # 2016-05-05 00:00 UTC
    records, stats = decode("cat048.raw", DecodeOptions(sensor_lat=45.5, sensor_lon=16.0, sensor_alt_m=200.0, start_time=day + 3600))
    [plot] = records
    assert isinstance(plot, PlotObservation)
    assert plot.t == pytest.approx(day + 27354.6015625)
    assert plot.sensor == "asterix-25-201" and plot.icao24 == "3c660c" and plot.sensor_track == 3563
    assert plot.range_m == pytest.approx(197.68359375 * 1852) and plot.azimuth_deg == pytest.approx(340.13671875)
    assert plot.alt_m == pytest.approx(330 * 100 * 0.3048)  # FL330 as pressure altitude
    assert plot.elevation_deg is not None and 0.0 < plot.elevation_deg < 1.0  # FL330 at 366 km sits just above the horizon
    # 366 km towards 340 deg from 45.5 N 16 E (pyproj geodesic of the slant range less ~0.3 km): 48.583 N 14.316 E
    assert plot.lat == pytest.approx(48.583, abs=0.003) and plot.lon == pytest.approx(14.316, abs=0.003)


def test_cat062_raw_golden_tracks() -> None:
    records, stats = decode("cat062cat065.raw", DecodeOptions(start_time=1462406400.0))
    assert stats.skipped_by_reason == {"category_65": 1} and stats.rejected == 0 and balanced(stats)
    first, second = records
    assert first.sensor == "asterix-25-100" and first.sensor_track == 4980
    assert (first.lat, first.lon) == (pytest.approx(44.734413, abs=1e-6), pytest.approx(13.041528, abs=1e-6))
    assert first.alt_m == pytest.approx(13197.84)
    assert second.icao24 == "3c0a55" and second.sensor_track == 7977
    assert (second.lat, second.lon) == (pytest.approx(45.400808, abs=1e-6), pytest.approx(15.133184, abs=1e-6))


def test_cat034_raw_is_a_sensor_status() -> None:
    [status], stats = decode("cat034.raw", DecodeOptions(start_time=1462406400.0))
    assert isinstance(status, SensorStatus) and status.state == "ok" and status.sensor.startswith("asterix-")
    assert status.detail and balanced(stats)


def test_cat_034_048_pcap_counts_and_learned_radar_position() -> None:
    records, stats = decode("cat_034_048.pcap")
    assert balanced(stats) and stats.messages == 162 and stats.decoded == 162
    assert stats.statuses == 34
    # only radar 25/12 announces its position (I034/120); the other radars' plots wait for one
    assert stats.observations == 18 and {r.sensor for r in records if isinstance(r, PlotObservation)} == {"asterix-25-12"}
    assert stats.rejected_by_reason == {"no_sensor_position": 108}
    plots = [r for r in records if isinstance(r, PlotObservation)]
    assert all(1462433750 < p.t < 1462433760 for p in plots)  # 2016-05-05, the capture's own date
    assert all(43.5 < p.lat < 47.0 and 14.0 < p.lon < 16.5 for p in plots)
    assert all(p.icao24 is None or len(p.icao24) == 6 for p in plots)


def test_cat_034_048_pcap_with_radar_position_option() -> None:
    records, stats = decode("cat_034_048.pcap", DecodeOptions(extra={"position_25_201": "45.5,16.0,300"}))
    assert balanced(stats)
    assert sum(1 for r in records if isinstance(r, PlotObservation) and r.sensor == "asterix-25-201") == 28


def test_asterix_pcap_is_edition_0_17() -> None:
    """The 2008 CAT062 capture only fits the pre-1.0 profile; with 0.17 every track decodes in the region."""
    records, stats = decode("asterix.pcap", DecodeOptions(edition={"62": "0.17"}))
    assert stats.messages == stats.decoded == stats.observations == 100 and stats.rejected == 0
    assert all(42.0 < r.lat < 47.0 and 12.0 < r.lon < 20.0 for r in records)
    assert all(1210855665 <= r.t <= 1210855675 for r in records)  # capture time, 2008-05-15 12:47 UTC
    assert all(0 < r.alt_m < 15000 for r in records)
    assert records[0].sensor_track == 894 and records[0].lat == pytest.approx(44.268916, abs=1e-5)


def test_asterix_pcap_with_the_wrong_edition_never_crashes() -> None:
    records, stats = decode("asterix.pcap")
    assert balanced(stats)
    assert records == []  # nothing plausible comes out of a 0.17 stream read as 1.21
    assert set(stats.rejected_by_reason) <= {"bad_fspec", "truncated_record", "implausible_value", "bad_item"}


def test_cat_001_002_pcap_vendor_framing_is_counted() -> None:
    records, stats = decode("cat_001_002.pcap")
    assert records == [] and balanced(stats)
    assert stats.rejected_by_reason.get("bad_block_length", 0) >= 1


@pytest.mark.parametrize("name", ["cat_062_065.pcap", "cat21_re.ast", "parsegps.gps"])
def test_other_samples_do_not_crash_and_counts_add_up(name: str) -> None:
    records, stats = decode(name)
    assert balanced(stats)
