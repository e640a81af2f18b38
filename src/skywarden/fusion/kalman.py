"""Batched nearly-constant-velocity (NCV) Kalman filter in the local ENU frame.

State per track, in this order: east, north, up (m), then east, north, up velocity (m/s).
Every function works on a whole batch at once: ``x`` is ``(k, 6)`` and ``P`` is ``(k, 6, 6)``;
there is never a Python loop over tracks.

The process noise is the discretised continuous white-noise acceleration model, per axis

    Q = q * [[dt^3/3, dt^2/2], [dt^2/2, dt]]

with spectral density ``q`` in m^2/s^3, horizontal and vertical separately. For a negative
``dt`` (an observation older than the track state, which happens inside a batch), the mean is
propagated backwards and the covariance still grows by Q(|dt|): a slightly pessimistic but
consistent retrodiction.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["sym3_inverse", "STATE_DIM", "POSITION", "VELOCITY", "predict", "inflate", "update", "position_innovation"]

FloatArray = npt.NDArray[np.float64]

STATE_DIM = 6
POSITION = slice(0, 3)
VELOCITY = slice(3, 6)


def _propagation_maps() -> FloatArray:
    """``(36, 72)``: a flattened ``P`` times this is ``[N P + P N', N P N']`` flattened, where
    ``F = I + dt N`` is the NCV transition, so ``F P F' = P + dt (N P + P N') + dt^2 N P N'``."""
    first, second = np.zeros((36, 36)), np.zeros((36, 36))
    for i in range(6):
        for j in range(6):
            if i < 3:
                first[6 * (i + 3) + j, 6 * i + j] += 1.0
            if j < 3:
                first[6 * i + j + 3, 6 * i + j] += 1.0
            if i < 3 and j < 3:
                second[6 * (i + 3) + j + 3, 6 * i + j] = 1.0
    return np.hstack([first, second])


_PROPAGATE = _propagation_maps()
_DIAG_PP = np.array([0, 7, 14])  # flat indices of the (i, i), (i, i+3), (i+3, i), (i+3, i+3) entries of a 6x6
_DIAG_PV = _DIAG_PP + 3
_DIAG_VP = _DIAG_PP + 18
_DIAG_VV = _DIAG_PP + 21
_NOISE_ROWS: dict[tuple[float, float], FloatArray] = {}


def _noise_density(q_h: float, q_v: float) -> FloatArray:
    return np.array([q_h, q_h, q_v])


def _noise_rows(q_h: float, q_v: float) -> FloatArray:
    """``(3, 36)``: ``[|dt|^3/3, dt^2/2, |dt|] @ this`` is the flattened ``Q(dt)``."""
    rows = _NOISE_ROWS.get((q_h, q_v))
    if rows is None:
        q = _noise_density(q_h, q_v)
        rows = np.zeros((3, 36))
        rows[0, _DIAG_PP] = q
        rows[1, _DIAG_PV] = rows[1, _DIAG_VP] = q
        rows[2, _DIAG_VV] = q
        _NOISE_ROWS[(q_h, q_v)] = rows
    return rows


def predict(x: FloatArray, P: FloatArray, dt: FloatArray, q_h: float, q_v: float) -> tuple[FloatArray, FloatArray]:
    """Predict states ``x (k,6)`` and covariances ``P (k,6,6)`` by ``dt (k,)`` seconds.

    Returns new arrays; the inputs are not modified.

    Example:
        >>> x = np.array([[0.0, 0, 0, 1, 2, 0]]); P = np.eye(6)[None]
        >>> xp, Pp = predict(x, P, np.array([2.0]), 0.0, 0.0)
        >>> xp[0, :3].tolist(), float(Pp[0, 0, 0])
        ([2.0, 4.0, 0.0], 5.0)
    """
    dt = np.asarray(dt, dtype=np.float64)
    k = dt.size
    xp = x.copy()
    xp[:, POSITION] += x[:, VELOCITY] * dt[:, None]
    # F P F' and Q as constant linear maps on the flattened covariances: one small matrix product
    # and a few whole-array operations. Measured 2x faster than 3x3 block arithmetic at 1-150
    # tracks (17 vs 34 us, 46 vs 91 us): at these sizes numpy's per-call cost is what counts.
    flat = P.reshape(k, 36)
    both = flat @ _PROPAGATE
    a = np.abs(dt)
    powers = np.empty((k, 3))
    powers[:, 2] = a
    powers[:, 1] = a * a
    powers[:, 0] = powers[:, 1] * a
    powers *= _Q_FACTORS
    Pp = flat + dt[:, None] * both[:, :36] + (dt * dt)[:, None] * both[:, 36:] + powers @ _noise_rows(q_h, q_v)
    return xp, Pp.reshape(k, 6, 6)


