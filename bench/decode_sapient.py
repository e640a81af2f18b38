"""SAPIENT decoding throughput: DetectionReports/s from a length-prefixed stream.

A sensor node session (Registration, a StatusReport with the node's location, then N
DetectionReports: half latitude/longitude with errors, classification and velocity, half
range-bearing) is framed as on the wire, then decoded in one process on one core:

* ``read_sapient`` on the framed file (the ``skywarden decode --format sapient`` path);
* ``SapientStreamDecoder.feed`` in 64 KiB chunks (the live TCP path), with and without the ICD
  field validation read from the protos;
* ``read_sapient`` on the same messages as protobuf-JSON lines.

Usage:
    python bench/decode_sapient.py [--reports 50000] [--repeat 3]
Writes bench/results/decode_sapient.md (and prints it).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from pathlib import Path

from google.protobuf import json_format
from machine import machine  # bench/machine.py, beside this script

from skywarden.sources.decode import DecodeOptions, DecodeStats
from skywarden.sources.sapient import build
from skywarden.sources.sapient.files import read_sapient
from skywarden.sources.sapient.framing import encode_frame
from skywarden.sources.sapient.node import SapientStreamDecoder

RESULTS = Path(__file__).resolve().parent / "results"
NODE = "a8654cdf-4328-47de-81fa-c495589e30c9"
T0 = 1_700_000_000.0
SITE = (51.1739, -1.8224, 120.0)


def session(n: int, seed: int = 1) -> list:
    rnd = random.Random(seed)
    msgs = [build.registration(NODE, T0), build.status_report(NODE, T0, *SITE)]
    for i in range(n):
        t = T0 + 1 + i * 0.01
        if i % 2:
            msgs.append(build.detection_location(
                NODE, t, SITE[0] + rnd.uniform(-0.05, 0.05), SITE[1] + rnd.uniform(-0.05, 0.05), rnd.uniform(50, 500),
                error_m=5.0, confidence=0.9, classification="UAV", velocity_enu=(3.0, -2.0, 0.5),
            ))
        else:
            msgs.append(build.detection_range_bearing(
                NODE, t, rnd.uniform(100, 8000), rnd.uniform(0, 360), rnd.uniform(0, 20), range_error_m=10.0, azimuth_error_deg=0.5,
            ))
    return msgs


def best_of(repeat: int, fn) -> tuple[float, DecodeStats]:  # noqa: ANN001
    best, stats = float("inf"), DecodeStats()
    for _ in range(repeat):
        stats = DecodeStats()
        started = time.perf_counter()
        fn(stats)
        best = min(best, time.perf_counter() - started)
    return best, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    msgs = session(args.reports)
    framed = b"".join(encode_frame(m.SerializeToString()) for m in msgs)
    lines = "\n".join(json.dumps(json_format.MessageToDict(m)) for m in msgs).encode()

    def file_reader(extra: dict[str, str], data: bytes):  # noqa: ANN202
        return lambda stats: sum(1 for _ in read_sapient(io.BytesIO(data), DecodeOptions(extra=extra), stats))

    def stream(extra: dict[str, str]):  # noqa: ANN202
        def run(stats: DecodeStats) -> None:
            decoder = SapientStreamDecoder(DecodeOptions(extra=extra), stats)
            for i in range(0, len(framed), 65_536):
                decoder.feed(framed[i : i + 65_536], T0)
                decoder.replies()
        return run

    cases = [
        ("read_sapient, framed binary file", file_reader({}, framed), len(framed)),
        ("SapientStreamDecoder.feed, 64 KiB chunks", stream({}), len(framed)),
        ("SapientStreamDecoder.feed, validate=false", stream({"validate": "false"}), len(framed)),
        ("read_sapient, protobuf-JSON lines", file_reader({}, lines), len(lines)),
    ]
    rows = []
    for name, fn, size in cases:
        wall, stats = best_of(args.repeat, fn)
        assert stats.observations == args.reports, (name, stats.as_dict())
        rows.append(f"| {name} | {size / 1e6:.1f} | {wall:.2f} | {args.reports / wall:,.0f} |")
    text = "\n".join([
        "# SAPIENT decoding throughput",
        "",
        f"Machine: {machine()}.",
        f"Input: one node session, Registration + StatusReport + {args.reports:,} DetectionReports (half lat/lon with",
        "errors, classification and ENU velocity; half range-bearing from the node), best of "
        f"{args.repeat} runs, one process. Every report yields one observation.",
        "",
        "| path | input MB | wall s | DetectionReports/s |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        "Command: `python bench/decode_sapient.py"
        + (f" --reports {args.reports}" if args.reports != 50_000 else "") + "`",
        "",
    ])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decode_sapient.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
