"""SAPIENT (BSI Flex 335 v2.0) as a fusion node: the real sample messages, and message handling.

The 43 sample messages are read from ../shared/data (Apache-2.0, Dstl); four of them are also
copied into tests/data/sapient so that the core tests run without that folder.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import msgspec
import pytest
from conftest import shared_data
from google.protobuf import json_format

from skywarden.core.records import (
    BearingObservation,
    PlotObservation,
    RemoteIdObservation,
    SensorStatus,
    decode_observation,
    encode_record,
)
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, decode_stream
from skywarden.sources.sapient import build
from skywarden.sources.sapient.bindings import Registration, SapientMessage
from skywarden.sources.sapient.files import read_sapient
from skywarden.sources.sapient.framing import encode_frame
from skywarden.sources.sapient.node import SapientStreamDecoder
from skywarden.sources.sapient.validate import violations

LOCAL = Path(__file__).resolve().parent / "data" / "sapient"
NODE = "a8654cdf-4328-47de-81fa-c495589e30c9"
T0 = 1_700_000_000.0
SITE = (51.1739, -1.8224, 120.0)  # Salisbury Plain, where the samples point


def shared_samples() -> list[Path]:
    files = sorted(shared_data("sapient", "sample_messages_v2").glob("*.json"))
    assert len(files) == 43
    return files


def framed(*messages: SapientMessage) -> bytes:
    return b"".join(encode_frame(m.SerializeToString()) for m in messages)


def decode(data: bytes, **extra: str) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    records = list(read_sapient(io.BytesIO(data), DecodeOptions(extra=extra), stats))
    return records, stats


def assert_counts_add_up(stats: DecodeStats) -> None:
    assert stats.messages == stats.decoded + stats.rejected + stats.skipped


def assert_valid_records(records: list) -> None:
    """Every record passes the public schema's range checks (a round trip through JSON)."""
    for r in records:
        if isinstance(r, SensorStatus):
            msgspec.json.decode(encode_record(r), type=SensorStatus)
        else:
            assert decode_observation(encode_record(r)) == r


# -- the real sample messages ------------------------------------------------------------------


def test_all_43_samples_parse_validate_and_decode() -> None:
    files = shared_samples()
    for path in files:
        msg = json_format.Parse(path.read_text(), SapientMessage())
        assert msg.WhichOneof("content") is not None, path.name
        assert violations(msg) == [], path.name
    # all 43 in one JSON Lines file, then as one framed binary stream: same outcome
    lines = b"\n".join(json.dumps(json.loads(p.read_text())).encode() for p in files)
    records, stats = decode(lines)
    binary = framed(*(json_format.Parse(p.read_text(), SapientMessage()) for p in files))
    records_bin, stats_bin = decode(binary)
    assert records == records_bin
    assert stats.as_dict() | {"first_rejects": None} == stats_bin.as_dict() | {"first_rejects": None}
    assert stats.messages == 43
    assert_counts_add_up(stats)
    # 2 DetectionReports declare UTM but carry degrees: counted, not believed
    assert stats.rejected_by_reason == {"implausible_location": 2}
    assert stats.skipped_by_reason == {"task": 19, "task_ack": 15, "registration_ack": 1, "alert_ack": 1}
    # 1 Registration, 2 StatusReports and 2 Alerts, each a SensorStatus
    assert stats.decoded == 5 and stats.statuses == 5 and stats.observations == 0
    assert sorted(r.state for r in records) == ["ok", "ok", "ok", "ok", "registered"]
    assert_valid_records(records)


def test_one_sample_per_file_as_the_cli_reads_it() -> None:
    for name in ("Registration", "StatusReport", "DetectionReport", "Alert"):
        path = LOCAL / f"SapientAsmSimulator__Default.{name}.json"
        stats = DecodeStats()
        with path.open("rb") as f:
            records = list(decode_stream("sapient", f, DecodeOptions(), stats))
        assert stats.messages == 1, name
        assert_counts_add_up(stats)
        if name == "DetectionReport":
            assert records == [] and stats.rejected_by_reason == {"implausible_location": 1}
            where, reason, detail = stats.first_rejects[0]
            assert where == "line 1" and "look like degrees" in detail
        else:
            assert len(records) == 1 and isinstance(records[0], SensorStatus)
            assert records[0].sensor == NODE


