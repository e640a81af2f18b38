"""Non-linear measurement models (radar polar, RF bearings, Remote ID / ADS-B) against analytic cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skywarden.fusion import kalman
from skywarden.fusion.measurement_models import (
    bearing_update,
    ekf_update,
    enu_to_polar,
    kinematic_update,
    polar_jacobian,
    polar_to_enu,
    radar_update,
    triangulate_bearings,
    wrap_deg,
)


def _spd(P: np.ndarray) -> bool:
    sym = np.allclose(P, np.swapaxes(P, -1, -2), rtol=0, atol=1e-9 * max(1.0, float(np.abs(P).max())))
    return bool(sym and (np.linalg.eigvalsh(P).min(axis=-1) > 0).all())


def test_polar_conventions_and_round_trip():
    sensor = np.array([[100.0, 200.0, 10.0]])
    r, az, el = enu_to_polar(np.array([[1100.0, 200.0, 10.0]]), sensor)  # due east, level
    assert (r[0], az[0], el[0]) == pytest.approx((1000.0, 90.0, 0.0))
    _, az, el = enu_to_polar(np.array([[100.0, -800.0, 1010.0]]), sensor)  # south, 45 deg up
    assert (az[0], el[0]) == pytest.approx((180.0, 45.0))
    _, az, _ = enu_to_polar(np.array([[99.0, 1200.0, 10.0]]), sensor)  # just west of north
    assert az[0] == pytest.approx(360.0 - np.degrees(np.arctan2(1.0, 1000.0)))
    rng = np.random.default_rng(1)
    p = rng.uniform(-5000, 5000, size=(50, 3))
    back = polar_to_enu(sensor, *enu_to_polar(p, sensor))
    np.testing.assert_allclose(back, p, atol=1e-8)


def test_polar_jacobian_matches_finite_differences():
    rng = np.random.default_rng(2)
    sensor = rng.normal(size=(20, 3)) * 100
    x = np.concatenate([rng.uniform(-3000, 3000, size=(20, 3)), rng.normal(size=(20, 3))], axis=1)
    x[0, :3] = sensor[0] + [0.0, 500.0, 30.0]  # due north: azimuth at the 0/2 pi seam
    h, H = polar_jacobian(x, sensor)
    eps = 1e-4
    for j in range(6):
        dx = np.zeros(6)
        dx[j] = eps
        hp, _ = polar_jacobian(x + dx, sensor)
        hm, _ = polar_jacobian(x - dx, sensor)
        diff = hp - hm
        diff[:, 1] = (diff[:, 1] + np.pi) % (2 * np.pi) - np.pi
        np.testing.assert_allclose(H[:, :, j], diff / (2 * eps), rtol=1e-5, atol=1e-10)


def test_radar_at_prediction_equals_linear_update_in_local_axes():
    # Target due north of the radar at its height: range is the north axis, azimuth (rad) is
    # east / 1000 and elevation is up / 1000, so the EKF is exactly a Kalman update with a
    # position measurement of covariance diag((1000 s_az)^2, s_r^2, (1000 s_el)^2).
    x = np.array([[0.0, 1000.0, 50.0, 3.0, -2.0, 0.5]])
    P = np.diag([400.0, 400.0, 900.0, 25.0, 25.0, 4.0])[None]
    sensor = np.array([[0.0, 0.0, 50.0]])
    s_r, s_az, s_el = 5.0, 0.5, 1.0
    z = np.array([[1000.0, 0.0, 0.0]])
    R = np.diag([s_r**2, s_az**2, s_el**2])[None]
    xu, Pu, nis, logdet = radar_update(x, P, sensor, z, R)
    np.testing.assert_array_equal(xu, x)  # measured exactly where predicted: mean unchanged
    assert nis[0] == 0.0
    r_pos = np.diag([(1000 * np.radians(s_az)) ** 2, s_r**2, (1000 * np.radians(s_el)) ** 2])[None]
    xl, Pl, _, logdet_l = kalman.update(x, P, x[:, [0, 1, 2]], r_pos, (0, 1, 2))
    np.testing.assert_allclose(Pu, Pl, rtol=1e-9, atol=1e-9)
    # log|S| is in (m, rad, rad): the position-space determinant divided by 1000^2 twice.
    assert logdet[0] == pytest.approx(logdet_l[0] - 4 * np.log(1000.0))
    # P shrank most along range (5 m measurement) and little across (8.7 m, 17.5 m).
    assert Pu[0, 1, 1] == pytest.approx(400 * 25 / 425)
    assert Pu[0, 0, 0] == pytest.approx(400 * 76.15 / (400 + 76.15), rel=1e-3)


def test_radar_off_axis_shrinks_variance_along_line_of_sight():
    x = np.array([[3000.0, 4000.0, 200.0, 0.0, 0.0, 0.0]])
    P = (np.eye(6) * 100.0)[None]
    sensor = np.zeros((1, 3))
    r, az, el = enu_to_polar(x[:, :3], sensor)
    z = np.stack([r, az, el], axis=1)
    R = np.diag([1.0, 10.0**2, 10.0**2])[None]  # precise range, angles nearly useless
    xu, Pu, nis, _ = radar_update(x, P, sensor, z, R)
    np.testing.assert_allclose(xu, x, atol=1e-9)
    los = x[0, :3] / np.linalg.norm(x[0, :3])
    cross = np.array([4.0, -3.0, 0.0]) / 5.0
    assert los @ Pu[0, :3, :3] @ los == pytest.approx(100 * 1 / 101, rel=1e-3)
    assert cross @ Pu[0, :3, :3] @ cross == pytest.approx(100.0, rel=1e-3)


def test_two_d_radar_leaves_altitude_alone():
    x = np.array([[2000.0, 0.0, 120.0, 10.0, 0.0, 1.0]])
    P = np.diag([400.0, 400.0, 2500.0, 25.0, 25.0, 9.0])[None]
    P[0, 0, 2] = P[0, 2, 0] = 300.0  # a correlation the update could exploit to move altitude
    sensor = np.zeros((1, 3))
    r, az, _ = enu_to_polar(x[:, :3], sensor)
    z = np.stack([r + 30.0, az + 0.3], axis=1)  # a 30 m range error, 0.3 deg azimuth error
    R = np.diag([10.0**2, 0.2**2])[None]
    xu, Pu, nis, _ = radar_update(x, P, sensor, z, R)
    assert xu[0, 2] == x[0, 2] and xu[0, 5] == x[0, 5]
    assert Pu[0, 2, 2] == pytest.approx(P[0, 2, 2]) and Pu[0, 5, 5] == pytest.approx(P[0, 5, 5])
    assert xu[0, 0] > x[0, 0] + 15.0  # the range error went to the horizontal position
    assert _spd(Pu)


def test_azimuth_wrap_gives_a_small_innovation():
    sensor = np.zeros((1, 3))
    target = polar_to_enu(sensor, 1000.0, 0.1, 0.0)
    x = np.concatenate([target, np.zeros((1, 3))], axis=1)
    P = (np.eye(6) * 100.0)[None]
    z = np.array([[1000.0, 359.9, 0.0]])
    R = np.diag([25.0, 0.5**2, 0.5**2])[None]
    xu, _, nis, _ = radar_update(x, P, sensor, z, R)
    assert nis[0] < 0.5  # innovation -0.2 deg = 3.5 m at 1 km: small, not 359.8 deg
    assert -3.5 < xu[0, 0] - x[0, 0] < 0.0  # moved west, towards 359.9 deg
    _, _, nis_b, _ = bearing_update(x, P, sensor, np.array([[359.9]]), np.array([[[0.25]]]))
    assert nis_b[0] < 0.5
    assert wrap_deg(359.9 - 0.1) == pytest.approx(-0.2)


def test_bearing_shrinks_across_not_along():
    x = np.array([[0.0, 2000.0, 100.0, 5.0, 5.0, 0.0]])
    P = (np.eye(6) * 400.0)[None]
    sensor = np.array([0.0, 0.0, 100.0])
    _, az, _ = enu_to_polar(x[:, :3], sensor)
    xu, Pu, nis, logdet = bearing_update(x, P, sensor, az[:, None], np.array([[[1.0]]]))
    np.testing.assert_allclose(xu, x, atol=1e-9)
    sigma_cross2 = (2000 * np.radians(1.0)) ** 2
    assert Pu[0, 0, 0] == pytest.approx(400 * sigma_cross2 / (400 + sigma_cross2))  # across: east
    assert Pu[0, 1, 1] == pytest.approx(400.0)  # along the bearing: unchanged
    assert Pu[0, 2, 2] == pytest.approx(400.0)
    assert logdet[0] == pytest.approx(np.log(np.radians(1.0) ** 2 + 400 / 2000**2))
    # With elevation the vertical shrinks too.
    _, Pe, _, _ = bearing_update(x, P, sensor, np.array([[0.0, 0.0]]), np.diag([1.0, 1.0])[None])
    assert Pe[0, 2, 2] == pytest.approx(400 * sigma_cross2 / (400 + sigma_cross2))


def test_kinematic_and_linear_ekf_equal_kalman_update():
    rng = np.random.default_rng(4)
    k = 6
    A = rng.normal(size=(k, 6, 6))
    P = A @ np.swapaxes(A, 1, 2) + np.eye(6)
    x = rng.normal(size=(k, 6)) * 10
    z = rng.normal(size=(k, 6)) * 10
    B = rng.normal(size=(k, 6, 6))
    R = B @ np.swapaxes(B, 1, 2) + np.eye(6)
    expected = kalman.update(x, P, z, R, (0, 1, 2, 3, 4, 5))
    for got in (kinematic_update(x, P, z, R), ekf_update(x, P, z - x, np.tile(np.eye(6), (k, 1, 1)), R)):
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)
    rows = (0, 1, 2, 3, 4)  # ADS-B without vertical rate
    got = kinematic_update(x, P, z[:, :5], R[:, :5, :5], rows)
    np.testing.assert_allclose(got[0], kalman.update(x, P, z[:, :5], R[:, :5, :5], rows)[0])


def test_radar_ekf_is_consistent_monte_carlo():
    # A consistent prior and radar noise at 2 km: mean NEES ~ 6 (state) and NIS ~ 3 (3 dof).
    rng = np.random.default_rng(5)
    n = 4000
    P0 = np.diag([100.0, 100.0, 100.0, 4.0, 4.0, 1.0])
    truth = np.array([1200.0, 1600.0, 150.0, 10.0, -5.0, 0.0]) + rng.multivariate_normal(np.zeros(6), P0, size=n)
    x = np.tile([1200.0, 1600.0, 150.0, 10.0, -5.0, 0.0], (n, 1))
    sensor = np.zeros((n, 3))
    sig = np.array([5.0, 0.3, 0.3])
    r, az, el = enu_to_polar(truth[:, :3], sensor)
    z = np.stack([r, az % 360.0, el], axis=1) + rng.normal(size=(n, 3)) * sig
    R = np.tile(np.diag(sig**2), (n, 1, 1))
    xu, Pu, nis, _ = radar_update(x, np.tile(P0, (n, 1, 1)), sensor, z, R)
    e = truth - xu
    nees = np.einsum("ki,ki->k", e, np.linalg.solve(Pu, e[:, :, None])[:, :, 0])
    assert nees.mean() == pytest.approx(6.0, abs=0.35)
    assert nis.mean() == pytest.approx(3.0, abs=0.2)


def test_triangulation_recovers_a_known_point():
    target = np.array([400.0, 800.0, 120.0])
    sensors = np.array([[[0.0, 0.0, 0.0], [1000.0, 0.0, 10.0], [-500.0, 900.0, 5.0]]])
    _, az, el = enu_to_polar(target[None, None, :], sensors)
    sig = np.full((1, 3), 1.0)
    pos, cov, ok = triangulate_bearings(sensors[:, :2], az[:, :2], sig[:, :2], up_prior=(50.0, 1e4))
    assert ok[0]
    np.testing.assert_allclose(pos[0, :2], target[:2], atol=1e-6)
    assert pos[0, 2] == 50.0 and cov[0, 2, 2] == 1e4
    pos3, cov3, ok3 = triangulate_bearings(sensors, az, sig, el, sig)
    np.testing.assert_allclose(pos3[0], target, atol=1e-6)
    assert ok3[0] and _spd(cov3)


def test_triangulation_batch_padding_and_degenerate_cases():
    s = np.array([
        [[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [0.0, 0.0, 0.0]],  # third bearing absent (NaN)
        [[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [0.0, 0.0, 0.0]],  # parallel bearings
        [[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [0.0, 0.0, 0.0]],  # diverging: crossing behind
        [[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [0.0, 0.0, 0.0]],  # a single bearing
    ])
    az = np.array([[45.0, 315.0, np.nan], [0.0, 0.0, np.nan], [315.0, 45.0, np.nan], [10.0, np.nan, np.nan]])
    pos, cov, ok = triangulate_bearings(s, az, np.ones_like(az))
    assert ok.tolist() == [True, False, False, False]
    np.testing.assert_allclose(pos[0, :2], [500.0, 500.0], atol=1e-6)
    assert np.isnan(pos[1:]).all()


def test_triangulation_covariance_is_consistent():
    rng = np.random.default_rng(6)
    g = 3000
    target = np.array([1500.0, 2500.0, 0.0])
    sensors = np.tile(np.array([[0.0, 0.0, 0.0], [3000.0, 0.0, 0.0], [0.0, 3000.0, 0.0]]), (g, 1, 1))
    _, az, _ = enu_to_polar(target[None, None, :], sensors)
    sig = np.full((g, 3), 2.0)
    pos, cov, ok = triangulate_bearings(sensors, az + rng.normal(size=(g, 3)) * sig, sig)
    assert ok.all()
    e = pos[:, :2] - target[:2]
    nees = np.einsum("ki,ki->k", e, np.linalg.solve(cov[:, :2, :2], e[:, :, None])[:, :, 0])
    assert nees.mean() == pytest.approx(2.0, abs=0.2)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    log_scale=st.floats(-1.0, 4.0),
    sigma_deg=st.floats(0.01, 5.0),
    sigma_r=st.floats(0.1, 100.0),
)
def test_ekf_updates_keep_covariance_spd(seed, log_scale, sigma_deg, sigma_r):
    rng = np.random.default_rng(seed)
    k = 8
    A = rng.normal(size=(k, 6, 6))
    P = (A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(6)) * 10.0**log_scale
    x = np.concatenate([rng.uniform(-10000, 10000, size=(k, 2)), rng.uniform(-100, 3000, size=(k, 1)), rng.normal(size=(k, 3)) * 10], axis=1)
    sensor = rng.uniform(-2000, 2000, size=(k, 3))
    r, az, el = enu_to_polar(x[:, :3], sensor)
    noise = rng.normal(size=(k, 3)) * [sigma_r, sigma_deg, sigma_deg]
    z = np.stack([r, az, el], axis=1) + noise
    z[:, 1] %= 360.0
    R = np.tile(np.diag([sigma_r**2, sigma_deg**2, sigma_deg**2]), (k, 1, 1))
    for xu, Pu, nis, logdet in (
        radar_update(x, P, sensor, z, R),
        radar_update(x, P, sensor, z[:, :2], R[:, :2, :2]),
        bearing_update(x, P, sensor, z[:, 1:], R[:, 1:, 1:]),
        bearing_update(x, P, sensor, z[:, 1:2], R[:, 1:2, 1:2]),
    ):
        assert np.isfinite(xu).all() and np.isfinite(nis).all() and np.isfinite(logdet).all()
        assert (nis >= 0).all()
        assert _spd(Pu)
        # An update never increases the variance of any state component.
        assert (np.diagonal(Pu, axis1=1, axis2=2) <= np.diagonal(P, axis1=1, axis2=2) * (1 + 1e-9)).all()
