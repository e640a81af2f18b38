"""Non-linear measurement models as batched extended Kalman filter (EKF) updates.

Every update takes ``k`` predicted states ``x (k, 6)`` (east, north, up in m, then their
velocities in m/s, site ENU frame) and covariances ``P (k, 6, 6)`` and returns
``(x, P, nis, logdet_S)`` like :func:`.kalman.update`, so each one plugs into
:func:`.imm.imm_update_with` unchanged. Jacobians are analytic and computed for the whole batch.

**Conventions and units.**

* Sensor positions are given in the same ENU frame, metres (convert WGS84 with
  :meth:`skywarden.core.frame.LocalFrame.to_enu`). A sensor's local vertical is taken to be the
  site's: over a site a few tens of km across the tilt between the two is below 0.5 deg (ASTERIX
  plots far from the site are better converted to positions upstream).
* Range is slant range, metres. Azimuth is degrees clockwise from north (the ENU +y axis),
  in [0, 360). Elevation is degrees above the local horizontal plane, in [-90, 90].
* Measurements ``z`` and their covariances ``R`` are given in those units (m, deg, deg^2).
  Internally angles are radians; the returned ``nis`` does not depend on the unit, and
  ``logdet_S`` is that of the innovation covariance in **m and radians**, so a clutter density
  for track scoring must be per m * rad^2 (radar) or per rad (one bearing).
* The azimuth innovation is wrapped into [-180, 180) deg: 359.9 deg measured against 0.1 deg
  predicted is an innovation of -0.2 deg, not 359.8.

The covariance update is the Joseph form ``(I - K H) P (I - K H)' + K R K'``: it keeps ``P``
symmetric positive definite even when an angle measurement is far more precise than the prior
across it, and stays correct for the partial ("consider") gains used by the 2-D radar update.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from skywarden.fusion import kalman

__all__ = [
    "enu_to_polar",
    "polar_to_enu",
    "polar_jacobian",
    "wrap_deg",
    "ekf_update",
    "radar_update",
    "bearing_update",
    "kinematic_update",
    "triangulate_bearings",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_DEG = np.pi / 180.0
_MIN_HORIZONTAL_M = 1e-3
"""Floor on the horizontal distance from the sensor: the azimuth of a target straight above the
sensor is undefined and its Jacobian would be infinite."""
ALTITUDE_ROWS = (2, 5)
"""State components the 2-D radar update leaves untouched: up (m) and up velocity (m/s)."""


def wrap_deg(a: npt.ArrayLike) -> FloatArray:
    """An angle difference in degrees, wrapped into [-180, 180)."""
    return (np.asarray(a, dtype=np.float64) + 180.0) % 360.0 - 180.0


def enu_to_polar(pos: FloatArray, sensor: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Slant range (m), azimuth (deg, [0, 360) clockwise from north), elevation (deg).

    ``pos`` and ``sensor`` are ``(k, 3)`` ENU metres (or broadcastable).
    """
    d = np.asarray(pos, dtype=np.float64) - np.asarray(sensor, dtype=np.float64)
    rho = np.hypot(d[..., 0], d[..., 1])
    rng = np.hypot(rho, d[..., 2])
    az = np.degrees(np.arctan2(d[..., 0], d[..., 1])) % 360.0
    el = np.degrees(np.arctan2(d[..., 2], rho))
    return rng, az, el


def polar_to_enu(sensor: FloatArray, range_m: npt.ArrayLike, az_deg: npt.ArrayLike, el_deg: npt.ArrayLike) -> FloatArray:
    """ENU position ``(k, 3)`` in metres of a plot at slant range, azimuth and elevation from ``sensor``."""
    r = np.asarray(range_m, dtype=np.float64)
    az = np.asarray(az_deg, dtype=np.float64) * _DEG
    el = np.asarray(el_deg, dtype=np.float64) * _DEG
    ce = np.cos(el)
    rel = np.stack([r * ce * np.sin(az), r * ce * np.cos(az), r * np.sin(el)], axis=-1)
    return np.asarray(sensor, dtype=np.float64) + rel


