"""Stateful per-aircraft Mode S / ADS-B decoder shared by every frame-based format.

Beast, AVR and modes-csv all hand raw Mode S frames to one :class:`AdsbDecoder`, so a file and
a live stream of the same frames decode to the same observations. rs1090 decodes each frame's
fields (and checks its CRC); this module keeps what needs memory:

* **CPR positions**, decoded here from rs1090's per-frame CPR fields (:mod:`.cpr`), because
  rs1090's own position resolution lives in its batch call and forgets everything between calls,
  which a live stream cannot use. Order of preference for a new airborne position frame:
  local decoding relative to the aircraft's own last position (if younger than
  ``local_max_age_s``), else global decoding from the latest even/odd pair (both within
  ``pair_window_s``), else local decoding relative to the receiver (``sensor_position``), but
  only when ``max_range_km`` is at most 333 km: beyond half a CPR zone a receiver-relative
  decode would alias a distant aircraft into the receiver's own zone.
* **Gating** of every new position: further than ``max_range_km`` from the receiver (when its
  position is known) is rejected as ``out_of_range``; a jump from the aircraft's last position
  faster than ``max_speed_mps`` (plus ``slack_m`` for time-stamp rounding) is rejected as
  ``implausible_position``. After ``max_bad_positions`` such rejects in a row the aircraft's
  last position is dropped, since then it was the last position that was wrong, and the next
  global pair starts afresh.
* **Context** carried into each position: callsign and emitter category from identification
  frames, ground speed, track and vertical rate from velocity frames (used while younger than
  ``velocity_max_age_s``), and the geometric-minus-barometric altitude difference.
* **TTL eviction**: an aircraft not heard for ``ttl_s`` is forgotten (swept every 10 s of
  message time), and at most ``max_aircraft`` are kept, so memory stays bounded.

Altitudes: type codes 9-18 carry barometric (pressure) altitude, in feet above the 1013.25 hPa
isobar. ``alt_baro_m`` is that in metres. ``alt_m`` (metres above the WGS84 ellipsoid) is the
barometric altitude plus the aircraft's own GNSS-minus-baro difference from its velocity frames
when one was heard in the last ``geo_diff_max_age_s``; otherwise it is the barometric altitude
itself, an approximation that is off by the local pressure deviation and the geoid height (tens
to a few hundred metres). Type codes 20-22 carry GNSS height (HAE), which is ``alt_m`` directly.

Every frame ends in exactly one of: an observation, a skip (``no_position``, ``surface_position``,
``cpr_unpaired``, ``cpr_straddle``, ``no_altitude``, ``all_call``, ``comm_b``,
``surveillance_reply``, ``tisb_adsr``) or a reject (``bad_crc``, ``undecodable``,
``bad_timestamp``, ``out_of_range``, ``implausible_position``, ``implausible_altitude``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import asin, cos, radians, sin, sqrt
from typing import Any

import rs1090

from skywarden.core.records import AdsbObservation
from skywarden.sources.adsb.cpr import global_position, local_position
from skywarden.sources.adsb.modes import (
    FPM_MPS,
    FT_M,
    KT_MPS,
    crc24_residue,
    downlink_format,
    emitter_category,
)
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError

__all__ = [
    "AdsbSettings",
    "AircraftState",
    "AircraftTable",
    "AdsbDecoder",
    "make_observation",
    "haversine_m",
    "clean_callsign",
    "T_MIN",
    "T_MAX",
]

#: The range of ``UnixTime`` in records.py: times outside it are not UNIX seconds.
T_MIN = 631_152_000.0
T_MAX = 7_258_118_400.0
_EARTH_RADIUS_M = 6_371_008.8
_HALF_ZONE_KM = 333.0


@dataclass(frozen=True)
class AdsbSettings:
    """Tunables of the ADS-B decoders; each can be set with ``--option NAME=VALUE``."""

    ttl_s: float = 300.0
    """Forget an aircraft not heard for this long (s)."""
    max_aircraft: int = 20_000
    """Hard cap on aircraft kept in memory; the least recently heard go first."""
    pair_window_s: float = 10.0
    """Largest time between an even and an odd frame for global CPR decoding (s)."""
    local_max_age_s: float = 60.0
    """Decode locally from the aircraft's last position while it is younger than this (s)."""
    max_range_km: float = 450.0
    """Reject positions further than this from the receiver, when its position is known."""
    max_speed_mps: float = 700.0
    """Reject position jumps faster than this (m/s); Mach 2 at altitude is about 600 m/s."""
    slack_m: float = 3_000.0
    """Distance allowed on top of ``max_speed_mps * dt``, for whole-second time stamps."""
    max_bad_positions: int = 3
    """After this many implausible positions in a row, drop the last position and re-acquire."""
    velocity_max_age_s: float = 30.0
    """Attach speed, track and vertical rate heard at most this long before the position (s)."""
    geo_diff_max_age_s: float = 120.0
    """Use a geometric-minus-baro difference heard at most this long before the position (s)."""
    altitude_max_age_s: float = 10.0
    """A position frame without altitude borrows the aircraft's altitude this recent (s)."""

    @classmethod
    def from_options(cls, options: DecodeOptions) -> AdsbSettings:
        """Settings from ``options.extra``; unknown keys are left to other layers."""
        values: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            if name in options.extra:
                raw = options.extra[name]
                try:
                    values[name] = int(raw) if f.type == "int" else float(raw)
                except ValueError:
                    raise FormatError(f"option {name}={raw!r} is not a number") from None
                if values[name] < 0:
                    raise FormatError(f"option {name}={raw!r} must not be negative")
        return cls(**values)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on a sphere of the Earth's mean radius (0.5 % accurate)."""
    p1 = radians(lat1)
    p2 = radians(lat2)
    a = sin((p2 - p1) / 2.0) ** 2 + cos(p1) * cos(p2) * sin(radians(lon2 - lon1) / 2.0) ** 2
    return 2.0 * _EARTH_RADIUS_M * asin(min(1.0, sqrt(a)))


