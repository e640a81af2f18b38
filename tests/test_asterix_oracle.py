"""libasterix (MIT, generated from the machine-readable asterix-specs) as the oracle of our decoder.

1. Every UAP table of ours has exactly the item shapes libasterix generates for that edition.
2. Records that libasterix encodes decode to the values libasterix reads back from them.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

gen = pytest.importorskip("asterix.generated", reason="libasterix is not installed (pip install libasterix)")
base = pytest.importorskip("asterix.base")

from skywarden.core.records import PlotObservation  # noqa: E402
from skywarden.sources.asterix import uap as U  # noqa: E402
from skywarden.sources.asterix.files import read_asterix  # noqa: E402
from skywarden.sources.decode import DecodeOptions, DecodeStats  # noqa: E402


def _variation(rule):
    return rule.cv_variation if issubclass(rule, base.RuleVariationContextFree) else rule.cv_default_variation


def _shape(v):
    """libasterix's generated variation class -> our spec tuple."""
    if issubclass(v, (base.Element, base.Group)):
        assert v.cv_bit_size % 8 == 0
        return (U.FIXED, v.cv_bit_size // 8)
    if issubclass(v, base.Extended):
        return (U.EXTENDED,)
    if issubclass(v, base.Repetitive):
        inner = v.cv_variation
        if v.cv_rep_bytes is None:
            return (U.REPETITIVE_FX, (inner.cv_bit_size + 1) // 8)
        assert v.cv_rep_bytes == 1
        return (U.REPETITIVE, inner.cv_bit_size // 8)
    if issubclass(v, base.Explicit):
        return (U.EXPLICIT,)
    if issubclass(v, base.Compound):
        subs = tuple(None if n is None else (n.cv_name, _shape(_variation(n.cv_rule))) for n in v.cv_items_list)
        return (U.COMPOUND, v.cv_fspec_max_bytes, subs)
    raise AssertionError(f"unexpected variation {v}")


def _libasterix_uap(category: int, edition: str):
    major, minor = (int(x) for x in edition.split("."))
    [cls] = [c for c in gen.manifest["CATS"][category] if c.cv_edition == (major, minor)]
    out = []
    for entry in cls.cv_uap.cv_record.cv_items_list:
        if issubclass(entry, base.UapItem):
            ns = entry.cv_non_spare
            out.append((ns.cv_name, _shape(_variation(ns.cv_rule))))
        else:
            out.append(None)
    return cls, tuple(out)


def _normalise(items):
    """Sub-item names differ between editions where the shape does not (I062/380 MB vs BDSDATA)."""
    return tuple(None if e is None else (e[0], _strip(e[1])) for e in items)


def _strip(spec):
    if spec[0] == U.COMPOUND:
        return (U.COMPOUND, spec[1], tuple(None if s is None else (s[0] if s[0] != "BDSDATA" else "MB", _strip(s[1])) for s in spec[2]))
    return spec


EDITIONS = [(cat, ed) for cat, eds in U.EDITIONS.items() for ed in eds if ed != "0.17"]


@pytest.mark.parametrize(("category", "edition"), EDITIONS)
def test_uap_tables_match_libasterix(category: int, edition: str) -> None:
    _, theirs = _libasterix_uap(category, edition)
    ours = U.get_uap(category, edition).items
    assert _normalise(ours) == _normalise(theirs)


def test_every_libasterix_edition_of_our_categories_is_known() -> None:
    for category in U.EDITIONS:
        theirs = {f"{c.cv_edition[0]}.{c.cv_edition[1]}" for c in gen.manifest["CATS"][category]}
        assert theirs <= set(U.EDITIONS[category])


def _quantity(rule_variation) -> float:
    content = rule_variation.variation.rule.content
    return content.as_quantity(content.cv_unit)


plot048 = st.fixed_dictionaries({
    "sac": st.integers(0, 255), "sic": st.integers(0, 255), "tod": st.integers(0, 86400 * 128 - 1),
    "rho": st.integers(1, 65535), "theta": st.integers(0, 65535), "fl": st.integers(-48, 980),
    "address": st.integers(0, 0xFFFFFF), "track": st.integers(0, 4095), "typ": st.integers(1, 7),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(plot048, min_size=1, max_size=5), st.sampled_from(sorted(U.EDITIONS[48])))
def test_cat048_records_encoded_by_libasterix(plots: list[dict], edition: str) -> None:
    cls, _ = _libasterix_uap(48, edition)
    records = [cls.cv_record.create({
        "010": (p["sac"] << 8) | p["sic"], "140": p["tod"], "020": (p["typ"] << 4,),
        "040": (("RHO", p["rho"]), ("THETA", p["theta"])), "090": p["fl"] & 0x3FFF, "220": p["address"], "161": p["track"],
    }) for p in plots]
    block = cls.create(records).unparse().to_bytes()
    stats = DecodeStats()
    options = DecodeOptions(sensor_lat=45.0, sensor_lon=16.0, edition={"48": edition}, start_time=1700000000.0)
    out = list(read_asterix(io.BytesIO(block), options, stats))
    parsed = cls.cv_uap.parse(base.Bits.from_bytes(block[3:]))
    assert len(out) == len(parsed) == len(plots) and stats.rejected == 0
    fl_content = cls.cv_record.cv_items_dict["090"].cv_rule.cv_variation.cv_items_dict["FL"].cv_variation.cv_rule.cv_content
    for obs, rec, p in zip(out, parsed, plots):
        assert isinstance(obs, PlotObservation)
        i040 = rec.get_item("040").variation
        assert obs.range_m == pytest.approx(_quantity(i040.get_item("RHO")) * 1852.0)
        assert obs.azimuth_deg == pytest.approx(_quantity(i040.get_item("THETA")))
        if p["fl"] >= 0 or fl_content.cv_signedness is base.Signed:
            # asterix-specs marks I048/090 unsigned before edition 1.32 (libasterix follows it); the
            # EUROCONTROL text of every edition says two's complement, which we follow.
            assert obs.alt_m == pytest.approx(_quantity(rec.get_item("090").variation.get_item("FL")) * 100 * 0.3048)
        else:
            assert obs.alt_m == pytest.approx(p["fl"] * 25 * 0.3048)
        assert obs.icao24 == f"{rec.get_item('220').as_uint():06x}"
        assert obs.sensor_track == rec.get_item("161").variation.get_item("TRN").as_uint()
        tod = _quantity(rec.get_item("140"))
        assert (obs.t - tod) % 86400 == pytest.approx(0.0, abs=1e-6)


track062 = st.fixed_dictionaries({
    "tod": st.integers(0, 86400 * 128 - 1), "lat": st.integers(-(2**24) + 1, 2**24 - 1), "lon": st.integers(-(2**25) + 1, 2**25 - 1),
    "fl": st.integers(-48, 980), "track": st.integers(0, 65535), "address": st.none() | st.integers(0, 0xFFFFFF),
    "apc": st.none() | st.tuples(st.integers(1, 65535), st.integers(1, 65535)), "geo": st.none() | st.integers(-200, 9000),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(track062, min_size=1, max_size=5), st.sampled_from(sorted(e for e in U.EDITIONS[62] if e != "0.17")))
def test_cat062_records_encoded_by_libasterix(tracks: list[dict], edition: str) -> None:
    cls, _ = _libasterix_uap(62, edition)
    records = []
    for p in tracks:
        args = {"010": 0x1964, "070": p["tod"], "105": (("LAT", p["lat"] & 0xFFFFFFFF), ("LON", p["lon"] & 0xFFFFFFFF)),
                "136": p["fl"] & 0xFFFF, "040": p["track"], "080": (0, 0)}
        if p["geo"] is not None:
            args["130"] = p["geo"] & 0xFFFF
        if p["address"] is not None:
            args["380"] = {"ADR": p["address"]}
        if p["apc"] is not None:
            args["500"] = {"APC": (("X", p["apc"][0]), ("Y", p["apc"][1]))}
        records.append(cls.cv_record.create(args))
    block = cls.create(records).unparse().to_bytes()
    stats = DecodeStats()
    out = list(read_asterix(io.BytesIO(block), DecodeOptions(edition={"62": edition}, start_time=1700000000.0), stats))
    parsed = cls.cv_uap.parse(base.Bits.from_bytes(block[3:]))
    assert len(out) == len(parsed) == len(tracks) and stats.rejected == 0
    for obs, rec, p in zip(out, parsed, tracks):
        i105 = rec.get_item("105").variation
        assert obs.lat == pytest.approx(_quantity(i105.get_item("LAT")), abs=1e-9)
        assert obs.lon == pytest.approx(_quantity(i105.get_item("LON")), abs=1e-9)
        if p["geo"] is not None:
            assert obs.alt_m == pytest.approx(_quantity(rec.get_item("130")) * 0.3048)
        else:
            assert obs.alt_m == pytest.approx(_quantity(rec.get_item("136")) * 100 * 0.3048)
        assert obs.sensor_track == rec.get_item("040").as_uint()
        if p["address"] is not None:
            assert obs.icao24 == f"{rec.get_item('380').variation.get_item('ADR').as_uint():06x}"
        if p["apc"] is not None:
            apc = rec.get_item("500").variation.get_item("APC").variation
            assert obs.sigma_h_m == pytest.approx(max(_quantity(apc.get_item("X")), _quantity(apc.get_item("Y"))))


def test_real_cat062_block_agrees_with_libasterix() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "asterix" / "croatiacontrol" / "cat062cat065.raw"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    data = path.read_bytes()
    length = int.from_bytes(data[1:3], "big")
    parsed = gen.Cat_062_1_18.cv_uap.parse(base.Bits.from_bytes(data[3:length]))
    out = [r for r in read_asterix(io.BytesIO(data), DecodeOptions(start_time=1700000000.0), DecodeStats())]
    assert len(out) == len(parsed) == 2
    for obs, rec in zip(out, parsed):
        i105 = rec.get_item("105").variation
        assert (obs.lat, obs.lon) == (pytest.approx(_quantity(i105.get_item("LAT"))), pytest.approx(_quantity(i105.get_item("LON"))))
