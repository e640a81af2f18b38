"""Asynchronous sources for the live runtime.

Each source is a coroutine that feeds a sink (the runtime) until it is cancelled:

* :func:`paced_file`: a recorded observation file replayed in real time (``speed`` x);
* :func:`paced_observations`: observations already in memory (the simulator running live);
* :func:`tcp_server`: observation JSON Lines v1 from any number of TCP clients (sensor bridges);
  backpressure reaches the sender through TCP flow control;
* :func:`udp_listener`: observation JSON Lines v1 in UDP datagrams (one or more lines each).

and, for the sensor formats of :mod:`skywarden.sources.decode` (Beast, AVR, SBS-1, SAPIENT,
ASTERIX, ...), each with a :class:`ListenerState` of counters the sensor panel shows:

* :func:`format_tcp_server`: sensors connect to us (SAPIENT nodes); replies go back on the connection;
* :func:`format_tcp_client`: we connect to the sensor (dump1090's 30005), reconnecting with backoff;
* :func:`format_udp_listener`: datagrams (ASTERIX);
* :func:`polled_source`: an HTTP document polled at an interval (readsb ``aircraft.json``, NetRID);
* :func:`paced_format_file`: a recorded sensor file replayed in real time.

A bad line is counted against the connection's name with its reason; it never ends the source.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec

from skywarden.core.records import Observation, SensorStatus, decode_observation
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, Record, StreamDecoder, get_format
from skywarden.sources.jsonl import IngestReport, classify_error, read_observations

__all__ = [
    "ObservationSink", "paced_file", "paced_observations", "tcp_server", "udp_listener", "MAX_LINE_BYTES",
    "ListenerState", "DecodedSink", "format_tcp_server", "format_tcp_client", "format_udp_listener", "polled_source",
    "paced_format_file",
]

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 65_536
"""Longer lines are rejected as ``oversized`` (an observation is a few hundred bytes)."""


class ObservationSink(Protocol):
    clock: object

    async def offer(self, obs: Observation, raw: bytes | None = None) -> bool: ...

    def offer_nowait(self, obs: Observation, raw: bytes | None = None) -> bool: ...

    def count_reject(self, sensor: str, reason: str) -> None: ...


async def paced_observations(records: Iterable[tuple[Observation, bytes | None]], sink: ObservationSink) -> int:
    """Offer observations when the sink's data clock reaches their time. Returns the count."""
    clock = sink.clock
    n = 0
    for obs, raw in records:
        delay = clock.wall_delay(obs.t)  # type: ignore[attr-defined]
        if delay > 0:
            await asyncio.sleep(delay)
        await sink.offer(obs, raw)
        n += 1
    return n


async def paced_file(path: str | Path, sink: ObservationSink, name: str | None = None) -> int:
    """Replay an observation JSON Lines v1 file against the sink's data clock."""
    report = IngestReport()
    name = name or f"file:{Path(path).name}"
    with open(path, "rb") as f:
        records = ((obs, raw) for _, obs, raw in read_observations(f, report))
        n = await paced_observations(records, sink)
    for reason, count in report.rejected_by_reason.items():
        for _ in range(count):
            sink.count_reject(name, reason)
    return n


def _decode_line(line: bytes, sink: ObservationSink, name: str) -> Observation | None:
    if len(line) > MAX_LINE_BYTES:
        sink.count_reject(name, "oversized")
        return None
    if not line.strip():
        return None
    try:
        return decode_observation(line)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        sink.count_reject(name, classify_error(exc, line))
        return None


async def tcp_server(host: str, port: int, sink: ObservationSink, started: asyncio.Future | None = None) -> None:
    """Accept observation JSON Lines v1 over TCP from any number of clients."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        name = f"tcp:{port}"
        log.info("sensor connection from %s", peer)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    line = exc.partial  # the peer closed; a last line without newline
                    if line.strip():
                        obs = _decode_line(line, sink, name)
                        if obs is not None:
                            await sink.offer(obs, line.rstrip(b"\r\n"))
                    break
                except asyncio.LimitOverrunError as exc:
                    await reader.readexactly(exc.consumed)  # discard the oversized run
                    sink.count_reject(name, "oversized")
                    continue
                obs = _decode_line(line, sink, name)
                if obs is not None:
                    await sink.offer(obs, line.rstrip(b"\r\n"))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, limit=MAX_LINE_BYTES)
    if started is not None and not started.done():
        started.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, sink: ObservationSink, name: str) -> None:
        self.sink = sink
        self.name = name

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        for line in data.split(b"\n"):
            obs = _decode_line(line, self.sink, self.name)
            if obs is not None:
                self.sink.offer_nowait(obs, line.rstrip(b"\r"))


async def udp_listener(host: str, port: int, sink: ObservationSink, started: asyncio.Future | None = None) -> None:
    """Receive observation JSON Lines v1 in UDP datagrams."""
    await _serve_datagrams(host, port, lambda: _UdpProtocol(sink, f"udp:{port}"), started)


async def _serve_datagrams(host: str, port: int, protocol: Callable[[], asyncio.DatagramProtocol],
                           started: asyncio.Future | None) -> None:
    """Bind a UDP socket and serve ``protocol`` on it until cancelled (``started`` gets the port)."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(protocol, local_addr=(host, port))
    if started is not None and not started.done():
        started.set_result(transport.get_extra_info("sockname")[1])
    try:
        await asyncio.Event().wait()
    finally:
        transport.close()


