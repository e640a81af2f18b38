"""The embedded event store: SQLite in WAL mode.

It holds every accepted observation (as its JSON line, so nothing of the original is lost), every
confirmed-track update and every alert event. Writes are batched: a replay commits once per
pipeline step; the live service writes through :class:`BackgroundWriter` (a writer process) and
commits rows every 50 ms and alert events before they are published. A normal shutdown or Ctrl-C
(which lets the pipeline drain) loses nothing. WAL lets the API and other processes read while the
pipeline writes.

Example:
    >>> store = EventStore(":memory:")
    >>> store.append_observations([(1.7e9, "plot", "r1", b'{"kind":"plot"}')])
    >>> store.commit(); store.count("observations")
    1
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from skywarden.core.records import AlertEvent, Observation, TrackBatch, encode_record

__all__ = ["BackgroundWriter", "EventStore", "SCHEMA_VERSION", "StoreWriterError"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS observations (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,            -- UNIX seconds UTC
    kind TEXT NOT NULL,
    sensor TEXT NOT NULL,
    body TEXT NOT NULL          -- the observation JSON Lines v1 record
);
CREATE TABLE IF NOT EXISTS track_updates (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,            -- state time, UNIX seconds UTC
    track_id INTEGER NOT NULL,
    lat REAL NOT NULL,          -- degrees, WGS84
    lon REAL NOT NULL,
    alt_m REAL NOT NULL,        -- metres above the WGS84 ellipsoid
    vel_east_mps REAL NOT NULL,
    vel_north_mps REAL NOT NULL,
    vel_up_mps REAL NOT NULL,
    class TEXT NOT NULL,
    uas_id TEXT,
    icao24 TEXT,
    operator_lat REAL,
    operator_lon REAL
);
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    alert_id INTEGER NOT NULL,
    zone_id TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    uas_id TEXT,
    reason TEXT,
    by TEXT,
    comment TEXT
);
"""

_INDEXES = """
CREATE INDEX IF NOT EXISTS observations_t ON observations (t);
CREATE INDEX IF NOT EXISTS track_updates_track_t ON track_updates (track_id, t);
CREATE INDEX IF NOT EXISTS track_updates_t ON track_updates (t);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id);
"""


# -- the writer process ---------------------------------------------------------------------------------
# Frames on the pipes between the live process and its writer process: a header (payload length,
# operation, request id) and a msgpack payload. Requests with an id are answered by an ACK frame
# carrying the same id and None or [exception type name, message].
_HEADER = struct.Struct("<IBI")
_OP_OBSERVATIONS = 1  # (JSON array of the observations, [raw line or None, ...])
_OP_ROWS = 2  # [(t, kind, sensor, body), ...]
_OP_TRACKS = 3  # (n, float64 columns bytes, int64 track ids bytes, classes, uas ids, icao24s)
_OP_ALERTS = 4  # [AlertEvent, ...]
_OP_COMMIT = 5
_OP_PRUNE = 6  # (before_t, batch_rows)
_OP_FLUSH = 10  # acked: commit everything sent before, then answer
_OP_URGENT_ALERTS = 11  # acked: ahead of the queued rows, append the alerts, commit, answer
_OP_SAVE_ZONES = 12  # acked
_OP_CLOSE = 13  # acked: commit everything, answer, exit
_OP_ACK = 100
_ACKED = frozenset({_OP_FLUSH, _OP_URGENT_ALERTS, _OP_SAVE_ZONES, _OP_CLOSE})
_URGENT = frozenset({_OP_URGENT_ALERTS})
_TRACK_COLUMNS = 9  # t, lat, lon, alt_m, vel east/north/up, operator_lat, operator_lon


class StoreWriterError(RuntimeError):
    """The writer process failed or ended; what it did not acknowledge may not be stored."""


