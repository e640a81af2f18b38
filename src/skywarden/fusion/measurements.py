"""Observations turned into arrays of measurements in the site's ENU frame.

This is the boundary between typed observation records and the tracker's struct-of-arrays
world: one :class:`MeasurementBatch` per tracker step, built with a handful of vectorised calls.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from skywarden.core.frame import LocalFrame, velocity_from_speed_track
from skywarden.core.records import AdsbObservation, BearingObservation, Observation, PlotObservation, RemoteIdObservation

__all__ = ["SensorDefaults", "MeasurementBatch", "polar_plot_covariance", "occurrence_rounds", "KIND_PLOT", "KIND_REMOTE_ID", "KIND_ADSB", "KIND_BEARING"]

FloatArray = npt.NDArray[np.float64]

KIND_PLOT = 0
KIND_REMOTE_ID = 1
KIND_ADSB = 2
KIND_BEARING = 3
_KIND_CODE = {"plot": KIND_PLOT, "remote_id": KIND_REMOTE_ID, "adsb": KIND_ADSB, "bearing": KIND_BEARING}


class SensorDefaults(msgspec.Struct, frozen=True, kw_only=True):
    """1-sigma errors assumed when an observation does not state its own, metres and m/s."""

    plot_sigma_h_m: float = 15.0
    plot_sigma_v_m: float = 25.0
    remote_id_sigma_h_m: float = 5.0
    remote_id_sigma_v_m: float = 10.0
    remote_id_sigma_vel_mps: float = 1.0
    adsb_sigma_h_m: float = 20.0
    adsb_sigma_v_m: float = 15.0
    adsb_sigma_vel_mps: float = 3.0
    bearing_sigma_azimuth_deg: float = 3.0
    """1-sigma azimuth error of a bearing that states none, degrees (RF direction finders: 1-5)."""
    per_sensor: dict[str, tuple[float, float]] = {}
    """Plot sigmas ``(sigma_h_m, sigma_v_m)`` by sensor id, overriding the plot defaults."""
    clutter_density_per_m3: float = 2e-11
    """Expected false plots per cubic metre per scan (10 per scan over a 15 km radius, 600 m deep
    is 2.4e-11); used by the track score."""
    clutter_density_by_sensor: dict[str, float] = {}


@dataclass(slots=True)
class MeasurementBatch:
    """``n`` observations as parallel arrays; positions in the ENU frame.

    Attributes:
        t: times, UNIX seconds UTC.
        kind: ``KIND_PLOT``, ``KIND_REMOTE_ID``, ``KIND_ADSB`` or ``KIND_BEARING``.
        sensor: sensor ids.
        identity: ``"uas:<uas_id>"``, ``"icao:<icao24>"`` or ``""`` for plots.
        pos: ``(n, 3)`` east, north, up, metres (of the sensor, for a bearing).
        sigma: ``(n, 3)`` 1-sigma position error per axis, metres.
        vel: ``(n, 3)`` reported velocity, m/s (NaN where not reported).
        vel_sigma: ``(n,)`` 1-sigma velocity error, m/s.
        clutter_density: ``(n,)`` the reporting sensor's false plots per m^3 per scan.
        operator_lat, operator_lon: operator position where broadcast, else NaN.
        declared_uav: the sender declares itself unmanned (ADS-B emitter category B6); a Remote
            ID sender is a drone by definition.
        cov: ``(n, 3, 3)`` full position covariance, m^2, when some observation's error is not
            axis-aligned (a radar plot with polar errors), else ``None``; ``sigma`` then holds
            the square roots of its diagonal. Read it through :meth:`position_cov`.
        bearing: ``(n, 5)`` azimuth, its 1-sigma, elevation, its 1-sigma (degrees; NaN where not
            measured) and frequency (MHz, NaN where unknown) of bearing observations, NaN rows
            elsewhere; ``None`` when the batch holds no bearing.
    """

    t: FloatArray
    kind: npt.NDArray[np.int8]
    sensor: list[str]
    identity: list[str]
    pos: FloatArray
    sigma: FloatArray
    vel: FloatArray
    vel_sigma: FloatArray
    operator_lat: FloatArray
    operator_lon: FloatArray
    clutter_density: FloatArray
    declared_uav: npt.NDArray[np.bool_] | None = None
    cov: FloatArray | None = None
    bearing: FloatArray | None = None

    def __len__(self) -> int:
        return int(self.t.size)

    @classmethod
    def from_observations(cls, obs: Sequence[Observation], frame: LocalFrame, defaults: SensorDefaults) -> MeasurementBatch:
        n = len(obs)
        t = np.fromiter((o.t for o in obs), np.float64, n)
        kind = np.fromiter((_KIND_CODE[o.kind] for o in obs), np.int8, n)
        lat = np.fromiter((o.lat for o in obs), np.float64, n)
        lon = np.fromiter((o.lon for o in obs), np.float64, n)
        alt = np.fromiter((o.alt_m for o in obs), np.float64, n)
        e, nn, u = frame.to_enu(lat, lon, alt)
        pos = np.stack([e, nn, u], axis=1) if n else np.zeros((0, 3))
        # One pass of attribute reads per record into Python lists (a numpy row assignment per
        # record cost more than the reads); the arithmetic stays vectorised below.
        sig_h = [0.0] * n
        sig_v = [0.0] * n
        nan = math.nan
        vel_sigma_l = [0.0] * n
        speed_l = [nan] * n
        track_l = [nan] * n
        vspeed_l = [nan] * n
        op_lat_l = [nan] * n
        op_lon_l = [nan] * n
        identity: list[str] = [""] * n
        sensor = [o.sensor for o in obs]
        declared_uav = None
        polar: list[tuple[int, float, float, float, float, float]] = []
        bearings: list[tuple[int, float, float, float, float, float]] = []
        per_sensor = defaults.per_sensor
        plot_default = (defaults.plot_sigma_h_m, defaults.plot_sigma_v_m)
        for i, o in enumerate(obs):
            cls_ = type(o)
            if cls_ is PlotObservation:
                sh, sv = per_sensor.get(o.sensor, plot_default) if per_sensor else plot_default
                sig_h[i] = o.sigma_h_m or sh
                sig_v[i] = o.sigma_v_m or sv
                if o.sigma_azimuth_deg is not None and o.sigma_range_m is not None and o.range_m is not None \
                        and o.azimuth_deg is not None:
                    polar.append((i, o.range_m, o.azimuth_deg, o.elevation_deg or 0.0, o.sigma_range_m, o.sigma_azimuth_deg))
            elif cls_ is RemoteIdObservation:
                identity[i] = "uas:" + o.uas_id
                sig_h[i] = o.h_acc_m or defaults.remote_id_sigma_h_m
                sig_v[i] = defaults.remote_id_sigma_v_m
                vel_sigma_l[i] = defaults.remote_id_sigma_vel_mps
                if o.speed_mps is not None and o.track_deg is not None:
                    speed_l[i] = o.speed_mps
                    track_l[i] = o.track_deg
                if o.vspeed_mps is not None:
                    vspeed_l[i] = o.vspeed_mps
                if o.operator_lat is not None and o.operator_lon is not None:
                    op_lat_l[i] = o.operator_lat
                    op_lon_l[i] = o.operator_lon
            elif cls_ is BearingObservation:
                sa = o.sigma_azimuth_deg or defaults.bearing_sigma_azimuth_deg
                el = nan if o.elevation_deg is None else o.elevation_deg
                bearings.append((i, o.azimuth_deg, sa, el, o.sigma_elevation_deg or sa,
                                 nan if o.frequency_mhz is None else o.frequency_mhz))
                sig_h[i] = sig_v[i] = 1.0  # unused: a bearing is no position measurement
            elif cls_ is AdsbObservation:
                identity[i] = "icao:" + o.icao24.lower()
                if o.category == "B6":
                    if declared_uav is None:
                        declared_uav = np.zeros(n, dtype=bool)
                    declared_uav[i] = True
                sig_h[i] = defaults.adsb_sigma_h_m
                sig_v[i] = defaults.adsb_sigma_v_m
                vel_sigma_l[i] = defaults.adsb_sigma_vel_mps
                if o.speed_mps is not None and o.track_deg is not None:
                    speed_l[i] = o.speed_mps
                    track_l[i] = o.track_deg
        sigma = np.empty((n, 3))
        sigma[:, 0] = sigma[:, 1] = sig_h
        sigma[:, 2] = sig_v
        vel_sigma = np.array(vel_sigma_l, dtype=np.float64)
        speed = np.array(speed_l, dtype=np.float64)
        track = np.array(track_l, dtype=np.float64)
        op_lat = np.array(op_lat_l, dtype=np.float64)
        op_lon = np.array(op_lon_l, dtype=np.float64)
        vel = np.empty((n, 3))
        vel[:, 2] = vspeed_l
        vel[:, 0], vel[:, 1] = velocity_from_speed_track(speed, track)
        by_sensor = defaults.clutter_density_by_sensor
        if by_sensor:
            clutter = np.fromiter((by_sensor.get(s, defaults.clutter_density_per_m3) for s in sensor), np.float64, n)
        else:
            clutter = np.full(n, defaults.clutter_density_per_m3)
        cov = None
        if polar:
            cov = np.zeros((n, 3, 3))
            axis = np.arange(3)
            cov[:, axis, axis] = sigma**2
            rows = np.array(polar)
            i = rows[:, 0].astype(np.int64)
            cov[i, :2, :2] = polar_plot_covariance(*rows[:, 1:].T)
            sigma[i, :2] = np.sqrt(np.diagonal(cov[i, :2, :2], axis1=1, axis2=2))
        bearing = None
        if bearings:
            bearing = np.full((n, 5), np.nan)
            rows = np.array(bearings)
            bearing[rows[:, 0].astype(np.int64)] = rows[:, 1:]
        return cls(t, kind, sensor, identity, pos, sigma, vel, vel_sigma, op_lat, op_lon, clutter, declared_uav, cov, bearing)

    def position_cov(self, idx: npt.NDArray[np.int64]) -> FloatArray:
        """``(k, 3, 3)`` position covariances of observations ``idx``, m^2."""
        if self.cov is not None:
            return self.cov[idx]
        R = np.zeros((idx.size, 3, 3))
        axis = np.arange(3)
        R[:, axis, axis] = self.sigma[idx] ** 2
        return R


def polar_plot_covariance(
    range_m: FloatArray, azimuth_deg: FloatArray, elevation_deg: FloatArray,
    sigma_range_m: FloatArray, sigma_azimuth_deg: FloatArray,
) -> FloatArray:
    """Horizontal ``(k, 2, 2)`` east/north covariance of radar plots measured in polar coordinates.

    A converted measurement: the plot's position error is ``sigma_range_m`` along the beam and
    ``ground range x sigma_azimuth`` (radians) across it, rotated into east/north by the azimuth.
    At the angular errors of real radars (under a degree) the first-order conversion's bias is
    below 1e-4 of the cross-range error, so the plot stays a linear position measurement for the
    Kalman filter and the vectorised gating; what it gains over a circle of the larger error is
    the along-beam accuracy (at 30 km and 0.2 deg: 10 m instead of 105 m).

    Example:
        >>> c = polar_plot_covariance(np.array([10_000.0]), np.array([90.0]), np.array([0.0]),
        ...                           np.array([10.0]), np.array([0.5]))
        >>> np.sqrt(np.diag(c[0])).round(1).tolist()   # beam along east: 10 m east, 87 m north
        [10.0, 87.3]
    """
    az = np.radians(azimuth_deg)
    ground = range_m * np.cos(np.radians(elevation_deg))
    along = np.stack([np.sin(az), np.cos(az)], axis=1)  # unit vector east, north along the beam
    across = np.stack([np.cos(az), -np.sin(az)], axis=1)
    var_along = np.asarray(sigma_range_m, dtype=np.float64) ** 2
    var_across = (ground * np.radians(sigma_azimuth_deg)) ** 2
    return (var_along[:, None, None] * along[:, :, None] * along[:, None, :]
            + var_across[:, None, None] * across[:, :, None] * across[:, None, :])


def occurrence_rounds(keys: Sequence[Hashable]) -> npt.NDArray[np.int64]:
    """For each key, how many times it occurred before in ``keys``: the round in which a batch
    that holds several reports of one identity processes this one (each round vectorised, each
    identity at most once per round).

    Example:
        >>> occurrence_rounds(["a", "b", "a", "a"]).tolist()
        [0, 0, 1, 2]
    """
    if len(set(keys)) == len(keys):  # the usual case: one report each, one round
        return np.zeros(len(keys), dtype=np.int64)
    seen: dict[Hashable, int] = {}
    rounds = np.empty(len(keys), dtype=np.int64)
    for j, key in enumerate(keys):
        rounds[j] = seen.get(key, 0)
        seen[key] = rounds[j] + 1
    return rounds
