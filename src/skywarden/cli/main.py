"""The ``skywarden`` command line.

    skywarden simulate SCENARIO --out OBS.jsonl --truth TRUTH.jsonl [--zones-out ZONES.geojson] [--seed N]
    skywarden replay OBS.jsonl --zones ZONES.geojson --tracks-out TRACKS.jsonl --alerts-out ALERTS.jsonl [--db FILE]
    skywarden evaluate TRUTH.jsonl TRACKS.jsonl ALERTS.jsonl --zones ZONES.geojson
    skywarden decode --format FORMAT FILE [-o OUT.jsonl]

Errors a user can fix (a missing file, an invalid zone file, a bad scenario) print one line that
says what is wrong and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence

from skywarden import __version__

__all__ = ["main", "build_parser"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error caused by the user's input; printed as one line, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skywarden",
        description="Detect, track, identify and alert on drones in restricted airspace.",
    )
    parser.add_argument("--version", action="version", version=f"skywarden {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="simulate a scenario into observation and truth files")
    p.add_argument("scenario", metavar="SCENARIO", help="a built-in scenario name (see --list) or a scenario file (.yaml/.toml)")
    p.add_argument("--out", required=True, metavar="OBS.jsonl", help="observations, JSON Lines v1")
    p.add_argument("--truth", required=True, metavar="TRUTH.jsonl", help="ground truth, JSON Lines")
    p.add_argument("--zones-out", metavar="ZONES.geojson", help="write the scenario's zones here")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same files")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("replay", help="run an observation file through the pipeline as fast as possible")
    p.add_argument("observations", metavar="OBS.jsonl", help="observation JSON Lines v1 ('-' for standard input)")
    p.add_argument("--zones", metavar="ZONES.geojson", help="zones v1 GeoJSON (without it no zone alerts are raised)")
    p.add_argument("--tracks-out", metavar="TRACKS.jsonl", help="write confirmed-track updates here")
    p.add_argument("--alerts-out", metavar="ALERTS.jsonl", help="write alert events here")
    p.add_argument("--db", metavar="FILE", help="also store observations, tracks and alerts in this SQLite file")
    p.add_argument("--summary-json", metavar="FILE", help="write the run summary as JSON here too")
    _add_format_options(p, default_format="jsonl")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("decode", help="turn a recorded sensor file into observation JSON Lines v1")
    p.add_argument("file", metavar="FILE", help="the recorded file ('-' for standard input)")
    p.add_argument("-o", "--out", metavar="OUT.jsonl", help="observations, JSON Lines v1 (default: standard output)")
    p.add_argument("--status-out", metavar="FILE", help="also write the sensors' status reports here, as JSON Lines")
    p.add_argument("--summary-json", metavar="FILE", help="write the decoder's counters as JSON here")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on standard error")
    _add_format_options(p, default_format=None)
    p.set_defaults(func=_cmd_decode)

    p = sub.add_parser("evaluate", help="score tracks and alerts against the simulator's truth")
    p.add_argument("truth", metavar="TRUTH.jsonl")
    p.add_argument("tracks", metavar="TRACKS.jsonl")
    p.add_argument("alerts", metavar="ALERTS.jsonl")
    p.add_argument("--zones", required=True, metavar="ZONES.geojson")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("demo", help="run a built-in scenario live, with the web map (or --headless)")
    p.add_argument("--scenario", default="seoul-2022", help="built-in scenario name or file (default seoul-2022)")
    p.add_argument("--speed", type=float, default=1.0, help="scenario seconds per wall second (default 1)")
    p.add_argument("--port", type=int, default=8000, help="web and API port (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--db", metavar="FILE", help="SQLite database (default: a new one in a temporary folder)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    p.add_argument("--headless", action="store_true", help="no web server: run for --duration seconds, write --alerts-out")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="--headless: wall seconds to run")
    p.add_argument("--alerts-out", metavar="FILE", help="--headless: alert events as JSON Lines (the same shape as replay's)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("serve", help="run the live service from a configuration file")
    p.add_argument("--config", required=True, metavar="FILE", help="TOML: site, zones, sources, database, listen address")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("scenarios", help="list the built-in scenarios")
    p.set_defaults(func=_cmd_scenarios)
    return parser


def _add_format_options(p: argparse.ArgumentParser, default_format: str | None) -> None:
    from skywarden.sources.decode import FORMATS

    listing = "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values())
    p.add_argument(
        "--format", default=default_format, required=default_format is None, choices=list(FORMATS), metavar="FORMAT",
        help=f"input format{f' (default {default_format})' if default_format else ''}. {listing}",
    )
    p.add_argument("--sensor", metavar="ID", help="sensor id to put on the observations (default: from the file, or the format name)")
    p.add_argument("--sensor-position", metavar="LAT,LON[,ALT_M]",
                   help="the sensor's WGS84 position: needed for radar polar plots; the reference for local ADS-B CPR decoding")
    p.add_argument("--start-time", metavar="TIME",
                   help="UNIX seconds or ISO date/time (UTC): the date for time-of-day formats (ASTERIX), the epoch of relative ones (Beast)")
    p.add_argument("--edition", action="append", metavar="CAT=EDITION", help="ASTERIX edition per category, e.g. 48=1.31 (repeatable)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="a format-specific option (repeatable; see docs/formats.md)")


def _decode_options(args: argparse.Namespace):  # noqa: ANN202 - DecodeOptions, imported lazily
    from skywarden.cli.decode import OptionError, parse_options

    try:
        return parse_options(args.sensor, args.sensor_position, args.start_time, args.edition, args.option)
    except OptionError as exc:
        raise UserError(str(exc)) from None


def _cmd_decode(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from skywarden.cli.decode import format_stats, run_decode
    from skywarden.sources.decode import FormatError

    options = _decode_options(args)
    with ExitStack() as stack:
        out = stack.enter_context(open(args.out, "wb")) if args.out else sys.stdout.buffer
        status_out = stack.enter_context(open(args.status_out, "wb")) if args.status_out else None
        try:
            stats, wall = run_decode(args.format, args.file, out, options, status_out)
        except FormatError as exc:
            raise UserError(f"{args.file}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise UserError(f"{args.file}: not {args.format} text ({exc.reason} at byte {exc.start})") from None
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - a decoder bug must still not end in a traceback
            raise UserError(
                f"{args.file}: the {args.format} decoder failed ({type(exc).__name__}: {exc}); "
                "please report this with the file"
            ) from None
    if not args.quiet:
        print(format_stats(stats, wall), file=sys.stderr)
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as f:
            json.dump({"format": args.format, "file": args.file, "wall_s": wall, **stats.as_dict()}, f, indent=1)
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from skywarden.sim import ScenarioError, load_scenario, simulate, write_simulation

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    result = simulate(scenario, seed=args.seed)
    summary = write_simulation(result, args.out, args.truth, args.zones_out)
    print(", ".join(f"{k}: {v}" for k, v in summary.items()))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from skywarden.cli.replay import print_summary, run_replay
    from skywarden.sources.decode import FormatError

    options = _decode_options(args)
    # A replay process ends after this call: what is alive now (modules, parser) stays alive, so
    # keep it out of the garbage collector's full passes.
    gc.freeze()
    try:
        summary = run_replay(
            args.observations, args.zones, args.tracks_out, args.alerts_out, args.db, handle_signals=True,
            input_format=args.format, decode_options=options,
        )
    except FormatError as exc:
        raise UserError(f"{args.observations}: {exc}") from None
    print_summary(summary)
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as f:
            json.dump(summary.__dict__, f, indent=1)
    return EXIT_INTERRUPTED if summary.interrupted else 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from skywarden.eval import evaluate_files, format_report, report_to_dict

    report = evaluate_files(args.truth, args.tracks, args.alerts, args.zones)
    print(format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report_to_dict(report), f, indent=1)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from skywarden.cli.live import run_demo, run_headless_demo
    from skywarden.sim import ScenarioError

    if args.speed <= 0:
        raise UserError("--speed must be positive")
    try:
        if args.headless:
            if args.duration is None or args.alerts_out is None:
                raise UserError("--headless needs --duration SECONDS and --alerts-out FILE")
            return run_headless_demo(args.scenario, args.speed, args.duration, args.alerts_out, args.db, args.seed)
        return run_demo(args.scenario, args.speed, args.port, args.db, not args.no_browser, args.host)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno in (98, 13):  # address in use / permission denied
            raise UserError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); choose another --port") from None
        raise


def _cmd_serve(args: argparse.Namespace) -> int:
    from skywarden.cli.live import ConfigError, run_serve

    try:
        return run_serve(args.config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from skywarden.sim import list_builtin_scenarios

    for name in list_builtin_scenarios():
        print(name)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``skywarden`` command; returns the exit status."""
    from skywarden.zones.geojson import ZoneFileError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UserError, ZoneFileError) as exc:
        print(f"skywarden {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as exc:
        print(f"skywarden {args.command}: error: no such file: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE
    except IsADirectoryError as exc:
        print(f"skywarden {args.command}: error: {exc.filename} is a directory, expected a file", file=sys.stderr)
        return EXIT_USAGE
    except PermissionError as exc:
        print(f"skywarden {args.command}: error: permission denied: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"skywarden {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
