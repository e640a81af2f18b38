"""Property tests of the SAPIENT framing, stream decoder and file reader on hostile input.

Whatever the bytes: no exception but FormatError escapes, every message is counted exactly once
(messages = decoded + rejected + skipped), and good messages around bad ones still decode.
"""

from __future__ import annotations

import io
import json
import struct

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from skywarden.core.records import PlotObservation
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError
from skywarden.sources.sapient import build
from skywarden.sources.sapient.files import read_sapient
from skywarden.sources.sapient.framing import FrameSplitter, encode_frame
from skywarden.sources.sapient.node import SapientStreamDecoder

NODE = "a8654cdf-4328-47de-81fa-c495589e30c9"
T0 = 1_700_000_000.0
SITE = (51.1739, -1.8224, 120.0)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def counts_add_up(stats: DecodeStats) -> bool:
    return stats.messages == stats.decoded + stats.rejected + stats.skipped


@st.composite
def detections(draw: st.DrawFn):
    """A valid DetectionReport near the site: lat/lon or range-bearing."""
    t = T0 + draw(st.floats(0.0, 3600.0))
    if draw(st.booleans()):
        return build.detection_location(
            NODE, t, SITE[0] + draw(st.floats(-0.1, 0.1)), SITE[1] + draw(st.floats(-0.1, 0.1)),
            draw(st.one_of(st.none(), st.floats(0.0, 3000.0))), error_m=draw(st.one_of(st.none(), st.floats(0.5, 500.0))),
        )
    return build.detection_range_bearing(NODE, t, draw(st.floats(1.0, 20_000.0)), draw(st.floats(0.0, 359.99)),
                                         draw(st.one_of(st.none(), st.floats(-2.0, 60.0))))


def session_bytes(dets: list) -> bytes:
    msgs = [build.registration(NODE, T0), build.status_report(NODE, T0, *SITE), *dets]
    return b"".join(encode_frame(m.SerializeToString()) for m in msgs)


def read(data: bytes, **extra: str) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    try:
        records = list(read_sapient(io.BytesIO(data), DecodeOptions(extra=extra), stats))
    except FormatError:
        return [], stats
    return records, stats


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


# -- framing ---------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=20), st.lists(st.integers(0, 10_000), max_size=30))
def test_splitter_chunking_is_invisible(payloads: list[bytes], cuts: list[int]) -> None:
    data = b"".join(encode_frame(p) for p in payloads)
    whole = FrameSplitter().feed(data)
    splitter = FrameSplitter()
    pieces = [f for chunk in chunked(data, cuts) for f in splitter.feed(chunk)]
    assert [f.payload for f in whole] == [f.payload for f in pieces] == payloads
    assert [f.offset for f in whole] == [f.offset for f in pieces]
    assert splitter.pending == 0 and splitter.failed is None


@SETTINGS
@given(st.binary(max_size=2000), st.integers(1, 4096))
def test_splitter_on_random_bytes_never_buffers_past_the_cap(data: bytes, cap: int) -> None:
    splitter = FrameSplitter(cap)
    frames = splitter.feed(data)
    assert all(len(f.payload) <= cap for f in frames)
    consumed = sum(4 + len(f.payload) for f in frames)
    if splitter.failed is None:
        assert splitter.pending < cap + 4
        assert consumed + splitter.pending == len(data)
    else:
        assert splitter.pending == 0 and splitter.offset == consumed
        assert int.from_bytes(data[consumed : consumed + 4], "little") > cap


def test_oversized_length_stops_the_splitter() -> None:
    splitter = FrameSplitter(1000)
    data = encode_frame(b"ok") + struct.pack("<I", 1001) + bytes(2000)
    assert [f.payload for f in splitter.feed(data)] == [b"ok"]
    assert splitter.failed == "oversized_frame" and splitter.offset == 6
    assert splitter.feed(encode_frame(b"more")) == []


# -- the live stream decoder -----------------------------------------------------------------


def run_decoder(chunks: list[bytes], **extra: str) -> tuple[list, DecodeStats, bytes, str | None]:
    stats = DecodeStats()
    decoder = SapientStreamDecoder(DecodeOptions(extra=extra), stats)
    records, replies = [], b""
    for chunk in chunks:
        records += decoder.feed(chunk, T0)
        replies += decoder.replies()
    decoder.finish()
    return records, stats, replies, decoder.failed


