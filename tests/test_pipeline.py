"""The pipeline engine: ordering, batching, late data, live micro-batches."""

from skywarden.core.frame import LocalFrame
from skywarden.core.records import RemoteIdObservation
from skywarden.pipeline.engine import Pipeline, PipelineConfig, ReorderBuffer
from skywarden.sources.jsonl import IngestReport
from skywarden.zones.geojson import parse_zones

T0 = 1_700_000_000.0
FRAME = LocalFrame(51.15, -0.18)
ZONES = parse_zones({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.18, 51.15]}, "properties": {"id": "Z", "radius_m": 300}}]})


def rid(t, e, n=0.0):
    lat, lon, alt = FRAME.to_geodetic([e], [n], [100.0])
    return RemoteIdObservation(t=t, sensor="rid", uas_id="U", lat=float(lat[0]), lon=float(lon[0]), alt_m=float(alt[0]))


def test_reorder_buffer_releases_in_time_order():
    buf = ReorderBuffer()
    for t in [1.0, 2.0, 1.5, 3.0, 0.5, 2.0]:
        buf.push(t, None, None)
    assert [x[0] for x in buf.pop_until(2.0)] == [0.5, 1.0, 1.5, 2.0, 2.0]
    assert len(buf) == 1 and buf.last_t() == 3.0


def test_out_of_order_within_the_window_is_reordered_and_beyond_it_is_counted():
    steps = []
    report = IngestReport()
    pipe = Pipeline(ZONES, PipelineConfig(reorder_s=2.0), frame=FRAME, on_step=steps.append, report=report)
    times = [T0 + k * 0.5 for k in range(20)]
    times[5], times[6] = times[6], times[5]  # swapped neighbours: fine
    for k, t in enumerate(times):
        report.accepted += 1
        pipe.push(rid(t, -300 + 10 * k), None, k + 1)
    report.accepted += 1
    pipe.push(rid(T0 + 1.0, 0), None, 99)  # 8 s late: beyond the 2 s window
    pipe.finish()
    assert report.rejected_by_reason == {"too_late": 1}
    assert report.rejects[0].line_no == 99
    assert pipe.stats.observations == 20
    track_times = [t for s in steps for t in s.tracks.t.tolist()]
    assert track_times == sorted(track_times)


def test_replay_and_live_micro_batches_give_the_same_alert():
    obs = [rid(T0 + k * 0.5, -500 + 15 * k) for k in range(60)]

    def run(live):
        events = []
        pipe = Pipeline(ZONES, frame=FRAME, on_step=lambda s: events.extend(s.alerts), live=live)
        for o in obs:
            pipe.push(o)
            if live:
                pipe.advance(o.t - 0.05)
        pipe.finish()
        return [(e.state, e.zone_id, e.reason) for e in events]

    assert run(live=False) == run(live=True) == [("open", "Z", "entered"), ("resolved", "Z", "left_zone")]


def test_adsb_emitter_category_b6_is_a_drone_and_alerts_other_adsb_does_not():
    from skywarden.core.records import AdsbObservation

    def run(category):
        events, classes = [], set()

        def on_step(step):
            events.extend(step.alerts)
            classes.update(step.tracks.track_class)

        pipe = Pipeline(ZONES, frame=FRAME, on_step=on_step)
        for k in range(60):
            lat, lon, alt = FRAME.to_geodetic([-500 + 15 * k], [0.0], [100.0])
            pipe.push(AdsbObservation(t=T0 + k * 0.5, sensor="1090", icao24="abc123", category=category,
                                      lat=float(lat[0]), lon=float(lon[0]), alt_m=float(alt[0])))
        pipe.finish()
        return [e.state for e in events], classes

    assert run("B6") == (["open", "resolved"], {"drone"})
    assert run("A1") == ([], {"manned_aircraft"})
    assert run(None) == ([], {"manned_aircraft"})


