"""Property tests for the ADS-B decoders: bad input never raises (except FormatError), counts add up,
good frames around bad ones still decode, and chunked live input decodes like one feed.

Valid frames are built with skywarden.sources.adsb.encode (checked against rs1090 in its
doctests), so these tests run without ../shared.
"""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skywarden.sources.adsb import encode as enc
from skywarden.sources.adsb.formats import (
    AvrStreamDecoder,
    BeastStreamDecoder,
    Sbs1StreamDecoder,
    read_avr,
    read_beast,
    read_modes_csv,
    read_readsb_json,
    read_sbs1,
)
from skywarden.sources.adsb.framing import avr_encode, beast_encode
from skywarden.sources.adsb.modes import crc24_residue, with_parity
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError

FRAMES = [
    enc.identification("406b90", "TEST123", "A3").hex().upper(),
    enc.airborne_position("406b90", 51.5, -0.12, 30000, odd=False).hex().upper(),
    enc.airborne_velocity("406b90", 400, -100, -1024, 150).hex().upper(),
    enc.airborne_position("406b90", 51.503, -0.125, 30000, odd=True).hex().upper(),
    enc.airborne_position("406b90", 51.506, -0.13, 30025, odd=True).hex().upper(),
    enc.airborne_position("406b90", 51.509, -0.135, 30025, odd=False).hex().upper(),
    with_parity(bytes.fromhex("5D406B90")).hex().upper(),  # DF11 all-call (short)
]
T0 = 1_457_996_400.0
OPTS = DecodeOptions(start_time=T0)
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(reader, data: bytes, options: DecodeOptions = OPTS) -> tuple[list, DecodeStats]:
    stats = DecodeStats()
    try:
        out = list(reader(io.BytesIO(data), options, stats))
    except FormatError:
        out = None  # allowed: the input is not this format at all
    return out, stats


def balanced(stats: DecodeStats) -> bool:
    return (stats.messages == stats.observations + stats.skipped + stats.rejected
            and stats.decoded <= stats.messages)


def summary(records: list, stats: DecodeStats) -> tuple:
    return ([r for r in records], stats.messages, stats.decoded, stats.observations,
            dict(stats.rejected_by_reason), dict(stats.skipped_by_reason))


