"""The store's writer process: ``python -m skywarden.store.writer_process DATABASE DOORBELL_FD``.

Started by :class:`skywarden.store.sqlite.BackgroundWriter`, never by hand. It reads frames from
stdin (see ``_HEADER`` and the ``_OP_*`` codes in ``store/sqlite.py``), turns them into SQL rows
and writes them with the store's own methods, and answers acknowledged requests on its stdout.

* The pipe is read every ``_POLL_S`` and whenever the doorbell rings (the live process rings it
  after an urgent or acknowledged request), never woken by each step's rows: a wake-up by a
  pipe write tends to put the woken process on the writer's core, in the middle of its tick.
* Rows are collected and inserted when their commit is due (the live process asks every 50 ms),
  in one transaction. Alert events to make durable (urgent) overtake the collected rows: they are
  committed in a transaction of their own, so the live process waits for a few pages, not for
  50 ms of rows. While a commit's rows are being inserted, urgent frames are served between chunks.
* The write connection never checkpoints; a thread with its own connection does, every second
  (PASSIVE: it does not block the writer), so no commit waits for a checkpoint's writes and fsync.
* End-of-file (the live process closed the pipe or died) or a close request: commit everything,
  exit. SIGINT and SIGTERM are ignored: the live process drains and then closes the writer.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import sys
import threading
from collections import deque
from collections.abc import Iterator

import msgspec
import numpy as np

from skywarden.core.records import AlertEvent
from skywarden.store.sqlite import (
    _ACKED,
    _HEADER,
    _OP_ACK,
    _OP_ALERTS,
    _OP_CLOSE,
    _OP_COMMIT,
    _OP_FLUSH,
    _OP_OBSERVATIONS,
    _OP_PRUNE,
    _OP_ROWS,
    _OP_SAVE_ZONES,
    _OP_TRACKS,
    _OP_URGENT_ALERTS,
    _TRACK_COLUMNS,
    _URGENT,
    EventStore,
)

_POLL_S = 0.025
_CHUNK_ROWS = 1000
_CHECKPOINT_EVERY_S = 1.0
_MAX_PENDING_BYTES = 16 << 20
"""Insert the collected rows without waiting for a commit request once this much is collected."""
_MAX_BACKLOG_BYTES = 256 << 20
"""Stop reading the pipe while this much is queued here: the live process then waits (backpressure)."""
_ROW_OPS = frozenset({_OP_OBSERVATIONS, _OP_ROWS, _OP_TRACKS, _OP_ALERTS})


class _Head(msgspec.Struct):
    """The fields of an observation record the table has columns for."""

    t: float
    kind: str
    sensor: str


_TRACKS_SQL = (
    "INSERT INTO track_updates (t, track_id, lat, lon, alt_m, vel_east_mps, vel_north_mps, vel_up_mps,"
    " class, uas_id, icao24, operator_lat, operator_lon) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


class WriterLoop:
    def __init__(self, store: EventStore, in_fd: int, bell_fd: int, out_fd: int) -> None:
        self.store = store
        self.in_fd = in_fd
        self.bell_fd = bell_fd
        self.out_fd = out_fd
        os.set_blocking(in_fd, False)
        os.set_blocking(bell_fd, False)
        self.buf = bytearray()
        self.backlog = 0
        self.normal: deque[tuple[int, int, bytes]] = deque()
        self.urgent: deque[tuple[int, int, bytes]] = deque()
        self.pending: list[tuple[int, bytes]] = []
        self.pending_bytes = 0
        self.prune_job: Iterator[int] | None = None
        self.eof = False
        self.error: BaseException | None = None
        self.heads = msgspec.json.Decoder(list[_Head])
        self.bodies = msgspec.json.Decoder(list[msgspec.Raw])
        self.alerts = msgspec.msgpack.Decoder(list[AlertEvent])
        self.encoder = msgspec.msgpack.Encoder()

    # -- input -------------------------------------------------------------------------------------------
    def pump(self) -> None:
        """Move what the pipe holds into the queues (without waiting)."""
        while not self.eof and self.backlog < _MAX_BACKLOG_BYTES:
            try:
                data = os.read(self.in_fd, 1 << 20)
            except BlockingIOError:
                return
            if not data:
                self.eof = True
                return
            self.buf += data
            self._parse()

    def _parse(self) -> None:
        buf, size = self.buf, _HEADER.size
        start = 0
        while len(buf) - start >= size:
            n, op, request = _HEADER.unpack_from(buf, start)
            if len(buf) - start - size < n:
                break
            payload = bytes(buf[start + size:start + size + n])
            start += size + n
            (self.urgent if op in _URGENT else self.normal).append((op, request, payload))
            self.backlog += n
        del buf[:start]

    def wait(self) -> None:
        """Sleep until the doorbell rings or the poll interval has passed."""
        if self.bell_fd < 0:  # the live process has gone: wait for the rest of its data, or EOF
            select.select([self.in_fd], [], [], _POLL_S)
            return
        ready, _, _ = select.select([self.bell_fd], [], [], _POLL_S)
        if ready:
            try:
                if not os.read(self.bell_fd, 4096):
                    os.close(self.bell_fd)
                    self.bell_fd = -1
            except BlockingIOError:
                pass

    # -- work --------------------------------------------------------------------------------------------
    def serve_urgent(self) -> None:
        self.pump()
        while self.urgent:
            self.run(*self.urgent.popleft())

    def run(self, op: int, request: int, payload: bytes) -> bool:
        """Run one frame; False when it was the close request."""
        self.backlog -= len(payload)
        if op in _ROW_OPS:  # collected until its commit (or until enough is collected)
            self.pending.append((op, payload))
            self.pending_bytes += len(payload)
            if self.pending_bytes >= _MAX_PENDING_BYTES:
                self.guarded(self.insert_pending)
            return True
        if op == _OP_CLOSE:  # report a failure, but still store all that can be stored
            error, self.error = self.error, None
            self.guarded(self.insert_pending)
            self.guarded(self.store.commit)
            self.reply(request, error or self.error)
            return False
        if op == _OP_URGENT_ALERTS:
            self.guarded(self.durable_alerts, payload)
        else:
            self.guarded(self.insert_pending)
            self.guarded(self.do, op, payload)
        if op in _ACKED:
            error, self.error = self.error, None
            self.reply(request, error)
        return True

    def guarded(self, fn, *args) -> None:  # noqa: ANN001
        """Run ``fn`` unless a failure is waiting to be reported; keep the first failure."""
        if self.error is not None:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the next acknowledged request
            self.error = exc

    def reply(self, request: int, error: BaseException | None) -> None:
        payload = b"" if error is None else self.encoder.encode([type(error).__name__, str(error)])
        data = memoryview(_HEADER.pack(len(payload), _OP_ACK, request) + payload)
        while data:
            data = data[os.write(self.out_fd, data):]

    def durable_alerts(self, payload: bytes) -> None:
        self.store.append_alerts(self.alerts.decode(payload))
        self.store.commit()

    def insert_pending(self) -> None:
        """Insert the collected rows, in order, serving urgent frames between pieces."""
        while self.pending:
            op, payload = self.pending.pop(0)
            self.pending_bytes -= len(payload)
            self.insert(op, payload)
            self.serve_urgent()

    def insert(self, op: int, payload: bytes) -> None:
        store = self.store
        if op == _OP_OBSERVATIONS:
            array, raw = msgspec.msgpack.decode(payload)
            heads, bodies = self.heads.decode(array), self.bodies.decode(array)
            store.append_observations(
                (h.t, h.kind, h.sensor, r if r is not None else bytes(b)) for h, b, r in zip(heads, bodies, raw)
            )
        elif op == _OP_TRACKS:
            self.tracks(*msgspec.msgpack.decode(payload))
        elif op == _OP_ROWS:
            store.append_observations(msgspec.msgpack.decode(payload))
        elif op == _OP_ALERTS:
            store.append_alerts(self.alerts.decode(payload))

    def tracks(self, n: int, columns: bytes, track_ids: bytes, classes: list, uas: list, icao: list) -> None:
        cols = np.frombuffer(columns, dtype=np.float64).reshape(_TRACK_COLUMNS, n)
        ids = np.frombuffer(track_ids, dtype=np.int64)
        for lo in range(0, n, _CHUNK_ROWS):
            hi = min(n, lo + _CHUNK_ROWS)
            c = cols[:, lo:hi].tolist()
            op_lat = [None if v != v else v for v in c[7]]
            op_lon = [None if v != v else v for v in c[8]]
            self.store._begin()
            self.store._db.executemany(_TRACKS_SQL, zip(
                c[0], ids[lo:hi].tolist(), c[1], c[2], c[3], c[4], c[5], c[6],
                classes[lo:hi], uas[lo:hi], icao[lo:hi], op_lat, op_lon,
            ))
            if hi < n:
                self.serve_urgent()

    def do(self, op: int, payload: bytes) -> None:
        store = self.store
        if op in (_OP_COMMIT, _OP_FLUSH, _OP_CLOSE):
            store.commit()
        elif op == _OP_PRUNE:
            before_t, batch_rows = msgspec.msgpack.decode(payload)
            self.prune_job = store.prune_batches(before_t, batch_rows)
        elif op == _OP_SAVE_ZONES:
            store.save_zones(msgspec.msgpack.decode(payload))
        else:
            raise ValueError(f"unknown store writer operation {op}")

    def loop(self) -> None:
        while True:
            self.serve_urgent()
            if self.normal:
                if not self.run(*self.normal.popleft()):
                    return
            elif self.prune_job is not None:
                try:
                    next(self.prune_job)
                except StopIteration:
                    self.prune_job = None
                except Exception as exc:  # noqa: BLE001
                    self.prune_job = None
                    self.error = self.error or exc
            elif self.eof:
                # The live process is gone: keep what it sent.
                self.error = None
                self.guarded(self.insert_pending)
                self.store.commit()
                return
            else:
                self.wait()


def _checkpoints(path: str, stop: threading.Event) -> None:
    """Copy the WAL into the database now and then, on a connection of its own (see the module doc)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        while not stop.wait(_CHECKPOINT_EVERY_S):
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                pass  # busy or failing: the next one tries again; the WAL keeps everything meanwhile
    finally:
        db.close()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    path, bell_fd = argv[1], int(argv[2])
    out_fd = os.dup(1)
    os.dup2(2, 1)  # a stray print must not corrupt the replies
    try:
        store = EventStore(path)
        store._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread does it
        store._db.execute("PRAGMA cache_size=-65536")  # 64 MB: the indexes' hot pages stay cached
    except Exception as exc:  # noqa: BLE001 - answered to the waiting parent
        payload = msgspec.msgpack.encode([type(exc).__name__, str(exc)])
        os.write(out_fd, _HEADER.pack(len(payload), _OP_ACK, 0) + payload)
        return 1
    stop = threading.Event()
    checkpointer = threading.Thread(target=_checkpoints, args=(path, stop), name="checkpoints", daemon=True)
    checkpointer.start()
    loop = WriterLoop(store, 0, bell_fd, out_fd)
    loop.reply(0, None)
    try:
        loop.loop()
    finally:
        stop.set()
        checkpointer.join()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