def test_live_advance_handles_one_period_end_at_a_time_and_loses_nothing():
    """A stalled clock (one advance over many periods) and a long gap in the data: every
    observation is processed exactly once, and each period end runs its own management step."""
    steps = []
    pipe = Pipeline(ZONES, frame=FRAME, on_step=steps.append, live=True)
    times = [T0 + k * 0.1 for k in range(50)] + [T0 + 120 + k * 0.1 for k in range(30)]
    for k, t in enumerate(times):
        pipe.push(rid(t, -800 + 2 * k))
    pipe.advance(T0 + 2.55)  # stalled for 2.5 s: the first period end only
    assert pipe.stats.observations == sum(1 for t in times if t < T0 + 1)
    for k in range(200):  # the clock catches up, tick by tick
        pipe.advance(T0 + 2.55 + 0.02 * k)
    assert pipe.stats.observations == sum(1 for t in times if t <= T0 + 2.55 + 0.02 * 199)
    pipe.finish()
    assert pipe.stats.observations == len(times) and pipe.stats.late == 0


def test_a_remote_id_that_jumps_impossibly_is_flagged_and_alerted():
    """A spoofer replays a drone's identity far away: the track carries the flag and one
    remote_id_inconsistent alert opens (fusion.plausibility through the tracker and alerts)."""
    events, flags = [], set()

    def on_step(step):
        events.extend(step.alerts)
        if step.tracks.remote_id_flag:
            flags.update(f for f in step.tracks.remote_id_flag if f)

    pipe = Pipeline([], frame=FRAME, on_step=on_step)
    for k in range(40):
        t = T0 + k * 0.5
        pipe.push(rid(t, -500 + 5 * k))
        if k >= 20 and k % 2 == 0:  # the same uas_id, 25 km away, interleaved
            lat, lon, alt = FRAME.to_geodetic([25_000.0], [0.0], [100.0])
            pipe.push(RemoteIdObservation(t=t + 0.2, sensor="rid", uas_id="U", lat=float(lat[0]), lon=float(lon[0]), alt_m=float(alt[0])))
    pipe.finish()
    rid_alerts = [e for e in events if e.kind == "remote_id_inconsistent"]
    assert flags and all(("jump" in f or "two_places" in f) for f in flags)
    assert [e.state for e in rid_alerts] == ["open", "resolved"] and rid_alerts[0].zone_id == ""


from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@example(gaps=[0.1] * 100, shuffles=[], chunks=[7])  # a steady sensor, as a recorded file
@example(gaps=[0.1] * 30 + [40.0] + [0.1] * 30, shuffles=[(45, -9)], chunks=[11, 4])  # a gap, then a late item
@given(
    gaps=st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.1, 0.3, 0.5, 1.0, 1.7, 2.0, 40.0]), min_size=5, max_size=100),
    shuffles=st.lists(st.tuples(st.integers(0, 59), st.integers(-12, 12)), max_size=15),
    chunks=st.lists(st.integers(1, 25), min_size=1, max_size=10),
)
def test_push_many_in_chunks_equals_pushing_one_by_one(gaps, shuffles, chunks):
    """Whatever the order and spacing of the data (ties, gaps, swaps, late items) and however
    it is chunked, push_many gives the steps, counts and rejects of item-by-item pushes."""
    times, t = [], T0
    for g in gaps:
        t += g
        times.append(t)
    for i, d in shuffles:  # some items moved earlier or later in the input order
        if i < len(times):
            j = min(max(i + d, 0), len(times) - 1)
            times.insert(j, times.pop(i))
    observations = [rid(t, -400 + 7 * k) for k, t in enumerate(times)]

    def run(chunked):
        steps, report, states = [], IngestReport(), []
        report.accepted = len(observations)
        pipe = Pipeline(ZONES, frame=FRAME, on_step=steps.append, report=report)
        pos, c = 0, 0
        while pos < len(observations):
            size = chunks[c % len(chunks)]
            part = observations[pos:pos + size]
            if chunked:
                pipe.push_many(part, [None] * len(part), list(range(pos + 1, pos + 1 + len(part))))
            else:
                for k, obs in enumerate(part):
                    pipe.push(obs, None, pos + k + 1)
            # The same clock and buffer after every chunk, not only the same end result.
            states.append((pipe._released_t, pipe._max_t, pipe._window_end, len(pipe._buffer), len(steps)))
            pos, c = pos + size, c + 1
        pipe.finish()
        return ([(s.tracks.step_time, s.tracks.t.tolist(), [(e.alert_id, e.state) for e in s.alerts]) for s in steps],
                pipe.stats.observations, pipe.stats.late, [(r.line_no, r.reason) for r in report.rejects], states)

    assert run(True) == run(False)