def test_sample_status_report_keeps_the_status_but_not_the_bogus_location() -> None:
    data = (LOCAL / "SapientAsmSimulator__Default.StatusReport.json").read_bytes()
    (status,), stats = decode(data)
    assert status.state == "ok" and status.lat is None
    assert "weather: Rain (information)" in status.detail and "power mains 1%" in status.detail
    assert "node_location unusable: implausible_location" in status.detail
    assert status.t == pytest.approx(1688733857.0276387)


def test_sample_detection_report_decodes_once_its_frame_is_fixed() -> None:
    """The sample's numbers are lat/lon with latitude in x; declared as what they are, the
    report gives a plot at the sample's place with its errors (5 m in UTM becomes degrees here,
    so x/y errors are dropped as absurd and only z_error stays)."""
    msg = json_format.Parse((LOCAL / "SapientAsmSimulator__Default.DetectionReport.json").read_text(), SapientMessage())
    loc = msg.detection_report.location
    loc.x, loc.y = loc.y, loc.x
    loc.coordinate_system = 1  # LAT_LNG_DEG_M
    loc.x_error = loc.y_error = 0.00005
    (plot,), stats = decode(framed(msg))
    assert isinstance(plot, PlotObservation)
    assert (plot.lat, plot.lon, plot.alt_m) == (51.1739726374, -1.82237671048, 788.0)
    assert plot.sigma_h_m == pytest.approx(0.00005 * 110_574.0)
    assert plot.sigma_v_m == 5.0
    assert plot.sensor == NODE and plot.sensor_track is not None
    assert_valid_records([plot])


# -- registration ------------------------------------------------------------------------------


def ack_of(decoder: SapientStreamDecoder) -> list[SapientMessage]:
    data, out = decoder.replies(), []
    while data:
        n = int.from_bytes(data[:4], "little")
        out.append(SapientMessage.FromString(data[4 : 4 + n]))
        data = data[4 + n :]
    return out


def test_registration_is_acknowledged_and_the_node_remembered() -> None:
    msg = json_format.Parse((LOCAL / "SapientAsmSimulator__Default.Registration.json").read_text(), SapientMessage())
    decoder = SapientStreamDecoder(DecodeOptions(extra={"dmm_node_id": "6f582b41-6c88-481c-bb0f-6021a1739f57"}), DecodeStats())
    (status,) = decoder.feed(framed(msg), T0)
    assert status.state == "registered" and "Car Park Camera at Entrance (C1)" in status.detail
    (ack,) = ack_of(decoder)
    assert ack.registration_ack.acceptance is True
    assert ack.node_id == "6f582b41-6c88-481c-bb0f-6021a1739f57" and ack.destination_id == NODE
    assert violations(ack) == []
    node = decoder.dmm.nodes[NODE]
    assert node.registered and node.node_types == ("camera",) and node.sub_types == ("InfraredCamera",)
    assert node.utm_zone == "30U" and node.location_units == "utm_m, wgs84_e, zone 30U"


def test_registration_with_another_icd_version_is_refused_with_a_reason() -> None:
    decoder = SapientStreamDecoder(DecodeOptions(), DecodeStats())
    reg = build.registration(NODE, T0, icd_version="SAPIENT v7")
    assert decoder.feed(framed(reg), T0) == []
    (ack,) = ack_of(decoder)
    assert ack.registration_ack.acceptance is False
    assert "not supported" in ack.registration_ack.ack_response_reason[0]
    assert decoder.stats.rejected_by_reason == {"unsupported_icd_version": 1}
    # the refused node's detections are not used; a correct registration lifts the refusal
    det = build.detection_location(NODE, T0 + 1, 51.0, -1.0, 100.0)
    assert decoder.feed(framed(det), T0) == []
    assert decoder.stats.rejected_by_reason["registration_refused"] == 1
    decoder.feed(framed(build.registration(NODE, T0 + 2)), T0)
    assert ack_of(decoder)[0].registration_ack.acceptance is True
    assert len(decoder.feed(framed(det), T0)) == 1