def strip_reply_times(replies: bytes) -> list[bytes]:
    from skywarden.sources.sapient.bindings import SapientMessage

    out = []
    while replies:
        n = int.from_bytes(replies[:4], "little")
        msg = SapientMessage.FromString(replies[4 : 4 + n])
        msg.ClearField("timestamp")
        out.append(msg.SerializeToString())
        replies = replies[4 + n :]
    return out


@SETTINGS
@given(st.lists(detections(), max_size=12), st.binary(max_size=64), st.lists(st.integers(0, 100_000), max_size=40))
def test_stream_chunking_gives_the_same_result_as_one_feed(dets: list, tail: bytes, cuts: list[int]) -> None:
    data = session_bytes(dets) + tail
    one = run_decoder([data])
    many = run_decoder(chunked(data, cuts))
    assert one[0] == many[0]
    assert one[1].as_dict() == many[1].as_dict()
    assert strip_reply_times(one[2]) == strip_reply_times(many[2])
    assert one[3] == many[3]
    assert counts_add_up(one[1])
    assert len([r for r in one[0] if isinstance(r, PlotObservation)]) == len(dets)  # the garbage tail comes after them


@SETTINGS
@given(st.binary(max_size=3000))
def test_stream_on_random_bytes(data: bytes) -> None:
    records, stats, replies, failed = run_decoder([data])
    assert counts_add_up(stats)
    if failed is not None:
        assert stats.rejected >= 1 and replies  # an Error reply before the connection closes


@SETTINGS
@given(st.lists(detections(), min_size=1, max_size=8), st.data())
def test_stream_stops_at_garbage_and_replies_an_error(dets: list, data: st.DataObject) -> None:
    good = session_bytes(dets)
    junk = encode_frame(b"\xff\xff\xff\xff\xff")  # a frame that is not a protobuf message
    records, stats, replies, failed = run_decoder([good + junk + good])
    assert failed == "invalid_protobuf"
    assert len([r for r in records if isinstance(r, PlotObservation)]) == len(dets)  # nothing after the garbage
    assert stats.rejected_by_reason == {"invalid_protobuf": 1}
    assert counts_add_up(stats)


def test_stream_closes_on_an_oversized_length() -> None:
    records, stats, replies, failed = run_decoder([struct.pack("<I", 2_000_000) + bytes(10)])
    assert failed == "oversized_frame" and stats.rejected_by_reason == {"oversized_frame": 1}
    records, stats, replies, failed = run_decoder([struct.pack("<I", 2_000_000)], max_frame_bytes="3000000")
    assert failed is None and stats.rejected_by_reason == {"truncated_frame": 1}


# -- the file reader, binary -------------------------------------------------------------------


@SETTINGS
@given(st.lists(detections(), min_size=1, max_size=10), st.data())
def test_truncated_file_decodes_every_complete_frame(dets: list, data: st.DataObject) -> None:
    whole = session_bytes(dets)
    cut = data.draw(st.integers(1, len(whole) - 1))
    records, stats = read(whole[:cut])
    assert counts_add_up(stats)
    complete = FrameSplitter().feed(whole[:cut])
    assert stats.messages - stats.rejected_by_reason.get("truncated_frame", 0) == len(complete)
    assert stats.rejected_by_reason.get("truncated_frame", 0) == (1 if sum(4 + len(f.payload) for f in complete) < cut else 0)


@SETTINGS
@given(st.lists(detections(), min_size=1, max_size=6), st.lists(detections(), min_size=1, max_size=6), st.binary(max_size=200))
def test_corrupt_frame_in_a_file_does_not_hide_its_neighbours(before: list, after: list, junk: bytes) -> None:
    data = session_bytes(before) + encode_frame(junk) + b"".join(encode_frame(m.SerializeToString()) for m in after)
    records, stats = read(data)
    assert counts_add_up(stats)
    plots = [r for r in records if isinstance(r, PlotObservation)]
    # the junk frame is rejected (not protobuf, or not a valid SapientMessage) unless it is empty
    # protobuf that happens to be valid, which random bytes never are: it has no node_id
    assert len(plots) == len(before) + len(after)
    assert stats.rejected == 1


