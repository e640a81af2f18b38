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


def test_background_writer_keeps_order_and_reports_a_failed_write(tmp_path):
    import sqlite3

    import pytest

    from skywarden.core.records import AlertEvent
    from skywarden.store.sqlite import BackgroundWriter, EventStore

    store = EventStore(tmp_path / "w.db")
    writer = BackgroundWriter(store)
    for k in range(50):
        writer.append_observations([(1_700_000_000.0 + k, "plot", "r", b"{}")])
        writer.append_alerts([AlertEvent(t=1_700_000_000.0 + k, alert_id=k, zone_id="Z", track_id=1, kind="zone_entry", state="open")])
    writer.commit()
    direct = writer.store  # flushed: safe to use here
    assert direct.count("observations") == 50
    assert [r[0] for r in direct.query("SELECT alert_id FROM alert_events ORDER BY id")] == list(range(50))
    store._db.close()  # the next write on the thread fails...
    writer.append_observations([(1_700_000_100.0, "plot", "r", b"{}")])
    with pytest.raises(sqlite3.ProgrammingError):
        writer.flush()  # ...and the failure comes back to the caller, not lost on the thread
    writer.flush()  # reported once; the writer still answers
