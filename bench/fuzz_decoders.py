"""How many hostile inputs each decoder survives: mutation fuzzing of every sensor format.

For each format of ``skywarden.sources.decode.FORMATS``, seed inputs are the real samples in
../shared/data (when present) and the fixtures in tests/data. Each round takes a seed and damages
it: flips random bits, truncates it, cuts out or duplicates a slice, overwrites a slice with
random bytes, inserts huge length fields, or replaces it all with random bytes. The reader must
then finish with records and counted rejects, or say ``FormatError`` (the input is not this
format at all); anything else is a crash, reported with the exception and the input saved to
bench/results/fuzz_crashes/ for a regression test.

Usage:
    python bench/fuzz_decoders.py [--rounds 2000] [--seed 0] [--formats beast asterix ...]
Writes bench/results/fuzz_decoders.md.
"""

from __future__ import annotations

import argparse
import io
import random
import time
import traceback
from pathlib import Path

from machine import machine  # bench/machine.py, beside this script

from skywarden.sources.decode import FORMATS, DecodeOptions, DecodeStats, FormatError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"

#: Seed files per format: globs under ../shared/data and tests/data.
SEEDS = {
    "jsonl": ["../../main/examples/*.jsonl", "sim:"],
    "remoteid-pcap": ["remoteid/odid_wireshark/*.pcap*", "remoteid/cdc_remoteidreceiver/*.pcapng"],
    "dronescout-json": ["remoteid/dronescout_json_dronecot/*.json"],
    "netrid-json": ["remoteid/interuss_netrid/*.json"],
    "mavlink": ["gen:mavlink"],
    "beast": ["gen:beast"],
    "avr": ["gen:avr"],
    "sbs1": ["adsb/sbs1_node-sbs1/msgs.txt"],
    "readsb-json": ["tests:adsb/*.json"],
    "modes-csv": ["adsb/pymodes/sample_data_adsb.csv", "adsb/pymodes/sample_data_commb_df20.csv"],
    "sapient": ["sapient/sample_messages_v2/*.json", "tests:sapient/*.bin"],
    "asterix": ["asterix/croatiacontrol/*.raw", "asterix/croatiacontrol/*.pcap"],
}

#: Options that let each format get past its own preconditions: a radar needs its position; the
#: ADS-B samples were received far apart (Europe, Los Angeles), so they get no receiver position
#: (it would reject their positions as out of range).
OPTIONS = DecodeOptions(start_time=1_700_000_000.0)
RADAR_OPTIONS = DecodeOptions(sensor_lat=45.0, sensor_lon=16.0, sensor_alt_m=100.0, start_time=1_700_000_000.0)


def seed_inputs(fmt: str) -> list[tuple[str, bytes]]:
    out = []
    for pattern in SEEDS.get(fmt, []):
        if pattern == "sim:":
            out.append(("sim", b'{"kind":"plot","t":1700000000,"sensor":"r","lat":1,"lon":2,"alt_m":3}\n' * 20))
            continue
        if pattern.startswith("gen:"):
            out.append((pattern, _generated(pattern[len("gen:"):])))
            continue
        if pattern.startswith("tests:"):
            base, pattern = ROOT / "tests" / "data", pattern[len("tests:"):]
        else:
            base = SHARED
        for path in sorted(base.glob(pattern)):
            data = path.read_bytes()
            out.append((str(path.relative_to(base)), data[:200_000]))  # big seeds: the head is enough
    return out