_Q_FACTORS = np.array([1.0 / 3.0, 0.5, 1.0])


def inflate(P: FloatArray, tau: float, q_h: float, q_v: float) -> FloatArray:
    """``P + Q(tau)``: the covariance widened by ``tau`` seconds of process noise, mean unchanged.

    Used to open a manoeuvre gate for a track whose covariance has become too optimistic.
    """
    Pi = P.copy()  # predict(dt=0, q=0) only copied P
    q = _noise_density(q_h, q_v)
    axis = np.arange(3)
    Pi[:, axis, axis] += tau**3 / 3.0 * q
    Pi[:, axis, axis + 3] += tau**2 / 2.0 * q
    Pi[:, axis + 3, axis] += tau**2 / 2.0 * q
    Pi[:, axis + 3, axis + 3] += tau * q
    return Pi


def update(
    x: FloatArray, P: FloatArray, z: FloatArray, R: FloatArray, rows: tuple[int, ...], likelihood: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
    """Kalman update of ``k`` states with measurements of the state components ``rows``.

    Args:
        x: ``(k, 6)`` predicted states.
        P: ``(k, 6, 6)`` predicted covariances.
        z: ``(k, m)`` measurements, ``m = len(rows)``; e.g. rows (0, 1, 2) for a position.
        R: ``(k, m, m)`` measurement covariances, or ``(k, m)`` variances of uncorrelated errors.
        rows: which state components are measured (a linear, selecting H).

    Returns:
        ``(x_updated, P_updated, nis, logdet_S)``: the normalised innovation squared and the
        log-determinant of the innovation covariance, per track (for the track score).

    The covariance update is ``P - K H P`` (``K S K'``), symmetrised. Without ``likelihood``,
    ``nis`` and ``logdet_S`` are not computed (None): they cost two more LAPACK calls per batch.
    """
    m = len(rows)
    if rows == (0, 1, 2):
        return _update_position(x, P, z, R, likelihood)
    if rows == tuple(range(m)):
        # Leading state components (a position, possibly a velocity): slices, not gathers.
        y = z - x[:, :m]
        PHt = P[:, :, :m].copy()  # P H'  (k, 6, m), contiguous as the gather gave it
        HPHt = PHt[:, :m, :]
    else:
        idx = np.asarray(rows)
        y = z - x[:, idx]
        PHt = P[:, :, idx]
        HPHt = PHt[:, idx, :]
    if R.ndim == 2:  # variances: added to the diagonal only (the same sums as a full R)
        S = HPHt.copy()
        diag = np.arange(m)
        S[:, diag, diag] += R
    else:
        S = HPHt + R  # H P H' + R  (k, m, m)
    S = 0.5 * (S + S.swapaxes(1, 2))
    nis = logdet = None
    if m == 3:
        # A position measurement: the 3x3 inverse in closed form (see sym3_inverse).
        S_inv, det = sym3_inverse(S)
        K = PHt @ S_inv
        if likelihood:
            nis = np.einsum("ki,kij,kj->k", y, S_inv, y)
            logdet = np.log(det)
    else:
        # K = P H' S^-1, solved rather than inverted: K' = S^-1 (P H')' because S is symmetric.
        K = (np.linalg.solve(S, PHt.swapaxes(1, 2))).swapaxes(1, 2)  # (k, 6, m)
        if likelihood:
            nis = np.einsum("ki,ki->k", y, np.linalg.solve(S, y[:, :, None])[:, :, 0])
            _, logdet = np.linalg.slogdet(S)
    xu = x + np.einsum("kij,kj->ki", K, y)
    # P - K S K' equals the Joseph form for the optimal gain and costs one batched product
    # instead of four; symmetrising keeps it exactly symmetric.
    Pu = P - K @ PHt.swapaxes(1, 2)
    Pu = 0.5 * (Pu + Pu.swapaxes(1, 2))
    return xu, Pu, nis, logdet


def sym3_inverse(S: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverse and determinant of symmetric positive-definite ``(k, 3, 3)`` matrices, in closed form.

    Cofactors on whole columns of the batch: measured 1.9x faster than ``np.linalg.solve`` plus
    ``slogdet`` at 150 matrices and 3x at 1,000 (LAPACK's per-matrix call dominates at 3x3).
    Innovation covariances here are far from singular (they include the sensor noise R).

    Example:
        >>> inv, det = sym3_inverse(np.diag([2.0, 4.0, 5.0])[None])
        >>> np.round(inv[0].diagonal(), 3).tolist(), float(det[0])
        ([0.5, 0.25, 0.2], 40.0)
    """
    a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 0, 2]
    d, e, f = S[:, 1, 1], S[:, 1, 2], S[:, 2, 2]
    A = d * f - e * e
    B = c * e - b * f
    C = b * e - c * d
    det = a * A + b * B + c * C
    inv = np.empty_like(S)
    inv[:, 0, 0] = A
    inv[:, 0, 1] = inv[:, 1, 0] = B
    inv[:, 0, 2] = inv[:, 2, 0] = C
    inv[:, 1, 1] = a * f - c * c
    inv[:, 1, 2] = inv[:, 2, 1] = b * c - a * e
    inv[:, 2, 2] = a * d - b * b
    inv /= det[:, None, None]
    return inv, det


def _innovation_maps() -> FloatArray:
    """``(36, 18)``: a flattened ``P`` times this gives the six distinct entries (00 01 02 11 12
    22) of ``P_pp``, of ``P_pv + P_vp`` and of ``P_vv``, so that the predicted position covariance
    is ``first + dt second + dt^2 third``."""
    maps = np.zeros((36, 18))
    for n, (i, j) in enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))):
        maps[6 * i + j, n] = 1.0
        maps[6 * i + j + 3, 6 + n] += 1.0
        maps[6 * (i + 3) + j, 6 + n] += 1.0
        maps[6 * (i + 3) + j + 3, 12 + n] = 1.0
    return maps


_INNOVATION = _innovation_maps()
_SYM_DIAG = np.array([0, 3, 5])  # the diagonal among the six distinct entries
_SYM_OF_FULL = np.array([0, 1, 2, 4, 5, 8])  # the six distinct entries in a flattened 3x3
# Cofactors of a symmetric 3x3 from its six distinct entries (a b c d e f = 00 01 02 11 12 22):
# df-ee, ce-bf, be-cd, af-cc, bc-ae, ad-bb, as products of gathered columns.
_COF_A, _COF_B = np.array([3, 2, 1, 0, 1, 0]), np.array([5, 4, 4, 5, 2, 3])
_COF_C, _COF_D = np.array([4, 1, 2, 2, 0, 1]), np.array([4, 5, 3, 2, 4, 1])
_OUTER_A, _OUTER_B = np.array([0, 0, 0, 1, 1, 2]), np.array([0, 1, 2, 1, 2, 2])
_OUTER_WEIGHT = np.array([1.0, 2.0, 2.0, 1.0, 2.0, 1.0])


def _cofactors(S: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Cofactors ``(k, 6)`` (same order as the entries) and determinants of symmetric 3x3
    matrices given by their six distinct entries ``S (k, 6)``."""
    cof = S[:, _COF_A] * S[:, _COF_B] - S[:, _COF_C] * S[:, _COF_D]
    return cof, np.einsum("ki,ki->k", S[:, :3], cof[:, :3])


def _quadratic_form(cof: FloatArray, y: FloatArray) -> FloatArray:
    """``y' adj(S) y`` from the cofactors of ``S``: divided by ``det S`` it is ``y' S^-1 y``."""
    return (cof * (y[:, _OUTER_A] * y[:, _OUTER_B])) @ _OUTER_WEIGHT


def position_innovation(
    x: FloatArray, P: FloatArray, dt: FloatArray, z: FloatArray, R: FloatArray, q_h: float, q_v: float
) -> tuple[FloatArray, FloatArray]:
    """Squared Mahalanobis distance and log-determinant of the position innovation.

    For ``k`` (track, observation) pairs: each track state ``x (k,6)``, ``P (k,6,6)`` is
    predicted by its own ``dt (k,)`` to the observation's time, and compared with the measured
    position ``z (k,3)`` whose covariance is ``R (k,3,3)``, or ``(k,3)`` variances of
    axis-aligned errors (added to the diagonal only: the same sums, without a mostly-zero array).

    Returns:
        ``(d2, logdet_S)``, both ``(k,)``.

    Example:
        >>> d2, _ = position_innovation(np.zeros((1, 6)), np.eye(6)[None], np.zeros(1),
        ...                             np.array([[3.0, 0, 0]]), np.ones((1, 3)), 1.0, 1.0)
        >>> float(d2[0])  # 3 m off, variance 1 + 1
        4.5
    """
    k = dt.size
    # The six distinct entries of S = H P(dt) H' + R, through constant linear maps, and the
    # quadratic form by cofactors: 25 % faster than (k,3,3) arithmetic at 1-150 pairs.
    parts = P.reshape(k, 36) @ _INNOVATION
    S = parts[:, :6] + dt[:, None] * parts[:, 6:12] + (dt * dt)[:, None] * parts[:, 12:]
    a = np.abs(dt)
    q = (a * a * a / 3.0)[:, None] * _noise_density(q_h, q_v)
    if R.ndim == 2:
        S[:, _SYM_DIAG] += R + q
    else:
        S += R.reshape(k, 9)[:, _SYM_OF_FULL]
        S[:, _SYM_DIAG] += q
    y = z - x[:, POSITION] - x[:, VELOCITY] * dt[:, None]
    cof, det = _cofactors(S)
    quad = _quadratic_form(cof, y)
    positive = det > 0
    if positive.all():
        return quad / det, np.log(det)
    safe = np.where(positive, det, 1.0)
    return np.where(positive, quad / safe, np.inf), np.log(safe)


_SYM_TO_FULL = np.array([0, 1, 2, 1, 3, 4, 2, 4, 5])  # a full 3x3 from its six distinct entries


def _update_position(
    x: FloatArray, P: FloatArray, z: FloatArray, R: FloatArray, likelihood: bool
) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
    """:func:`update` for a position measurement (rows 0, 1, 2): ``S`` and its inverse from the
    six distinct entries by cofactors, 20 % faster at 50-150 tracks than the general path."""
    k = x.shape[0]
    S = P.reshape(k, 36)[:, _PP_DISTINCT]
    if R.ndim == 2:
        S[:, _SYM_DIAG] += R
    else:
        S += R.reshape(k, 9)[:, _SYM_OF_FULL]
    cof, det = _cofactors(S)
    S_inv = (cof[:, _SYM_TO_FULL] / det[:, None]).reshape(k, 3, 3)
    PHt = P[:, :, :3]
    K = PHt @ S_inv
    y = z - x[:, POSITION]
    xu = x + (K @ y[:, :, None])[:, :, 0]
    Pu = P - K @ PHt.swapaxes(1, 2)
    Pu = 0.5 * (Pu + Pu.swapaxes(1, 2))
    if not likelihood:
        return xu, Pu, None, None
    return xu, Pu, _quadratic_form(cof, y) / det, np.log(det)


_PP_DISTINCT = np.array([0, 1, 2, 7, 8, 14])  # P_pp's six distinct entries in a flattened 6x6
