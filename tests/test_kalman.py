"""The batched Kalman filter against analytic cases."""

import numpy as np
import pytest

from skywarden.fusion import kalman


def test_predict_moves_mean_by_velocity_times_dt():
    x = np.array([[10.0, -5.0, 100.0, 2.0, -3.0, 0.5]])
    xp, _ = kalman.predict(x, np.eye(6)[None], np.array([4.0]), 0.0, 0.0)
    assert xp[0].tolist() == [18.0, -17.0, 102.0, 2.0, -3.0, 0.5]


def test_predict_covariance_matches_F_P_Ft_plus_Q():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 6))
    P = A @ A.T + np.eye(6)
    dt, qh, qv = 1.7, 2.0, 0.5
    F = np.eye(6)
    F[:3, 3:] = dt * np.eye(3)
    q = np.array([qh, qh, qv])
    Q = np.zeros((6, 6))
    for i in range(3):
        Q[i, i] = dt**3 / 3 * q[i]
        Q[i, i + 3] = Q[i + 3, i] = dt**2 / 2 * q[i]
        Q[i + 3, i + 3] = dt * q[i]
    _, Pp = kalman.predict(np.zeros((1, 6)), P[None], np.array([dt]), qh, qv)
    np.testing.assert_allclose(Pp[0], F @ P @ F.T + Q, rtol=1e-12, atol=1e-12)


def test_scalar_update_matches_closed_form():
    # Prior variance 100 on east, measurement variance 25: posterior 20, gain 0.8.
    P = np.diag([100.0, 100, 100, 1, 1, 1])[None]
    x = np.zeros((1, 6))
    z = np.array([[10.0, 0.0, 0.0]])
    R = np.diag([25.0, 25, 25])[None]
    xu, Pu, nis, logdet = kalman.update(x, P, z, R, (0, 1, 2))
    assert logdet[0] == pytest.approx(3 * np.log(125.0))
    assert xu[0, 0] == pytest.approx(8.0)
    assert Pu[0, 0, 0] == pytest.approx(20.0)
    assert nis[0] == pytest.approx(100.0 / 125.0)


def test_update_with_velocity_measurement_corrects_velocity():
    P = np.diag([100.0, 100, 100, 400, 400, 400])[None]
    x = np.zeros((1, 6))
    z = np.array([[0.0, 0.0, 0.0, 10.0, -10.0]])
    R = np.diag([25.0, 25, 25, 1, 1])[None]
    xu, Pu, _, _ = kalman.update(x, P, z, R, (0, 1, 2, 3, 4))
    assert xu[0, 3] == pytest.approx(10.0 * 400 / 401)
    assert xu[0, 4] == pytest.approx(-10.0 * 400 / 401)
    assert Pu[0, 5, 5] == pytest.approx(400.0)  # vertical velocity unobserved


def test_batched_update_equals_one_by_one():
    rng = np.random.default_rng(7)
    k = 5
    x = rng.normal(size=(k, 6))
    A = rng.normal(size=(k, 6, 6))
    P = A @ np.swapaxes(A, 1, 2) + np.eye(6)
    z = rng.normal(size=(k, 3))
    R = np.tile(np.eye(3) * 4.0, (k, 1, 1))
    xb, Pb, _, _ = kalman.update(x, P, z, R, (0, 1, 2))
    for i in range(k):
        xi, Pi, _, _ = kalman.update(x[i : i + 1], P[i : i + 1], z[i : i + 1], R[i : i + 1], (0, 1, 2))
        np.testing.assert_allclose(xb[i], xi[0])
        np.testing.assert_allclose(Pb[i], Pi[0])


def test_position_innovation_is_mahalanobis_of_predicted_position():
    x = np.array([[0.0, 0, 0, 10, 0, 0]])
    P = np.diag([4.0, 4, 4, 1, 1, 1])[None]
    dt = np.array([2.0])
    z = np.array([[23.0, 0.0, 0.0]])
    R = np.eye(3)[None] * 1.0
    d2, logdet = kalman.position_innovation(x, P, dt, z, R, 0.0, 0.0)
    # predicted east 20, variance 4 + 4*1 + 1 = 9 -> d2 = 9/9 = 1
    assert d2[0] == pytest.approx(1.0)
    assert logdet[0] == pytest.approx(np.log(9.0 ** 3))


def test_constant_velocity_filter_converges_on_noisy_track():
    rng = np.random.default_rng(11)
    x = np.zeros((1, 6))
    P = np.diag([1e4, 1e4, 1e4, 900, 900, 25])[None]
    truth_v = np.array([12.0, -7.0, 1.0])
    R = np.eye(3)[None] * 100.0
    for k in range(1, 60):
        x, P = kalman.predict(x, P, np.array([1.0]), 0.1, 0.1)
        z = (truth_v * k + rng.normal(0, 10, 3))[None]
        x, P, _, _ = kalman.update(x, P, z, R, (0, 1, 2))
    assert np.linalg.norm(x[0, 3:] - truth_v) < 2.0
    assert np.all(np.linalg.eigvalsh(P[0]) > 0)