def chunks_of(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


good_beast = st.lists(st.sampled_from(FRAMES), min_size=1, max_size=30).map(
    lambda fs: b"".join(beast_encode(bytes.fromhex(f), counter=12_000_000 * i + 0x1A1A, signal=0x1A) for i, f in enumerate(fs)))


@PROFILE
@given(st.binary(max_size=2000))
def test_beast_random_bytes(data: bytes) -> None:
    out, stats = run(read_beast, data)
    assert balanced(stats)


@PROFILE
@given(good_beast, st.binary(max_size=40), st.integers(0, 10_000))
def test_beast_junk_around_good_frames(good: bytes, junk: bytes, where: int) -> None:
    ref, ref_stats = run(read_beast, good)
    # junk between two whole frames: every good frame still decodes
    frames = good.split(b"\x1a3\x00")
    cut = 1 + where % max(1, len(frames) - 1)
    body = b"\x1a3\x00".join(frames[:cut]) + junk.replace(b"\x1a", b"") + b"\x1a3\x00" + b"\x1a3\x00".join(frames[cut:]) \
        if len(frames) > 1 else good
    out, stats = run(read_beast, body)
    assert balanced(stats)
    assert out is not None
    assert [(o.lat, o.lon) for o in out] == [(o.lat, o.lon) for o in ref]


@PROFILE
@given(good_beast, st.integers(0, 10_000))
def test_beast_truncated_stream(good: bytes, cut: int) -> None:
    data = good[: cut % (len(good) + 1)]
    out, stats = run(read_beast, data)
    assert balanced(stats)
    if out is not None and data and not data.endswith(good[-16:]):
        assert stats.rejected_by_reason.get("truncated", 0) + stats.rejected_by_reason.get("beast_sync", 0) <= 1


@PROFILE
@given(good_beast, st.binary(max_size=200), st.lists(st.integers(0, 10_000), max_size=12))
def test_beast_stream_chunking_is_invisible(good: bytes, junk: bytes, cuts: list[int]) -> None:
    data = junk + good + junk + good
    one_stats = DecodeStats()
    one = BeastStreamDecoder(OPTS, one_stats).feed(data, T0)
    many_stats = DecodeStats()
    dec = BeastStreamDecoder(OPTS, many_stats)
    many = [r for part in chunks_of(data, cuts) for r in dec.feed(part, T0)]
    assert summary(one, one_stats) == summary(many, many_stats)
    assert balanced(many_stats)


@PROFILE
@given(st.sampled_from(FRAMES[:6]), st.integers(5, 111))
def test_wrong_crc_is_counted_not_decoded(frame: str, bit: int) -> None:
    raw = bytearray(bytes.fromhex(frame))
    raw[bit // 8] ^= 0x80 >> (bit % 8)
    assert crc24_residue(bytes(raw)) != 0
    data = beast_encode(bytes.fromhex(FRAMES[1]), counter=1) + beast_encode(bytes(raw), counter=2) \
        + beast_encode(bytes.fromhex(FRAMES[3]), counter=3)
    out, stats = run(read_beast, data)
    assert stats.rejected_by_reason == {"bad_crc": 1}
    assert len(out) == 1  # the good pair around the bad frame still gives its position


avr_token = st.one_of(
    st.sampled_from(FRAMES).map(lambda f: avr_encode(bytes.fromhex(f))),
    st.tuples(st.sampled_from(FRAMES), st.integers(0, 2**48 - 1)).map(lambda x: avr_encode(bytes.fromhex(x[0]), x[1])),
    st.text(alphabet="*@<%;0123456789ABCDEFxyz \t", max_size=40),
    st.text(max_size=30),
)


@PROFILE
@given(st.lists(avr_token, max_size=30), st.sampled_from(["\n", "\r\n", "\r"]), st.lists(st.integers(0, 10_000), max_size=8))
def test_avr_random_lines_and_chunks(tokens: list[str], eol: str, cuts: list[int]) -> None:
    data = eol.join(tokens).encode("utf-8", "replace")
    out, stats = run(read_avr, data)
    assert balanced(stats)
    one_stats = DecodeStats()
    one = AvrStreamDecoder(OPTS, one_stats).feed(data + b"\n", T0)
    many_stats = DecodeStats()
    dec = AvrStreamDecoder(OPTS, many_stats)
    many = [r for part in chunks_of(data + b"\n", cuts) for r in dec.feed(part, T0)]
    assert summary(one, one_stats) == summary(many, many_stats)


sbs_field = st.one_of(st.just(""), st.text(alphabet="0123456789.-/: ", max_size=12), st.text(max_size=8),
                      st.floats(allow_nan=True, allow_infinity=True).map(str))


@st.composite
def sbs_line(draw) -> str:
    kind = draw(st.sampled_from(["MSG", "MSG", "MSG", "STA", "AIR", "XYZ", ""]))
    fields = [kind, draw(st.sampled_from(["1", "3", "4", "5", "", "x"])), "", "",
              draw(st.sampled_from(["4B1908", "a8430d", "XYZ", ""]))]
    fields += [draw(sbs_field) for _ in range(draw(st.integers(0, 20)))]
    if draw(st.booleans()):
        fields = "MSG,3,,,4B1908,,,,,,,2525,,,33.96693,-118.25598,,,0,0,0,0".split(",")
        i = draw(st.integers(5, 21))
        fields[i] = draw(sbs_field)
    return ",".join(fields)


@PROFILE
@given(st.lists(sbs_line(), max_size=25), st.lists(st.integers(0, 10_000), max_size=8))
def test_sbs1_random_fields_and_chunks(lines: list[str], cuts: list[int]) -> None:
    data = "\n".join(lines).encode("utf-8", "replace")
    out, stats = run(read_sbs1, data)
    assert balanced(stats)
    one_stats = DecodeStats()
    one = Sbs1StreamDecoder(OPTS, one_stats).feed(data + b"\n", T0)
    many_stats = DecodeStats()
    dec = Sbs1StreamDecoder(OPTS, many_stats)
    many = [r for part in chunks_of(data + b"\n", cuts) for r in dec.feed(part, T0)]
    assert summary(one, one_stats) == summary(many, many_stats)


@PROFILE
@given(st.lists(st.one_of(
    st.tuples(st.floats(allow_nan=True), st.sampled_from(FRAMES)).map(lambda x: f"{x[0]},{x[1]}"),
    st.tuples(st.integers(T0, T0 + 100), st.sampled_from(FRAMES)).map(lambda x: f'{x[0]},"{x[1]}",406B90,11'),
    st.text(max_size=40)), max_size=30))
def test_modes_csv_random_lines(lines: list[str]) -> None:
    out, stats = run(read_modes_csv, "\n".join(lines).encode("utf-8", "replace"))
    assert balanced(stats)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
aircraft_entry = st.fixed_dictionaries(
    {"hex": st.one_of(st.sampled_from(["4ca7b3", "~2cf1a8", "zzzzzz", "43EA01"]), st.text(max_size=8))},
    optional={k: st.one_of(st.floats(-1e6, 1e6), st.integers(), st.text(max_size=5), st.none(), st.just("ground"))
              for k in ["lat", "lon", "alt_baro", "alt_geom", "gs", "track", "baro_rate", "geom_rate", "seen_pos",
                        "category", "flight"]},
)


@PROFILE
@given(st.one_of(
    json_values,
    st.fixed_dictionaries({"now": st.one_of(st.floats(allow_nan=False), st.integers(T0, T0 + 1000), st.text(max_size=3)),
                           "aircraft": st.lists(st.one_of(aircraft_entry, json_values), max_size=8)}),
))
def test_readsb_random_json(doc) -> None:
    out, stats = run(read_readsb_json, json.dumps(doc).encode())
    assert balanced(stats)
    for o in out or []:
        assert -90 <= o.lat <= 90 and -180 <= o.lon <= 180 and -1000 <= o.alt_m <= 30000


@PROFILE
@given(st.binary(max_size=500))
def test_text_readers_random_bytes(data: bytes) -> None:
    for reader in (read_avr, read_sbs1, read_modes_csv, read_readsb_json):
        out, stats = run(reader, data)
        assert balanced(stats)


def test_readsb_json_with_invalid_utf8_in_a_string_is_counted_not_raised():
    # Found by bench/fuzz_decoders.py: msgspec raises UnicodeDecodeError for this.
    import io

    from skywarden.sources.decode import DecodeOptions, DecodeStats, decode_stream

    stats = DecodeStats()
    doc = b'{"now": 1700000000.0, "aircraft": [{"hex": "4ca' + bytes([0xFF]) + b'12", "lat": 51.0, "lon": 0.1, "alt_baro": 3000}]}'
    records = list(decode_stream("readsb-json", io.BytesIO(doc), DecodeOptions(), stats))
    assert records == [] and stats.rejected >= 1
