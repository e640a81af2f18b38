"""ASTERIX from recorded files (raw data blocks, pcap/pcapng of UDP datagrams) and from live UDP.

What becomes what:

* **CAT048** monoradar target reports -> :class:`PlotObservation` with the measured slant range
  and azimuth (I048/040, or I048/042 Cartesian when 040 is absent), the Mode S address
  (I048/220) as ``icao24`` and the radar's track number (I048/161) as ``sensor_track``. The
  position is computed from the radar's position (see *radar position* below).
* **CAT062** system tracks -> :class:`PlotObservation` at I062/105 (WGS84), with ``sensor_track``
  from I062/040 and ``icao24`` from I062/380 ADR.
* **CAT034** service messages (north marker, sector crossing, filtering, jamming strobe) ->
  :class:`SensorStatus` (state from I034/050 system status; a jamming strobe is ``degraded``).
* Every other category is counted as skipped (``category_21``, ...), never decoded.

**Altitudes.** ``alt_m`` is metres; where it comes from, in order of preference:
CAT048: I048/110 3D-radar height, else the validated Mode C flight level I048/090; CAT062:
I062/130 geometric altitude, else I062/136 measured flight level, else I062/135 barometric
altitude. A flight level is converted as a *pressure altitude* (FL x 100 ft at 1013.25 hPa,
:func:`~skywarden.sources.asterix.items.flight_level_to_m`): it approximates the height above
mean sea level to within a few hundred metres depending on the day's pressure, and mean sea level
is taken for the WGS84 ellipsoid (the geoid differs by up to about 100 m). With no height in the
record ``alt_m`` is ``--option default_alt_m`` (0 m unless set) with ``sigma_v_m`` =
``default_alt_sigma_m`` (1000 m), so the tracker knows it is a guess.

**Radar position** (CAT048 polar plots only): ``--option position_SAC_SIC=LAT,LON[,ALT]`` for
that radar, else ``--sensor-position`` (for all radars in the stream), else the position the
radar itself announced in a CAT034 I034/120. Without any, the plots are rejected
``no_sensor_position`` (the position is never invented). Slant range becomes ground distance and
elevation on a 4/3 effective-Earth sphere (standard refraction), then a geodesic on WGS84
(pyproj) from the radar gives lat/lon. ``elevation_deg`` is only given when the height was
measured, not defaulted.

**Time.** Records carry only a time of day (I048/140, I062/070, I034/030). In a capture the date
is the one that puts the record nearest to its packet's capture time (``--start-time`` shifts the
capture's timeline to start there); a live datagram is placed nearest to its reception time. In a
raw file the first record is placed on the UTC date of ``--start-time`` (or, without it, nearest
to the current time), and each later one nearest to the record before it: a time of day that
falls back from 23:59:59 to 00:00:00 is the next day (midnight rollover), as long as the stream
has no gap longer than 12 hours. A record without a time of day takes the packet or reception
time (raw files: the previous record's time).

**Counting.** ``messages`` counts records of CAT034/048/062, blocks of other categories, framing
failures (a block whose length field disagrees with the data) and non-UDP packets. Each ends as
exactly one record produced, one reject or one skip, so ``messages == observations + statuses +
rejected + skipped``. After a bad block length the decoder resynchronises on the next offset
from which at least two plausible block headers of known categories chain to the end of the
datagram or file (or for 8 blocks), else at the first single block that ends exactly there.

Example, a CAT048 block (SAC 25, SIC 201, 07:35:54.6 UTC, 20 NM at 90 deg, FL 100, Mode S 4ca123,
track 66) from a radar at 45 N 16 E:
    >>> import io
    >>> from skywarden.sources.decode import DecodeOptions, DecodeStats
    >>> block = bytes.fromhex("300015" "d590" "19c9" "356d4d" "14004000" "0190" "4ca123" "0042")
    >>> stats = DecodeStats()
    >>> opts = DecodeOptions(sensor_lat=45.0, sensor_lon=16.0, start_time=1700000000.0)
    >>> [plot] = read_asterix(io.BytesIO(block), opts, stats)
    >>> plot.sensor, plot.icao24, plot.sensor_track, round(plot.range_m), plot.azimuth_deg, round(plot.alt_m)
    ('asterix-25-201', '4ca123', 66, 37040, 90.0, 3048)
    >>> round(plot.lat, 3), round(plot.lon, 3), round(plot.elevation_deg, 2)
    (44.999, 16.468, 4.6)
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import msgspec
from pyproj import Geod

from skywarden.core.records import PlotObservation, SensorStatus
from skywarden.sources.asterix import items as it
from skywarden.sources.asterix.uap import DEFAULT_EDITION, EDITIONS, RecordError, Uap, compound_subitems, get_uap, parse_record
from skywarden.sources.capture import is_capture, read_packets, udp_payload
from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, Record

__all__ = ["read_asterix", "AsterixStreamDecoder", "AsterixConfig", "split_blocks", "resolve_time_of_day"]

DAY = 86400.0
_HALF_DAY = 43200.0
_EARTH_RADIUS_EFFECTIVE_M = 6371000.0 * 4.0 / 3.0
"""4/3 effective Earth radius: straight rays on this sphere model standard atmospheric refraction."""
_GEOD = Geod(ellps="WGS84")

_OPTION_DEFAULTS = {
    "default_alt_m": 0.0,
    "default_alt_sigma_m": 1000.0,
    "sigma_range_m": 50.0,
    "sigma_azimuth_deg": 0.1,
    "sigma_v_m": 30.0,
    "track_sigma_h_m": 150.0,
}

_CAT034_TYPES = {1: "north marker", 2: "sector crossing", 3: "geographical filtering", 4: "jamming strobe",
                 5: "solar storm", 6: "SSR jamming strobe", 7: "Mode S jamming strobe"}


def resolve_time_of_day(tod: float, reference: float) -> float:
    """The UNIX time with time of day ``tod`` (seconds since UTC midnight) nearest to ``reference``.

    >>> resolve_time_of_day(86399.0, 1700006400.0 + 10)   # just after midnight: yesterday's 23:59:59
    1700006399.0
    """
    t = math.floor(reference / DAY) * DAY + tod
    if t - reference > _HALF_DAY:
        t -= DAY
    elif reference - t > _HALF_DAY:
        t += DAY
    return t


def _parse_position(key: str, text: str) -> tuple[float, float, float]:
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (2, 3) or not (-90 <= parts[0] <= 90 and -180 <= parts[1] <= 180):
        raise FormatError(f"--option {key}={text!r}: expected LAT,LON[,ALT_M] in WGS84 degrees and metres")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else 0.0


@dataclass
class AsterixConfig:
    """The decoder's settings, checked once from :class:`DecodeOptions`.

    Raises :class:`FormatError` (from :meth:`from_options`) for an unknown category or edition or
    an unknown or malformed ``--option``.
    """

    uaps: dict[int, Uap]
    sensor: str | None = None
    sensor_position: tuple[float, float, float] | None = None
    positions: dict[tuple[int, int], tuple[float, float, float]] = field(default_factory=dict)
    default_alt_m: float = 0.0
    default_alt_sigma_m: float = 1000.0
    sigma_range_m: float = 50.0
    sigma_azimuth_deg: float = 0.1
    sigma_v_m: float = 30.0
    track_sigma_h_m: float = 150.0
    start_time: float | None = None

    @classmethod
    def from_options(cls, options: DecodeOptions) -> AsterixConfig:
        uaps = {cat: get_uap(cat, ed) for cat, ed in DEFAULT_EDITION.items()}
        for key, edition in options.edition.items():
            try:
                cat = int(str(key).lower().removeprefix("cat"))
            except ValueError:
                raise FormatError(f"--edition {key}={edition}: the category must be a number such as 48") from None
            if cat not in EDITIONS:
                raise FormatError(f"--edition {key}={edition}: category {cat} is not decoded; editions apply to categories "
                                  f"{', '.join(str(c) for c in sorted(EDITIONS))}")
            if edition not in EDITIONS[cat]:
                raise FormatError(f"--edition {key}={edition}: unknown CAT{cat:03d} edition; known: {', '.join(EDITIONS[cat])}")
            uaps[cat] = get_uap(cat, edition)
        values: dict[str, float] = dict(_OPTION_DEFAULTS)
        positions: dict[tuple[int, int], tuple[float, float, float]] = {}
        for key, text in options.extra.items():
            if key.startswith("position_"):
                try:
                    sac, sic = (int(p) for p in key.removeprefix("position_").split("_"))
                except ValueError:
                    raise FormatError(f"--option {key}: expected position_SAC_SIC, e.g. position_25_201=45.5,16.0,120") from None
                positions[(sac, sic)] = _parse_position(key, text)
            elif key in values:
                try:
                    values[key] = float(text)
                except ValueError:
                    raise FormatError(f"--option {key}={text!r}: expected a number") from None
                if key != "default_alt_m" and not values[key] > 0:
                    raise FormatError(f"--option {key}={text!r}: must be positive")
            else:
                raise FormatError(f"--option {key}: unknown ASTERIX option; known: {', '.join(_OPTION_DEFAULTS)}, position_SAC_SIC")
        return cls(uaps=uaps, sensor=options.sensor, sensor_position=options.sensor_position, positions=positions,
                   start_time=options.start_time, **values)


#: Categories EUROCONTROL has published (plus the common national 150/240/247/252): resynchronisation
#: only trusts a header naming one of these, which makes a false start inside record data rarer.
KNOWN_CATEGORIES = frozenset({1, 2, 3, 4, 7, 8, 9, 10, 11, 15, 16, 17, 18, 19, 20, 21, 23, 25, 30, 31, 32, 34, 48, 62, 63,
                              65, 150, 205, 240, 247, 252})


def _plausible_header(data: bytes, pos: int) -> int:
    """Length of a plausible block header at ``pos`` (a known category, at least one record octet, fits), else 0."""
    if pos + 3 > len(data) or data[pos] not in KNOWN_CATEGORIES:
        return 0
    length = (data[pos + 1] << 8) | data[pos + 2]
    if length < 4 or pos + length > len(data):
        return 0
    return length


def _chain(data: bytes, pos: int, limit: int = 8) -> int:
    """How many plausible block headers chain from ``pos`` exactly to the end of ``data`` (at most
    ``limit``, which is also returned when the chain is that long without reaching the end); 0 if
    they do not."""
    for count in range(1, limit + 1):
        length = _plausible_header(data, pos)
        if not length:
            return 0
        pos += length
        if pos == len(data):
            return count
    return limit


def _resync(data: bytes, start: int) -> int | None:
    """The first offset from ``start`` where blocks plausibly begin again: at least two block
    headers of known categories chain from there to the end of the data (or for 8 blocks); failing
    that, the first single block that ends exactly at the end."""
    single = None
    for pos in range(start, len(data) - 3):
        count = _chain(data, pos)
        if count >= 2:
            return pos
        if count == 1 and single is None:
            single = pos
    return single


def split_blocks(data: bytes, stats: DecodeStats, where: str) -> Iterator[tuple[int, int, int]]:
    """Yield ``(offset, category, end)`` of each data block in ``data`` (one datagram or file).

    A block whose length field disagrees with the data (it runs past the end, or what follows it
    cannot be a block header) is counted once as ``bad_block_length`` and the split resumes at the
    next plausible block (see :func:`_resync`), or ends.
    """
    pos = 0
    n = len(data)
    while pos < n:
        length = (data[pos + 1] << 8 | data[pos + 2]) if pos + 3 <= n else 0
        after = pos + length
        # what follows a block must look like a block header (its own length is checked in turn)
        following_ok = after > n - 3 or (data[after] != 0 and (data[after + 1] << 8 | data[after + 2]) >= 3)
        if pos + 3 > n or length < 3 or pos + length > n or data[pos] == 0 or not following_ok:
            stats.messages += 1
            following = _resync(data, pos + 1)
            lost = (following if following is not None else n) - pos
            what = (f"{n - pos} trailing bytes" if pos + 3 > n else
                    f"category {data[pos]} length {length} with {n - pos} bytes left"
                    + ("" if length < 3 or pos + length > n or not data[pos] else ", and no block header after it"))
            stats.reject(f"{where} offset {pos}", "bad_block_length", f"{what}; {lost} bytes skipped"
                         + ("" if following is not None else " to the end"))
            if following is None:
                return
            pos = following
            continue
        yield pos, data[pos], pos + length
        pos += length


class _Decoder:
    """Shared by the file reader and the live decoder: blocks -> records."""

    def __init__(self, config: AsterixConfig, stats: DecodeStats) -> None:
        self.config = config
        self.stats = stats
        self.learned_positions: dict[tuple[int, int], tuple[float, float, float]] = {}
        self.last_t: float | None = None
        self._no_position_reported = False
        self._handlers: dict[int, Callable[[bytes, dict[str, tuple[int, int]], float | None, str], Record | None]] = {
            48: self._cat048, 62: self._cat062, 34: self._cat034}

    # -- time --------------------------------------------------------------------------------
    def _time(self, data: bytes, span: tuple[int, int] | None, reference: float | None) -> float:
        """UNIX time of a record with time-of-day item ``span`` (see the module docstring)."""
        if span is None:
            t = reference if reference is not None else (self.last_t or self.config.start_time or time.time())
        else:
            tod = it.time_of_day(data[span[0]:span[1]])
            if reference is not None:
                t = resolve_time_of_day(tod, reference)
            elif self.last_t is not None:
                t = resolve_time_of_day(tod, self.last_t)
            elif self.config.start_time is not None:
                t = math.floor(self.config.start_time / DAY) * DAY + tod
            else:
                t = resolve_time_of_day(tod, time.time())
        self.last_t = t
        return t

    def _sensor(self, data: bytes, items: dict[str, tuple[int, int]]) -> tuple[str, tuple[int, int] | None]:
        span = items.get("010")
        key = it.sac_sic(data[span[0]:span[1]]) if span else None
        if self.config.sensor:
            return self.config.sensor, key
        return (f"asterix-{key[0]}-{key[1]}" if key else "asterix"), key

    # -- blocks ------------------------------------------------------------------------------
    def decode(self, data: bytes, reference: float | None, where: str) -> Iterator[Record]:
        """Decode the data blocks in ``data`` (a datagram, or a whole raw file), record by record."""
        stats = self.stats
        for start, cat, end in split_blocks(data, stats, where):
            handler = self._handlers.get(cat)
            if handler is None:
                stats.messages += 1
                stats.skip(f"category_{cat}")
                continue
            uap = self.config.uaps[cat]
            pos = start + 3
            index = 0
            while pos < end:
                index += 1
                stats.messages += 1
                try:
                    found, following = parse_record(data, pos, end, uap)
                except RecordError as exc:
                    stats.reject(f"{where} offset {pos}", exc.reason,
                                 f"CAT{cat:03d} ed. {uap.edition} record {index}: {exc}; {end - pos} bytes of the block lost")
                    break
                stats.decoded += 1
                try:
                    record = handler(data, found, reference, f"{where} offset {pos}")
                except (RecordError, IndexError, ValueError) as exc:  # a sub-field that does not fit
                    stats.reject(f"{where} offset {pos}", "bad_item", f"CAT{cat:03d} record {index}: {exc}")
                    record = None
                if record is not None:
                    stats.produced(record)
                    yield record
                pos = following

    # -- CAT048 ------------------------------------------------------------------------------
    def _radar_position(self, key: tuple[int, int] | None) -> tuple[float, float, float] | None:
        if key is not None and key in self.config.positions:
            return self.config.positions[key]
        if self.config.sensor_position is not None:
            return self.config.sensor_position
        return self.learned_positions.get(key) if key is not None else None

    def _cat048(self, data: bytes, items: dict[str, tuple[int, int]], reference: float | None, where: str) -> Record | None:
        stats, cfg = self.stats, self.config
        sensor, key = self._sensor(data, items)

        def octets(name: str) -> bytes | None:
            span = items.get(name)
            return data[span[0]:span[1]] if span else None

        descriptor = octets("020")
        if descriptor:
            desc = it.target_descriptor_048(descriptor)
            if desc["SIM"] or desc["TST"]:
                stats.skip("simulated_or_test")
                return None
            if desc["RAB"]:
                stats.skip("field_monitor")
                return None
        polar, cartesian = octets("040"), octets("042")
        if polar is None and cartesian is None:
            stats.skip("no_position")
            return None
        t = self._time(data, items.get("140"), reference)
        radar = self._radar_position(key)
        if radar is None:
            if not self._no_position_reported:
                self._no_position_reported = True
                stats.reject(where, "no_sensor_position",
                             f"CAT048 plots of SAC/SIC {key} are polar; give --sensor-position LAT,LON[,ALT] or "
                             f"--option position_SAC_SIC=LAT,LON[,ALT] (every such plot is counted here)")
            else:
                stats.rejected_by_reason["no_sensor_position"] += 1
            return None
        height: float | None = None
        height_3d, mode_c = octets("110"), octets("090")
        if height_3d is not None:
            height = it.height_3d_048(height_3d)
        elif mode_c is not None:
            fl, valid, garbled = it.flight_level_048(mode_c)
            if valid and not garbled:
                height = it.flight_level_to_m(fl)
        alt = height if height is not None else cfg.default_alt_m
        if polar is not None:
            slant, azimuth = it.polar_position(polar)
            ground, elevation = slant_to_ground(slant, radar[2], alt)
        else:
            x, y = it.cartesian_position_048(cartesian)
            ground = math.hypot(x, y)
            azimuth = math.degrees(math.atan2(x, y)) % 360.0
            slant, elevation = ground, None
        lon, lat, _ = _GEOD.fwd(radar[1], radar[0], azimuth, ground)
        sigma_h = math.hypot(cfg.sigma_range_m, ground * math.radians(cfg.sigma_azimuth_deg))
        fields = {"t": t, "sensor": sensor, "lat": lat, "lon": lon, "alt_m": alt, "sigma_h_m": sigma_h,
                  "sigma_v_m": cfg.sigma_v_m if height is not None else cfg.default_alt_sigma_m,
                  "range_m": slant, "azimuth_deg": azimuth % 360.0,
                  # The radar's own polar errors: the tracker weighs the plot by its true ellipse.
                  "sigma_range_m": cfg.sigma_range_m, "sigma_azimuth_deg": cfg.sigma_azimuth_deg}
        if elevation is not None and height is not None:
            fields["elevation_deg"] = elevation
        address = octets("220")
        if address is not None:
            fields["icao24"] = it.aircraft_address(address)
        track = octets("161")
        if track is not None:
            fields["sensor_track"] = it.track_number(track, 12)
        return self._plot(fields, where)

    def _plot(self, fields: dict, where: str) -> PlotObservation | None:
        try:
            return msgspec.convert(fields, PlotObservation)
        except msgspec.ValidationError as exc:
            self.stats.reject(where, "implausible_value", str(exc))
            return None

    # -- CAT062 ------------------------------------------------------------------------------
    def _cat062(self, data: bytes, items: dict[str, tuple[int, int]], reference: float | None, where: str) -> Record | None:
        stats, cfg = self.stats, self.config
        uap = cfg.uaps[62]
        old = uap.edition == "0.17"
        sensor, _ = self._sensor(data, items)

        def octets(name: str) -> bytes | None:
            span = items.get(name)
            return data[span[0]:span[1]] if span else None

        status = octets("080")
        if status is not None and it.track_status_062(status)["SIM"]:
            stats.skip("simulated_or_test")
            return None
        position = octets("105")
        if position is None:
            stats.skip("no_position")  # Cartesian-only tracks need the system's reference point
            return None
        lat, lon = it.wgs84_position_062_v017(position) if old else it.wgs84_position_062(position)
        t = self._time(data, items.get("070"), reference)
        geometric, measured, barometric = octets("130"), octets("136"), octets("135")
        if geometric is not None:
            alt: float | None = it.geometric_altitude_062(geometric)
        elif measured is not None:
            alt = it.flight_level_to_m(it.measured_flight_level_062(measured))
        elif barometric is not None:
            alt = it.flight_level_to_m(it.barometric_altitude_062(barometric)[0])
        else:
            alt = None
        fields = {"t": t, "sensor": sensor, "lat": lat, "lon": lon,
                  "alt_m": alt if alt is not None else cfg.default_alt_m,
                  "sigma_h_m": cfg.track_sigma_h_m, "sigma_v_m": cfg.sigma_v_m if alt is not None else cfg.default_alt_sigma_m}
        track = octets("040")
        if track is not None:
            fields["sensor_track"] = it.track_number(track, 15 if old else 16)
        span = items.get("380")
        if span is not None:
            sub = compound_subitems(data, span[0], span[1], uap.spec("380"))
            if "ADR" in sub:
                fields["icao24"] = it.aircraft_address(data[sub["ADR"][0]:sub["ADR"][1]])
        span = items.get("500")
        if span is not None and not old:
            sub = compound_subitems(data, span[0], span[1], uap.spec("500"))
            if "APC" in sub:
                sx, sy = it.position_accuracy_062(data[sub["APC"][0]:sub["APC"][1]])
                if max(sx, sy) > 0:
                    fields["sigma_h_m"] = max(sx, sy)
        return self._plot(fields, where)

    # -- CAT034 ------------------------------------------------------------------------------
    def _cat034(self, data: bytes, items: dict[str, tuple[int, int]], reference: float | None, where: str) -> Record | None:
        sensor, key = self._sensor(data, items)

        def octets(name: str) -> bytes | None:
            span = items.get(name)
            return data[span[0]:span[1]] if span else None

        t = self._time(data, items.get("030"), reference)
        state = "ok"
        detail: list[str] = []
        kind = octets("000")
        if kind is not None:
            detail.append(_CAT034_TYPES.get(kind[0], f"message type {kind[0]}"))
            if kind[0] in (4, 5, 6, 7):
                state = "degraded"
        sector = octets("020")
        if sector is not None:
            detail.append(f"sector {it.sector_azimuth_034(sector):.1f} deg")
        period = octets("041")
        if period is not None:
            detail.append(f"antenna period {it.antenna_period_034(period):.2f} s")
        span = items.get("050")
        if span is not None:
            sub = compound_subitems(data, span[0], span[1], self.config.uaps[34].spec("050"))
            status, findings = it.system_status_034({k: data[a:b] for k, (a, b) in sub.items()})
            if status == "fault" or (status == "degraded" and state == "ok"):
                state = status
            detail.extend(findings)
        fields: dict = {"t": t, "sensor": sensor, "state": state, "detail": "; ".join(detail) or None}
        position = octets("120")
        if position is not None:
            lat, lon, height = it.radar_position_034(position)
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                fields.update(lat=lat, lon=lon, alt_m=height)
                if key is not None:
                    self.learned_positions[key] = (lat, lon, height)
        return SensorStatus(**{k: v for k, v in fields.items() if v is not None})


def slant_to_ground(slant_m: float, radar_alt_m: float, target_alt_m: float) -> tuple[float, float | None]:
    """(ground distance m, elevation °) of a target at slant range ``slant_m`` and height ``target_alt_m``.

    Straight rays on a sphere of 4/3 the Earth's radius (standard refraction): the triangle
    Earth centre - radar - target gives the central angle (ground distance along the effective
    sphere) and the elevation above the radar's horizontal. A height that cannot be reached at
    that range (target higher than the range allows) clamps to straight up/down.

    >>> g, e = slant_to_ground(10000.0, 0.0, 0.0)
    >>> round(g), round(e, 3)
    (10000, -0.034)
    """
    ra = _EARTH_RADIUS_EFFECTIVE_M + radar_alt_m
    rt = _EARTH_RADIUS_EFFECTIVE_M + target_alt_m
    if slant_m <= 0:
        return 0.0, None
    cos_gamma = max(-1.0, min(1.0, (ra * ra + rt * rt - slant_m * slant_m) / (2 * ra * rt)))
    sin_el = max(-1.0, min(1.0, (rt * rt - ra * ra - slant_m * slant_m) / (2 * ra * slant_m)))
    return _EARTH_RADIUS_EFFECTIVE_M * math.acos(cos_gamma), math.degrees(math.asin(sin_el))


def read_asterix(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Read ASTERIX from a pcap/pcapng of UDP datagrams or from raw concatenated data blocks.

    Raises:
        FormatError: an unknown edition or option, or input that is neither a capture nor
            starts like ASTERIX data blocks.
    """
    config = AsterixConfig.from_options(options)
    decoder = _Decoder(config, stats)
    head = stream.read(4)
    if is_capture(head):
        yield from _read_capture(io.BytesIO(head + stream.read()), decoder, config, stats)
        return
    data = head + stream.read()
    if not data:
        return
    if not _plausible_header(data, 0) and _resync(data[:65536], 1) is None:
        raise FormatError(f"not ASTERIX data blocks or a capture (starts with {data[:8].hex()})")
    yield from decoder.decode(data, None, "file")