def test_invalid_registration_is_refused_naming_the_field() -> None:
    reg = build.registration(NODE, T0)
    reg.registration.ClearField("status_definition")
    reg.registration.config_data[0].manufacturer = ""
    decoder = SapientStreamDecoder(DecodeOptions(), DecodeStats())
    assert decoder.feed(framed(reg), T0) == []
    replies = ack_of(decoder)
    assert [r.WhichOneof("content") for r in replies] == ["error", "registration_ack"]
    assert "missing_field: registration.status_definition" in replies[0].error.error_message
    assert "missing_field: registration.config_data[0].manufacturer" in replies[1].registration_ack.ack_response_reason
    assert decoder.stats.rejected_by_reason == {"missing_field": 1}
    assert decoder.stats.first_rejects[0][2].startswith("registration.status_definition")


# -- validation, generically from the descriptors ----------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "reason", "path"),
    [
        (lambda m: m.detection_report.ClearField("object_id"), "missing_field", "detection_report.object_id"),
        (lambda m: setattr(m.detection_report, "report_id", "not-a-ulid"), "invalid_ulid", "detection_report.report_id"),
        (lambda m: setattr(m.detection_report, "task_id", "01GGYFBAXHNV9DN0N74DFX29UU"), "invalid_ulid", "detection_report.task_id"),
        (lambda m: setattr(m, "node_id", "a8654cdf4328"), "invalid_uuid", "node_id"),
        (lambda m: m.ClearField("timestamp"), "missing_field", "timestamp"),
        (lambda m: m.detection_report.ClearField("location"), "missing_field", "detection_report.location_oneof"),
        (lambda m: m.detection_report.location.ClearField("datum"), "missing_field", "detection_report.location.datum"),
        (lambda m: m.detection_report.classification.add(confidence=0.5), "missing_field", "detection_report.classification[1].type"),
        (lambda m: m.detection_report.associated_detection.add(node_id=NODE, object_id="x"), "invalid_ulid",
         "detection_report.associated_detection[0].object_id"),
    ],
)
def test_icd_violations_are_rejects_naming_the_field(mutate, reason, path) -> None:  # noqa: ANN001
    msg = build.detection_location(NODE, T0, 51.0, -1.0, 100.0, classification="UAV", confidence=0.9)
    mutate(msg)
    records, stats = decode(framed(msg))
    assert records == []
    assert stats.rejected_by_reason == {reason: 1}
    assert stats.first_rejects[0][2].split(" (+")[0] == path
    # validate=false lets it through where the position is still usable
    if reason != "missing_field" or path not in ("timestamp", "detection_report.location_oneof", "detection_report.location.datum"):
        records, stats = decode(framed(msg), validate="false")
        assert len(records) == 1


# -- detections ------------------------------------------------------------------------------


def session(*messages: SapientMessage, **extra: str) -> tuple[list, DecodeStats]:
    return decode(framed(*messages), **extra)


def test_lat_lon_detection_to_plot() -> None:
    det = build.detection_location(NODE, T0 + 0.25, 51.18, -1.80, 250.0, error_m=10.0, confidence=0.9, classification="UAV")
    (registered, status, plot), stats = session(build.registration(NODE, T0), build.status_report(NODE, T0, *SITE), det)
    assert (registered.state, status.state) == ("registered", "ok")
    assert isinstance(plot, PlotObservation)
    assert (plot.t, plot.lat, plot.lon, plot.alt_m) == (T0 + 0.25, 51.18, -1.80, 250.0)
    assert plot.sigma_h_m == pytest.approx(10.0, rel=1e-6) and plot.sigma_v_m == 10.0
    assert stats.observations == 1 and stats.statuses == 2
    assert_counts_add_up(stats)


def test_lat_lon_in_radians() -> None:
    det = build.detection_location(NODE, T0, 0.0, 0.0, 100.0)
    det.detection_report.location.x, det.detection_report.location.y = math.radians(-1.8), math.radians(51.2)
    det.detection_report.location.coordinate_system = 2
    (plot,), _ = session(det)
    assert plot.lat == pytest.approx(51.2) and plot.lon == pytest.approx(-1.8)