def clean_callsign(raw: Any) -> str | None:
    """A callsign without padding (``_``, ``#``, spaces); ``None`` when nothing is left."""
    if not isinstance(raw, str):
        return None
    text = raw.replace("_", " ").replace("#", " ").strip()
    return text or None


class AircraftState:
    """What is known about one aircraft between its frames."""

    __slots__ = (
        "icao", "last_seen", "callsign", "category",
        "even", "odd", "pos", "n_bad",
        "speed_mps", "track_deg", "vspeed_mps", "vel_t",
        "geo_diff_ft", "geo_diff_t", "alt_ft", "alt_gnss", "alt_t",
    )

    def __init__(self, icao: str, t: float) -> None:
        self.icao = icao
        self.last_seen = t
        self.callsign: str | None = None
        self.category: str | None = None
        self.even: tuple[int, int, float] | None = None
        """Latest even CPR frame: (lat_cpr, lon_cpr, t)."""
        self.odd: tuple[int, int, float] | None = None
        self.pos: tuple[float, float, float] | None = None
        """Last accepted position: (lat, lon, t)."""
        self.n_bad = 0
        self.speed_mps: float | None = None
        self.track_deg: float | None = None
        self.vspeed_mps: float | None = None
        self.vel_t = -1e18
        self.geo_diff_ft: float | None = None
        self.geo_diff_t = -1e18
        self.alt_ft: float | None = None
        self.alt_gnss = False
        self.alt_t = -1e18


class AircraftTable:
    """Per-ICAO state with time-to-live eviction and a size cap, so memory stays bounded."""

    def __init__(self, ttl_s: float, max_aircraft: int) -> None:
        self.ttl_s = ttl_s
        self.max_aircraft = max(1, max_aircraft)
        self.aircraft: dict[str, AircraftState] = {}
        self._next_sweep = -1e18
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.aircraft)

    def get(self, icao: str, t: float) -> AircraftState:
        """The state of ``icao``, created if new; ``t`` (UNIX s) marks it heard."""
        state = self.aircraft.get(icao)
        if state is None:
            if t >= self._next_sweep or len(self.aircraft) >= self.max_aircraft:
                self.sweep(t)
            state = self.aircraft[icao] = AircraftState(icao, t)
        elif t > state.last_seen:
            state.last_seen = t
        if t >= self._next_sweep:
            self.sweep(t)
        return state

    def sweep(self, t: float) -> None:
        """Forget aircraft not heard for ``ttl_s``; then the oldest beyond ``max_aircraft``."""
        self._next_sweep = t + 10.0
        limit = t - self.ttl_s
        stale = [k for k, s in self.aircraft.items() if s.last_seen < limit]
        if len(self.aircraft) - len(stale) >= self.max_aircraft:
            keep = sorted((s.last_seen, k) for k, s in self.aircraft.items() if s.last_seen >= limit)
            stale += [k for _, k in keep[: len(keep) - self.max_aircraft + 1]]
        for k in stale:
            del self.aircraft[k]
        self.evicted += len(stale)