def _read_capture(buffer: BinaryIO, decoder: _Decoder, config: AsterixConfig, stats: DecodeStats) -> Iterator[Record]:
    capture_rejects_before = stats.rejected
    first_t: float | None = None
    own_rejects = 0
    for packet in read_packets(buffer, stats):
        if first_t is None:
            first_t = packet.t
        reference = packet.t if config.start_time is None else config.start_time + (packet.t - first_t)
        udp = udp_payload(packet)
        if udp is None:
            stats.messages += 1
            stats.skip("not_udp")
            continue
        before = stats.rejected
        yield from decoder.decode(udp[1], reference, f"packet {packet.index}")
        own_rejects += stats.rejected - before
    # The capture reader counts a truncated or corrupt capture as a reject; count it as a message
    # too, so that messages = observations + statuses + rejected + skipped holds.
    stats.messages += stats.rejected - capture_rejects_before - own_rejects


class AsterixStreamDecoder:
    """Live ASTERIX over UDP: each :meth:`feed` is one datagram (one or more data blocks).

    Records are dated nearest to ``t_rx``; one without a time of day gets ``t_rx`` itself.
    """

    def __init__(self, options: DecodeOptions, stats: DecodeStats) -> None:
        self._decoder = _Decoder(AsterixConfig.from_options(options), stats)
        self._count = 0

    def feed(self, data: bytes, t_rx: float) -> list[Record]:
        self._count += 1
        return list(self._decoder.decode(bytes(data), t_rx, f"datagram {self._count}"))

    def replies(self) -> bytes:
        return b""
