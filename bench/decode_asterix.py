"""ASTERIX decoding throughput: records/s for CAT048 plots and CAT062 tracks, ours against libasterix.

libasterix 0.36.3 encodes a synthetic stream (blocks of 20 records, varied positions, Mode S
addresses, track numbers; CAT048 with 010/140/020/040/070/090/220/161, CAT062 with
010/070/105/040/080/136/380/500); then `read_asterix` decodes it to observations, and libasterix
parses the same blocks (records only, no conversion to observations) for comparison.
Single process, best of --repeat runs.

Usage:
    python bench/decode_asterix.py [--records 20000] [--repeat 3]
Writes bench/results/decode_asterix.md (and prints it).
"""

from __future__ import annotations

import argparse
import io
import random
import time
from pathlib import Path

import asterix.generated as gen
from asterix.base import Bits, RawDatablock
from machine import machine  # bench/machine.py, beside this script

from skywarden.sources.asterix.files import read_asterix
from skywarden.sources.decode import DecodeOptions, DecodeStats

RESULTS = Path(__file__).resolve().parent / "results"
PER_BLOCK = 20


def stream_048(n: int, rng: random.Random) -> bytes:
    cls = gen.Cat_048_1_32
    blocks = []
    for start in range(0, n, PER_BLOCK):
        records = [cls.cv_record.create({
            "010": 0x19C9, "140": (36000 * 128 + i * 16) % (86400 * 128), "020": (5 << 4,),
            "040": (("RHO", rng.randrange(256, 60000)), ("THETA", rng.randrange(65536))), "070": rng.randrange(4096),
            "090": rng.randrange(0, 1600), "220": rng.randrange(1 << 24), "161": rng.randrange(4096),
        }) for i in range(start, min(n, start + PER_BLOCK))]
        blocks.append(cls.create(records).unparse().to_bytes())
    return b"".join(blocks)


def stream_062(n: int, rng: random.Random) -> bytes:
    cls = gen.Cat_062_1_21
    blocks = []
    for start in range(0, n, PER_BLOCK):
        records = [cls.cv_record.create({
            "010": 0x1964, "070": (36000 * 128 + i * 16) % (86400 * 128),
            "105": (("LAT", rng.randrange(7_000_000, 9_000_000)), ("LON", rng.randrange(2_000_000, 4_000_000))),
            "040": rng.randrange(65536), "080": (0, 0), "136": rng.randrange(0, 1600),
            "380": {"ADR": rng.randrange(1 << 24)}, "500": {"APC": (("X", 40), ("Y", 60))},
        }) for i in range(start, min(n, start + PER_BLOCK))]
        blocks.append(cls.create(records).unparse().to_bytes())
    return b"".join(blocks)


def ours(data: bytes, n: int, repeat: int) -> float:
    options = DecodeOptions(sensor_lat=45.5, sensor_lon=16.0, start_time=1700000000.0)
    best = float("inf")
    for _ in range(repeat):
        stats = DecodeStats()
        started = time.perf_counter()
        count = sum(1 for _ in read_asterix(io.BytesIO(data), options, stats))
        best = min(best, time.perf_counter() - started)
        assert count == n, (count, stats.as_dict())
    return n / best


def libasterix(data: bytes, cls, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        count = 0
        for block in RawDatablock.parse(Bits.from_bytes(data)):
            count += len(cls.cv_uap.parse(block.get_raw_records()))
        best = min(best, time.perf_counter() - started)
        assert count == n
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(5)
    rows = []
    for name, make, cls in (("CAT048 plots", stream_048, gen.Cat_048_1_32), ("CAT062 tracks", stream_062, gen.Cat_062_1_21)):
        data = make(args.records, rng)
        ours_rate = ours(data, args.records, args.repeat)
        lib_n = min(args.records, 4000)  # libasterix is slow; a slice gives its rate
        lib_data = make(lib_n, random.Random(6))
        lib_rate = libasterix(lib_data, cls, lib_n, max(1, args.repeat - 1))
        rows.append((name, args.records, len(data), ours_rate, lib_rate))
    lines = [
        "# ASTERIX decoding throughput",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. `python bench/decode_asterix.py --records {args.records}`.",
        "",
        "skywarden: `read_asterix` from raw blocks to validated `PlotObservation`s (CAT048 includes the polar-to-WGS84",
        "geodesic via pyproj). libasterix 0.36.3: record parsing only, no conversion. Best of the runs, one process.",
        "",
        "| stream | records | bytes | skywarden records/s | libasterix records/s | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, n, size, ours_rate, lib_rate in rows:
        lines.append(f"| {name} | {n:,} | {size:,} | {ours_rate:,.0f} | {lib_rate:,.0f} | {ours_rate / lib_rate:.0f}x |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decode_asterix.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