def make_observation(
    *,
    t: float,
    sensor: str,
    icao: str,
    lat: float,
    lon: float,
    alt_m: float,
    alt_baro_m: float | None = None,
    callsign: str | None = None,
    category: str | None = None,
    speed_mps: float | None = None,
    track_deg: float | None = None,
    vspeed_mps: float | None = None,
    on_ground: bool | None = False,
) -> AdsbObservation | str:
    """An :class:`AdsbObservation` with every value inside its declared range, or a reject reason.

    Position, altitude and time out of range reject the observation; an out-of-range speed,
    track or vertical rate is only dropped (the position is still good).
    """
    if not (T_MIN <= t <= T_MAX):
        return "bad_timestamp"
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return "bad_position"
    if not (-1000.0 <= alt_m <= 30000.0):
        return "implausible_altitude"
    if alt_baro_m is not None and not (-1000.0 <= alt_baro_m <= 30000.0):
        alt_baro_m = None
    if speed_mps is not None and not (0.0 <= speed_mps <= 2000.0):
        speed_mps = None
    if track_deg is not None and not (0.0 <= track_deg <= 360.0):
        track_deg = None
    if vspeed_mps is not None and not (-500.0 <= vspeed_mps <= 500.0):
        vspeed_mps = None
    if callsign is not None and len(callsign) > 16:
        callsign = callsign[:16]
    return AdsbObservation(
        t=t, sensor=sensor, lat=lat, lon=lon, alt_m=alt_m, icao24=icao, callsign=callsign,
        speed_mps=speed_mps, track_deg=track_deg, vspeed_mps=vspeed_mps, alt_baro_m=alt_baro_m,
        category=category, on_ground=on_ground,
    )


_NON_ADSB_SKIP = {0: "surveillance_reply", 4: "surveillance_reply", 5: "surveillance_reply", 16: "surveillance_reply",
                  11: "all_call", 20: "comm_b", 21: "comm_b", 24: "comm_d", 19: "military"}


