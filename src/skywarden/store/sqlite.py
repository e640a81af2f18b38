"""The embedded event store: SQLite in WAL mode.

It holds every accepted observation (as its JSON line, so nothing of the original is lost), every
confirmed-track update and every alert event. Writes are batched: one transaction per pipeline
step, committed before the step's outputs are considered delivered, so a normal shutdown or Ctrl-C
(which lets the current step finish) loses nothing. WAL lets the API and other processes read
while the pipeline writes.

Example:
    >>> store = EventStore(":memory:")
    >>> store.append_observations([(1.7e9, "plot", "r1", b'{"kind":"plot"}')])
    >>> store.commit(); store.count("observations")
    1
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from skywarden.core.records import AlertEvent, TrackBatch

__all__ = ["EventStore", "SCHEMA_VERSION"]

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


def _noop() -> None:
    pass


class BackgroundWriter:
    """Runs an :class:`EventStore`'s appends and commits on a writer thread, in order.

    The live event loop only enqueues, and sqlite3 releases the GIL inside SQLite, so the writes
    use the other core: at 10,000 observations/s this took the store's cost on the loop from about
    28 % of a core to 1.4 % (bench/results/live_latency.md). The thread is the only user of the
    connection while work is queued; :meth:`flush` waits until the queue is empty, after which the
    caller may use the store directly (``store`` does both) until it enqueues again.

    A write that fails on the thread (disk full, say) is not lost silently: the next
    :meth:`flush` raises it.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[tuple[Callable[..., object], tuple[object, ...]] | None] = queue.SimpleQueue()
        self._urgent: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="skywarden-store-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            self._run_urgent()
            if item is None:
                return
            self._call(*item)

    def _run_urgent(self) -> None:
        while self._urgent:
            self._call(*self._urgent.popleft())

    def _call(self, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        if self._error is not None and not isinstance(getattr(fn, "__self__", None), threading.Event):
            return  # after a failure, skip writes but still answer flush() so it never hangs
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the next flush()
            self._error = exc

    def append_alerts_durable(self, events: Sequence[AlertEvent]) -> None:
        """Write and commit alert events ahead of the queued rows, and wait until they are durable.

        An alert must be on disk before anyone is told of it, but it need not wait for the
        observations queued before it (they stay accepted and queued, and are committed next): at
        10,000 observations/s, waiting for the whole queue put tens of milliseconds on every alert.
        """
        if not events:
            return
        done = threading.Event()
        self._urgent.extend([(self._store.append_alerts, (list(events),)), (self._store.commit, ()), (done.set, ())])
        self._queue.put((_noop, ()))  # wakes the thread if it is idle
        done.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def append_observations(self, rows: Iterable[tuple[float, str, str, bytes | str]]) -> None:
        self._queue.put((self._store.append_observations, (list(rows),)))

    def append_tracks(self, batch: TrackBatch) -> None:
        if len(batch):
            self._queue.put((self._store.append_tracks, (batch,)))

    def append_alerts(self, events: Sequence[AlertEvent]) -> None:
        if events:
            self._queue.put((self._store.append_alerts, (list(events),)))

    def commit(self) -> None:
        self._queue.put((self._store.commit, ()))

    def flush(self) -> None:
        """Wait until everything enqueued has run; raise the first error the thread met."""
        done = threading.Event()
        self._queue.put((done.set, ()))
        done.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    @property
    def store(self) -> EventStore:
        """The store, for direct use on the calling thread, after a :meth:`flush`."""
        self.flush()
        return self._store

    def close(self) -> None:
        """Flush, commit and stop the thread (the store itself stays open)."""
        self.commit()
        self.flush()
        self._queue.put(None)
        self._thread.join()


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
        self.commit()
        deleted = 0
        for table in ("observations", "track_updates"):
            while True:
                cur = self._db.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE t < ? ORDER BY id LIMIT ?)",
                    (before_t, batch_rows),
                )
                deleted += cur.rowcount
                if cur.rowcount < batch_rows:
                    break
        return deleted

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