def _generated(kind: str) -> bytes:
    """A seed for formats without a recorded sample: real-shaped ADS-B frames (our own encoder)
    in Beast or AVR framing."""
    if kind == "mavlink":
        # The telemetry log the MAVLink tests build with pymavlink itself.
        import importlib.util

        spec = importlib.util.spec_from_file_location("mavlink_cases", ROOT / "tests" / "test_remoteid_mavlink.py")
        cases = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cases)
        return cases.encode(cases.build() * 5, tlog=True)
    from skywarden.sources.adsb import encode
    from skywarden.sources.adsb.framing import avr_encode, beast_encode

    frames = []
    for k in range(40):
        lat, lon = 45.0 + 0.01 * k, 16.0 + 0.01 * k
        frames += [encode.identification("4ca1b2", "TEST12"), encode.airborne_position("4ca1b2", lat, lon, 10000 + 25 * k, odd=bool(k % 2)),
                   encode.airborne_velocity("4ca1b2", 200, 150, 0)]
    if kind == "beast":
        return b"".join(beast_encode(f, counter=12_000_000 * i) for i, f in enumerate(frames))
    return "".join(avr_encode(f, counter=12_000_000 * i) + "\n" for i, f in enumerate(frames)).encode()


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    choice = rng.randrange(7)
    if choice == 0 and b:  # bit flips
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif choice == 1:  # truncation
        del b[rng.randrange(len(b) + 1):]
    elif choice == 2 and b:  # cut a slice
        i = rng.randrange(len(b))
        del b[i:i + rng.randint(1, 64)]
    elif choice == 3 and b:  # duplicate a slice
        i = rng.randrange(len(b))
        b[i:i] = b[i:i + rng.randint(1, 256)]
    elif choice == 4 and b:  # random overwrite
        i = rng.randrange(len(b))
        n = rng.randint(1, 32)
        b[i:i + n] = rng.randbytes(n)
    elif choice == 5 and b:  # absurd length-like values
        i = rng.randrange(len(b))
        b[i:i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\xff\xff"])
    else:  # pure noise
        b = bytearray(rng.randbytes(rng.randint(0, 4096)))
    return bytes(b)


def fuzz(fmt: str, rounds: int, rng: random.Random, crash_dir: Path) -> dict:
    seeds = seed_inputs(fmt)
    result = {"format": fmt, "seeds": len(seeds), "rounds": 0, "survived": 0, "format_errors": 0, "crashes": 0,
              "records": 0, "rejected": 0, "first_crash": None, "seconds": 0.0}
    if not seeds:
        return result
    reader = FORMATS[fmt].reader()
    options = RADAR_OPTIONS if fmt in ("asterix", "sapient") else OPTIONS
    started = time.perf_counter()
    for k in range(rounds):
        name, seed = seeds[k % len(seeds)]
        data = mutate(seed, rng)
        stats = DecodeStats()
        result["rounds"] += 1
        try:
            result["records"] += sum(1 for _ in reader(io.BytesIO(data), options, stats))
            result["survived"] += 1
        except FormatError:
            result["format_errors"] += 1
            result["survived"] += 1
        except Exception as exc:  # noqa: BLE001 - the point is to find these
            result["crashes"] += 1
            if result["first_crash"] is None:
                crash_dir.mkdir(parents=True, exist_ok=True)
                (crash_dir / f"{fmt}-{k}.bin").write_bytes(data)
                result["first_crash"] = f"{type(exc).__name__}: {exc} (from {name}; {traceback.extract_tb(exc.__traceback__)[-1].name})"
        result["rejected"] += stats.rejected
    result["seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS))
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz_decoders.md")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = []
    for fmt in args.formats:
        try:
            row = fuzz(fmt, args.rounds, rng, RESULTS / "fuzz_crashes")
        except ImportError as exc:
            row = {"format": fmt, "seeds": 0, "rounds": 0, "survived": 0, "format_errors": 0, "crashes": 0, "records": 0,
                   "rejected": 0, "first_crash": f"not available: {exc}", "seconds": 0.0}
        rows.append(row)
        print(row, flush=True)
    lines = [
        "# Decoder fuzzing: hostile inputs survived",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d', time.gmtime())}.",
        f"Command: `python bench/fuzz_decoders.py --rounds {args.rounds} --seed {args.seed}`. Seeds: the real samples in",
        "../shared/data and the fixtures in tests/data; each round damages one seed (bit flips, truncation, cut or",
        "duplicated slices, random overwrites, absurd length fields, or pure noise). Survived = the reader finished",
        "(records plus counted rejects) or raised FormatError (not this format at all). A crash is anything else.",
        "",
        "| format | seeds | inputs | survived | of which FormatError | crashes | records decoded | rejects counted | s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['format']} | {r['seeds']} | {r['rounds']:,} | {r['survived']:,} | {r['format_errors']:,} | {r['crashes']} | "
                     f"{r['records']:,} | {r['rejected']:,} | {r['seconds']:.1f} |")
    crashes = [r for r in rows if r["first_crash"]]
    if crashes:
        lines += ["", "First crash or problem per format:", ""]
        lines += [f"- {r['format']}: {r['first_crash']}" for r in crashes]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
