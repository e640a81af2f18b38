"""Per-UA assembly: turn a transmitter's stream of Remote ID messages into observations.

Remote ID spreads a UA's state over separate messages: identity (Basic ID), position
(Location/Vector), operator position (System), operator id and Self-ID. A receiver keeps, per
transmitter (keyed by its MAC address, or the ``id_or_mac`` of MAVLink), the newest of each and
emits one :class:`~skywarden.core.records.RemoteIdObservation` per Location/Vector message that has
a valid position, carrying everything known about that UA at that moment.

Choices (documented for users in docs/sources/remoteid.md):

* **Identity before the Basic ID.** A Location that arrives before any Basic ID of its transmitter
  is held for up to ``hold_s`` seconds (option, default 2; :class:`HoldQueue`). If the Basic ID
  comes within that time the held observations get the real ID (and the operator fields, when
  those came too); if not, they go out with the placeholder ``uas_id`` ``"mac:" + MAC`` (e.g.
  ``mac:90:3a:e6:5b:c8:a8``), and so do later ones until a Basic ID arrives. Output stays in time
  order: observations behind a held one wait for it. ``hold_s=0`` emits at once. Messages of one
  Message Pack are applied before its Location, so a pack carrying both never needs the hold.
* **Two Basic IDs.** A UA may send two (say a serial number and a session ID). ``uas_id`` is the
  newest of the most durable kind: serial number, then CAA registration, UTM UUID, specific session
  ID, then type "none".
* **Altitude.** ``alt_m`` is the geodetic altitude (WGS84 ellipsoid) when the UA sends one. Else the
  pressure altitude (standard atmosphere, 1013.25 hPa) is used as it is, without a QNH or geoid
  correction, so it may be off by tens of metres. Else ``ground + height``, where ground is, in
  this order, the ``ground_alt_m`` option, the sensor altitude (``--sensor-position``), the
  operator's altitude (System message), or 0; ``v_acc_m`` is then left out. ``v_acc_m`` is the
  geodetic or barometric accuracy bound of the altitude used.
* **Accuracies.** ``h_acc_m``, ``v_acc_m``, ``speed_acc_mps`` are the upper bounds of the F3411
  accuracy classes (:func:`.messages.h_accuracy_m`), reported as is; unknown classes are left out.
* **Time.** The observation time is the reception time (pcap capture time, receiver time stamp).
  With ``time=message`` it is the Location's own time stamp (tenths of a second after the hour),
  placed in the hour nearest the reception time; Locations without a time stamp keep the
  reception time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import msgspec

from skywarden.core.records import RemoteIdObservation
from skywarden.sources.decode import DecodeOptions, DecodeStats
from skywarden.sources.remoteid.messages import (
    HEIGHT_REF_NAMES,
    ID_TYPE_NAMES,
    STATUS_NAMES,
    UA_TYPE_NAMES,
    BasicId,
    Location,
    Message,
    OperatorId,
    SelfId,
    System,
    full_time,
    h_accuracy_m,
    is_clean_text,
    name_of,
    speed_accuracy_mps,
    v_accuracy_m,
)

__all__ = ["UaAssembler", "HoldQueue", "UaState", "placeholder_id", "observation_from_state", "ALT_MIN", "ALT_MAX"]

ALT_MIN, ALT_MAX = -1_000.0, 30_000.0
_T_MIN, _T_MAX = 631_152_000.0, 7_258_118_400.0
#: Basic ID types in order of preference for ``uas_id`` (serial first, "none" last).
_ID_PREFERENCE = (1, 2, 3, 4, 0)


def placeholder_id(mac: str) -> str:
    """The stand-in ``uas_id`` of a transmitter whose Basic ID has not been received yet."""
    return f"mac:{mac}"


class UaState:
    """What is known about one transmitter; the newest message of each kind."""

    __slots__ = ("ids", "ua_type", "id_type", "operator_lat", "operator_lon", "operator_alt_m", "operator_id", "self_id")

    def __init__(self) -> None:
        self.ids: dict[int, str] = {}
        self.ua_type: int | None = None
        self.id_type: int | None = None
        self.operator_lat: float | None = None
        self.operator_lon: float | None = None
        self.operator_alt_m: float | None = None
        self.operator_id: str | None = None
        self.self_id: str | None = None

    def apply(self, msg: Message) -> str | None:
        """Take in one non-Location message; a reject reason when it carries a corrupt ID."""
        if isinstance(msg, BasicId):
            if msg.id_type == 0 and not msg.uas_id:
                return None
            if not is_clean_text(msg.uas_id):
                return "bad_uas_id"
            self.ids[msg.id_type] = msg.uas_id
            self.ua_type = msg.ua_type
        elif isinstance(msg, System):
            if msg.operator_lat is not None:
                self.operator_lat, self.operator_lon = msg.operator_lat, msg.operator_lon
            self.operator_alt_m = msg.operator_alt_m if msg.operator_alt_m is not None and ALT_MIN <= msg.operator_alt_m <= ALT_MAX else None
        elif isinstance(msg, OperatorId):
            if msg.operator_id:
                if not is_clean_text(msg.operator_id):
                    return "bad_operator_id"
                self.operator_id = msg.operator_id
        elif isinstance(msg, SelfId):
            if msg.text:
                self.self_id = msg.text if is_clean_text(msg.text) else None
        return None

    def uas_id(self) -> tuple[str | None, int | None]:
        """``(uas_id, id_type)`` by preference, ``(None, None)`` before any Basic ID."""
        for kind in _ID_PREFERENCE:
            if kind in self.ids:
                return self.ids[kind], kind
        for kind, value in self.ids.items():  # reserved ID types
            return value, kind
        return None, None


def _ground(state: UaState, options: DecodeOptions) -> float:
    ground = options.extra.get("ground_alt_m")
    if ground is not None:
        try:
            return float(ground)
        except ValueError:
            pass
    if options.sensor_alt_m is not None:
        return options.sensor_alt_m
    if state.operator_alt_m is not None:
        return state.operator_alt_m
    return 0.0


def _altitude(loc: Location, state: UaState, options: DecodeOptions) -> tuple[float, float | None]:
    """``(alt_m above the ellipsoid, its accuracy bound or None)``; see the module docstring."""
    if loc.alt_geo_m is not None and ALT_MIN <= loc.alt_geo_m <= ALT_MAX:
        return loc.alt_geo_m, v_accuracy_m(loc.v_acc)
    if loc.alt_baro_m is not None and ALT_MIN <= loc.alt_baro_m <= ALT_MAX:
        return loc.alt_baro_m, v_accuracy_m(loc.baro_acc)
    alt = _ground(state, options) + (loc.height_m or 0.0)
    return min(max(alt, ALT_MIN), ALT_MAX), None


def observation_from_state(loc: Location, state: UaState, key: str, t: float, sensor: str, transport: str | None,
                           options: DecodeOptions, use_message_time: bool = False) -> RemoteIdObservation | None:
    """The observation of one Location with a valid position, or ``None`` when it has none."""
    if loc.lat is None or loc.lon is None:
        return None
    if use_message_time and loc.timestamp_s is not None:
        t = full_time(loc.timestamp_s, t)
    alt, v_acc = _altitude(loc, state, options)
    uas_id, id_type = state.uas_id()
    height = loc.height_m if loc.height_m is not None and ALT_MIN <= loc.height_m <= ALT_MAX else None
    return RemoteIdObservation(
        t=t,
        sensor=sensor,
        lat=loc.lat,
        lon=loc.lon,
        alt_m=alt,
        uas_id=uas_id or placeholder_id(key),
        speed_mps=loc.speed_mps,
        track_deg=loc.direction_deg,
        vspeed_mps=loc.vspeed_mps,
        operator_lat=state.operator_lat,
        operator_lon=state.operator_lon,
        h_acc_m=h_accuracy_m(loc.h_acc),
        v_acc_m=v_acc,
        speed_acc_mps=speed_accuracy_mps(loc.speed_acc),
        operator_alt_m=state.operator_alt_m,
        operator_id=state.operator_id,
        id_type=name_of(ID_TYPE_NAMES, id_type),
        ua_type=name_of(UA_TYPE_NAMES, state.ua_type),
        status=name_of(STATUS_NAMES, loc.status),
        height_m=height,
        height_ref=name_of(HEIGHT_REF_NAMES, loc.height_type) if height is not None else None,  # type: ignore[arg-type]
        self_id=state.self_id,
        transport=transport,
    )


class UaAssembler:
    """Keeps a :class:`UaState` per transmitter and makes observations from its messages."""

    def __init__(self, options: DecodeOptions, default_sensor: str = "remoteid") -> None:
        self.options = options
        self.sensor = options.sensor or default_sensor
        self.use_message_time = options.extra.get("time", "capture") == "message"
        self.states: dict[str, UaState] = {}

    def feed(self, key: str, t: float, messages: Iterable[Message], transport: str | None
             ) -> tuple[list[RemoteIdObservation], str | None, int]:
        """Apply the messages one packet carried, received at ``t`` (UNIX s) from transmitter ``key``.

        Returns ``(observations, problem, no_position)``: ``problem`` is the first reject reason
        met (``bad_uas_id``, ``bad_time``, ...) or ``None``; ``no_position`` counts Locations
        without a position fix.
        """
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = UaState()
        problem = None
        locations = []
        for msg in messages:
            if isinstance(msg, Location):
                locations.append(msg)
            else:
                reason = state.apply(msg)
                problem = problem or reason
        out = []
        no_position = 0
        for loc in locations:
            if not _T_MIN <= t <= _T_MAX:
                problem = problem or "bad_time"
                continue
            obs = observation_from_state(loc, state, key, t, self.sensor, transport, self.options, self.use_message_time)
            if obs is None:
                no_position += 1
            elif _T_MIN <= obs.t <= _T_MAX:
                out.append(obs)
            else:
                problem = problem or "bad_time"
        return out, problem, no_position

    def feed_counted(self, key: str, t: float, messages: Iterable[Message], transport: str | None,
                     stats: DecodeStats, where: str, problem: str | None = None, detail: str = "") -> list[RemoteIdObservation]:
        """:meth:`feed`, with the packet counted in ``stats``: rejected with the first problem
        (``problem`` met earlier, while framing, wins), else decoded; Locations without a
        position fix are counted as skipped ``no_position``."""
        observations, reason, no_position = self.feed(key, t, messages, transport)
        problem = problem or reason
        if problem:
            stats.reject(where, problem, detail)
        else:
            stats.decoded += 1
        if no_position:
            stats.skip("no_position", no_position)
        return observations


class HoldQueue:
    """Holds the observations of transmitters whose Basic ID is not known yet (see the module doc).

    ``push`` takes a packet's observations (in time order) and returns those ready to go out;
    ``flush`` returns the rest at the end of the input.
    """

    def __init__(self, assembler: UaAssembler, hold_s: float) -> None:
        self.assembler = assembler
        self.hold_s = hold_s
        self._queue: deque[list] = deque()  # [observation, transmitter key, final]
        self._pending = 0

    def push(self, key: str, t_now: float, observations: list[RemoteIdObservation]) -> list[RemoteIdObservation]:
        state = self.assembler.states.get(key)
        known = state is not None and state.uas_id()[0] is not None
        if self.hold_s <= 0 or (not self._queue and known):
            return observations
        for obs in observations:
            self._queue.append([obs, key, known])
            self._pending += not known
        if self._pending:
            self._settle(t_now)
        return self._release()

    def _settle(self, t_now: float) -> None:
        for entry in self._queue:
            if entry[2]:
                continue
            obs, key = entry[0], entry[1]
            state = self.assembler.states[key]
            uas_id, id_type = state.uas_id()
            if uas_id is not None:
                entry[0] = msgspec.structs.replace(
                    obs, uas_id=uas_id, id_type=name_of(ID_TYPE_NAMES, id_type), ua_type=name_of(UA_TYPE_NAMES, state.ua_type),
                    operator_lat=obs.operator_lat if obs.operator_lat is not None else state.operator_lat,
                    operator_lon=obs.operator_lon if obs.operator_lat is not None else state.operator_lon,
                    operator_alt_m=obs.operator_alt_m if obs.operator_alt_m is not None else state.operator_alt_m,
                    operator_id=obs.operator_id or state.operator_id,
                    self_id=obs.self_id or state.self_id,
                )
            elif t_now - obs.t <= self.hold_s and t_now >= obs.t:
                continue
            entry[2] = True
            self._pending -= 1

    def _release(self) -> list[RemoteIdObservation]:
        out = []
        while self._queue and self._queue[0][2]:
            out.append(self._queue.popleft()[0])
        return out

    def tick(self, key: str, t_now: float) -> list[RemoteIdObservation]:
        """Re-check the held observations after a packet that produced none (its Basic ID may have come)."""
        if not self._pending:
            return []
        self._settle(t_now)
        return self._release()

    def flush(self) -> list[RemoteIdObservation]:
        """Everything still held, placeholders resolved where the ID has come meanwhile."""
        self._settle(float("inf"))
        for entry in self._queue:
            entry[2] = True
        self._pending = 0
        return self._release()


def hold_seconds(options: DecodeOptions, default: float = 2.0) -> float:
    """The ``hold_s`` option (seconds to hold Locations waiting for a Basic ID), ``default`` if unset or bad."""
    try:
        value = float(options.extra.get("hold_s", default))
    except ValueError:
        return default
    return value if value == value and value >= 0 else default
