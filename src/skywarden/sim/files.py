"""The simulator's output files: observations, ground truth and zones.

Observations
    Observation JSON Lines v1 (see :mod:`skywarden.core.records`): one ``encode_record(obs)``
    per line, in time order. This is exactly what the live sources produce, so a simulated run
    can replace a live one anywhere in the pipeline.

Zones
    Zones v1 GeoJSON (see :mod:`skywarden.zones.geojson`), the scenario's zones.

Truth (JSON Lines)
    What really flew, for scoring the tracker and the alerts. One JSON object per line, one
    line per target per truth sample: every whole second of scenario time (``start_time + k``
    for integer ``k``) while the target exists. Lines are sorted by ``t``, then ``target_id``.

    ===============  ======  ==============================================================
    field            type    meaning
    ===============  ======  ==============================================================
    ``t``            number  time, UNIX seconds UTC
    ``target_id``    string  the scenario's target id; stable for the whole run
    ``kind``         string  ``drone``, ``manned_aircraft`` or ``bird``
    ``lat``          number  latitude, WGS84 degrees
    ``lon``          number  longitude, WGS84 degrees
    ``alt_m``        number  altitude, metres above the WGS84 ellipsoid
    ``vel_east_mps`` number  velocity east, m/s, in the site's local ENU frame
    ``vel_north_mps`` number velocity north, m/s, same frame
    ``vel_up_mps``   number  velocity up, m/s, same frame
    ``uas_id``       string  Remote ID ``uas_id``; present only for drones that broadcast it
    ``icao24``       string  ICAO 24-bit address, 6 hex digits; present only for manned aircraft
    ``authorised``   bool    whether the target is allowed where it flies (informational:
                             alerting decides by the zones' ``allow_uas_ids``). Scenario
                             default: false for drones, true for manned aircraft and birds.
    ===============  ======  ==============================================================

    Positions are rounded to 1e-7 degree (about 1 cm) and 0.01 m, velocities to 1 mm/s, times
    to 1 microsecond. The velocity is that of the straight route segment being flown (zero
    while hovering), so it changes in steps at waypoints.

    Example lines (a drone without and one with Remote ID)::

        {"t":1672017960.0,"target_id":"nk-uav-1","kind":"drone","lat":37.5628549,"lon":126.9584947,"alt_m":1177.5,"vel_east_mps":19.891,"vel_north_mps":-22.455,"vel_up_mps":-0.392,"authorised":false}
        {"t":1672017960.0,"target_id":"police-uav-1","kind":"drone","lat":37.5318,"lon":126.9772,"alt_m":140.0,"vel_east_mps":0.005,"vel_north_mps":-0.002,"vel_up_mps":4.0,"uas_id":"KR-POL-SMPA-0007","authorised":true}

    (The second drone is climbing vertically 10 km from the site origin; the site frame's "up"
    tilts by 0.09 degree there, hence the few mm/s east and north.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from skywarden.core.records import encode_record
from skywarden.zones.geojson import write_zones

if TYPE_CHECKING:
    from skywarden.sim.engine import SimulationResult

__all__ = ["TruthSample", "decode_truth", "read_truth", "write_simulation"]


class TruthSample(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One target's true state at one instant; a line of the truth file (format above)."""

    t: float
    """Time, UNIX seconds UTC."""
    target_id: str
    kind: Literal["drone", "manned_aircraft", "bird"]
    lat: float
    lon: float
    alt_m: float
    """Metres above the WGS84 ellipsoid."""
    vel_east_mps: float
    vel_north_mps: float
    vel_up_mps: float
    uas_id: str | None = None
    """Remote ID uas_id, only for drones that broadcast Remote ID."""
    icao24: str | None = None
    """ICAO 24-bit address, only for manned aircraft."""
    authorised: bool


_truth_decoder = msgspec.json.Decoder(TruthSample)


def decode_truth(line: bytes | str) -> TruthSample:
    """Decode one line of a truth file.

    Raises:
        msgspec.DecodeError, msgspec.ValidationError: the line is not a valid truth sample.
    """
    return _truth_decoder.decode(line)


def read_truth(path: str | Path) -> list[TruthSample]:
    """Read a whole truth file (blank lines are skipped)."""
    with Path(path).open("rb") as f:
        return [decode_truth(line) for line in f if line.strip()]


def _write_lines(path: Path, records: Iterable[msgspec.Struct], chunk: int = 65_536) -> int:
    """Write one encoded record per line, in chunks so no full copy of the file sits in memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    it: Iterator[msgspec.Struct] = iter(records)
    with path.open("wb") as f:
        while batch := list(islice(it, chunk)):
            f.write(b"\n".join(encode_record(r) for r in batch) + b"\n")
            n += len(batch)
    return n


def write_simulation(
    result: SimulationResult,
    out_path: str | Path,
    truth_path: str | Path,
    zones_path: str | Path | None = None,
) -> dict[str, int]:
    """Write a simulation's observations, truth and (optionally) zones files.

    Parent directories are created. Records are streamed, so a large run is written without
    building its full record lists.

    Returns:
        Counts: ``observations``, ``plot`` (of which ``clutter``), ``remote_id``, ``adsb``,
        ``truth``, ``targets``, ``zones``.
    """
    counts = result.counts()
    n_obs = _write_lines(Path(out_path), result.iter_observations())
    n_truth = _write_lines(Path(truth_path), result.iter_truth())
    assert n_obs == counts["observations"] and n_truth == counts["truth"]
    if zones_path is not None:
        Path(zones_path).parent.mkdir(parents=True, exist_ok=True)
        write_zones(result.zones, zones_path)
    return counts
