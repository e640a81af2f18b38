"""``skywarden serve`` and ``skywarden demo``: the live service.

Both run the live runtime (pipeline, store) and, unless headless, the API and web map in one
process on one asyncio loop. SIGINT/SIGTERM stop the sources, drain every accepted observation
through the pipeline into the store, and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import tomllib
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from skywarden.core.frame import LocalFrame
from skywarden.core.records import AlertEvent, Zone
from skywarden.pipeline.live import DataClock, LiveConfig, LiveRuntime, tune_gc_for_live
from skywarden.sources.decode import FORMATS, DecodeOptions
from skywarden.sources.jsonl import IngestReport, read_observations
from skywarden.sources.live import (
    format_tcp_client,
    format_tcp_server,
    format_udp_listener,
    paced_file,
    paced_format_file,
    paced_observations,
    polled_source,
    tcp_server,
    udp_listener,
)
from skywarden.store.security import AuditLog, TokenStore
from skywarden.store.sqlite import EventStore
from skywarden.zones.geojson import ZoneFileError, load_zones, parse_zones

__all__ = ["ServeConfig", "load_serve_config", "run_demo", "run_headless_demo", "run_serve"]


class ConfigError(ValueError):
    """The serve configuration is unusable; the message names the key."""


@dataclass
class ServeConfig:
    """``skywarden serve --config FILE`` (TOML). See docs/operations.md."""

    site_name: str
    origin: tuple[float, float, float]
    zones_file: Path | None
    database: Path
    host: str = "127.0.0.1"
    port: int = 8000
    tile_url: str | None = None
    tile_attribution: str | None = None
    retention_days: float | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)


def load_serve_config(path: str | Path) -> ServeConfig:
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config {p}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {p}: not valid TOML ({exc})") from None
    base = p.parent

    def need(table: dict, key: str, where: str) -> Any:
        if key not in table:
            raise ConfigError(f"config {p}: [{where}] needs '{key}'")
        return table[key]

    site = doc.get("site", {})
    lat, lon = need(site, "lat", "site"), need(site, "lon", "site")
    try:
        origin = (float(lat), float(lon), float(site.get("alt_m", 0.0)))
    except (TypeError, ValueError):
        raise ConfigError(f"config {p}: [site] lat, lon and alt_m must be numbers") from None
    zones_file = doc.get("zones", {}).get("file")
    database = doc.get("database", {}).get("path", "skywarden.db")
    api = doc.get("api", {})
    sources = doc.get("sources", [])
    for i, src in enumerate(sources):
        kind = src.get("type")
        if kind not in ("tcp", "udp", "file", "simulator", "poll"):
            raise ConfigError(f"config {p}: sources[{i}].type must be tcp, udp, file, poll or simulator, got {kind!r}")
        if kind == "file":
            src["path"] = str((base / need(src, "path", f"sources[{i}]")).resolve())
        if kind == "poll":
            need(src, "url", f"sources[{i}]")
            need(src, "format", f"sources[{i}]")
        fmt = src.get("format", "jsonl")
        if fmt not in FORMATS:
            raise ConfigError(f"config {p}: sources[{i}].format {fmt!r} is unknown; known: {', '.join(FORMATS)}")
        if src.get("mode", "server") not in ("server", "client"):
            raise ConfigError(f"config {p}: sources[{i}].mode must be server or client")
        if src.get("mode") == "client" and (kind != "tcp" or "host" not in src):
            raise ConfigError(f"config {p}: sources[{i}]: mode = \"client\" is for tcp sources and needs the sensor's host")
        if fmt != "jsonl" and kind in ("tcp", "udp") and FORMATS[fmt].stream_path is None:
            raise ConfigError(f"config {p}: sources[{i}]: format {fmt!r} cannot be received over {kind}; use type = \"poll\" or \"file\"")
        try:
            src["decode_options"] = _decode_options(src)
        except ValueError as exc:
            raise ConfigError(f"config {p}: sources[{i}]: {exc}") from None
    return ServeConfig(
        site_name=str(site.get("name", "site")),
        origin=origin,
        zones_file=(base / zones_file).resolve() if zones_file else None,
        database=(base / database).resolve(),
        host=str(api.get("host", "127.0.0.1")),
        port=int(api.get("port", 8000)),
        tile_url=api.get("tile_url"),
        tile_attribution=api.get("tile_attribution"),
        retention_days=doc.get("database", {}).get("retention_days"),
        sources=sources,
    )


def _restore_zones(store: EventStore, fallback: list[Zone]) -> list[Zone]:
    """Zones edited through the API survive a restart: the store's copy wins over the file."""
    saved = store.load_zones_geojson()
    if saved is None:
        return fallback
    try:
        return parse_zones(json.loads(saved))
    except (ZoneFileError, json.JSONDecodeError):
        return fallback