def test_utm_detection_is_converted_and_checked_against_its_band() -> None:
    det = build.detection_location(NODE, T0, 0.0, 0.0, 100.0)
    loc = det.detection_report.location
    loc.coordinate_system, loc.utm_zone = 5, "30U"
    loc.x, loc.y = 597_000.0, 5_669_000.0  # near Salisbury, 51.17 N -1.62 E
    (plot,), _ = session(det)
    assert plot.lat == pytest.approx(51.16, abs=0.02) and plot.lon == pytest.approx(-1.62, abs=0.02)
    # the node's registered zone is used when the location has none
    loc.utm_zone = ""
    assert len(session(det)[0]) == 0
    assert len(session(build.registration(NODE, T0, utm_zone="30U"), det)[0]) == 2
    # the sample Alert's numbers (318720, 176487) look like British grid: in 30U they are at 1.6 N
    loc.utm_zone, loc.x, loc.y = "30U", 318_720.0, 176_487.0
    records, stats = session(det)
    assert records == [] and stats.rejected_by_reason == {"implausible_location": 1}
    assert "outside band U" in stats.first_rejects[0][2]
    loc.utm_zone = "30"  # no band letter: the hemisphere would be a guess
    assert session(det)[1].rejected_by_reason == {"invalid_utm_zone": 1}


def test_implausible_positions_are_counted_not_believed() -> None:
    node = [build.status_report(NODE, T0, *SITE)]
    far = build.detection_location(NODE, T0, -1.82, 51.17, 100.0)  # latitude and longitude swapped
    huge = build.detection_location(NODE, T0, 51.2, -1.8, 90_000.0)
    nan = build.detection_location(NODE, T0, float("nan"), -1.8, 100.0)
    records, stats = session(*node, far, huge, nan)
    assert [type(r) for r in records] == [SensorStatus]
    assert stats.rejected_by_reason == {"implausible_location": 3}
    assert "km from its node" in stats.first_rejects[0][2]
    # a larger max_range_km lets the far one through
    records, stats = session(*node, far, max_range_km="20000")
    assert len(records) == 2


def test_range_bearing_needs_the_node_location() -> None:
    det = build.detection_range_bearing(NODE, T0, 1500.0, 90.0, 2.0, range_error_m=5.0, azimuth_error_deg=0.5)
    records, stats = session(det)
    assert records == [] and stats.rejected_by_reason == {"no_node_location": 1}
    (status, plot), stats = session(build.status_report(NODE, T0, *SITE), det)
    assert status.lat == SITE[0]
    assert plot.range_m == 1500.0 and plot.azimuth_deg == 90.0 and plot.elevation_deg == 2.0
    assert plot.lat == pytest.approx(SITE[0], abs=1e-3) and plot.lon > SITE[1]
    assert plot.alt_m == pytest.approx(SITE[2] + 1500.0 * math.sin(math.radians(2.0)), abs=0.5)
    assert plot.sigma_h_m == pytest.approx(1500.0 * math.radians(0.5))
    # --sensor-position stands in for a node that never reported its location
    options = DecodeOptions(sensor_lat=SITE[0], sensor_lon=SITE[1], sensor_alt_m=SITE[2])
    stats = DecodeStats()
    (plot2,) = list(read_sapient(io.BytesIO(framed(det)), options, stats))
    assert plot2.lat == pytest.approx(plot.lat) and plot2.lon == pytest.approx(plot.lon)


def test_range_bearing_north_references() -> None:
    node = build.status_report(NODE, T0, *SITE)
    true = build.detection_range_bearing(NODE, T0, 2000.0, 0.0, 0.0)
    grid = build.detection_range_bearing(NODE, T0, 2000.0, 0.0, 0.0, datum=3)
    magnetic = build.detection_range_bearing(NODE, T0, 2000.0, 0.0, 0.0, datum=2)
    platform = build.detection_range_bearing(NODE, T0, 2000.0, 0.0, 0.0, datum=4)
    records, stats = session(node, true, grid, magnetic, platform)
    assert stats.rejected_by_reason == {"magnetic_bearing": 1, "platform_bearing": 1}
    _, p_true, p_grid = records
    assert p_true.azimuth_deg == 0.0
    # west of the zone 30 central meridian (3 W)? no: -1.82 is east of it, grid north is east of true north
    assert 0.5 < p_grid.azimuth_deg < 1.5 and p_grid.lon > p_true.lon
    records, stats = session(node, magnetic, declination_deg="-0.5")
    assert records[1].azimuth_deg == pytest.approx(359.5)


