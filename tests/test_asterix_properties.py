"""Bad input for the ASTERIX decoder: random bytes, truncated blocks, wrong lengths, random FSPECs.

Nothing but FormatError may escape; every message is counted once; good blocks around bad ones
still decode. Valid blocks are built by hand here (the libasterix oracle is in test_asterix_oracle.py).
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skywarden.core.records import PlotObservation
from skywarden.sources.asterix.files import AsterixStreamDecoder, read_asterix, resolve_time_of_day
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError

OPTIONS = DecodeOptions(sensor_lat=45.0, sensor_lon=16.0, start_time=1700000000.0)
# CAT048: 010, 140, 040, 090, 220, 161 (see files.py's docstring example)
RECORD_048 = bytes.fromhex("d590" "19c9" "356d4d" "14004000" "0190" "4ca123" "0042")
# CAT062 1.21: 010, 070, 105, 040 (FSPEC 99 08 -> FRN 1, 4, 5, 12)
RECORD_062 = bytes.fromhex("9908" "1964" "356d4d" "00800000" "00200000" "0007")


def block(category: int, *records: bytes) -> bytes:
    body = b"".join(records)
    return bytes([category]) + (len(body) + 3).to_bytes(2, "big") + body


def balanced(stats: DecodeStats) -> bool:
    return stats.messages == stats.observations + stats.statuses + stats.rejected + stats.skipped


def run(data: bytes, options: DecodeOptions = OPTIONS) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    try:
        records = list(read_asterix(io.BytesIO(data), options, stats))
    except FormatError:
        return [], stats
    return records, stats


def test_hand_built_blocks_decode() -> None:
    records, stats = run(block(48, RECORD_048, RECORD_048) + block(62, RECORD_062))
    assert [r.kind for r in records] == ["plot"] * 3 and stats.rejected == 0 and balanced(stats)
    assert records[2].lat == pytest.approx(2**23 * 180 / 2**25) and records[2].sensor_track == 7


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    records, stats = run(data)
    assert balanced(stats)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_datagrams_to_the_stream_decoder(data: bytes) -> None:
    stats = DecodeStats()
    decoder = AsterixStreamDecoder(OPTIONS, stats)
    decoder.feed(data, 1700000000.0)
    decoder.feed(block(48, RECORD_048), 1700000001.0)
    assert balanced(stats) and stats.observations >= 1 and decoder.replies() == b""


@settings(max_examples=300)
@given(st.sampled_from([34, 48, 62]), st.binary(min_size=1, max_size=80))
def test_random_records_inside_a_valid_block(category: int, body: bytes) -> None:
    """Random FSPECs and item contents in a block of a decoded category, between two good blocks."""
    good = block(48, RECORD_048)
    records, stats = run(good + block(category, body) + good)
    assert balanced(stats)
    assert sum(1 for r in records if isinstance(r, PlotObservation) and r.sensor_track == 66 and r.icao24 == "4ca123") >= 2


@settings(max_examples=300)
@given(st.integers(0, 25), st.integers(-40, 40))
def test_truncated_and_wrong_length_blocks_resynchronise(cut: int, delta: int) -> None:
    good = block(48, RECORD_048)
    bad = bytearray(block(48, RECORD_048, RECORD_048))
    length = max(0, int.from_bytes(bad[1:3], "big") + delta)
    bad[1:3] = length.to_bytes(2, "big")
    del bad[len(bad) - cut:]
    data = good + bytes(bad) + good + good
    records, stats = run(data)
    assert balanced(stats)
    plots = sum(1 for r in records if isinstance(r, PlotObservation))
    assert plots >= 1  # the good block before the damage always decodes
    if len(bad) >= 3 and len(good) + length > len(data):
        # a length that runs past the data is detected: the decoder resynchronises on the good blocks after it
        assert plots >= 3 and stats.rejected_by_reason.get("bad_block_length", 0) >= 1


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["good48", "good62", "junk", "other"]), min_size=1, max_size=8), st.binary(min_size=1, max_size=20))
def test_mixed_streams(parts: list[str], junk: bytes) -> None:
    pieces = {"good48": block(48, RECORD_048), "good62": block(62, RECORD_062), "junk": junk, "other": block(21, b"\x80\x01\x02")}
    data = b"".join(pieces[p] for p in parts)
    records, stats = run(data)
    assert balanced(stats)
    if "junk" not in parts:
        assert stats.rejected == 0
        assert len(records) == sum(p.startswith("good") for p in parts)
        assert stats.skipped_by_reason.get("category_21", 0) == parts.count("other")


def test_text_is_not_asterix() -> None:
    with pytest.raises(FormatError, match="not ASTERIX"):
        list(read_asterix(io.BytesIO(b'{"kind": "plot", "t": 1}\n' * 3), OPTIONS, DecodeStats()))


@given(st.floats(0, 86399.99), st.floats(1e9, 2e9))
def test_time_of_day_is_placed_within_half_a_day(tod: float, reference: float) -> None:
    t = resolve_time_of_day(tod, reference)
    assert abs(t - reference) <= 43200.0 + 1e-6
    assert (t % 86400.0) == pytest.approx(tod, abs=1e-5) or abs(t % 86400.0 - tod) > 86399