async def _serve_until_stopped(runtime: LiveRuntime, app: Any, host: str, port: int, on_started: Any) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        # uvicorn re-raises a captured SIGINT/SIGTERM after serve() returns, which would end the
        # process before the runtime drains; the signals are handled here instead.
        @contextlib.contextmanager
        def capture_signals(self):  # noqa: ANN202
            yield

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws="websockets-sansio", lifespan="off")
    server = Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        bound = server.servers[0].sockets[0].getsockname()[1]
        on_started(bound)
    try:
        await task
    finally:
        await runtime.shutdown()


def _decode_options(src: dict[str, Any]) -> DecodeOptions:
    """A source table's sensor options: ``sensor``, ``sensor_position = [lat, lon, alt_m]``,
    ``start_time``, ``[sources.edition]`` and ``[sources.options]``."""
    from skywarden.cli.decode import parse_options

    position = src.get("sensor_position")
    if position is not None and not isinstance(position, list | tuple):
        raise ValueError("sensor_position must be [lat, lon] or [lat, lon, alt_m]")
    return parse_options(
        sensor=src.get("sensor"),
        sensor_position=",".join(str(v) for v in position) if position else None,
        start_time=str(src["start_time"]) if "start_time" in src else None,
        edition=[f"{k}={v}" for k, v in src.get("edition", {}).items()],
        option=[f"{k}={v}" for k, v in src.get("options", {}).items()],
    )


def _wire_sources(runtime: LiveRuntime, sources: list[dict[str, Any]]) -> list[Any]:
    from skywarden.sim import load_scenario, simulate

    coroutines = []
    for src in sources:
        kind = src["type"]
        fmt = src.get("format", "jsonl")
        options = src.get("decode_options") or DecodeOptions()
        name = src.get("name")
        if fmt != "jsonl" or kind == "poll" or src.get("mode") == "client":
            if kind == "tcp" and src.get("mode") == "client":
                coroutines.append(format_tcp_client(src["host"], int(src["port"]), fmt, options, runtime, name))
            elif kind == "tcp":
                coroutines.append(format_tcp_server(src.get("host", "0.0.0.0"), int(src["port"]), fmt, options, runtime, name))
            elif kind == "udp":
                coroutines.append(format_udp_listener(src.get("host", "0.0.0.0"), int(src["port"]), fmt, options, runtime, name))
            elif kind == "poll":
                coroutines.append(polled_source(src["url"], fmt, options, runtime, float(src.get("interval_s", 1.0)), name))
            elif kind == "file":
                coroutines.append(paced_format_file(src["path"], fmt, options, runtime, name))
            continue
        if kind == "tcp":
            coroutines.append(tcp_server(src.get("host", "0.0.0.0"), int(src.get("port", 30100)), runtime))
        elif kind == "udp":
            coroutines.append(udp_listener(src.get("host", "0.0.0.0"), int(src.get("port", 30101)), runtime))
        elif kind == "file":
            coroutines.append(paced_file(src["path"], runtime))
        elif kind == "simulator":
            result = simulate(load_scenario(src["scenario"]), seed=int(src.get("seed", 0)))
            coroutines.append(paced_observations(((o, None) for o in result.observations), runtime))
    return coroutines


def _clock_for(sources: list[dict[str, Any]]) -> DataClock:
    """Real UTC time, unless every source is a recording or a simulation.

    Recordings and simulations carry their own (past) times: the data clock then starts at the
    earliest of them and runs at the first source's ``speed``.
    """
    recorded = [s for s in sources if s["type"] in ("file", "simulator")]
    if not sources or len(recorded) != len(sources):
        return DataClock()
    from skywarden.sim import load_scenario

    starts = []
    for src in recorded:
        if src["type"] == "simulator":
            starts.append(load_scenario(src["scenario"]).start_time)
        else:
            with open(src["path"], "rb") as f:
                first = next(read_observations(f, IngestReport()), None)
            if first is not None:
                starts.append(first[1].t)
    speed = float(recorded[0].get("speed", 1.0))
    if speed <= 0:
        raise ConfigError("sources: speed must be positive")
    return DataClock(start=min(starts) if starts else None, speed=speed)