def test_bearing_only_becomes_a_bearing_and_2d_gets_an_unknown_altitude() -> None:
    node = build.status_report(NODE, T0, *SITE)
    bearing_only = build.detection_range_bearing(NODE, T0, 1000.0, 45.0, azimuth_error_deg=2.5)
    bearing_only.detection_report.range_bearing.ClearField("range")
    flat = build.detection_range_bearing(NODE, T0, 1000.0, 45.0)  # no elevation
    flat_ll = build.detection_location(NODE, T0, 51.18, -1.81)  # no z
    records, stats = session(node, bearing_only, flat, flat_ll)
    assert stats.skipped_by_reason == {}
    _, b, p_rb, p_ll = records
    # An RF direction finder's report: a direction from the node, at the node's position.
    assert isinstance(b, BearingObservation)
    assert (b.lat, b.lon, b.alt_m) == pytest.approx(SITE) and b.azimuth_deg == 45.0 and b.sigma_azimuth_deg == 2.5
    assert p_rb.sigma_v_m == 1000.0 and p_rb.alt_m == pytest.approx(SITE[2], abs=0.2)
    assert p_ll.alt_m == SITE[2] and p_ll.sigma_v_m == 1000.0


def test_range_bearing_errors_reach_the_plot_as_polar_sigmas() -> None:
    node = build.status_report(NODE, T0, *SITE)
    det = build.detection_range_bearing(NODE, T0, 3000.0, 120.0, range_error_m=15.0, azimuth_error_deg=0.5)
    (_, plot), _ = session(node, det)
    assert plot.sigma_range_m == pytest.approx(15.0) and plot.sigma_azimuth_deg == pytest.approx(0.5)
    assert plot.range_m == pytest.approx(3000.0) and plot.azimuth_deg == pytest.approx(120.0)


def test_geoid_altitudes() -> None:
    det = build.detection_location(NODE, T0, 51.18, -1.81, 100.0, error_m=3.0)
    det.detection_report.location.datum = 2  # WGS84_G: height above the geoid
    (plot,), _ = session(det)
    assert plot.alt_m == 100.0 and plot.sigma_v_m == 50.0  # unconverted, and said to be rough
    (plot,), _ = session(det, geoid_undulation_m="47.5")
    assert plot.alt_m == 147.5 and plot.sigma_v_m == 3.0


def test_confidence_and_class_filters() -> None:
    low = build.detection_location(NODE, T0, 51.18, -1.81, 100.0, confidence=0.2, classification="UAV")
    human = build.detection_location(NODE, T0, 51.18, -1.81, 100.0, confidence=0.9, classification="Human")
    uav = build.detection_location(NODE, T0, 51.18, -1.81, 100.0, confidence=0.9, classification="UAV")
    records, stats = session(low, human, uav, min_confidence="0.5", ignore_classes="human, vehicle")
    assert len(records) == 1 and stats.skipped_by_reason == {"low_confidence": 1, "ignored_class": 1}
    assert_counts_add_up(stats)


def test_remote_id_receiver_node_gives_remote_id_observations() -> None:
    reg = build.registration(NODE, T0, node_type=Registration.NODE_TYPE_PASSIVE_RF, sub_types=("Remote ID receiver",))
    det = build.detection_location(NODE, T0 + 1, 51.18, -1.81, 130.0, error_m=4.0, uas_id="1588E040445AC004418",
                                   velocity_enu=(3.0, 4.0, -1.0))
    no_id = build.detection_location(NODE, T0 + 1, 51.18, -1.81, 130.0)
    (_, rid, plot), stats = session(reg, det, no_id)
    assert isinstance(rid, RemoteIdObservation) and isinstance(plot, PlotObservation)
    assert rid.uas_id == "1588E040445AC004418" and rid.transport == "sapient"
    assert rid.speed_mps == pytest.approx(5.0) and rid.track_deg == pytest.approx(36.8699, abs=1e-3) and rid.vspeed_mps == -1.0
    assert rid.h_acc_m == pytest.approx(4.0, rel=1e-3)
    # the same report from a radar stays a plot: an `id` alone does not make a Remote ID report
    (_, plot2), _ = session(build.registration(NODE, T0), det)
    assert isinstance(plot2, PlotObservation)
    assert_valid_records([rid, plot, plot2])


