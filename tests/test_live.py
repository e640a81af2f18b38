"""The live runtime and its sources, in-process with real sockets."""

import asyncio
import json
import socket

import pytest

from skywarden.core.frame import LocalFrame
from skywarden.core.records import PlotObservation, RemoteIdObservation
from skywarden.pipeline.live import DataClock, LiveConfig, LiveRuntime
from skywarden.sources.live import tcp_server, udp_listener
from skywarden.store.sqlite import EventStore
from skywarden.zones.geojson import parse_zones

LAT0, LON0 = 51.15, -0.18
FRAME = LocalFrame(LAT0, LON0)
ZONES = parse_zones({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [LON0, LAT0]}, "properties": {"id": "Z", "radius_m": 500}}]})


def geo(e, n, u=100.0):
    lat, lon, alt = FRAME.to_geodetic([e], [n], [u])
    return dict(lat=float(lat[0]), lon=float(lon[0]), alt_m=float(alt[0]))


def rid(t, e, n, uas="U1"):
    return RemoteIdObservation(t=t, sensor="rid", uas_id=uas, **geo(e, n))


def line(obs):
    from skywarden.core.records import encode_record

    return encode_record(obs) + b"\n"


async def run_for(runtime, seconds, *sources):
    runtime.start(*sources)
    await asyncio.sleep(seconds)


def test_drone_flying_into_a_zone_raises_an_alert_live(tmp_path):
    async def scenario():
        clock = DataClock()
        store = EventStore(tmp_path / "live.db")
        runtime = LiveRuntime(ZONES, FRAME, clock, store, config=LiveConfig(tick_s=0.01))
        events = []
        durable_when_published = []
        runtime.alert_listeners.append(lambda e, _: events.append(e))

        def check_durable(event, _):
            # Another connection sees only committed rows: the alert must already be there.
            import sqlite3

            other = sqlite3.connect(tmp_path / "live.db")
            rows = other.execute("SELECT count(*) FROM alert_events WHERE alert_id = ? AND state = ?",
                                 (event.alert_id, event.state)).fetchone()[0]
            other.close()
            durable_when_published.append(rows == 1)

        runtime.alert_listeners.append(check_durable)

        async def fly():
            # 10 m/s towards the zone centre, reports at 5 Hz; starts 600 m out.
            for k in range(60):
                await runtime.offer(rid(clock.now(), -600 + 10 * k * 0.2 * 5, 0))
                await asyncio.sleep(0.2 / 5)  # run 5x faster than real time on the wall clock

        runtime.start(fly())
        await asyncio.sleep(3.0)
        opened = [e for e in events if e.state == "open"]
        tracks = runtime.track_views()
        await runtime.shutdown()
        stored = store.count("observations")
        store.close()
        return opened, tracks, stored, runtime, durable_when_published

    opened, tracks, stored, runtime, durable = asyncio.run(scenario())
    assert len(opened) == 1 and opened[0].zone_id == "Z" and opened[0].uas_id == "U1"
    assert durable and all(durable)  # every alert was committed before anyone heard of it
    assert tracks and tracks[0]["class"] == "drone"
    assert stored == runtime.observations == 60


def test_tcp_source_counts_bad_lines_and_keeps_good_ones():
    async def scenario():
        clock = DataClock()
        runtime = LiveRuntime(ZONES, FRAME, clock)
        started = asyncio.get_running_loop().create_future()
        runtime.start(tcp_server("127.0.0.1", 0, runtime, started))
        port = await asyncio.wait_for(started, 5)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        t = clock.now()
        writer.write(line(rid(t, 0, 0)) + b"{broken\n" + json.dumps({"kind": "plot", "t": t, "sensor": "r", "lat": 91, "lon": 0, "alt_m": 0}).encode() + b"\n")
        writer.write(b"x" * 70_000 + b"\n")  # oversized
        writer.write(line(PlotObservation(t=t, sensor="radar-1", **geo(50, 50))))
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.5)
        sensors = {s["sensor"]: s for s in runtime.sensor_views()}
        await runtime.shutdown()
        return sensors, runtime.observations

    sensors, accepted = asyncio.run(scenario())
    assert accepted == 2
    listener = next(s for name, s in sensors.items() if name.startswith("tcp:"))
    assert listener["rejected_by_reason"] == {"invalid_json": 1, "invalid_value": 1, "oversized": 1}
    assert sensors["rid"]["messages"] == 1 and sensors["radar-1"]["kinds"] == ["plot"]


def test_udp_source_and_overload_is_counted_not_silent():
    async def scenario():
        clock = DataClock()
        runtime = LiveRuntime(ZONES, FRAME, clock, config=LiveConfig(queue_size=5, tick_s=5.0))
        started = asyncio.get_running_loop().create_future()
        runtime.start(udp_listener("127.0.0.1", 0, runtime, started))
        port = await asyncio.wait_for(started, 5)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = clock.now()
        payload = b"".join(line(PlotObservation(t=t, sensor="radar-u", **geo(10 * i, 0))) for i in range(8))
        sock.sendto(payload + b"not json", ("127.0.0.1", port))
        sock.close()
        await asyncio.sleep(0.3)
        sensors = {s["sensor"]: s for s in runtime.sensor_views()}
        depth = runtime.queue.qsize()
        await runtime.shutdown()
        return sensors, depth, runtime.observations

    sensors, depth, processed = asyncio.run(scenario())
    # The queue held 5 (the ticker is slow on purpose); 3 more were counted as overload, none lost silently.
    assert depth == 5
    assert sensors["radar-u"]["rejected_by_reason"] == {"dropped_overload": 3}
    assert processed == 5  # the queued ones were drained into the pipeline at shutdown
    udp = next(s for name, s in sensors.items() if name.startswith("udp:"))
    assert udp["rejected_by_reason"] == {"invalid_json": 1}