def run_serve(config_path: str | Path) -> int:
    """``skywarden serve --config FILE``."""
    from skywarden.api.app import create_app

    cfg = load_serve_config(config_path)
    zones = load_zones(cfg.zones_file) if cfg.zones_file else []
    cfg.database.parent.mkdir(parents=True, exist_ok=True)
    store = EventStore(cfg.database)
    tokens, audit = TokenStore(cfg.database), AuditLog(cfg.database)
    if tokens.count_active("admin") == 0:
        _, secret = tokens.create("bootstrap-admin", "admin")
        print(f"Admin token (shown once; create others with POST /api/tokens): {secret}", flush=True)
    clock = _clock_for(cfg.sources)
    frame = LocalFrame(*cfg.origin, name=f"{cfg.site_name}-enu")
    zones = _restore_zones(store, zones)

    async def main() -> None:
        retention = None if cfg.retention_days is None else float(cfg.retention_days) * 86_400.0
        runtime = LiveRuntime(zones, frame, clock, store, config=LiveConfig(retention_s=retention))
        runtime.start(*_wire_sources(runtime, cfg.sources))
        app = create_app(runtime, tokens, audit, tile_url=cfg.tile_url, tile_attribution=cfg.tile_attribution)
        await _serve_until_stopped(runtime, app, cfg.host, cfg.port, lambda port: print(f"URL: http://{cfg.host}:{port}/", flush=True))

    try:
        tune_gc_for_live()
        asyncio.run(main())
    finally:
        store.close()
    return 0


def _demo_setup(scenario_name: str, speed: float, db: str | None, seed: int = 0):  # noqa: ANN202
    from skywarden.sim import load_scenario, simulate

    scenario = load_scenario(scenario_name)
    result = simulate(scenario, seed=seed)
    db_path = Path(db) if db else Path(tempfile.mkdtemp(prefix="skywarden-demo-")) / "demo.db"
    store = EventStore(db_path)
    zones = _restore_zones(store, result.zones)
    clock = DataClock(start=scenario.start_time, speed=speed)
    return scenario, result, db_path, store, zones, clock


def _open_browser(url: str) -> None:
    """Open the page in a graphical browser; on a machine without a display, only say so.

    Without this check Python's webbrowser module may start a text browser inside the terminal
    and swallow the demo's output.
    """
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("(no display here: open the URL above in a browser on this machine or through an SSH tunnel)", flush=True)
        return
    try:
        webbrowser.open(url)
    except webbrowser.Error:
        print("(could not start a browser: open the URL above yourself)", flush=True)


def run_demo(scenario_name: str, speed: float, port: int, db: str | None, open_browser: bool, host: str = "127.0.0.1") -> int:
    """``skywarden demo``: a built-in scenario live, with the web map."""
    from skywarden.api.app import create_app

    scenario, result, db_path, store, zones, clock = _demo_setup(scenario_name, speed, db)
    tokens, audit = TokenStore(db_path), AuditLog(db_path)
    _, secret = tokens.create(f"demo-admin-{int(time.time())}", "admin")

    def started(bound: int) -> None:
        url = f"http://{host}:{bound}/"
        print(f"skywarden demo: scenario {scenario.name} at {speed:g}x, database {db_path}", flush=True)
        print(f"URL: {url}", flush=True)
        print(f"Admin token: {secret}", flush=True)
        print(f"Open {url}#token={secret} (Ctrl-C stops; everything is kept in the database)", flush=True)
        if open_browser:
            _open_browser(f"{url}#token={secret}")

    async def main() -> None:
        runtime = LiveRuntime(zones, result.frame, clock, store)
        runtime.start(paced_observations(((o, None) for o in result.observations), runtime))
        app = create_app(runtime, tokens, audit)
        await _serve_until_stopped(runtime, app, host, port, started)

    try:
        tune_gc_for_live()
        asyncio.run(main())
    finally:
        store.close()
    return 0


def run_headless_demo(scenario_name: str, speed: float, duration_s: float, alerts_out: str, db: str | None, seed: int = 0) -> int:
    """``skywarden demo --headless``: the scenario live for ``duration_s`` of wall time, alerts to a file."""
    scenario, result, db_path, store, zones, clock = _demo_setup(scenario_name, speed, db, seed)
    encoder = msgspec.json.Encoder()
    opened = 0

    async def main() -> None:
        nonlocal opened
        runtime = LiveRuntime(zones, result.frame, clock, store)
        with open(alerts_out, "wb") as out:

            def write(event: AlertEvent, _arrival: float) -> None:
                nonlocal opened
                out.write(encoder.encode(event) + b"\n")
                out.flush()
                opened += event.state == "open"

            runtime.alert_listeners.append(write)
            runtime.start(paced_observations(((o, None) for o in result.observations), runtime))
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                await asyncio.wait_for(stop.wait(), timeout=duration_s)
            except TimeoutError:
                pass
            await runtime.shutdown()
        print(
            f"skywarden demo --headless: {scenario.name} at {speed:g}x for {duration_s:g} s: "
            f"{runtime.observations} observations, {opened} alerts opened; database {db_path}",
            flush=True,
        )

    try:
        tune_gc_for_live()
        asyncio.run(main())
    finally:
        store.close()
    return 0