# -- sensor formats (sources.decode) on live connections -------------------------------------------


@dataclass
class ListenerState:
    """What one listener, client or poller of a sensor format is doing, for the sensor panel."""

    name: str
    format: str
    role: str
    """``server``, ``client``, ``udp``, ``poll`` or ``file``."""
    address: str
    stats: DecodeStats = field(default_factory=DecodeStats)
    connected: int = 0
    """Open connections (TCP server: clients; TCP client: 0 or 1)."""
    connects: int = 0
    """Connections made (a TCP client's reconnects show here)."""
    last_error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name, "format": self.format, "role": self.role, "address": self.address,
            "connected": self.connected, "connects": self.connects, "last_error": self.last_error,
            **self.stats.as_dict(),
        }


class DecodedSink(ObservationSink, Protocol):
    def add_listener(self, state: ListenerState) -> None: ...

    def sensor_status(self, status: SensorStatus) -> None: ...


async def _hand_on(records: Iterable[Record], sink: DecodedSink, wait: bool) -> None:
    for record in records:
        if isinstance(record, SensorStatus):
            sink.sensor_status(record)
        elif wait:
            await sink.offer(record, None)
        else:
            sink.offer_nowait(record, None)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ListenerState,
                options: DecodeOptions, sink: DecodedSink) -> None:
    """Decode one TCP connection until it closes; replies (SAPIENT acks) go back on it."""
    decoder = get_format(state.format).stream_decoder(options, state.stats)
    state.connected += 1
    state.connects += 1
    try:
        while chunk := await reader.read(65_536):
            await _hand_on(decoder.feed(chunk, time.time()), sink, wait=True)
            reply = decoder.replies()
            if reply:
                writer.write(reply)
                await writer.drain()
            if getattr(decoder, "failed", False):
                # The peer sent garbage the framing cannot resynchronise on (SAPIENT): the decoder
                # has queued its error reply; hang up rather than guess at frame boundaries.
                state.last_error = "closed: undecodable input from the peer"
                break
        else:
            finish = getattr(decoder, "finish", None)
            if finish is not None:  # the peer closed: a partial frame left over is counted
                await _hand_on(finish() or [], sink, wait=True)
    finally:
        state.connected -= 1


async def format_tcp_server(host: str, port: int, fmt: str, options: DecodeOptions, sink: DecodedSink,
                            name: str | None = None, started: asyncio.Future | None = None) -> None:
    """Accept sensors that connect and send ``fmt`` (e.g. SAPIENT sensor nodes, a Beast feed pushed to us)."""
    state = ListenerState(name or f"{fmt}:tcp:{port}", fmt, "server", f"{host}:{port}")
    get_format(fmt).stream_decoder(options, DecodeStats())  # fail now, not per connection
    sink.add_listener(state)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log.info("%s: connection from %s", state.name, writer.get_extra_info("peername"))
        try:
            await _pump(reader, writer, state, options, sink)
        except (ConnectionError, OSError) as exc:
            state.last_error = str(exc) or type(exc).__name__
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    if started is not None and not started.done():
        started.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


async def format_tcp_client(host: str, port: int, fmt: str, options: DecodeOptions, sink: DecodedSink,
                            name: str | None = None, backoff_s: tuple[float, float] = (0.5, 30.0)) -> None:
    """Connect to a sensor that serves ``fmt`` (dump1090/readsb Beast on 30005, AVR on 30002,
    SBS-1 on 30003, ...) and keep reconnecting, with exponential backoff and jitter, when it
    refuses or drops the connection."""
    state = ListenerState(name or f"{fmt}:{host}:{port}", fmt, "client", f"{host}:{port}")
    get_format(fmt).stream_decoder(options, DecodeStats())
    sink.add_listener(state)
    delay = backoff_s[0]
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            state.last_error = f"connect: {exc.strerror or exc}"
        else:
            delay = backoff_s[0]
            state.last_error = None
            try:
                await _pump(reader, writer, state, options, sink)
                state.last_error = "closed by the sensor"
            except (ConnectionError, OSError) as exc:
                state.last_error = str(exc) or type(exc).__name__
            finally:
                writer.close()
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2.0, backoff_s[1])