def test_require_registration() -> None:
    det = build.detection_location(NODE, T0, 51.18, -1.81, 100.0)
    records, stats = session(det, require_registration="true")
    assert records == [] and stats.rejected_by_reason == {"unregistered_node": 1}
    records, stats = session(build.registration(NODE, T0), det, require_registration="true")
    assert len(records) == 2


def test_sensor_option_overrides_the_node_id() -> None:
    det = build.detection_location(NODE, T0, 51.18, -1.81, 100.0)
    stats = DecodeStats()
    (plot,) = list(read_sapient(io.BytesIO(framed(det)), DecodeOptions(sensor="camera-north"), stats))
    assert plot.sensor == "camera-north"


def test_status_states() -> None:
    ok = build.status_report(NODE, T0, *SITE)
    warn = build.status_report(NODE, T0, system=2)
    goodbye = build.status_report(NODE, T0, system=5)
    fault_power = build.status_report(NODE, T0)
    fault_power.status_report.power.status = 2
    records, _ = session(ok, warn, goodbye, fault_power)
    assert [r.state for r in records] == ["ok", "degraded", "offline", "degraded"]
    assert records[0].lat == SITE[0] and records[0].alt_m == SITE[2]


def test_alert_is_acknowledged_and_reported_as_status() -> None:
    decoder = SapientStreamDecoder(DecodeOptions(), DecodeStats())
    msg = build.alert(NODE, T0, "tamper switch opened", alert_type=5)
    (status,) = decoder.feed(framed(msg), T0)
    assert status.state == "fault" and "tamper switch opened" in status.detail and "fatal" in status.detail
    (ack,) = ack_of(decoder)
    assert ack.alert_ack.alert_id == msg.alert.alert_id and ack.alert_ack.alert_ack_status == 1
    assert violations(ack) == []


def test_timestamps_outside_unix_range_are_rejected() -> None:
    det = build.detection_location(NODE, T0, 51.18, -1.81, 100.0)
    det.timestamp.FromSeconds(5)
    assert session(det)[1].rejected_by_reason == {"invalid_time": 1}


def test_bad_options_are_one_line_errors() -> None:
    for extra in ({"nope": "1"}, {"max_range_km": "far"}, {"validate": "maybe"}, {"dmm_node_id": "x"}):
        with pytest.raises(FormatError):
            list(read_sapient(io.BytesIO(b""), DecodeOptions(extra=extra), DecodeStats()))


def test_not_sapient_at_all_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="not SAPIENT"):
        decode(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert decode(b"")[1].messages == 0


def test_recorded_radar_session_fixture() -> None:
    """tests/data/sapient/radar_session.bin: range-bearings that, put back in the node's ENU
    frame, retrace the drone's generating path (to the rounding of the recorded angles)."""
    from skywarden.core.frame import LocalFrame

    records, stats = decode((LOCAL / "radar_session.bin").read_bytes())
    assert (stats.messages, stats.decoded, stats.observations, stats.statuses, stats.rejected) == (34, 34, 30, 4, 0)
    plots = [r for r in records if isinstance(r, PlotObservation)]
    frame = LocalFrame(51.1739, -1.8224, 135.0)
    e, n, u = frame.to_enu([p.lat for p in plots], [p.lon for p in plots], [p.alt_m for p in plots])
    for i in range(30):
        assert e[i] == pytest.approx(1500.0 - 20.0 * i, abs=0.1)
        assert n[i] == pytest.approx(1500.0 + 15.0 * i, abs=0.1)
        assert u[i] == pytest.approx(60.0 + 0.5 * i, abs=0.1)
    assert len({p.sensor_track for p in plots}) == 1
    assert all(p.sigma_h_m == pytest.approx(max(7.5, p.range_m * math.radians(0.4))) for p in plots)
    assert_valid_records(records)
