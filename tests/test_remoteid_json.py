"""Formats dronescout-json and netrid-json on the real samples, and on random or broken JSON."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import msgspec
import pytest
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.core.records import RemoteIdObservation, SensorStatus
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, decode_stream

FIXTURES = Path(__file__).resolve().parent / "data" / "remoteid"


def shared(name: str) -> Path:
    return shared_data("remoteid", name)


def decode(fmt: str, data: bytes, options: DecodeOptions | None = None) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    out = list(decode_stream(fmt, io.BytesIO(data), options or DecodeOptions(), stats))
    for rec in out:
        if isinstance(rec, RemoteIdObservation):
            msgspec.json.decode(msgspec.json.encode(rec), type=RemoteIdObservation)  # ranges hold
    return out, stats


def near(lat, lon, lat0, lon0, metres) -> bool:
    return math.hypot((lat - lat0) * 111_195, (lon - lon0) * 111_195 * math.cos(math.radians(lat0))) < metres


# --- DroneScout --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "count", "transport"), [
    ("BLE-legacy.json", 19, "bt4"), ("BLE-long_range.json", 4, "bt5"), ("WiFi-NaN.json", 3, "wifi_nan"),
    ("WiFi-beacon.json", 2, "wifi_beacon")])
def test_dronescout_transports(name, count, transport):
    path = FIXTURES / name if (FIXTURES / name).exists() else shared(f"dronescout_json_dronecot/{name}")
    obs, stats = decode("dronescout-json", path.read_bytes())
    assert stats.messages == stats.decoded == count and stats.rejected == 0
    assert len(obs) == count
    for o in obs:
        assert o.uas_id == "1787F04BM24010011195" and o.id_type == "serial_number"
        assert near(o.lat, o.lon, 37.7600, -122.4977, 30) and o.status == "ground"
        assert o.transport == transport and o.sensor == "SNSTAC-CUAS-0002"
        assert o.operator_lat == 37.7599643 and o.operator_lon == -122.4976683 and o.operator_alt_m == 45.5
        assert o.alt_m == 28.0 and (o.h_acc_m, o.v_acc_m, o.speed_acc_mps) == (1.0, 3.0, 0.3)
        assert 1_735_677_000 < o.t < 1_735_678_000


def test_dronescout_sensor_status():
    (status,), stats = decode("dronescout-json", (FIXTURES / "sensor_status.json").read_bytes())
    assert isinstance(status, SensorStatus) and stats.statuses == 1
    assert status.sensor == "test_sensor_id_001" and status.state == "ok" and status.t == 1735677525.0
    assert status.detail == "model ds230, firmware version 20220509-1035"


def test_dronecot_flattened_payload():
    (o,), stats = decode("dronescout-json", shared("dronescout_json_dronecot/ua_payload.json").read_bytes())
    assert o.uas_id == "1581F4QWB22CC00302LV" and near(o.lat, o.lon, 37.8288, -122.3778, 20)
    assert o.track_deg is None and o.alt_m == -32.0 and o.operator_alt_m == -34.5


def test_dronescout_shapes_and_sensor_option():
    lines = (FIXTURES / "WiFi-beacon.json").read_bytes()
    records = json.loads(lines)
    as_lines = b"\n".join(json.dumps(r).encode() for r in records)
    single = json.dumps(records[0], indent=2).encode()
    assert len(decode("dronescout-json", as_lines)[0]) == 2
    assert len(decode("dronescout-json", single)[0]) == 1
    obs, _ = decode("dronescout-json", as_lines, DecodeOptions(sensor="mine"))
    assert {o.sensor for o in obs} == {"mine"}


def test_dronescout_bad_records_among_good():
    good = json.dumps(json.loads((FIXTURES / "WiFi-beacon.json").read_bytes())[0])
    bad_b64 = good.replace('"UASdata": "', '"UASdata": "!!!')
    short = json.loads(good)
    short["data"]["UASdata"] = short["data"]["UASdata"][:100]
    text = "\n".join([good, "{not json", bad_b64, json.dumps(short), "[1, 2]", good, '{"protocol": 1.0}', good[: len(good) // 2]])
    obs, stats = decode("dronescout-json", text.encode())
    assert len(obs) == 3
    assert stats.rejected_by_reason["invalid_json"] >= 2
    assert stats.rejected_by_reason["uasdata_truncated"] == 1
    assert stats.rejected_by_reason["unknown_message"] == 1
    assert stats.decoded + stats.rejected == stats.messages


def test_not_json():
    with pytest.raises(FormatError):
        decode("dronescout-json", b"\x89PNG")
    with pytest.raises(FormatError):
        decode("netrid-json", b"hello")


# --- NetRID ---------------------------------------------------------------------------------------------

def zurich() -> dict:
    return json.loads((FIXTURES / "zurich_rid_injection.json").read_bytes())


def test_netrid_injection_zurich():
    obs, stats = decode("netrid-json", (FIXTURES / "zurich_rid_injection.json").read_bytes())
    assert stats.messages == stats.decoded == 30 and len(obs) == 30
    assert {o.uas_id for o in obs} == {"1AKGAAN8G70R7JS", "ULYK563L5G"}
    assert all(near(o.lat, o.lon, 47.3706, 8.498, 2500) for o in obs)
    assert all(o.operator_lat is not None and o.operator_id.startswith("CHE-") for o in obs)
    assert all(o.transport == "netrid" and o.sensor == "netrid" and o.status == "airborne" for o in obs)
    assert all(a.t <= b.t for a, b in zip(obs, obs[1:]))
    first = obs[0]
    assert first.t == 1640995201.0 and first.alt_m == 496.0 and first.speed_acc_mps == 3.0


def test_netrid_injection_start_time_shift():
    obs, _ = decode("netrid-json", (FIXTURES / "zurich_rid_injection.json").read_bytes(), DecodeOptions(start_time=1_800_000_000.0))
    assert obs[0].t == 1_800_000_001.0


def flights_response(states: list[dict], t: str) -> dict:
    """An F3411-22a GetFlightsResponse built from injection states (Time objects, recent positions)."""
    def time(value):
        return {"value": value, "format": "RFC3339"}

    last = states[-1]
    return {
        "timestamp": time(t), "no_isas_present": False,
        "flights": [{
            "id": "flight-1", "aircraft_type": "Helicopter", "simulated": True,
            "current_state": {**last, "timestamp": time(last["timestamp"]), "position": {**last["position"], "accuracy_h": "HA10m"}},
            "recent_positions": [{"time": time(s["timestamp"]), "position": s["position"]} for s in states[:-1]],
            "details": {"id": "flight-1", "uas_id": {"registration_id": "CHE87astrdge12k"}, "operator_id": "CHE-OP",
                        "operator_location": {"position": {"lat": 47.37, "lng": 8.49}, "altitude": {"value": 500, "units": "M"}}},
        }],
    }


def test_netrid_flights_response_series():
    states = zurich()["flights"][0]["states"]
    polls = [flights_response(states[:5], states[4]["timestamp"]), flights_response(states[2:8], states[7]["timestamp"])]
    data = "\n".join(json.dumps(p) for p in polls).encode()
    try:  # the InterUSS models accept what we built (when installed)
        from implicitdict import ImplicitDict
        from uas_standards.astm.f3411.v22a.api import GetFlightsResponse

        ImplicitDict.parse(polls[0], GetFlightsResponse)
    except ImportError:
        pass
    obs, stats = decode("netrid-json", data)
    assert len(obs) == 8 and stats.skipped_by_reason == {"duplicate": 3}
    assert {o.uas_id for o in obs} == {"CHE87astrdge12k"} and obs[0].id_type == "caa_registration"
    assert obs[0].operator_alt_m == 500.0 and obs[0].operator_id == "CHE-OP"
    current = [o for o in obs if o.h_acc_m == 10.0]
    assert len(current) == 2 and current[0].speed_mps == states[4]["speed"]


def test_netrid_bad_values():
    doc = zurich()
    states = doc["flights"][0]["states"]
    states[0]["timestamp"] = "yesterday"
    states[1]["position"]["lat"] = 123.0
    states[2] = "nonsense"
    doc["flights"].append(42)
    obs, stats = decode("netrid-json", json.dumps(doc).encode())
    assert stats.rejected_by_reason == {"bad_time": 1, "not_a_flight": 2}
    assert stats.skipped_by_reason == {"no_position": 1}
    assert len(obs) == 30 - 3


# --- property tests --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(
        ["data", "flights", "states", "timestamp", "UASdata", "position", "lat", "lng", "current_state", "status",
         "MAC address", "type", "Latitude", "Longitude", "BasicID", "details", "recent_positions", "time"]) | st.text(max_size=5),
        children, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["dronescout-json", "netrid-json"]))
def test_random_json_never_raises(value, fmt):
    try:
        decode(fmt, json.dumps(value).encode())
    except FormatError:
        assert not isinstance(value, (dict, list))


SAMPLES = {
    "dronescout-json": (FIXTURES / "WiFi-beacon.json").read_bytes(),
    "netrid-json": (FIXTURES / "zurich_rid_injection.json").read_bytes(),
}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), st.floats(0, 1), st.binary(max_size=8))
def test_truncated_or_damaged_samples(fmt, where, junk):
    data = SAMPLES[fmt]
    cut = int(len(data) * where)
    try:
        decode(fmt, data[:cut] + junk)
    except FormatError:
        pass