class AdsbDecoder:
    """Decodes raw Mode S frames one at a time, keeping per-aircraft state (see module docstring).

    Each call to :meth:`decode` counts one message in ``stats`` and ends it in exactly one of
    an observation (returned, and counted with ``stats.produced``), a skip or a reject.

    Example:
        >>> from skywarden.sources.decode import DecodeOptions, DecodeStats
        >>> stats = DecodeStats()
        >>> dec = AdsbDecoder(DecodeOptions(), stats)
        >>> dec.decode("8D406B9058B97218E77D23BEAD12", 1457996400.0, "line 1")  # even, no pair yet
        >>> obs = dec.decode("8D406B9058B975870B738754F480", 1457996401.0, "line 2")
        >>> obs.icao24, round(obs.lat, 4), round(obs.lon, 4), round(obs.alt_baro_m)
        ('406b90', 51.1436, 7.2564, 10965)
        >>> stats.skipped_by_reason, stats.observations
        ({'cpr_unpaired': 1}, 1)
    """

    def __init__(self, options: DecodeOptions, stats: DecodeStats, settings: AdsbSettings | None = None) -> None:
        self.options = options
        self.stats = stats
        self.settings = settings or AdsbSettings.from_options(options)
        self.sensor = options.sensor or "adsb"
        self.receiver = options.sensor_position
        self.table = AircraftTable(self.settings.ttl_s, self.settings.max_aircraft)
        self._max_range_m = self.settings.max_range_km * 1000.0
        # Local decoding relative to the receiver is unambiguous only for aircraft within half a
        # CPR zone (3 degrees of latitude, 333 km); beyond, it silently aliases a far aircraft
        # into the receiver's zone. So it is used only when the user's max range promises that.
        self._receiver_ref = self.receiver if self.settings.max_range_km <= _HALF_ZONE_KM else None

    # -- entry point -------------------------------------------------------------------------

    def decode(self, frame_hex: str, t: float, where: str, timed: bool = True) -> AdsbObservation | None:
        """Decode one frame given as hex (14 or 28 digits) received at ``t`` (UNIX s UTC).

        ``timed`` is False when ``t`` is not the frame's own time (a file without time stamps):
        then the speed gate is off, since time differences mean nothing.
        """
        stats = self.stats
        stats.messages += 1
        try:
            frame = bytes.fromhex(frame_hex)
        except ValueError:
            stats.reject(where, "bad_hex", frame_hex[:40])
            return None
        if len(frame) not in (7, 14):
            stats.reject(where, "bad_length", f"{len(frame)} bytes")
            return None
        df = downlink_format(frame[0])
        if len(frame) != (14 if df >= 16 else 7):
            stats.reject(where, "bad_length", f"DF{df} in {len(frame)} bytes")
            return None
        if not (T_MIN <= t <= T_MAX):
            stats.reject(where, "bad_timestamp", repr(t))
            return None
        try:
            msg = rs1090.decode(frame_hex)
        except Exception as exc:  # rs1090 raises on frames its parser does not accept
            stats.reject(where, "undecodable", f"{type(exc).__name__}: {exc}"[:80])
            return None
        if msg is None:
            residue = crc24_residue(frame)
            if (df in (17, 18) and residue != 0) or (df == 11 and residue & 0xFFFF80):
                stats.reject(where, "bad_crc", f"DF{df} residue {residue:06x}")
            else:
                stats.reject(where, "undecodable", f"DF{df}")
            return None
        stats.decoded += 1
        if df == 17 or (df == 18 and msg.get("tisb") == "ADSB_ES_NT"):
            return self._extended_squitter(frame, msg, t, where, timed)
        stats.skip("tisb_adsr" if df == 18 else _NON_ADSB_SKIP.get(df, "no_position"))
        return None

    # -- ADS-B --------------------------------------------------------------------------------

    def _extended_squitter(self, frame: bytes, msg: dict, t: float, where: str, timed: bool) -> AdsbObservation | None:
        icao = msg.get("icao24")
        if not isinstance(icao, str) or len(icao) != 6:
            self.stats.skip("no_position")
            return None
        state = self.table.get(icao, t)
        bds = msg.get("bds")
        if bds == "05":
            return self._airborne_position(state, msg, t, where, timed)
        if bds == "09":
            self._velocity(state, msg, t)
            self.stats.skip("no_position")
        elif bds == "08":
            callsign = clean_callsign(msg.get("callsign"))
            if callsign:
                state.callsign = callsign
            state.category = emitter_category(frame)
            self.stats.skip("no_position")
        elif bds == "06":
            self.stats.skip("surface_position")
        else:
            self.stats.skip("no_position")
        return None

    def _velocity(self, state: AircraftState, msg: dict, t: float) -> None:
        gs = msg.get("groundspeed")
        track = msg.get("track")
        vr = msg.get("vertical_rate")
        state.speed_mps = gs * KT_MPS if isinstance(gs, (int, float)) else None
        state.track_deg = float(track) % 360.0 if isinstance(track, (int, float)) else None
        state.vspeed_mps = vr * FPM_MPS if isinstance(vr, (int, float)) else None
        state.vel_t = t
        gmb = msg.get("geo_minus_baro")
        if isinstance(gmb, (int, float)):
            state.geo_diff_ft = float(gmb)
            state.geo_diff_t = t

    def _airborne_position(self, state: AircraftState, msg: dict, t: float, where: str, timed: bool) -> AdsbObservation | None:
        stats = self.stats
        s = self.settings
        lat_cpr = msg.get("lat_cpr")
        lon_cpr = msg.get("lon_cpr")
        if not isinstance(lat_cpr, int) or not isinstance(lon_cpr, int):
            stats.skip("no_position")
            return None
        odd = msg.get("parity") == "odd"
        altitude = msg.get("altitude")
        gnss = msg.get("source") == "GNSS"
        if isinstance(altitude, (int, float)):
            state.alt_ft, state.alt_gnss, state.alt_t = float(altitude), gnss, t
        elif state.alt_ft is not None and abs(t - state.alt_t) <= s.altitude_max_age_s:
            altitude, gnss = state.alt_ft, state.alt_gnss
        frame_cpr = (lat_cpr, lon_cpr, t)
        previous = state.odd if odd else state.even
        if odd:
            state.odd = frame_cpr
        else:
            state.even = frame_cpr

        pos = self._resolve(state, lat_cpr, lon_cpr, odd, t)
        if pos is None:
            return None
        lat, lon = pos
        if not self.accept_position(state, lat, lon, t, timed, where):
            # A rejected frame must not pair with the next one: keep the frame it replaced.
            if odd:
                state.odd = previous
            else:
                state.even = previous
            return None
        if not isinstance(altitude, (int, float)):
            stats.skip("no_altitude")
            return None
        return self._observation(state, lat, lon, float(altitude), gnss, t, where)

    def accept_position(self, state: AircraftState, lat: float, lon: float, t: float, timed: bool, where: str) -> bool:
        """Gate a new position of ``state``'s aircraft; on success it becomes the last position.

        Rejects (counted) ``out_of_range`` beyond ``max_range_km`` of the receiver and
        ``implausible_position`` for a jump faster than ``max_speed_mps`` (the speed test needs
        ``timed``; without it only jumps over 1,000 km are refused).
        """
        s = self.settings
        if self.receiver is not None:
            rng = haversine_m(self.receiver[0], self.receiver[1], lat, lon)
            if rng > self._max_range_m:
                self.stats.reject(where, "out_of_range", f"{state.icao} {rng / 1000:.0f} km from the receiver")
                return False
        if state.pos is not None:
            plat, plon, pt = state.pos
            dist = haversine_m(plat, plon, lat, lon)
            allowed = s.slack_m + (s.max_speed_mps * abs(t - pt) if timed else 1e6)
            if dist > allowed:
                state.n_bad += 1
                if state.n_bad >= s.max_bad_positions:
                    state.pos = None
                    state.n_bad = 0
                self.stats.reject(where, "implausible_position", f"{state.icao} jumped {dist / 1000:.1f} km in {t - pt:.1f} s")
                return False
        state.n_bad = 0
        state.pos = (lat, lon, t)
        return True

    def _resolve(self, state: AircraftState, lat_cpr: int, lon_cpr: int, odd: bool, t: float) -> tuple[float, float] | None:
        """The frame's position by the first CPR method whose preconditions hold; counts a skip if none."""
        s = self.settings
        if state.pos is not None and abs(t - state.pos[2]) <= s.local_max_age_s:
            return local_position(lat_cpr, lon_cpr, odd, state.pos[0], state.pos[1])
        other = state.even if odd else state.odd
        if other is not None and abs(t - other[2]) <= s.pair_window_s:
            if odd:
                pos = global_position(other[0], other[1], lat_cpr, lon_cpr, newest_odd=True)
            else:
                pos = global_position(lat_cpr, lon_cpr, other[0], other[1], newest_odd=False)
            if pos is not None:
                return pos
            if self._receiver_ref is None:
                self.stats.skip("cpr_straddle")
                return None
        if self._receiver_ref is not None:
            return local_position(lat_cpr, lon_cpr, odd, self._receiver_ref[0], self._receiver_ref[1])
        self.stats.skip("cpr_unpaired")
        return None

    def _observation(self, state: AircraftState, lat: float, lon: float, altitude_ft: float, gnss: bool,
                     t: float, where: str) -> AdsbObservation | None:
        s = self.settings
        if gnss:
            alt_baro_m = None
            alt_m = altitude_ft * FT_M
        else:
            alt_baro_m = altitude_ft * FT_M
            if state.geo_diff_ft is not None and abs(t - state.geo_diff_t) <= s.geo_diff_max_age_s:
                alt_m = (altitude_ft + state.geo_diff_ft) * FT_M
            else:
                alt_m = alt_baro_m
        fresh = abs(t - state.vel_t) <= s.velocity_max_age_s
        obs = make_observation(
            t=t, sensor=self.sensor, icao=state.icao, lat=lat, lon=lon, alt_m=alt_m, alt_baro_m=alt_baro_m,
            callsign=state.callsign, category=state.category,
            speed_mps=state.speed_mps if fresh else None,
            track_deg=state.track_deg if fresh else None,
            vspeed_mps=state.vspeed_mps if fresh else None,
        )
        if isinstance(obs, str):
            self.stats.reject(where, obs, f"{state.icao} alt {alt_m:.0f} m")
            return None
        self.stats.produced(obs)
        return obs
