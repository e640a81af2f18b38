"""The live runtime: the pipeline running continuously on asynchronous sources.

    sources (tasks) --offer--> bounded queue --> ticker: Pipeline.push / advance --> picture,
                                                                                   store, subscribers

* Ingest is decoupled from everything downstream by a bounded queue. A TCP source waits when
  it is full (backpressure reaches the sender); a UDP source cannot wait, so what does not fit
  is counted per sensor as ``dropped_overload``, never lost silently.
* Every ``tick_s`` the ticker moves queued observations into the pipeline and advances it to
  the data clock minus ``reorder_s``; alerts leave within one tick.
* Subscribers (WebSocket clients) get batched frames through their own bounded queues, so a slow
  client never holds up ingest: when its queue overflows it is cleared and a fresh snapshot
  replaces what it missed.
* :meth:`LiveRuntime.shutdown` drains the queue through the pipeline and commits the store, so
  every accepted observation is stored.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from skywarden.core.frame import LocalFrame
from skywarden.core.records import AlertEvent, Observation, SensorStatus, TrackBatch, Zone
from skywarden.pipeline.engine import Pipeline, PipelineConfig, StepResult
from skywarden.sources.live import ListenerState
from skywarden.store.sqlite import BackgroundWriter, EventStore
from skywarden.zones.geojson import zones_to_geojson
from skywarden.zones.index import ZoneIndex

__all__ = ["DataClock", "LiveConfig", "LiveRuntime", "SensorStats", "Subscriber"]


class DataClock:
    """Data time (UNIX s) as a function of wall time, running ``speed`` times as fast.

    Live sensors use the default (the real UTC clock). A scenario replayed live starts at its own
    start time: ``DataClock(start=scenario.start_time, speed=4)``.
    """

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._wall0 = time.monotonic()
        self._data0 = time.time() if start is None else start

    def now(self) -> float:
        return self._data0 + (time.monotonic() - self._wall0) * self.speed

    def wall_delay(self, data_t: float) -> float:
        """Wall seconds until the data clock reaches ``data_t`` (0 if past)."""
        return max(0.0, (data_t - self.now()) / self.speed)


def tune_gc_for_live() -> None:
    """Make Python's cyclic garbage collector fit a long-running live process.

    The live picture holds many long-lived objects (a view per track, trails, queues), and with
    the default thresholds the collector walks all of them many times a second: at 10,000
    observations/s those full passes set the latency's p99 (119 ms against 102 ms with this, one
    run each, SQLite and a WebSocket client). Objects alive at start-up are moved out of the
    collector's sight, and collections run about 70 times less often. Called by the live
    commands (``serve``, ``demo``), not on import: it is a process-wide setting.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


class LiveConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Live runtime tuning. Seconds unless stated."""

    tick_s: float = 0.02
    reorder_s: float = 0.02
    """Observations may arrive this much out of order (data time) and still be ordered. One that
    arrives later is still processed, in the next micro-batch (the tracker predicts each track to
    each observation's own time), and counted as late. Every millisecond here is a millisecond
    of alert latency: at 10,000 observations/s, 0.05 s gave p99 116 ms and 0.02 s 80 ms."""
    queue_size: int = 20_000
    """Observations buffered between the sources and the pipeline."""
    frame_interval_s: float = 0.1
    """At most one WebSocket update frame per this interval (10 Hz)."""
    subscriber_queue: int = 64
    trail_points: int = 60
    resolved_kept: int = 200
    max_time_skew_s: float = 3600.0
    """Reject observations whose time is further than this from the data clock."""
    retention_s: float | None = None
    """Keep observations and track updates this long (data time); alert events are kept.
    None keeps everything (about 20 MB per minute at 1,000 observations/s)."""
    prune_every_s: float = 600.0


@dataclass
class SensorStats:
    """Counters of one sensor (or listener), for the sensor panel and metrics."""

    sensor: str
    kinds: set[str] = field(default_factory=set)
    messages: int = 0
    accepted: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    last_t: float | None = None
    last_wall: float | None = None
    reported: dict[str, Any] | None = None
    """The sensor's own latest status report (SAPIENT StatusReport, ASTERIX CAT034, ...)."""
    _window: deque = field(default_factory=lambda: deque(maxlen=4096))

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def view(self, now_wall: float) -> dict[str, Any]:
        while self._window and now_wall - self._window[0] > 10.0:
            self._window.popleft()
        ago = None if self.last_wall is None else now_wall - self.last_wall
        state = "silent" if ago is None or ago > 60 else "stale" if ago > 10 else "ok"
        return {
            "sensor": self.sensor,
            "kinds": sorted(self.kinds),
            "messages": self.messages,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "last_t": self.last_t,
            "last_seen_s_ago": ago,
            "rate_per_s": len(self._window) / 10.0,
            "state": state,
            "reported": self.reported,
        }


class Subscriber:
    """One client's bounded frame queue."""

    def __init__(self, size: int, trail_delta: bool = False) -> None:
        self.queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=size)
        self.needs_snapshot = True
        self.overflows = 0
        self.trail_delta = trail_delta
        """Update frames carry only each track's newest trail point (the client appends it);
        snapshots always carry whole trails. Frames shrink about 5x."""