class _FormatUdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, decoder: StreamDecoder, sink: DecodedSink) -> None:
        self.decoder = decoder
        self.sink = sink

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        for record in self.decoder.feed(data, time.time()):
            if isinstance(record, SensorStatus):
                self.sink.sensor_status(record)
            else:
                self.sink.offer_nowait(record, None)


async def format_udp_listener(host: str, port: int, fmt: str, options: DecodeOptions, sink: DecodedSink,
                              name: str | None = None, started: asyncio.Future | None = None) -> None:
    """Receive ``fmt`` in UDP datagrams (ASTERIX from a radar, ...). An overflowing queue is
    counted per sensor as ``dropped_overload``: UDP has no backpressure."""
    state = ListenerState(name or f"{fmt}:udp:{port}", fmt, "udp", f"{host}:{port}")
    decoder = get_format(fmt).stream_decoder(options, state.stats)
    sink.add_listener(state)
    await _serve_datagrams(host, port, lambda: _FormatUdpProtocol(decoder, sink), started)


def _fetch(url: str, timeout_s: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - the operator's configured sensor URL
        return response.read(MAX_POLL_BYTES + 1)


MAX_POLL_BYTES = 64 * 1024 * 1024
"""A polled document larger than this is rejected as ``oversized``."""


async def polled_source(url: str, fmt: str, options: DecodeOptions, sink: DecodedSink, interval_s: float = 1.0,
                        name: str | None = None) -> None:
    """Poll ``url`` every ``interval_s`` for a document in ``fmt`` (readsb ``aircraft.json``, a
    NetRID flights response, ...). A report seen in an earlier poll (same kind, identity and
    time) is not offered again."""
    state = ListenerState(name or f"{fmt}:{url}", fmt, "poll", url)
    reader = get_format(fmt).reader()
    sink.add_listener(state)
    seen: dict[tuple[Any, ...], float] = {}
    while True:
        started = time.monotonic()
        try:
            body = await asyncio.to_thread(_fetch, url, max(interval_s, 1.0) * 5)
        except (OSError, ValueError) as exc:
            state.last_error = str(exc)
            state.stats.reject("poll", "fetch_failed", str(exc))
        else:
            state.last_error = None
            state.connects += 1
            if len(body) > MAX_POLL_BYTES:
                state.stats.reject("poll", "oversized", f"more than {MAX_POLL_BYTES} bytes")
                body = b""
            try:
                records = list(reader(io.BytesIO(body), options, state.stats)) if body else []
            except FormatError as exc:
                state.stats.reject("poll", "not_this_format", str(exc))
                records = []
            fresh = []
            for record in records:
                # The same report comes back in every poll until the sensor has a newer one.
                key = (type(record).__name__, record.sensor, getattr(record, "uas_id", None) or getattr(record, "icao24", None),
                       record.t, getattr(record, "lat", None), getattr(record, "lon", None))
                if key in seen:
                    continue
                seen[key] = record.t
                fresh.append(record)
            if len(seen) > 50_000:  # bounded: forget the oldest half
                for key, _ in sorted(seen.items(), key=lambda kv: kv[1])[: len(seen) // 2]:
                    del seen[key]
            await _hand_on(fresh, sink, wait=True)
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))


async def paced_format_file(path: str | Path, fmt: str, options: DecodeOptions, sink: DecodedSink,
                            name: str | None = None) -> int:
    """Replay a recorded sensor file in ``fmt`` against the sink's data clock."""
    state = ListenerState(name or f"{fmt}:file:{Path(path).name}", fmt, "file", str(path))
    sink.add_listener(state)
    with open(path, "rb") as f:
        records = [r for r in get_format(fmt).reader()(f, options, state.stats)]
    statuses = [r for r in records if isinstance(r, SensorStatus)]
    for status in statuses:
        sink.sensor_status(status)
    observations = sorted((r for r in records if not isinstance(r, SensorStatus)), key=lambda r: r.t)
    return await paced_observations(((o, None) for o in observations), sink)
