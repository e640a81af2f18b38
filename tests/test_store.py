"""The SQLite event store."""

import sqlite3

import numpy as np

from skywarden.core.records import AlertEvent, TrackBatch
from skywarden.store.sqlite import EventStore


def test_wal_mode_and_round_trip(tmp_path):
    path = tmp_path / "sky.db"
    with EventStore(path) as store:
        store.append_observations([(1.0, "plot", "r1", b'{"kind":"plot"}'), (2.0, "adsb", "a1", '{"kind":"adsb"}')])
        store.append_tracks(TrackBatch(
            t=np.array([1.5]), track_id=np.array([3]), lat=np.array([51.0]), lon=np.array([-0.1]), alt_m=np.array([120.0]),
            vel_enu_mps=np.array([[1.0, 2.0, 0.0]]), track_class=["drone"], uas_id=["U1"], icao24=[None],
            operator_lat=np.array([51.01]), operator_lon=np.array([np.nan]), lost_track_ids=[], step_time=2.0))
        store.append_alerts([AlertEvent(t=1.5, alert_id=1, zone_id="Z", track_id=3, kind="zone_entry", state="open", uas_id="U1")])
        store.commit()
        # A second connection (another process in production) reads while the writer is open.
        reader = sqlite3.connect(path)
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == 2
        assert reader.execute("SELECT track_id, class, uas_id, operator_lat, operator_lon FROM track_updates").fetchall() == [(3, "drone", "U1", 51.01, None)]
        reader.close()
    with EventStore(path) as again:
        assert again.max_alert_id() == 1
        assert again.count("alert_events") == 1


def test_uncommitted_rows_are_not_visible_to_readers(tmp_path):
    path = tmp_path / "sky.db"
    store = EventStore(path)
    store.append_observations([(1.0, "plot", "r1", "{}")])
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == 0
    store.commit()
    assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == 1
    store.close()


def test_prune_deletes_old_observations_and_tracks_but_keeps_alerts(tmp_path):
    with EventStore(tmp_path / "p.db") as store:
        store.append_observations([(float(t), "plot", "r", "{}") for t in range(12_000)])
        store.append_alerts([AlertEvent(t=1.0, alert_id=1, zone_id="Z", track_id=1, kind="zone_entry", state="open")])
        store.commit()
        assert store.prune(10_000.0, batch_rows=1000) == 10_000
        assert store.count("observations") == 2_000
        assert store.query("SELECT min(t) FROM observations") == [(10_000.0,)]
        assert store.count("alert_events") == 1


def _obs(k):
    from skywarden.core.records import PlotObservation

    return PlotObservation(t=1_700_000_000.0 + k, sensor="r", lat=51.0, lon=-0.1 + 1e-6 * k, alt_m=100)


def _alert(k, state="open"):
    return AlertEvent(t=1_700_000_000.0 + k, alert_id=k, zone_id="Z", track_id=1, kind="zone_entry", state=state)


def test_background_writer_keeps_order_and_reports_a_failed_write(tmp_path):
    import pytest

    from skywarden.store.sqlite import BackgroundWriter

    store = EventStore(tmp_path / "w.db")
    writer = BackgroundWriter(store)
    for k in range(50):
        writer.append_observations([(1_700_000_000.0 + k, "plot", "r", b"{}")])
        writer.append_alerts([_alert(k)])
    writer.commit()
    direct = writer.store  # flushed: everything sent before is committed and readable here
    assert direct.count("observations") == 50
    assert [r[0] for r in direct.query("SELECT alert_id FROM alert_events ORDER BY id")] == list(range(50))
    writer.append_observations([(1_700_000_100.0, None, "r", b"{}")])  # kind NOT NULL: fails in the writer process...
    writer.append_observations([(1_700_000_101.0, "plot", "r", b"{}")])
    with pytest.raises(sqlite3.IntegrityError):
        writer.flush()  # ...and the failure comes back to the caller, with its type, not lost in the child
    writer.flush()  # reported once; the writer still answers
    writer.append_observations([(1_700_000_102.0, "plot", "r", b"{}")])
    assert writer.count("observations") == 52  # only the failed row is missing
    writer.close()
    store.close()


