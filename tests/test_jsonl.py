"""Observation JSON Lines v1: valid kinds, every reject reason, and fuzzing."""

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.sources.jsonl import IngestReport, read_observations

T = 1_700_000_000.0


def lines(*objs):
    out = []
    for o in objs:
        out.append(o if isinstance(o, (bytes, str)) else json.dumps(o))
    return [x.encode() if isinstance(x, str) else x for x in out]


def read(raw_lines, **kw):
    report = IngestReport()
    got = list(read_observations(raw_lines, report, **kw))
    return got, report


PLOT = {"kind": "plot", "t": T, "sensor": "r1", "lat": 51.1, "lon": -0.2, "alt_m": 100.0}
RID = {"kind": "remote_id", "t": T, "sensor": "rid", "uas_id": "1581F5FJD229T00DH", "lat": 51.1, "lon": -0.2, "alt_m": 90.0,
       "speed_mps": 5.0, "track_deg": 270.0, "vspeed_mps": -0.5, "operator_lat": 51.09, "operator_lon": -0.21, "h_acc_m": 3.0}
ADSB = {"kind": "adsb", "t": T, "sensor": "a1", "icao24": "4ca1fa", "lat": 51.1, "lon": -0.2, "alt_m": 900.0, "callsign": "EZY12", "speed_mps": 80.0, "track_deg": 258.0}


def test_three_kinds_decode_with_optional_fields_and_extra_fields_ignored():
    got, report = read(lines(PLOT, RID, dict(ADSB, extra="ignored", nested={"a": 1})))
    assert [o.kind for _, o, _ in got] == ["plot", "remote_id", "adsb"]
    rid = got[1][1]
    assert rid.uas_id == "1581F5FJD229T00DH" and rid.operator_lat == 51.09 and rid.h_acc_m == 3.0
    assert got[2][1].callsign == "EZY12"
    assert report.accepted == 3 and report.rejected == 0


def test_each_bad_line_is_counted_with_line_number_and_reason_and_good_lines_survive():
    bad = lines(
        PLOT,
        b"{not json",
        dict(PLOT, lat=91.0),
        b'{"kind":"plot","t":1700000000,"sensor":"r","lat":NaN,"lon":0,"alt_m":0}',
        {k: v for k, v in PLOT.items() if k != "lon"},
        dict(PLOT, kind="sonar"),
        dict(PLOT, alt_m=1e6),
        dict(PLOT, t="yesterday"),
        dict(RID, uas_id=""),
        dict(ADSB, icao24="XYZ"),
        [1, 2, 3],
        dict(PLOT, t=T + 1),
    )
    got, report = read(bad)
    assert [no for no, _, _ in got] == [1, 12]
    reasons = {r.line_no: r.reason for r in report.rejects}
    assert reasons == {
        2: "invalid_json", 3: "invalid_value", 4: "invalid_json", 5: "missing_field", 6: "unknown_kind",
        7: "invalid_value", 8: "invalid_value", 9: "invalid_value", 10: "invalid_value", 11: "invalid_value",
    }
    assert report.lines == 12 and report.accepted == 2 and report.rejected == 10
    assert "lat" in next(r.detail for r in report.rejects if r.line_no == 3)


def test_time_far_from_neighbours_is_rejected_but_a_real_gap_is_kept():
    objs = [dict(PLOT, t=T + k) for k in range(20)]
    objs[7] = dict(PLOT, t=T + 10 * 86400)  # corrupt clock on one line
    objs += [dict(PLOT, t=T + 86400 + k) for k in range(20)]  # next day's recording
    got, report = read(lines(*objs))
    assert report.rejected_by_reason == {"time_outlier": 1}
    assert report.rejects[0].line_no == 8
    assert len(got) == 39


def test_blank_lines_are_not_records():
    got, report = read([b"\n", json.dumps(PLOT).encode() + b"\n", b"   \n"])
    assert len(got) == 1 and report.lines == 1 and report.rejected == 0


def test_stop_request_ends_reading_and_keeps_what_was_read():
    from skywarden.sources.jsonl import read_observation_batches

    data = b"".join(line + b"\n" for line in lines(*[dict(PLOT, t=T + k) for k in range(100)]))
    line_bytes = len(data) // 100
    count = {"n": 0}

    def stop():  # polled once per chunk of about ten lines
        count["n"] += 1
        return count["n"] >= 3

    got = [obs for _, batch, _ in read_observation_batches(io.BytesIO(data), IngestReport(), should_stop=stop,
                                                            chunk_bytes=10 * line_bytes) for obs in batch]
    assert 25 <= len(got) <= 35  # three chunks read, every line of them kept, no more read
    assert [o.t for o in got] == [T + k for k in range(len(got))]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=30))
def test_random_bytes_never_raise_and_every_line_is_accounted_for(raw):
    raw_lines = [r.replace(b"\n", b" ") for r in raw]
    got, report = read(raw_lines)
    non_blank = sum(1 for r in raw_lines if r.strip())
    assert report.lines == non_blank
    assert report.accepted + report.rejected == non_blank
    assert len(got) == report.accepted


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["kind", "t", "sensor", "lat", "lon", "alt_m", "uas_id", "icao24", "speed_mps"]), json_values))
def test_mutated_records_are_either_valid_or_rejected_with_a_reason(fields):
    obj = dict(PLOT)
    obj.update(fields)
    got, report = read([json.dumps(obj).encode()])
    assert len(got) + report.rejected == 1
    for _, o, _ in got:
        assert -90 <= o.lat <= 90 and -180 <= o.lon <= 180
    for r in report.rejects:
        assert r.reason in {"invalid_json", "invalid_value", "missing_field", "unknown_kind", "time_outlier"}


def test_truncated_file_keeps_complete_lines():
    data = (json.dumps(PLOT) + "\n") * 5 + json.dumps(PLOT)[:30]
    got, report = read(io.BytesIO(data.encode()))
    assert len(got) == 5 and report.rejected_by_reason == {"invalid_json": 1}


def test_invalid_utf8_inside_a_string_is_counted_not_raised():
    # Found by bench/fuzz_decoders.py: msgspec raises UnicodeDecodeError for this, not DecodeError.
    good = b'{"kind":"plot","t":1700000000,"sensor":"r","lat":1,"lon":2,"alt_m":3}'
    bad = b'{"kind":"plot","t":1700000000,"sensor":"r\xff","lat":1,"lon":2,"alt_m":3}'
    got, report = read([good, bad, good])
    assert len(got) == 2 and report.rejected_by_reason == {"invalid_json": 1}


def test_invalid_utf8_after_an_invalid_value_is_still_counted():
    bad = b'{"kind":"plot","t":1700000000,"sensor":"r","lat":91,"lon":2,"alt_m":3,"x":"\xb0"}'
    got, report = read([bad])
    assert got == [] and report.rejected == 1