def test_observation_far_from_the_clock_is_rejected():
    async def scenario():
        runtime = LiveRuntime(ZONES, FRAME, DataClock())
        ok = await runtime.offer(rid(runtime.clock.now() - 86_400, 0, 0))
        return ok, runtime.sensor_views()

    ok, sensors = asyncio.run(scenario())
    assert ok is False
    assert sensors[0]["rejected_by_reason"] == {"time_outlier": 1}


def test_slow_subscriber_gets_a_snapshot_instead_of_blocking():
    async def scenario():
        runtime = LiveRuntime(ZONES, FRAME, DataClock(), config=LiveConfig(subscriber_queue=2))
        sub = runtime.subscribe()
        sub.needs_snapshot = False
        for _ in range(5):
            runtime._broadcast_all({"type": "update", "tracks": [], "removed": [], "alerts": []})
        return sub

    sub = asyncio.run(scenario())
    assert sub.overflows >= 1 and sub.needs_snapshot and sub.queue.qsize() <= 2


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_data_clock_runs_at_its_speed(speed):
    import time

    clock = DataClock(start=1_000_000_000.0, speed=speed)
    time.sleep(0.2)
    assert clock.now() - 1_000_000_000.0 == pytest.approx(0.2 * speed, rel=0.3)


def _busy_sky(runtime, clock, n_targets=40, seconds=3.0, rate_hz=5.0):
    """Targets converging on the zone (some enter it), reports at ``rate_hz`` each."""
    import math

    async def fly():
        steps = int(seconds * rate_hz)
        for k in range(steps):
            t = clock.now()
            for i in range(n_targets):
                a = 2 * math.pi * i / n_targets
                r = 560.0 - 40.0 * k / rate_hz
                await runtime.offer(rid(t, r * math.sin(a), r * math.cos(a), uas=f"U{i}"))
            await asyncio.sleep(1.0 / rate_hz)

    return fly()


def test_shutdown_stores_everything_accepted_through_the_writer_process(tmp_path):
    """Every accepted observation, every track update and every alert event the runtime produced
    is in the database after shutdown, and the writer process has exited."""
    import os

    async def scenario():
        clock = DataClock()
        store = EventStore(tmp_path / "live.db")
        runtime = LiveRuntime(ZONES, FRAME, clock, store, config=LiveConfig(tick_s=0.01))
        writer_pid = runtime._writer.pid
        published = []
        runtime.alert_listeners.append(lambda e, _: published.append(e))
        runtime.start(_busy_sky(runtime, clock))
        await asyncio.sleep(3.5)
        await runtime.shutdown()  # no wait for the writer to catch up before this
        counts = {t: store.count(t) for t in ("observations", "track_updates", "alert_events")}
        store.close()
        return runtime, published, counts, writer_pid

    runtime, published, counts, writer_pid = asyncio.run(scenario())
    stats = runtime.pipeline.stats
    assert counts["observations"] == runtime.observations == stats.observations == 600
    assert counts["track_updates"] == stats.track_updates > 0
    assert counts["alert_events"] == stats.alert_events == len(published) > 0
    assert any(e.state == "open" for e in published) and any(e.state == "resolved" for e in published)
    with pytest.raises(ChildProcessError):
        os.waitpid(writer_pid, os.WNOHANG)  # already reaped: the writer process has exited


def test_restart_resumes_alert_ids_and_keeps_the_first_run(tmp_path):
    async def run_once(uas):
        clock = DataClock()
        store = EventStore(tmp_path / "live.db")
        runtime = LiveRuntime(ZONES, FRAME, clock, store, config=LiveConfig(tick_s=0.01))
        opened = []
        runtime.alert_listeners.append(lambda e, _: opened.append(e.alert_id) if e.state == "open" else None)

        async def fly():
            for k in range(60):
                await runtime.offer(rid(clock.now(), -600 + 10 * k, 0, uas=uas))
                await asyncio.sleep(0.04)

        runtime.start(fly())
        await asyncio.sleep(3.0)
        await runtime.shutdown()
        rows = store.query("SELECT alert_id, state FROM alert_events ORDER BY id")
        observations = store.count("observations")
        store.close()
        return opened, rows, observations

    first, rows1, n1 = asyncio.run(run_once("U1"))
    second, rows2, n2 = asyncio.run(run_once("U2"))
    assert first == [1] and second == [2]  # ids continue from the store
    assert rows2[:len(rows1)] == rows1 and {a for a, _ in rows2} == {1, 2}
    assert n1 == 60 and n2 == 120
