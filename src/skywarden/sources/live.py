"""Asynchronous sources for the live runtime.

Each source is a coroutine that feeds a sink (the runtime) until it is cancelled:

* :func:`paced_file`: a recorded observation file replayed in real time (``speed`` x);
* :func:`paced_observations`: observations already in memory (the simulator running live);
* :func:`tcp_server`: observation JSON Lines v1 from any number of TCP clients (sensor bridges);
  backpressure reaches the sender through TCP flow control;
* :func:`udp_listener`: observation JSON Lines v1 in UDP datagrams (one or more lines each).

A bad line is counted against the connection's name with its reason; it never ends the source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import msgspec

from skywarden.core.records import Observation, decode_observation
from skywarden.sources.jsonl import IngestReport, classify_error, read_observations

__all__ = ["ObservationSink", "paced_file", "paced_observations", "tcp_server", "udp_listener", "MAX_LINE_BYTES"]

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
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(sink, f"udp:{port}"), local_addr=(host, port))
    if started is not None and not started.done():
        started.set_result(transport.get_extra_info("sockname")[1])
    try:
        await asyncio.Event().wait()
    finally:
        transport.close()
