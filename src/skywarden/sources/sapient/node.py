"""Live SAPIENT: skywarden as the fusion node (DMM) that sensor nodes (ASMs) connect to over TCP.

:class:`SapientStreamDecoder` decodes one TCP connection (``feed``) and holds the replies for it
(``replies``: framed ``RegistrationAck``, ``AlertAck`` and ``Error`` messages). On garbage (a
length prefix over the cap, or a frame that is not a protobuf ``SapientMessage``) it counts the
reject, queues an ``Error`` reply, sets :attr:`~SapientStreamDecoder.failed` and decodes nothing
more: after a bad frame the framing of what follows cannot be trusted, so the connection should be
closed and the node left to reconnect and register again. :func:`serve_sapient` does exactly that.

Example (a node registers, the DMM accepts):
    >>> from skywarden.sources.decode import DecodeOptions, DecodeStats
    >>> from skywarden.sources.sapient.bindings import SapientMessage
    >>> msg = SapientMessage(node_id="a8654cdf-4328-47de-81fa-c495589e30c9")
    >>> msg.timestamp.FromSeconds(1_700_000_000)
    >>> msg.registration.icd_version = "BSI Flex 335 v2.0"
    >>> decoder = SapientStreamDecoder(DecodeOptions(extra={"validate": "false"}), DecodeStats())
    >>> [r.state for r in decoder.feed(encode_frame(msg.SerializeToString()), 1_700_000_000.0)]
    ['registered']
    >>> ack = SapientMessage.FromString(decoder.replies()[4:])
    >>> ack.registration_ack.acceptance, ack.destination_id == msg.node_id
    (True, True)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from skywarden.sources.decode import DecodeOptions, DecodeStats, Record
from skywarden.sources.sapient.bindings import SapientMessage
from skywarden.sources.sapient.framing import Frame, FrameSplitter, encode_frame
from skywarden.sources.sapient.messages import Counters, SapientConfig, SapientDmm

__all__ = ["SapientStreamDecoder", "serve_sapient", "encode_frame"]

log = logging.getLogger(__name__)


class SapientStreamDecoder:
    """Decodes one SAPIENT TCP connection; see the module docstring.

    Args:
        options: the decode options (``options.extra`` holds the SAPIENT options, see
            :mod:`.messages`).
        stats: the connection's counters.
        dmm: the fusion-node state to use; a server shares one between its connections, so that
            what a node said on an earlier connection (its registration, its location) holds.
        stats_by_node: when given, every count is also kept per ``node_id`` (frames that cannot
            be attributed to a node go under ``"unidentified"``).
        stop_on_garbage: stop at the first frame that is not a protobuf message (live links);
            ``False`` goes on with the next frame (recorded files, where the length prefix of a
            corrupted message is usually still right).
    """

    def __init__(self, options: DecodeOptions, stats: DecodeStats, *, dmm: SapientDmm | None = None,
                 stats_by_node: dict[str, DecodeStats] | None = None, stop_on_garbage: bool = True) -> None:
        self.dmm = dmm or SapientDmm(options)
        self.counters = Counters(stats, stats_by_node)
        self.splitter = FrameSplitter(self.dmm.config.max_frame_bytes)
        self.stop_on_garbage = stop_on_garbage
        self.failed: str | None = None
        """``None`` while the connection is usable; the reject reason once it is not."""
        self.node_id: str | None = None
        """The ``node_id`` of the last message decoded on this connection."""
        self._replies: list[bytes] = []

    @property
    def stats(self) -> DecodeStats:
        return self.counters.stats

    def feed(self, data: bytes, t_rx: float) -> list[Record]:
        """Decode the messages ``data`` completes. ``t_rx`` is unused: SAPIENT messages carry
        their own (mandatory) timestamps."""
        if self.failed is not None:
            return []
        records: list[Record] = []
        for frame in self.splitter.feed(data):
            records.extend(self._frame(frame))
            if self.failed is not None:
                return records
        if self.splitter.failed is not None:
            self._garbage(self.splitter.failed, self.splitter.offset, self.splitter.failed_detail, b"")
        return records

    def replies(self) -> bytes:
        """Framed replies to write back on this connection (and forget)."""
        out = b"".join(self._replies)
        self._replies.clear()
        return out

    def finish(self) -> None:
        """The peer closed: count a partial frame left in the buffer as ``truncated_frame``."""
        if self.failed is None and self.splitter.failed is None and self.splitter.pending:
            self.counters.message(self.node_id)
            self.counters.reject(self.node_id, f"offset {self.splitter.offset}", "truncated_frame",
                                 f"{self.splitter.pending} bytes of an incomplete frame at the end")

    def _garbage(self, reason: str, offset: int, detail: str, packet: bytes) -> None:
        self.counters.message(self.node_id)
        self.counters.reject(self.node_id, f"offset {offset}", reason, detail)
        reply = SapientMessage(node_id=self.dmm.config.dmm_node_id)
        if self.node_id:
            reply.destination_id = self.node_id
        reply.timestamp.FromNanoseconds(int(self.dmm._clock() * 1e9))
        reply.error.packet = packet[:4096]
        reply.error.error_message.append(f"{reason}: {detail}")
        self._replies.append(encode_frame(reply.SerializeToString()))
        if self.stop_on_garbage or reason == "oversized_frame":
            self.failed = reason

    def _frame(self, frame: Frame) -> list[Record]:
        try:
            msg = SapientMessage.FromString(frame.payload)
        except Exception as exc:  # noqa: BLE001 - DecodeError, or upb's errors on hostile nesting
            self._garbage("invalid_protobuf", frame.offset, f"{len(frame.payload)}-byte frame: {exc}"[:200], frame.payload)
            return []
        if msg.node_id:
            self.node_id = msg.node_id
        self.counters.message(msg.node_id or self.node_id)
        records = self.dmm.handle(msg, f"offset {frame.offset}", self.counters, frame.payload)
        if self.dmm.outbox:
            self._replies.append(self.dmm.take_replies())
        return records


OnRecords = Callable[[list[Record]], Any]


async def serve_sapient(
    host: str,
    port: int,
    on_records: OnRecords,
    options: DecodeOptions | None = None,
    stats_by_node: dict[str, DecodeStats] | None = None,
    started: asyncio.Future | None = None,
) -> None:
    """Accept SAPIENT sensor nodes on ``host:port`` until cancelled.

    Each connection gets a :class:`SapientStreamDecoder` (all sharing one :class:`SapientDmm`,
    so a node's registration and location survive a reconnect). Decoded records go to
    ``on_records`` (a function or a coroutine function, called once per received chunk that
    completes messages); replies are written back at once; a connection that sends garbage is
    closed after its ``Error`` reply. ``stats_by_node`` (if given) collects counters per
    ``node_id``. ``started`` (if given) receives the bound port (useful with ``port=0``).
    """
    options = options or DecodeOptions()
    dmm = SapientDmm(options, SapientConfig.from_options(options))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        log.info("SAPIENT node connected from %s", peer)
        decoder = SapientStreamDecoder(options, DecodeStats(), dmm=dmm, stats_by_node=stats_by_node)
        try:
            while chunk := await reader.read(65_536):
                records = decoder.feed(chunk, time.time())
                reply = decoder.replies()
                if reply:
                    writer.write(reply)
                    await writer.drain()
                if records:
                    result = on_records(records)
                    if asyncio.iscoroutine(result):
                        await result
                if decoder.failed is not None:
                    log.warning("SAPIENT node %s (%s): closing the connection: %s", decoder.node_id or "?", peer, decoder.failed)
                    break
            else:
                decoder.finish()
        except (ConnectionError, OSError) as exc:
            log.info("SAPIENT node %s (%s): %s", decoder.node_id or "?", peer, exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port)
    if started is not None and not started.done():
        started.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()