@SETTINGS
@given(st.lists(detections(), min_size=2, max_size=6), st.data())
def test_wrong_length_prefix_never_raises(dets: list, data: st.DataObject) -> None:
    whole = bytearray(session_bytes(dets))
    frames = FrameSplitter().feed(bytes(whole))
    victim = data.draw(st.sampled_from(frames))
    length = len(victim.payload) + data.draw(st.integers(-len(victim.payload), 300).filter(lambda d: d != 0))
    struct.pack_into("<I", whole, victim.offset, length)
    records, stats = read(bytes(whole))
    assert counts_add_up(stats)
    assert stats.rejected >= 1


@SETTINGS
@given(st.binary(max_size=3000))
def test_file_reader_on_random_bytes(data: bytes) -> None:
    records, stats = read(data)
    assert counts_add_up(stats)


@SETTINGS
@given(st.lists(detections(), min_size=1, max_size=5), st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_flipped_bytes_never_raise(dets: list, where: int, noise: bytes) -> None:
    data = bytearray(session_bytes(dets))
    where %= len(data)
    data[where : where + len(noise)] = bytes(a ^ b for a, b in zip(data[where : where + len(noise)], noise))
    records, stats = read(bytes(data))
    assert counts_add_up(stats)


def test_file_starting_with_an_oversized_length_is_not_sapient() -> None:
    with pytest.raises(FormatError):
        list(read_sapient(io.BytesIO(b"GIF89a" + bytes(50)), DecodeOptions(), DecodeStats()))


# -- the file reader, JSON ---------------------------------------------------------------------


def as_json(msg) -> str:  # noqa: ANN001 - a SapientMessage
    return json.dumps(json_format.MessageToDict(msg))


@SETTINGS
@given(st.lists(detections(), min_size=1, max_size=8), st.lists(st.text(max_size=80), max_size=5), st.randoms())
def test_json_lines_with_junk_lines(dets: list, junk: list[str], rnd) -> None:  # noqa: ANN001
    assume(all("\n" not in j and "\r" not in j for j in junk))
    lines = [as_json(build.status_report(NODE, T0, *SITE))] + [as_json(d) for d in dets]
    bad = [j for j in junk if j.strip()]
    mixed = lines[:1] + sorted(lines[1:] + bad, key=lambda _: rnd.random())
    records, stats = read("\n".join(mixed).encode())
    assert counts_add_up(stats)
    assert len([r for r in records if isinstance(r, PlotObservation)]) >= len(dets) - sum(1 for b in bad if b.lstrip()[:1] in "{[")


@SETTINGS
@given(st.lists(detections(), min_size=1, max_size=6), st.sampled_from(["lines", "array", "pretty"]))
def test_json_layouts_agree_with_binary(dets: list, layout: str) -> None:
    msgs = [build.status_report(NODE, T0, *SITE), *dets]
    dicts = [json_format.MessageToDict(m, preserving_proto_field_name=layout == "pretty") for m in msgs]
    if layout == "lines":
        text = "\n".join(json.dumps(d) for d in dicts)
    elif layout == "array":
        text = json.dumps(dicts, indent=2)
    else:
        text = "\n".join(json.dumps(d, indent=2) for d in dicts)
    records, stats = read(text.encode())
    records_bin, stats_bin = read(b"".join(encode_frame(m.SerializeToString()) for m in msgs))
    assert records == records_bin
    assert (stats.messages, stats.decoded, stats.observations) == (stats_bin.messages, stats_bin.decoded, stats_bin.observations)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(st.lists(json_values, max_size=6))
def test_json_reader_on_random_json(values: list) -> None:
    text = "\n".join(json.dumps(v) for v in values)
    records, stats = read(("{}\n" + text).encode())
    assert counts_add_up(stats)


@SETTINGS
@given(detections(), st.data())
def test_json_messages_with_a_field_replaced(det, data: st.DataObject) -> None:  # noqa: ANN001
    d = json_format.MessageToDict(det)
    report = d["detectionReport"]
    key = data.draw(st.sampled_from(sorted(report)))
    report[key] = data.draw(json_values)
    records, stats = read(json.dumps(d).encode())
    assert counts_add_up(stats) and stats.messages == 1


@SETTINGS
@given(st.text(max_size=500))
def test_json_reader_on_random_text(text: str) -> None:
    records, stats = read(("{" + text).encode("utf-8", errors="surrogatepass"))
    assert counts_add_up(stats)
