"""The batched IMM filter: analytic cases, mode switching on a simulated drone, invariants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.stats import multivariate_normal

from skywarden.fusion import kalman
from skywarden.fusion.imm import (
    DRONE,
    MANNED,
    IMMConfig,
    IMMState,
    MotionModel,
    combine,
    imm_init,
    imm_predict,
    imm_update,
    imm_update_with,
    motion_predict,
    transition_matrix,
)
from skywarden.fusion.measurement_models import enu_to_polar, radar_update


def _random_spd(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    A = rng.normal(size=(*shape, 6, 6))
    return (A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(6)) * scale


@pytest.mark.parametrize("config", [DRONE, MANNED])
def test_transition_matrix_is_a_continuous_time_chain(config):
    dt = np.array([0.0, 0.37, 0.63, 1.0, 5.0, 1e4])
    pi = transition_matrix(config, dt)
    np.testing.assert_allclose(pi[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(pi[3], np.array(config.transition_per_s), atol=1e-12)  # Pi(1 s) as configured
    np.testing.assert_allclose(pi[1] @ pi[2], pi[3], atol=1e-12)  # Chapman-Kolmogorov
    np.testing.assert_allclose(pi.sum(axis=2), 1.0, atol=1e-12)
    assert (pi >= 0).all()
    np.testing.assert_allclose(pi[5], np.tile(pi[5][0], (3, 1)), atol=1e-9)  # long gap: stationary
    np.testing.assert_allclose(transition_matrix(config, -dt), pi)  # retrodiction mixes like |dt|


def test_transition_matrix_with_a_complex_spectrum():
    # Cyclic switching a -> b -> c -> a has complex eigenvalues: the complex path must agree.
    cfg = IMMConfig(
        models=tuple(MotionModel(n, 1.0, 1.0) for n in "abc"),
        transition_per_s=((0.9, 0.09, 0.01), (0.01, 0.9, 0.09), (0.09, 0.01, 0.9)),
        initial_mu=(1.0, 0.0, 0.0),
    )
    assert np.iscomplexobj(cfg._eigval)
    pi = transition_matrix(cfg, np.array([0.5, 1.0, 2.5]))
    np.testing.assert_allclose(pi[1], np.array(cfg.transition_per_s), atol=1e-12)
    np.testing.assert_allclose(pi[0] @ pi[0], pi[1], atol=1e-12)
    np.testing.assert_allclose(pi[2], expm(cfg.generator * 2.5), atol=1e-12)


def test_non_embeddable_transition_matrix_is_rejected():
    with pytest.raises(ValueError, match="embeddable|logarithm"):
        IMMConfig(
            models=(MotionModel("a", 1, 1), MotionModel("b", 2, 2)),
            transition_per_s=((0.3, 0.7), (0.7, 0.3)),
            initial_mu=(0.5, 0.5),
        )
    with pytest.raises(ValueError):
        IMMConfig(models=(MotionModel("a", 1, 1),), transition_per_s=((0.9,),), initial_mu=(1.0,))


@pytest.mark.parametrize("dt", [-2.0, 0.0, 1e-7, 0.05, 1.0, 7.3])
def test_ncv_models_equal_kalman_predict(dt):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 6)) * 100
    P = _random_spd(rng, (4, 3))
    xp, Pp = motion_predict(x, P, np.full(4, dt), DRONE)
    for m, model in enumerate(DRONE.models[:2]):  # cv and manoeuvre: tau = inf
        xk, Pk = kalman.predict(x[:, m], P[:, m], np.full(4, dt), model.q_h, model.q_v)
        np.testing.assert_allclose(xp[:, m], xk, rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(Pp[:, m], Pk, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dt", [1e-6, 0.01, 0.0999, 0.1001, 0.5, 3.0, 12.0])
def test_hover_model_equals_van_loan_discretisation(dt):
    # The integrated Ornstein-Uhlenbeck model against the generic matrix-exponential discretisation.
    model = DRONE.models[2]
    beta = 1.0 / model.tau_s
    Fc = np.zeros((6, 6))
    Fc[:3, 3:] = np.eye(3)
    Fc[3:, 3:] = -beta * np.eye(3)
    Qc = np.diag([0, 0, 0, model.q_h, model.q_h, model.q_v])
    E = expm(np.block([[-Fc, Qc], [np.zeros((6, 6)), Fc.T]]) * dt)
    F = E[6:, 6:].T
    Q = F @ E[:6, 6:]
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 3, 6)) * 50
    P = _random_spd(rng, (1, 3))
    xp, Pp = motion_predict(x, P, np.array([dt]), DRONE)
    np.testing.assert_allclose(xp[0, 2], F @ x[0, 2], rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(Pp[0, 2], F @ P[0, 2] @ F.T + Q, rtol=1e-9, atol=1e-14)
    # Stationary velocity spread of the hover model is q tau / 2 (0.25 m^2/s^2 horizontally).
    # (Van Loan's block exponential itself loses all accuracy beyond ~15 s: it contains e^(dt/tau).)
    if dt > 10:
        assert Q[3, 3] == pytest.approx(model.q_h * model.tau_s / 2, rel=1e-6)


def test_single_model_imm_equals_kalman_filter():
    cfg = IMMConfig(models=(MotionModel("cv", 3.0, 1.0),), transition_per_s=((1.0,),), initial_mu=(1.0,))
    rng = np.random.default_rng(3)
    k = 5
    x = rng.normal(size=(k, 6)) * 100
    P = _random_spd(rng, (k,), 10.0)
    z = rng.normal(size=(k, 3)) * 100
    R = np.tile(np.diag([25.0, 25.0, 100.0]), (k, 1, 1))
    dt = rng.uniform(0.1, 3.0, size=k)
    s, xc, Pc, ll = imm_update(imm_predict(imm_init(x, P, cfg), dt), z, R, (0, 1, 2))
    xk, Pk = kalman.predict(x, P, dt, 3.0, 1.0)
    xk, Pk, nis, logdet = kalman.update(xk, Pk, z, R, (0, 1, 2))
    np.testing.assert_allclose(xc, xk, rtol=1e-10)
    np.testing.assert_allclose(Pc, Pk, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ll, -0.5 * (nis + logdet + 3 * math.log(2 * math.pi)), rtol=1e-12)
    np.testing.assert_allclose(s.mu, 1.0)


def test_loglik_is_the_mixture_density_and_mu_is_bayes():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 6)) * 10
    P = _random_spd(rng, (1,), 20.0)
    s = imm_predict(imm_init(x, P, DRONE), np.array([2.0]))
    # Make the models differ before the update so the test is not trivial.
    s = IMMState(s.mu, s.x + rng.normal(size=s.x.shape), s.P, s.config)
    z = rng.normal(size=(1, 3)) * 10
    R = np.diag([30.0, 30.0, 60.0])[None]
    new, _, _, ll = imm_update(s, z, R, (0, 1, 2))
    dens = np.array([multivariate_normal(s.x[0, j, :3], s.P[0, j, :3, :3] + R[0]).pdf(z[0]) for j in range(3)])
    assert ll[0] == pytest.approx(math.log((s.mu[0] * dens).sum()), rel=1e-10)
    np.testing.assert_allclose(new.mu[0], s.mu[0] * dens / (s.mu[0] * dens).sum(), rtol=1e-10)


def test_combine_is_the_moment_matched_mixture():
    rng = np.random.default_rng(5)
    mu = rng.dirichlet(np.ones(3), size=2)
    x = rng.normal(size=(2, 3, 6)) * 10
    P = _random_spd(rng, (2, 3))
    xc, Pc = combine(IMMState(mu, x, P, DRONE))
    for t in range(2):
        mean = sum(mu[t, j] * x[t, j] for j in range(3))
        cov = sum(mu[t, j] * (P[t, j] + np.outer(x[t, j] - mean, x[t, j] - mean)) for j in range(3))
        np.testing.assert_allclose(xc[t], mean, rtol=1e-12)
        np.testing.assert_allclose(Pc[t], cov, rtol=1e-12, atol=1e-12)


def test_static_target_converges_to_the_analytic_covariance():
    # No process noise in any model: n position fixes of a static target leave exactly
    # P = (P0^-1 + n R^-1)^-1, and every model agrees so the mode probabilities do not move.
    cfg = IMMConfig(
        models=(MotionModel("a", 0.0, 0.0), MotionModel("b", 0.0, 0.0)),
        transition_per_s=((0.9, 0.1), (0.2, 0.8)),
        initial_mu=(0.5, 0.5),
    )
    rng = np.random.default_rng(6)
    truth = np.array([100.0, -50.0, 30.0])
    P0 = np.diag([1e4, 1e4, 1e4, 1e-6, 1e-6, 1e-6])  # known to be static
    R = np.diag([25.0, 49.0, 100.0])
    s = imm_init(np.zeros((1, 6)), P0[None], cfg)
    zs = truth + rng.normal(size=(200, 3)) * np.sqrt(np.diag(R))
    for z in zs:
        s = imm_predict(s, np.array([0.0]))
        s, xc, Pc, _ = imm_update(s, z[None], R[None], (0, 1, 2))
    n = len(zs)
    expected = np.linalg.inv(np.linalg.inv(P0[:3, :3]) + n * np.linalg.inv(R))
    np.testing.assert_allclose(Pc[0, :3, :3], expected, rtol=1e-6)
    np.testing.assert_allclose(s.mu[0], [0.5, 0.5], rtol=1e-12)  # dt = 0: no switching; equal likelihoods
    assert np.all(np.abs(xc[0, :3] - truth) < 3.5 * np.sqrt(np.diag(expected)))
    # A long gap forgets the modes: the chain's stationary law, (2/3, 1/3).
    np.testing.assert_allclose(imm_predict(s, np.array([1e3])).mu[0], [2 / 3, 1 / 3], rtol=1e-9)


# -- mode switching on simulated flights --------------------------------------------------------


def _fly(pos, vel, seconds, accel) -> np.ndarray:
    """1 Hz truth rows (e, n, u, ve, vn, vu), integrated at 100 Hz; ``accel(t, v)`` in m/s^2
    (``None`` holds the aircraft still: a hover)."""
    pos, v = np.array(pos, dtype=float), np.array(vel, dtype=float)
    sub, out, t = 0.01, [], 0.0
    for _ in range(seconds):
        for _ in range(100):
            a = accel(t, v)
            if a is None:
                v = np.zeros(3)
            else:
                v = v + a * sub
                pos = pos + v * sub
            t += sub
        out.append(np.concatenate([pos, v]))
    return np.array(out)


def _brake(v, rate):
    speed = np.linalg.norm(v)
    return -v / speed * min(rate, speed / 0.01) if speed > 0 else np.zeros(3)


def _turn(v, deg_per_s):
    return np.radians(deg_per_s) * np.array([-v[1], v[0], 0.0])


def _drone_accel(t, v):
    """40 s straight at 15 m/s, stop (3 m/s^2), hover until 85 s, speed up to 12 m/s, then from
    90 s sharp weaving turns of 40 deg/s (8 m/s^2), alternating every 5 s."""
    if t < 40:
        return np.zeros(3)
    if t < 45:
        return _brake(v, 3.0)
    if t < 85:
        return None
    if t < 90:
        return np.array([0.0, 2.4, 0.0])
    return _turn(v, 40.0 if int((t - 90) // 5) % 2 == 0 else -40.0)


def _run_filters(truth, config, sigma, seed):
    """IMM and each NCV model of ``config`` alone on noisy 1 Hz position fixes of ``truth``."""
    rng = np.random.default_rng(seed)
    Z = truth[:, :3] + rng.normal(scale=sigma, size=(len(truth), 3))
    R = (np.eye(3) * sigma**2)[None]
    x0 = np.concatenate([Z[0], truth[0, 3:]])[None]
    P0 = np.diag([sigma**2] * 3 + [100.0, 100.0, 25.0])[None]
    s = imm_init(x0, P0, config)
    single = {m.name: (x0, P0, m) for m in config.models if math.isinf(m.tau_s)}
    err = {"imm": [], **{name: [] for name in single}}
    mus = []
    one = np.array([1.0])
    for k in range(len(truth)):
        if k:
            s = imm_predict(s, one)
            single = {n: (*kalman.predict(x, P, one, m.q_h, m.q_v), m) for n, (x, P, m) in single.items()}
        s, xc, _, _ = imm_update(s, Z[k][None], R, (0, 1, 2))
        mus.append(s.mu[0])
        err["imm"].append(np.linalg.norm(xc[0, :3] - truth[k, :3]))
        for n, (x, P, m) in single.items():
            x, P, _, _ = kalman.update(x, P, Z[k][None], R, (0, 1, 2))
            single[n] = (x, P, m)
            err[n].append(np.linalg.norm(x[0, :3] - truth[k, :3]))
    rms = {n: float(np.sqrt(np.mean(np.square(e[5:])))) for n, e in err.items()}
    return np.array(mus), rms


def _dominant(mus, config, phases):
    return {mode: config.names[int(np.argmax(mus[a:b].mean(axis=0)))] for mode, (a, b) in phases.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mode_probabilities_follow_a_drone_and_imm_beats_single_models(seed):
    phases = {"cv": (10, 40), "hover": (52, 85), "manoeuvre": (93, 120)}
    mus, rms = _run_filters(_fly([0, 0, 60], [15, 0, 0], 120, _drone_accel), DRONE, 5.0, seed)
    assert _dominant(mus, DRONE, phases) == {mode: mode for mode in phases}
    assert mus[52:85, DRONE.index("hover")].mean() > 0.6
    assert mus[93:120, DRONE.index("manoeuvre")].mean() > 0.4
    # Seeds 0-5 give IMM 5.4-6.2 m against 7.6-9.1 m (cv alone) and 7.0-7.7 m (manoeuvre alone).
    assert rms["imm"] < 0.85 * rms["cv"]
    assert rms["imm"] < 0.85 * rms["manoeuvre"]


def test_manned_tuning_airliner_turn_and_helicopter_hover():
    # Airliner at 130 m/s, a 40 s rate-one turn (3 deg/s, 6.8 m/s^2), ADS-B-like 20 m noise.
    airliner = _fly([0, 0, 3000], [130, 0, 0], 140, lambda t, v: _turn(v, 3.0) if 60 <= t < 100 else np.zeros(3))
    mus, rms = _run_filters(airliner, MANNED, 20.0, 0)
    assert _dominant(mus, MANNED, {"cv": (10, 60), "manoeuvre": (65, 100)}) == {"cv": "cv", "manoeuvre": "manoeuvre"}
    assert rms["imm"] < rms["manoeuvre"] and rms["imm"] < 0.5 * rms["cv"]  # 20.9, 23.0, 190 m
    # Helicopter at 40 m/s braking at 4 m/s^2 into a hover.
    heli = _fly([0, 0, 300], [40, 0, 0], 120, lambda t, v: np.zeros(3) if t < 30 else (_brake(v, 4.0) if t < 40 else None))
    mus, rms = _run_filters(heli, MANNED, 20.0, 0)
    assert _dominant(mus, MANNED, {"cv": (5, 30), "hover": (50, 120)}) == {"cv": "cv", "hover": "hover"}
    assert rms["imm"] < 0.75 * rms["manoeuvre"] and rms["imm"] < 0.5 * rms["cv"]  # 12.0, 20.8, 41.5 m


def test_imm_with_radar_plots_via_update_with():
    # The EKF radar model plugs into the IMM: a target straight ahead, measured exactly.
    sensor = np.zeros((2, 3))
    x = np.array([[0.0, 3000.0, 100.0, 0.0, -10.0, 0.0], [2000.0, 2000.0, 50.0, 5.0, 5.0, 0.0]])
    P = np.tile(np.diag([100.0, 100.0, 100.0, 25.0, 25.0, 4.0]), (2, 1, 1))
    s = imm_predict(imm_init(x, P, DRONE), np.array([1.0, 1.0]))
    xc_prior, _ = combine(s)
    r, az, el = enu_to_polar(xc_prior[:, :3], sensor)
    z = np.stack([r, az, el], axis=1)
    R = np.tile(np.diag([25.0, 0.3**2, 0.3**2]), (2, 1, 1))
    new, xc, Pc, ll = imm_update_with(s, radar_update, 3, sensor, z, R)
    assert new.mu.shape == (2, 3) and np.isfinite(ll).all()
    np.testing.assert_allclose(new.mu.sum(axis=1), 1.0)
    assert np.linalg.norm(xc[:, :3] - xc_prior[:, :3], axis=1).max() < 2.0
    assert (np.linalg.eigvalsh(Pc) > 0).all()


def test_take_selects_tracks():
    s = imm_init(np.arange(18.0).reshape(3, 6), np.tile(np.eye(6), (3, 1, 1)), MANNED)
    sub = s.take(np.array([2, 0]))
    assert len(sub) == 2 and sub.x[0, 0, 0] == 12.0 and sub.config is MANNED


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    dts=st.lists(st.floats(-2.0, 30.0), min_size=1, max_size=6),
    log_r=st.floats(-2.0, 5.0),
    manned=st.booleans(),
)
def test_covariances_stay_spd_and_mu_a_distribution(seed, dts, log_r, manned):
    rng = np.random.default_rng(seed)
    cfg = MANNED if manned else DRONE
    k = 6
    x = rng.normal(size=(k, 6)) * 1000
    P = _random_spd(rng, (k,), 10.0)
    s = imm_init(x, P, cfg)
    for dt in dts:
        s = imm_predict(s, np.full(k, dt) * rng.uniform(0.5, 1.0, size=k))
        z = rng.normal(size=(k, 3)) * 10 ** rng.uniform(0, 4) + combine(s)[0][:, :3]
        R = np.tile(np.eye(3) * 10**log_r, (k, 1, 1))
        s, xc, Pc, ll = imm_update(s, z, R, (0, 1, 2))
        for cov in (s.P, Pc):
            np.testing.assert_allclose(cov, np.swapaxes(cov, -1, -2), rtol=0, atol=1e-9 * np.abs(cov).max())
            assert (np.linalg.eigvalsh(cov) > 0).all()
        assert np.isfinite(ll).all() and np.isfinite(xc).all()
        np.testing.assert_allclose(s.mu.sum(axis=1), 1.0, rtol=1e-12)
        assert (s.mu >= 0).all()
