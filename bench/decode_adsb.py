"""ADS-B decoding throughput per input format, single process, on this machine.

The 2,000 real DF17 frames of ../shared/data/adsb/pymodes/sample_data_adsb.csv are repeated
(each copy shifted in time so every copy is a fresh flight) and decoded as modes-csv, and the
same frames framed as Beast binary and as AVR text. The 4,184 real SBS-1 lines of
../shared/data/adsb/sbs1_node-sbs1/msgs.txt are repeated likewise. The baseline row is rs1090's
own per-frame decode call, which every frame-based format pays once per frame.

Usage:
    python bench/decode_adsb.py [--copies 25] [--repeat 3]
Writes bench/results/decode_adsb.md (and prints it).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import rs1090
from machine import machine  # bench/machine.py, beside this script

from skywarden.sources.adsb.formats import read_avr, read_beast, read_modes_csv, read_readsb_json, read_sbs1
from skywarden.sources.adsb.framing import avr_encode, beast_encode
from skywarden.sources.decode import DecodeOptions, DecodeStats

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "adsb"
RESULTS = Path(__file__).resolve().parent / "results"


def best_rate(fn: Callable[[], DecodeStats], repeat: int) -> tuple[float, DecodeStats]:
    best = 0.0
    stats = DecodeStats()
    for _ in range(repeat):
        started = time.perf_counter()
        stats = fn()
        best = max(best, stats.messages / (time.perf_counter() - started))
    return best, stats


def run(reader, data: bytes, options: DecodeOptions) -> Callable[[], DecodeStats]:
    def go() -> DecodeStats:
        stats = DecodeStats()
        for _ in reader(io.BytesIO(data), options, stats):
            pass
        return stats
    return go


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with (SHARED / "pymodes" / "sample_data_adsb.csv").open() as fh:
        rows = [(float(r[0]), r[1]) for r in csv.reader(fh)]
    span = rows[-1][0] - rows[0][0] + 3600.0
    frames = [(t + k * span, f) for k in range(args.copies) for t, f in rows]
    t0 = frames[0][0]
    modes_csv = "".join(f"{int(t)},{f}\n" for t, f in frames).encode()
    beast = b"".join(beast_encode(bytes.fromhex(f), counter=round((t - t0) * 12e6) + 1, signal=0x40) for t, f in frames)
    avr = "".join(avr_encode(bytes.fromhex(f), round((t - t0) * 12e6) + 1) + "\n" for t, f in frames).encode()
    sbs = (SHARED / "sbs1_node-sbs1" / "msgs.txt").read_bytes() * args.copies
    snapshot = json.loads((ROOT / "tests" / "data" / "adsb" / "aircraft.json").read_text())
    polls = []
    for k in range(2000 * args.copies // 60):  # about as many aircraft entries as frames above
        snap = dict(snapshot, now=snapshot["now"] + k)
        snap["aircraft"] = [dict(ac, hex=f"{(i * 7919 + j + 1) % 0xFFFFFF:06x}")
                            for i in range(10) for j, ac in enumerate(snapshot["aircraft"])]
        polls.append(json.dumps(snap))
    readsb = "\n".join(polls).encode()
    opts = DecodeOptions(start_time=t0)

    rows_out = []

    def baseline() -> DecodeStats:
        stats = DecodeStats()
        for _, f in frames:
            rs1090.decode(f)
        stats.messages = len(frames)
        return stats

    cases = [
        ("rs1090.decode per frame (baseline)", "real DF17 frames", baseline),
        ("modes-csv", f"real DF17 sample x{args.copies}", run(read_modes_csv, modes_csv, opts)),
        ("beast", f"same frames, Beast framing x{args.copies}", run(read_beast, beast, opts)),
        ("avr", f"same frames, AVR @-lines x{args.copies}", run(read_avr, avr, opts)),
        ("sbs1", f"real node-sbs1 lines x{args.copies}", run(read_sbs1, sbs, opts)),
        ("readsb-json", "fixture, 60 aircraft per poll", run(read_readsb_json, readsb, opts)),
    ]
    for name, what, fn in cases:
        rate, stats = best_rate(fn, args.repeat)
        rows_out.append((name, what, stats.messages, stats.observations, rate))

    lines = [
        "# ADS-B decoding throughput",
        "",
        f"Machine: {machine()}. Single process, best of {args.repeat} runs; `python bench/decode_adsb.py --copies {args.copies}`.",
        "",
        "| format | input | messages | observations | messages/s |",
        "|---|---|---:|---:|---:|",
    ]
    for name, what, n, nobs, rate in rows_out:
        lines.append(f"| {name} | {what} | {n:,} | {nobs:,} | {rate:,.0f} |")
    lines += [
        "",
        "Frame-based formats pay one rs1090 call per frame (the baseline row); framing, CPR and",
        "per-aircraft state add the rest. SBS-1 and readsb-json carry positions already decoded by",
        "the receiver, so they do not call rs1090.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decode_adsb.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