def test_background_writer_stores_each_row_as_the_store_does(tmp_path):
    """The writer process gets the observations as one JSON array and the tracks as raw columns:
    the rows it stores are those EventStore writes itself (bodies byte for byte)."""
    from skywarden.core.records import RemoteIdObservation, encode_record
    from skywarden.store.sqlite import BackgroundWriter

    observations = [_obs(k) for k in range(5)] + [RemoteIdObservation(
        t=1_700_000_001.5, sensor="rid", lat=51.0, lon=-0.1, alt_m=80.5, uas_id="GBR-1", speed_mps=3.0)]
    raw = [None, b'{"kind":"plot","t":1700000001.0, "as":"received"}', None, None, None, None]
    n = 2500  # more than one chunk of the writer's track inserts; track classes are numpy.str_
    tracks = TrackBatch(
        t=np.full(n, 1.5), track_id=np.arange(n), lat=np.linspace(51, 52, n), lon=np.full(n, -0.1), alt_m=np.full(n, 120.0),
        vel_enu_mps=np.tile([1.0, 2.0, -0.5], (n, 1)), track_class=list(np.array(["drone", "bird"] * (n // 2))), uas_id=[None, "U1"] * (n // 2),
        icao24=["abc123", None] * (n // 2), operator_lat=np.where(np.arange(n) % 3 == 0, 51.01, np.nan),
        operator_lon=np.where(np.arange(n) % 3 == 0, -0.11, np.nan), lost_track_ids=[], step_time=2.0)
    stores = {}
    for name in ("direct", "process"):
        store = EventStore(tmp_path / f"{name}.db")
        target = BackgroundWriter(store) if name == "process" else store
        target.append_observation_batch(observations, raw)
        target.append_tracks(tracks)
        target.commit()
        if name == "process":
            target.close()
        stores[name] = store
    for table in ("observations", "track_updates"):
        rows = [s.query(f"SELECT * FROM {table} ORDER BY id") for s in stores.values()]
        assert rows[0] == rows[1] and len(rows[0]) in (6, n)
    bodies = [r[0] for r in stores["process"].query("SELECT body FROM observations ORDER BY id")]
    assert bodies[1] == raw[1].decode()
    assert [b.encode() for i, b in enumerate(bodies) if i != 1] == [encode_record(o) for i, o in enumerate(observations) if i != 1]
    for s in stores.values():
        s.close()


def test_durable_alert_overtakes_queued_rows_and_is_committed_when_the_call_returns(tmp_path):
    from skywarden.store.sqlite import BackgroundWriter

    path = tmp_path / "u.db"
    store = EventStore(path)
    writer = BackgroundWriter(store)
    for k in range(200):  # a backlog of rows in the pipe
        writer.append_observation_batch([_obs(1000 * k + j) for j in range(200)], [None] * 200)
    writer.append_alerts_durable([_alert(7)])
    reader = sqlite3.connect(path)  # another connection sees only committed rows
    assert reader.execute("SELECT alert_id, state FROM alert_events").fetchall() == [(7, "open")]
    writer.close()  # commits the rest and waits for the writer process to exit
    assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == 200 * 200
    reader.close()
    store.close()


def test_writer_process_keeps_what_it_received_when_the_live_process_dies(tmp_path):
    """SIGKILL of the live process: the writer process reads end-of-file, commits what it
    received (no commit was ever requested) and exits."""
    import subprocess
    import sys
    import time

    path = tmp_path / "k.db"
    script = f"""
import os, signal
from skywarden.core.records import PlotObservation
from skywarden.store.sqlite import BackgroundWriter, EventStore
writer = BackgroundWriter(EventStore({str(path)!r}))
obs = [PlotObservation(t=1_700_000_000.0 + k, sensor="r", lat=51.0, lon=-0.1, alt_m=100) for k in range(300)]
writer.append_observation_batch(obs, [None] * len(obs))
print(writer.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    child = int(proc.stdout.split()[0])
    deadline = time.time() + 30
    while time.time() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == 300
    reader.close()


def _alive(pid):
    import os

    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