def polar_jacobian(x: FloatArray, sensor: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Predicted polar measurement and its Jacobian for states ``x (k, 6)``.

    Returns:
        ``h (k, 3)``: slant range (m), azimuth (rad, [0, 2 pi)), elevation (rad);
        ``H (k, 3, 6)``: d h / d x in m/m and rad/m (the velocity columns are zero).

    With ``d = p - sensor``, ``rho = |d_en|``, ``r = |d|``:
    ``dr/dd = d / r``; ``daz/dd = (d_n, -d_e, 0) / rho^2``;
    ``del/dd = (-d_e d_u, -d_n d_u, rho^2) / (rho r^2)``.
    """
    d = x[:, :3] - sensor
    de, dn, du = d[:, 0], d[:, 1], d[:, 2]
    rho = np.maximum(np.hypot(de, dn), _MIN_HORIZONTAL_M)
    r2 = rho * rho + du * du
    r = np.sqrt(r2)
    k = x.shape[0]
    h = np.empty((k, 3))
    h[:, 0] = r
    h[:, 1] = np.arctan2(de, dn) % (2.0 * np.pi)
    h[:, 2] = np.arctan2(du, rho)
    H = np.zeros((k, 3, 6))
    H[:, 0, :3] = d / r[:, None]
    H[:, 1, 0] = dn / (rho * rho)
    H[:, 1, 1] = -de / (rho * rho)
    c = du / (rho * r2)
    H[:, 2, 0] = -de * c
    H[:, 2, 1] = -dn * c
    H[:, 2, 2] = rho / r2
    return h, H


def ekf_update(
    x: FloatArray, P: FloatArray, y: FloatArray, H: FloatArray, R: FloatArray, consider: tuple[int, ...] = ()
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """One batched (E)KF update from an innovation ``y (k, m)`` and Jacobian ``H (k, m, 6)``.

    ``R (k, m, m)`` is in the units of ``y``. State components listed in ``consider`` are not
    updated (Schmidt-Kalman "consider" filter): their uncertainty still widens the innovation
    covariance through ``H``, but their gain rows are zero, so a measurement that cannot resolve
    them (slant range without elevation vs. altitude) does not drag them around.

    Returns ``(x, P, nis, logdet_S)``.
    """
    PHt = P @ np.swapaxes(H, 1, 2)  # (k, 6, m)
    S = H @ PHt + R
    S = 0.5 * (S + np.swapaxes(S, 1, 2))
    # K = P H' S^-1, solved rather than inverted (S symmetric, so K' = S^-1 (P H')').
    K = np.swapaxes(np.linalg.solve(S, np.swapaxes(PHt, 1, 2)), 1, 2)
    if consider:
        K[:, list(consider), :] = 0.0
    xu = x + np.einsum("kij,kj->ki", K, y)
    IKH = np.eye(x.shape[1])[None] - K @ H
    Pu = IKH @ P @ np.swapaxes(IKH, 1, 2) + K @ R @ np.swapaxes(K, 1, 2)
    Pu = 0.5 * (Pu + np.swapaxes(Pu, 1, 2))
    nis = np.einsum("ki,ki->k", y, np.linalg.solve(S, y[:, :, None])[:, :, 0])
    _, logdet = np.linalg.slogdet(S)
    return xu, Pu, nis, logdet


def _angle_scale(m: int, first_angle: int) -> FloatArray:
    """Per-component factor turning (m, deg, ...) into (m, rad, ...)."""
    s = np.ones(m)
    s[first_angle:] = _DEG
    return s


def radar_update(
    x: FloatArray, P: FloatArray, sensor: FloatArray, z: FloatArray, R: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """EKF update with radar polar plots from sensors at ``sensor (k, 3)`` ENU metres.

    Args:
        x, P: predicted ``(k, 6)`` states and ``(k, 6, 6)`` covariances.
        sensor: ``(k, 3)`` (or ``(3,)``) radar positions, ENU metres.
        z: ``(k, 3)`` slant range (m), azimuth (deg from north, clockwise), elevation (deg); or
            ``(k, 2)`` range and azimuth for a 2-D radar.
        R: ``(k, m, m)`` measurement covariance in m^2, m*deg and deg^2.

    Without elevation the altitude and vertical velocity are *considered*, not updated
    (:data:`ALTITUDE_ROWS`): slant range cannot tell height from ground distance, and an EKF
    linearised at a poorly known altitude would move the altitude by the range error instead.

    Returns ``(x, P, nis, logdet_S)``; ``logdet_S`` in m and radians.
    """
    m = z.shape[1]
    if m not in (2, 3):
        raise ValueError("radar plots are (range, azimuth[, elevation])")
    sensor = np.broadcast_to(np.asarray(sensor, dtype=np.float64), (x.shape[0], 3))
    h, H = polar_jacobian(x, sensor)
    scale = _angle_scale(m, 1)
    y = z * scale - h[:, :m]
    # Wrap the azimuth innovation (radians) into [-pi, pi).
    y[:, 1] = (y[:, 1] + np.pi) % (2.0 * np.pi) - np.pi
    R_rad = R * scale[None, :, None] * scale[None, None, :]
    return ekf_update(x, P, y, H[:, :m], R_rad, consider=() if m == 3 else ALTITUDE_ROWS)


def bearing_update(
    x: FloatArray, P: FloatArray, sensor: FloatArray, z: FloatArray, R: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """EKF update with RF direction-finding bearings from ``sensor (k, 3)`` ENU metres.

    Args:
        z: ``(k, 1)`` azimuth (deg from north, clockwise) or ``(k, 2)`` azimuth and elevation (deg).
        R: ``(k, m, m)`` in deg^2.

    A single bearing constrains only the cross-bearing direction; the range along it stays as
    uncertain as the prior (in the tests, P shrinks across the bearing, not along it).
    Returns ``(x, P, nis, logdet_S)``; ``logdet_S`` in radians.
    """
    m = z.shape[1]
    if m not in (1, 2):
        raise ValueError("bearings are (azimuth[, elevation])")
    sensor = np.broadcast_to(np.asarray(sensor, dtype=np.float64), (x.shape[0], 3))
    h, H = polar_jacobian(x, sensor)
    y = z * _DEG - h[:, 1 : 1 + m]
    y[:, 0] = (y[:, 0] + np.pi) % (2.0 * np.pi) - np.pi
    return ekf_update(x, P, y, H[:, 1 : 1 + m], R * (_DEG * _DEG))


def kinematic_update(
    x: FloatArray, P: FloatArray, z: FloatArray, R: FloatArray, rows: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Linear update with a reported ENU position (m) and velocity (m/s): Remote ID, ADS-B.

    The caller converts the report: WGS84 position with ``LocalFrame.to_enu``, ground speed and
    track with ``velocity_from_speed_track``, vertical rate in m/s. ``rows`` selects what the
    report carries (e.g. ``(0, 1, 2, 3, 4)`` without a vertical rate). ``R`` in m^2, m^2/s^2.
    """
    return kalman.update(x, P, z, R, rows)


def _bearing_basis(az: FloatArray, el: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit vectors along a bearing, across it horizontally, and across it in elevation (..., 3)."""
    sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
    along = np.stack([sa * ce, ca * ce, se], axis=-1)
    across_h = np.stack([ca, -sa, np.zeros_like(sa)], axis=-1)
    across_v = np.stack([-sa * se, -ca * se, ce], axis=-1)
    return along, across_h, across_v


def triangulate_bearings(
    sensor: FloatArray,
    az_deg: FloatArray,
    sigma_az_deg: FloatArray,
    el_deg: FloatArray | None = None,
    sigma_el_deg: FloatArray | None = None,
    up_prior: tuple[float, float] = (0.0, 1e8),
    iterations: int = 2,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Least-squares intersection of bearings, for track initiation; batched over ``g`` groups.

    Args:
        sensor: ``(g, n, 3)`` ENU positions (m) of the ``n`` bearings of each group.
        az_deg: ``(g, n)`` azimuths, deg from north clockwise; NaN marks an absent bearing, so
            groups may have different numbers of bearings.
        sigma_az_deg: ``(g, n)`` azimuth 1-sigma, deg.
        el_deg, sigma_el_deg: ``(g, n)`` elevations and 1-sigma, deg; ``None`` for azimuth-only.
        up_prior: ``(up_m, variance_m2)`` returned for the altitude of azimuth-only groups.
        iterations: weighted passes; each weighs a bearing by ``1 / (range * sigma)^2`` with the
            range from the previous estimate (the first pass assumes equal ranges).

    Each bearing is the line ``s + t u``; the point minimises the weighted sum of squared
    perpendicular distances, ``p = A^-1 sum A_i s_i`` with ``A_i = sum_d w_d a_d a_d'`` over the
    across-bearing directions ``a_d``. ``A^-1`` is then the linearised position covariance.

    Returns:
        ``(p (g, 3), cov (g, 3, 3), valid (g,))``: invalid where fewer than two bearings, they are
        (nearly) parallel, or the intersection lies behind a sensor.
    """
    sensor = np.asarray(sensor, dtype=np.float64)
    az = np.asarray(az_deg, dtype=np.float64) * _DEG
    present = ~np.isnan(az)
    az = np.where(present, az, 0.0)
    s_az = np.asarray(sigma_az_deg, dtype=np.float64) * _DEG
    three_d = el_deg is not None
    el = np.where(present, np.asarray(el_deg, dtype=np.float64) * _DEG, 0.0) if three_d else np.zeros_like(az)
    s_el = np.asarray(sigma_el_deg, dtype=np.float64) * _DEG if three_d and sigma_el_deg is not None else s_az
    along, across_h, across_v = _bearing_basis(az, el)
    dim = 3 if three_d else 2
    g = az.shape[0]
    # Work relative to the mean sensor position: kilometre coordinates squared would cost digits.
    origin = np.nanmean(np.where(present[..., None], sensor, np.nan), axis=1)
    origin = np.where(np.isnan(origin), 0.0, origin)
    rel = (sensor - origin[:, None, :])[..., :dim]
    a_h = across_h[..., :dim]
    a_v = across_v[..., :dim]
    rng = np.ones_like(az)
    p = np.zeros((g, dim))
    A = np.tile(np.eye(dim), (g, 1, 1))
    ok = present.sum(axis=1) >= 2
    for _ in range(max(1, iterations)):
        w_h = np.where(present, 1.0 / (rng * s_az) ** 2, 0.0)
        Ai = w_h[..., None, None] * (a_h[..., :, None] * a_h[..., None, :])
        if three_d:
            w_v = np.where(present, 1.0 / (rng * s_el) ** 2, 0.0)
            Ai = Ai + w_v[..., None, None] * (a_v[..., :, None] * a_v[..., None, :])
        A = Ai.sum(axis=1)
        b = (Ai @ rel[..., None])[..., 0].sum(axis=1)
        # Parallel bearings make A singular: test its conditioning before solving.
        cond = np.linalg.cond(A)
        ok = (present.sum(axis=1) >= 2) & np.isfinite(cond) & (cond < 1e10)
        A_safe = np.where(ok[:, None, None], A, np.eye(dim)[None])
        p = np.linalg.solve(A_safe, b[..., None])[..., 0]
        d = p[:, None, :] - rel
        rng = np.maximum(np.linalg.norm(d, axis=2), 1.0)
    # In front of every sensor: the intersection of diverging bearings lies behind them.
    ahead = np.einsum("gnd,gnd->gn", p[:, None, :] - rel, along[..., :dim])
    ok &= np.all(~present | (ahead > 0), axis=1)
    cov_p = np.linalg.inv(np.where(ok[:, None, None], A, np.eye(dim)[None]))
    pos = np.zeros((g, 3))
    cov = np.zeros((g, 3, 3))
    pos[:, :dim] = p + origin[:, :dim]
    cov[:, :dim, :dim] = 0.5 * (cov_p + np.swapaxes(cov_p, 1, 2))
    if not three_d:
        pos[:, 2] = up_prior[0]
        cov[:, 2, 2] = up_prior[1]
    pos[~ok] = np.nan
    cov[~ok] = np.nan
    return pos, cov, ok
