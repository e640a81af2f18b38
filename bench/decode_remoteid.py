"""Remote ID decoding rate: Location messages per second, and the whole pcap pipeline.

Rows:
* per-message ``decode_location`` (struct.unpack_from + field functions + a msgspec Struct);
* ``decode_message`` (the same with the type dispatch);
* batched ``decode_locations`` (numpy structured dtype over N back-to-back messages);
* ``remoteid-pcap`` on the real Parrot Anafi capture (pcapng read with dpkt, radiotap, 802.11
  elements, messages, per-UA assembly, observation records), packets/s and observations/s.

Single core: the process pins itself to CPU 0 when it can. Target: >= 200,000 Location messages/s.

Usage:
    python bench/decode_remoteid.py [--repeat 5]
Writes bench/results/decode_remoteid.md (and prints it).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from pathlib import Path

from machine import machine  # bench/machine.py, beside this script

from skywarden.sources.decode import DecodeOptions, DecodeStats
from skywarden.sources.remoteid.capture import read_capture
from skywarden.sources.remoteid.messages import Location, decode_location, decode_locations, decode_message, encode_location

RESULTS = Path(__file__).resolve().parent / "results"
PARROT = Path(__file__).resolve().parents[2] / "shared" / "data" / "remoteid" / "cdc_remoteidreceiver" / "parrot_anafi4_real.pcapng"


def sample_locations(n: int) -> list[bytes]:
    rng = random.Random(1)
    return [encode_location(Location(
        status=2, direction_deg=rng.uniform(0, 359), speed_mps=rng.uniform(0, 30), vspeed_mps=rng.uniform(-5, 5),
        lat=rng.uniform(-60, 60), lon=rng.uniform(-180, 180), alt_baro_m=rng.uniform(0, 500), alt_geo_m=rng.uniform(0, 500),
        height_m=rng.uniform(0, 120), h_acc=10, v_acc=4, baro_acc=3, speed_acc=2, timestamp_s=rng.uniform(0, 3599), ts_acc_s=0.2,
    )) for _ in range(n)]


def best_rate(fn, units: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return units / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("-n", type=int, default=100_000, help="Location messages per run")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {0})
        except OSError:
            pass
    msgs = sample_locations(args.n)
    joined = b"".join(msgs)
    rows = [
        ("decode_location, one message at a time", "Location msg/s",
         best_rate(lambda: [decode_location(m) for m in msgs], args.n, args.repeat)),
        ("decode_message (type dispatch), one at a time", "Location msg/s",
         best_rate(lambda: [decode_message(m) for m in msgs], args.n, args.repeat)),
        ("decode_locations, numpy batch of all", "Location msg/s",
         best_rate(lambda: decode_locations(joined), args.n, args.repeat)),
    ]
    if PARROT.exists():
        data = PARROT.read_bytes()
        stats = DecodeStats()
        n_obs = len(list(read_capture(io.BytesIO(data), DecodeOptions(), stats)))
        rate = best_rate(lambda: list(read_capture(io.BytesIO(data), DecodeOptions(), DecodeStats())), stats.messages, args.repeat)
        rows.append((f"remoteid-pcap, Parrot Anafi capture ({stats.messages} packets, {n_obs} observations)", "packets/s", rate))
        rows.append(("  the same, as observations", "observations/s", rate * n_obs / stats.messages))
    lines = [
        "# Remote ID decoding rate",
        "",
        f"Machine: {machine()}. Single core (pinned to CPU 0), best of {args.repeat} runs, {args.n} Location messages.",
        "Target: >= 200,000 Location messages/s.",
        "",
        "| path | unit | rate |",
        "|---|---|---:|",
        *[f"| {name} | {unit} | {rate:,.0f} |" for name, unit, rate in rows],
        "",
        "Produced by `python bench/decode_remoteid.py`.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decode_remoteid.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