class LiveRuntime:
    """Runs the pipeline continuously and keeps the live picture for the API.

    Args:
        zones: the site's zones.
        frame: the site's ENU frame.
        clock: the data clock.
        store: the event store (optional, but every deployment has one).
        pipeline_config: tracker and batching tuning.
        config: live tuning.
    """

    def __init__(
        self,
        zones: Sequence[Zone],
        frame: LocalFrame,
        clock: DataClock,
        store: EventStore | None = None,
        pipeline_config: PipelineConfig | None = None,
        config: LiveConfig | None = None,
    ) -> None:
        self.config = config or LiveConfig()
        self.clock = clock
        self._store = store
        # A database file is written by a writer process (BackgroundWriter); an in-memory store
        # (tests) or a platform without POSIX pipes writes on the event loop.
        use_writer = store is not None and store.path != ":memory:" and os.name == "posix"
        self._writer = BackgroundWriter(store) if use_writer else None
        self.frame = frame
        self.zones: list[Zone] = list(zones)
        self._zone_names = {z.id: z.name for z in self.zones}
        self.pipeline = Pipeline(
            zones, pipeline_config, frame=frame, store=self._writer or store,
            on_step=self._on_step, live=True,
            first_alert_id=(store.max_alert_id() + 1) if store else 1,
        )
        self.queue: asyncio.Queue[tuple[Observation, bytes | None, float]] = asyncio.Queue(maxsize=self.config.queue_size)
        self.sensors: dict[str, SensorStats] = {}
        self.listeners: dict[str, ListenerState] = {}
        self.tracks: dict[int, dict[str, Any]] = {}
        self.alerts: dict[int, dict[str, Any]] = {}
        self._resolved_order: deque[int] = deque()
        self.subscribers: set[Subscriber] = set()
        self.alert_listeners: list[Callable[[AlertEvent, float], None]] = []
        """Called with each alert event and the wall time (monotonic) of the oldest observation
        in the micro-batch that caused it (for latency measurement and scripted runs)."""
        self._dirty_tracks: set[int] = set()
        self._removed_tracks: set[int] = set()
        self._dirty_alerts: set[int] = set()
        self._batch_arrival: float | None = None
        self._started_wall = time.monotonic()
        self._tasks: list[asyncio.Task] = []
        self._stopping = False
        self.observations = 0

    # -- ingest --------------------------------------------------------------------------------
    def _stats(self, sensor: str) -> SensorStats:
        stats = self.sensors.get(sensor)
        if stats is None:
            stats = self.sensors[sensor] = SensorStats(sensor)
        return stats

    def _admit(self, obs: Observation) -> bool:
        stats = self._stats(obs.sensor)
        stats.messages += 1
        if abs(obs.t - self.clock.now()) > self.config.max_time_skew_s:
            stats.rejected_by_reason["time_outlier"] = stats.rejected_by_reason.get("time_outlier", 0) + 1
            return False
        return True

    async def offer(self, obs: Observation, raw: bytes | None = None) -> bool:
        """Queue an observation, waiting while the queue is full (backpressure)."""
        if self._stopping or not self._admit(obs):
            return False
        await self.queue.put((obs, raw, time.monotonic()))
        return True

    def offer_nowait(self, obs: Observation, raw: bytes | None = None) -> bool:
        """Queue an observation if there is room; otherwise count it as ``dropped_overload``."""
        if self._stopping or not self._admit(obs):
            return False
        try:
            self.queue.put_nowait((obs, raw, time.monotonic()))
        except asyncio.QueueFull:
            self.count_reject(obs.sensor, "dropped_overload")
            return False
        return True

    def count_reject(self, sensor: str, reason: str) -> None:
        """Count an input a source could not turn into an observation."""
        stats = self._stats(sensor)
        if reason != "dropped_overload":
            stats.messages += 1
        stats.rejected_by_reason[reason] = stats.rejected_by_reason.get(reason, 0) + 1

    def _drain_queue(self) -> None:
        q = self.queue
        oldest: float | None = None
        while not q.empty():
            obs, raw, arrived = q.get_nowait()
            if oldest is None:
                oldest = arrived
            stats = self._stats(obs.sensor)
            stats.accepted += 1
            stats.kinds.add(obs.kind)
            stats.last_t = obs.t
            stats.last_wall = time.monotonic()
            stats._window.append(stats.last_wall)
            self.observations += 1
            self.pipeline.push(obs, raw)
        if oldest is not None and self._batch_arrival is None:
            self._batch_arrival = oldest

    def process_once(self) -> None:
        """Move queued observations into the pipeline and advance it to the data clock."""
        self._drain_queue()
        self.pipeline.advance(self.clock.now() - self.config.reorder_s)
        self._batch_arrival = None

    # -- pipeline outputs ------------------------------------------------------------------------
    def _on_step(self, step: StepResult) -> None:
        self._apply_tracks(step.tracks)
        arrival = self._batch_arrival if self._batch_arrival is not None else time.monotonic()
        for event in step.alerts:
            self._apply_alert(event)
            for listener in self.alert_listeners:
                listener(event, arrival)

    def _apply_tracks(self, batch: TrackBatch) -> None:
        n = len(batch)
        if n:
            inside = self.pipeline.zone_index.inside(batch.lat, batch.lon, batch.alt_m)
            zone_ids = self.pipeline.zone_index.ids
            hits: dict[int, list[str]] = {}
            rows, cols = np.nonzero(inside)
            for r, c in zip(rows.tolist(), cols.tolist()):
                hits.setdefault(r, []).append(zone_ids[c])
            vel = batch.vel_enu_mps.tolist()
            op_lat, op_lon = batch.operator_lat.tolist(), batch.operator_lon.tolist()
            probs = batch.class_probability.tolist() if batch.class_probability is not None else [None] * n
            flags = batch.remote_id_flag or [None] * n
            tracks, dirty, maxlen = self.tracks, self._dirty_tracks, self.config.trail_points
            hypot, atan2, degrees = math.hypot, math.atan2, math.degrees
            for i, (t, tid, la, lo, al, cls) in enumerate(zip(
                batch.t.tolist(), batch.track_id.tolist(), batch.lat.tolist(), batch.lon.tolist(), batch.alt_m.tolist(),
                batch.track_class,
            )):
                ve, vn, vu = vel[i]
                has_op = op_lat[i] == op_lat[i]  # not NaN
                previous = tracks.get(tid)
                trail = previous["trail"] if previous else deque(maxlen=maxlen)
                trail.append((round(lo, 7), round(la, 7)))
                tracks[tid] = {
                    "t": t, "track_id": tid, "lat": la, "lon": lo, "alt_m": al,
                    "vel_east_mps": ve, "vel_north_mps": vn, "vel_up_mps": vu,
                    "uas_id": batch.uas_id[i], "icao24": batch.icao24[i],
                    "operator_lat": op_lat[i] if has_op else None, "operator_lon": op_lon[i] if has_op else None,
                    "class": cls, "speed_mps": hypot(ve, vn), "heading_deg": degrees(atan2(ve, vn)) % 360.0,
                    "in_zones": hits.get(i, []), "trail": trail, "callsign": None,
                    "class_probability": probs[i] if probs[i] == probs[i] else None, "remote_id_flag": flags[i],
                }
                dirty.add(tid)
        for track_id in batch.lost_track_ids:
            if self.tracks.pop(track_id, None) is not None:
                self._removed_tracks.add(track_id)
                self._dirty_tracks.discard(track_id)

    def _apply_alert(self, event: AlertEvent) -> None:
        view = self.alerts.get(event.alert_id)
        if view is None:
            view = self.alerts[event.alert_id] = {
                "alert_id": event.alert_id, "kind": event.kind, "state": event.state,
                "zone_id": event.zone_id, "zone_name": self._zone_names.get(event.zone_id, event.zone_id),
                "track_id": event.track_id, "uas_id": event.uas_id, "opened_t": event.t, "updated_t": event.t,
                "reason": event.reason, "acknowledged_by": None, "acknowledged_t": None,
                "resolved_by": None, "resolved_t": None, "comments": [],
            }
        view["state"] = event.state
        view["updated_t"] = event.t
        view["reason"] = event.reason
        if event.state == "acknowledged":
            view["acknowledged_by"], view["acknowledged_t"] = event.by, event.t
        if event.state == "resolved":
            view["resolved_by"], view["resolved_t"] = event.by or "system", event.t
            self._resolved_order.append(event.alert_id)
            while len(self._resolved_order) > self.config.resolved_kept:
                self.alerts.pop(self._resolved_order.popleft(), None)
        if event.comment:
            view["comments"].append({"t": event.t, "by": event.by, "text": event.comment})
        self._dirty_alerts.add(event.alert_id)

    @property
    def store(self) -> EventStore | BackgroundWriter | None:
        """The event store. With a database file it is the :class:`BackgroundWriter`: writes go
        to the writer process; reads (``track_history``, ``count``, ...) wait until it has
        committed what was sent, then read through this process's connection."""
        return self._writer if self._writer is not None else self._store

    # -- operator actions --------------------------------------------------------------------------
    def _publish(self, events: Sequence[AlertEvent]) -> None:
        if self.store is not None and events:
            self.store.append_alerts_durable(events)
        for event in events:
            self._apply_alert(event)
            for listener in self.alert_listeners:
                listener(event, time.monotonic())

    def acknowledge(self, alert_id: int, by: str, comment: str | None) -> dict[str, Any]:
        event = self.pipeline.alerts.acknowledge(alert_id, self.clock.now(), by, comment)
        self._publish([event])
        return self.alerts[alert_id]

    def resolve(self, alert_id: int, by: str, comment: str | None) -> dict[str, Any]:
        event = self.pipeline.alerts.resolve(alert_id, self.clock.now(), by, comment)
        self._publish([event])
        return self.alerts[alert_id]

    def set_zones(self, zones: Sequence[Zone]) -> None:
        ZoneIndex(zones)  # validate geometry before touching anything
        self.zones = list(zones)
        self._zone_names = {z.id: z.name for z in self.zones}
        events = self.pipeline.set_zones(zones, self.clock.now())
        for event in events:
            self._apply_alert(event)
        self._broadcast_all({"type": "zones"})

    # -- views ---------------------------------------------------------------------------------
    def track_views(self) -> list[dict[str, Any]]:
        return [self._track_out(v) for _, v in sorted(self.tracks.items())]

    @staticmethod
    def _track_out(view: dict[str, Any]) -> dict[str, Any]:
        out = dict(view)
        out["trail"] = list(view["trail"])
        return out

    @staticmethod
    def _track_update_out(view: dict[str, Any]) -> dict[str, Any]:
        out = dict(view)
        out["trail"] = [view["trail"][-1]]  # the client appends it to the trail it has
        return out

    def alert_views(self) -> list[dict[str, Any]]:
        return sorted(self.alerts.values(), key=lambda a: a["alert_id"], reverse=True)

    def sensor_views(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [s.view(now) for _, s in sorted(self.sensors.items())]

    def listener_views(self) -> list[dict[str, Any]]:
        """The sensor-format listeners, clients and pollers, with their decoder counters."""
        return [state.view() for _, state in sorted(self.listeners.items())]

    def add_listener(self, state: ListenerState) -> None:
        """A source of a sensor format announces itself, so its counters are shown."""
        self.listeners[state.name] = state

    def sensor_status(self, status: SensorStatus) -> None:
        """A sensor's own status report: kept with the sensor, for the panel and the API."""
        stats = self._stats(status.sensor)
        stats.reported = msgspec.structs.asdict(status)
        stats.last_wall = time.monotonic()

    def zones_geojson(self) -> dict:
        doc = zones_to_geojson(self.zones)
        active: dict[str, list[int]] = {}
        for alert_id, _, zone_id, _ in self.pipeline.alerts.active_alerts():
            active.setdefault(zone_id, []).append(alert_id)
        index = self.pipeline.zone_index
        for j, feature in enumerate(doc["features"]):
            props = feature["properties"]
            props["state"] = "alert" if props["id"] in active else "clear"
            props["active_alerts"] = active.get(props["id"], [])
            if props.get("radius_m") is not None:
                props["footprint"] = index.footprint_geojson(j)
        return doc

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "uptime_s": time.monotonic() - self._started_wall,
            "data_time": self.clock.now(),
            "observations": self.observations,
            "tracks": len(self.tracks),
            "open_alerts": self.pipeline.alerts.open_count,
            "queue_depth": self.queue.qsize(),
        }

    # -- subscribers -----------------------------------------------------------------------------
    def subscribe(self, trail_delta: bool = False) -> Subscriber:
        sub = Subscriber(self.config.subscriber_queue, trail_delta)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def snapshot(self, restrict: Callable[[dict], dict] | None = None) -> dict[str, Any]:
        tracks = self.track_views()
        if restrict is not None:
            tracks = [restrict(t) for t in tracks]
        return {"type": "snapshot", "t": self.clock.now(), "tracks": tracks, "alerts": self.alert_views(), "sensors": self.sensor_views()}

    def _broadcast_all(self, frame: dict) -> None:
        for sub in list(self.subscribers):
            self._offer_frame(sub, frame)

    def _offer_frame(self, sub: Subscriber, frame: dict) -> None:
        try:
            sub.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # Too slow: drop what it has not read; it gets a fresh snapshot instead.
            sub.overflows += 1
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.needs_snapshot = True

    def _flush_frames(self) -> None:
        if not (self._dirty_tracks or self._removed_tracks or self._dirty_alerts):
            return
        if not self.subscribers:  # nobody to send it to; a client that connects starts from a snapshot
            self._dirty_tracks.clear()
            self._removed_tracks.clear()
            self._dirty_alerts.clear()
            return
        dirty = [self.tracks[i] for i in sorted(self._dirty_tracks) if i in self.tracks]
        frames: dict[bool, dict] = {}
        for sub in list(self.subscribers):
            frame = frames.get(sub.trail_delta)
            if frame is None:
                out = self._track_update_out if sub.trail_delta else self._track_out
                frame = frames[sub.trail_delta] = {
                    "type": "update",
                    "t": self.clock.now(),
                    "tracks": [out(view) for view in dirty],
                    "removed": sorted(self._removed_tracks),
                    "alerts": [self.alerts[a] for a in sorted(self._dirty_alerts) if a in self.alerts],
                }
            self._offer_frame(sub, frame)
        self._dirty_tracks.clear()
        self._removed_tracks.clear()
        self._dirty_alerts.clear()

    # -- tasks -----------------------------------------------------------------------------------
    async def _ticker(self) -> None:
        next_frame = time.monotonic()
        next_sensors = time.monotonic()
        next_prune = time.monotonic() + self.config.prune_every_s
        next_tick = time.monotonic()
        while True:
            self.process_once()
            now = time.monotonic()
            if self.config.retention_s is not None and self._store is not None and now >= next_prune:
                self.store.prune(self.clock.now() - self.config.retention_s)
                next_prune = now + self.config.prune_every_s
            if now >= next_frame:
                self._flush_frames()
                next_frame = now + self.config.frame_interval_s
            if now >= next_sensors:
                self._broadcast_all({"type": "sensors", "sensors": self.sensor_views()})
                next_sensors = now + 2.0
            # A fixed cadence: the period is tick_s, not tick_s plus the work.
            next_tick = max(next_tick + self.config.tick_s, time.monotonic())
            await asyncio.sleep(next_tick - time.monotonic())

    def start(self, *sources: Any) -> None:
        """Start the ticker and the given source coroutines as tasks (inside a running loop)."""
        self._tasks.append(asyncio.create_task(self._ticker(), name="skywarden-ticker"))
        for i, source in enumerate(sources):
            self._tasks.append(asyncio.create_task(source, name=f"skywarden-source-{i}"))

    async def shutdown(self) -> None:
        """Stop the sources, process everything accepted, resolve open alerts and commit."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._drain_queue()
        self.pipeline.advance(self.clock.now() - self.config.reorder_s)
        self.pipeline.finish()
        self._flush_frames()
        if self._writer is not None:
            self._writer.close()
        if self._store is not None:
            self._store.commit()