def _exception_from(reply: list[str]) -> BaseException:
    name, message = reply
    cls = getattr(sqlite3, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return StoreWriterError(f"{name}: {message}")


class BackgroundWriter:
    """Runs an :class:`EventStore`'s writes in a separate writer process, in order (POSIX).

    The live process only encodes each step's rows into one msgpack frame (the observations as one
    JSON array, the track columns as raw float64 bytes: well under a microsecond per row, in C)
    and writes it to a pipe. The child process (``python -m skywarden.store.writer_process``, see
    its module doc) turns them into SQL rows and commits them. Converting ~14,000 rows/s on a
    thread of the live process held its GIL and delayed the event loop
    (bench/results/live_latency.md); in a process it costs the loop only the encoding and one
    ``write`` per call, and this process runs no extra thread at all.

    Guarantees:

    * Order: frames are written in the order of the calls; the child runs them in that order,
      except alert events sent with :meth:`append_alerts_durable`, which go ahead of queued rows.
    * Alerts are durable before they are published: :meth:`append_alerts_durable` returns only
      after the child has committed them and said so. (Their transaction holds only the alerts,
      unless the child was inserting rows at that moment: then those rows go with them.)
    * Nothing accepted is lost: :meth:`close` waits until the child has committed everything and
      exited. If the live process dies without closing, the child reads end-of-file, commits
      what it received and exits. The child runs in its own session and ignores SIGINT and
      SIGTERM, so Ctrl-C at a terminal or a service manager's SIGTERM reaches only the live
      process, which drains its pipeline into the writer and then closes it.
    * Reads see the writes: the reading methods (``count``, ``track_history``, ...) and
      :attr:`store` first :meth:`flush` (the child commits everything sent before, and answers),
      then read through the live process's own connection (WAL: readers never wait for the
      writer). :meth:`prune` is the exception: it runs in the background, between other writes.
    * A write that fails in the child (disk full, say) is not lost silently: the next
      acknowledged call (:meth:`flush`, :meth:`append_alerts_durable`, :meth:`close`) raises it
      (sqlite3 exceptions keep their type). A child that died raises :class:`StoreWriterError`.

    Thread-safe: the API's worker threads may flush, read and save zones while the event loop
    appends.
    """

    def __init__(self, store: EventStore) -> None:
        if store.path == ":memory:":
            raise ValueError("a writer process needs a database file, not ':memory:'")
        self._store = store
        self._json = msgspec.json.Encoder()
        self._msgpack = msgspec.msgpack.Encoder(enc_hook=_plain)
        self._send_lock = threading.Lock()
        self._replies_changed = threading.Condition()
        self._replies: dict[int, list[str] | None] = {}
        self._reading = False
        self._ids = itertools.count(1)
        self._dead: str | None = None
        self._closed = False
        package_root = str(Path(__file__).resolve().parents[2])  # the skywarden this process runs
        env = dict(os.environ)
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # The doorbell: a byte on it wakes the child at once (urgent and acknowledged requests).
        # Rows are not rung in: the child collects them on its own timer, so that a write does not
        # wake it onto this process's core in the middle of a tick.
        bell_r, self._bell = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "skywarden.store.writer_process", store.path, str(bell_r)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env, start_new_session=True,
                pass_fds=(bell_r,),
            )
        finally:
            os.close(bell_r)
        os.set_blocking(self._bell, False)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._out = self._proc.stdin.fileno()
        try:  # 1 MB of slack before a slow writer makes the live process wait (Linux)
            import fcntl

            fcntl.fcntl(self._out, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except (ImportError, OSError):
            pass
        try:
            self._await(0)  # the child has opened the database
        except BaseException:
            self._closed = True
            self._release()
            raise

    @property
    def pid(self) -> int:
        """The writer process's id (for CPU accounting)."""
        return self._proc.pid

    @property
    def path(self) -> str:
        return self._store.path

    # -- framing -------------------------------------------------------------------------------------
    def _send(self, op: int, payload: bytes = b"", request: int = 0) -> None:
        if self._dead is not None:
            raise StoreWriterError(self._dead)
        data = memoryview(_HEADER.pack(len(payload), op, request) + payload)
        with self._send_lock:
            try:
                while data:
                    data = data[os.write(self._out, data):]
                if op in _ACKED:
                    try:
                        os.write(self._bell, b"!")
                    except BlockingIOError:
                        pass  # the doorbell is full of rings the child has not read: it will wake
            except OSError as exc:  # BrokenPipeError: the child is gone
                self._dead = f"the store writer process ended (exit code {self._proc.poll()}): {exc}"
                raise StoreWriterError(self._dead) from exc

    def _request(self, op: int, payload: bytes = b"") -> None:
        request = next(self._ids)
        self._send(op, payload, request)
        self._await(request)

    def _await(self, request: int) -> None:
        """Wait for the reply to ``request``; raise the failure it reports.

        No thread of this process reads the replies in the background (it would take this
        process's GIL to do so): a waiting caller reads them itself, and hands the ones that are
        not its own to their callers (the API's worker threads may wait at the same time).
        """
        cond = self._replies_changed
        with cond:
            while request not in self._replies and self._reading and self._dead is None:
                cond.wait()
            if request in self._replies:
                reply = self._replies.pop(request)
            elif self._dead is not None:
                raise StoreWriterError(self._dead)
            else:
                self._reading = True
                reply = self._read_until(request)
        if reply is not None:
            raise _exception_from(reply)

    def _read_until(self, request: int) -> list[str] | None:
        """As the reader of the replies (``_reading``, called and returning with the condition held)."""
        cond, stream = self._replies_changed, self._proc.stdout
        assert stream is not None
        try:
            while request not in self._replies:
                cond.release()
                try:
                    header = _read_exact(stream, _HEADER.size)
                    n, _, got = _HEADER.unpack(header) if header is not None else (0, 0, -1)
                    payload = _read_exact(stream, n) if n else b""
                finally:
                    cond.acquire()
                if got < 0 or payload is None:
                    self._dead = f"the store writer process ended (exit code {self._proc.wait()})"
                    raise StoreWriterError(self._dead)
                self._replies[got] = msgspec.msgpack.decode(payload) if payload else None
                cond.notify_all()
            return self._replies.pop(request)
        finally:
            self._reading = False
            cond.notify_all()

    # -- writes (the pipeline's interface) -------------------------------------------------------------
    def append_observation_batch(self, observations: Sequence[Observation], raw: Sequence[bytes | None]) -> None:
        """A step's observations, each stored as ``raw`` (its line as received) or else its JSON record."""
        if observations:
            self._send(_OP_OBSERVATIONS, self._msgpack.encode((self._json.encode(observations), raw)))

    def append_observations(self, rows: Iterable[tuple[float, str, str, bytes | str]]) -> None:
        """Rows of ``(t, kind, sensor, json_body)``."""
        rows = list(rows)
        if rows:
            self._send(_OP_ROWS, self._msgpack.encode(rows))

    def append_tracks(self, batch: TrackBatch) -> None:
        n = len(batch)
        if not n:
            return
        columns = np.vstack((batch.t, batch.lat, batch.lon, batch.alt_m, batch.vel_enu_mps.T,
                             batch.operator_lat, batch.operator_lon)).astype(np.float64, copy=False)
        self._send(_OP_TRACKS, self._msgpack.encode((
            n, columns.tobytes(), batch.track_id.astype(np.int64, copy=False).tobytes(),
            batch.track_class, batch.uas_id, batch.icao24,
        )))

    def append_alerts(self, events: Sequence[AlertEvent]) -> None:
        if events:
            self._send(_OP_ALERTS, self._msgpack.encode(list(events)))

    def append_alerts_durable(self, events: Sequence[AlertEvent]) -> None:
        """Write and commit alert events ahead of the queued rows, and wait until they are durable.

        An alert must be on disk before anyone is told of it, but it need not wait for the rows
        queued before it (they stay accepted and queued, and are committed next).
        """
        if events:
            self._request(_OP_URGENT_ALERTS, self._msgpack.encode(list(events)))

    def commit(self) -> None:
        """Have the child commit everything sent so far (does not wait)."""
        self._send(_OP_COMMIT)

    def flush(self) -> None:
        """Wait until the child has run and committed everything sent so far; raise the first
        error it met since the last acknowledged call."""
        self._request(_OP_FLUSH)

    def prune(self, before_t: float, batch_rows: int = 5000) -> None:
        """Like :meth:`EventStore.prune`, in the child, in small transactions between the other
        writes; does not wait (an error is raised by the next acknowledged call)."""
        self._send(_OP_PRUNE, self._msgpack.encode((before_t, batch_rows)))

    def save_zones(self, geojson: str) -> None:
        """Like :meth:`EventStore.save_zones`; returns once committed."""
        self._request(_OP_SAVE_ZONES, self._msgpack.encode(geojson))

    # -- reads, through this process's connection, after a flush ------------------------------------------
    @property
    def store(self) -> EventStore:
        """The store for reading on the calling thread, after a :meth:`flush`. Write through the
        writer: the child holds the write transaction."""
        self.flush()
        return self._store

    def count(self, table: str) -> int:
        return self.store.count(table)

    def max_alert_id(self) -> int:
        return self.store.max_alert_id()

    def track_history(self, track_id: int, since: float | None = None, until: float | None = None, limit: int = 1000) -> list[dict]:
        return self.store.track_history(track_id, since, until, limit)

    def load_zones_geojson(self) -> str | None:
        return self.store.load_zones_geojson()

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self.store.query(sql, params)

    def close(self) -> None:
        """Have the child commit everything and exit, and wait for it (the store stays open)."""
        if self._closed:
            return
        self._closed = True
        died = self._dead
        try:
            if died is None:
                self._request(_OP_CLOSE)
        finally:
            self._release()
        if died is not None:
            raise StoreWriterError(died)

    def _release(self) -> None:
        """Close the pipes (the child, if still running, reads end-of-file and exits) and wait for it."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        os.close(self._bell)
        self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(obj: Any) -> Any:
    """What msgpack cannot encode as it is: str subclasses (``numpy.str_``) and numpy scalars."""
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    raise NotImplementedError(f"cannot store {type(obj).__name__}")


def _read_exact(stream: Any, n: int) -> bytes | None:
    """``n`` bytes from a raw stream, or None at end-of-file."""
    chunks, missing = [], n
    while missing:
        chunk = stream.read(missing)
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class EventStore:
    """Append-only store of observations, track updates and alert events.

    Args:
        path: the database file (created if absent), or ``":memory:"``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # isolation_level=None: transactions are explicit (BEGIN ... COMMIT), one per step.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.executescript(_INDEXES)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._in_tx = False

    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def append_observations(self, rows: Iterable[tuple[float, str, str, bytes | str]]) -> None:
        """Rows of ``(t, kind, sensor, json_body)``."""
        self._begin()
        self._db.executemany(
            "INSERT INTO observations (t, kind, sensor, body) VALUES (?, ?, ?, ?)",
            ((t, k, s, b.decode() if isinstance(b, bytes) else b) for t, k, s, b in rows),
        )

    def append_observation_batch(self, observations: Sequence[Observation], raw: Sequence[bytes | None]) -> None:
        """A step's observations, each stored as ``raw`` (its line as received) or else its JSON record."""
        self.append_observations(
            (o.t, o.kind, o.sensor, r if r is not None else encode_record(o)) for o, r in zip(observations, raw)
        )

    def append_tracks(self, batch: TrackBatch) -> None:
        if not len(batch):
            return
        self._begin()
        vel = batch.vel_enu_mps
        op_lat = [None if v != v else v for v in batch.operator_lat.tolist()]
        op_lon = [None if v != v else v for v in batch.operator_lon.tolist()]
        self._db.executemany(
            "INSERT INTO track_updates (t, track_id, lat, lon, alt_m, vel_east_mps, vel_north_mps, vel_up_mps,"
            " class, uas_id, icao24, operator_lat, operator_lon) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            zip(
                batch.t.tolist(), batch.track_id.tolist(), batch.lat.tolist(), batch.lon.tolist(), batch.alt_m.tolist(),
                vel[:, 0].tolist(), vel[:, 1].tolist(), vel[:, 2].tolist(), batch.track_class,
                batch.uas_id, batch.icao24, op_lat, op_lon,
            ),
        )

    def append_alerts(self, events: Sequence[AlertEvent]) -> None:
        if not events:
            return
        self._begin()
        self._db.executemany(
            "INSERT INTO alert_events (t, alert_id, zone_id, track_id, kind, state, uas_id, reason, by, comment)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            ((e.t, e.alert_id, e.zone_id, e.track_id, e.kind, e.state, e.uas_id, e.reason, e.by, e.comment) for e in events),
        )

    def flush(self) -> None:
        """Nothing to wait for: this store writes on the caller's thread (see :class:`BackgroundWriter`)."""

    def append_alerts_durable(self, events: Sequence[AlertEvent]) -> None:
        """Append alert events and commit (with everything appended before them)."""
        self.append_alerts(events)
        self.commit()

    def commit(self) -> None:
        """Make everything appended so far durable (WAL, synchronous=NORMAL)."""
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def count(self, table: str) -> int:
        if table not in ("observations", "track_updates", "alert_events"):
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def max_alert_id(self) -> int:
        row = self._db.execute("SELECT max(alert_id) FROM alert_events").fetchone()
        return int(row[0] or 0)

    def track_history(self, track_id: int, since: float | None = None, until: float | None = None, limit: int = 1000) -> list[dict]:
        """A track's stored updates, oldest first."""
        sql = ("SELECT t, track_id, lat, lon, alt_m, vel_east_mps, vel_north_mps, vel_up_mps, class, uas_id, icao24,"
               " operator_lat, operator_lon FROM track_updates WHERE track_id = ?")
        params: list[object] = [track_id]
        if since is not None:
            sql += " AND t >= ?"
            params.append(since)
        if until is not None:
            sql += " AND t <= ?"
            params.append(until)
        sql += " ORDER BY t LIMIT ?"
        params.append(limit)
        names = ("t", "track_id", "lat", "lon", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps", "class",
                 "uas_id", "icao24", "operator_lat", "operator_lon")
        return [dict(zip(names, row)) for row in self._db.execute(sql, params).fetchall()]

    def prune(self, before_t: float, batch_rows: int = 5000) -> int:
        """Delete observations and track updates older than ``before_t`` (UNIX s); alert events
        are kept. Deletes in small transactions so readers and the writer never wait long.
        Returns the number of rows deleted."""
        return sum(self.prune_batches(before_t, batch_rows))

    def prune_batches(self, before_t: float, batch_rows: int = 5000) -> Iterator[int]:
        """:meth:`prune` one transaction at a time: yields the rows each one deleted (the writer
        process runs other work between them)."""
        for table in ("observations", "track_updates"):
            while True:
                self.commit()
                cur = self._db.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE t < ? ORDER BY id LIMIT ?)",
                    (before_t, batch_rows),
                )
                yield cur.rowcount
                if cur.rowcount < batch_rows:
                    break

    def save_zones(self, geojson: str) -> None:
        """Keep the current zones (after an operator's edit) so a restart resumes with them."""
        self.commit()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('zones_geojson', ?)", (geojson,))

    def load_zones_geojson(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'zones_geojson'").fetchone()
        return row[0] if row else None

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run a read-only query (for tools and tests)."""
        return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        self.commit()
        self._db.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
