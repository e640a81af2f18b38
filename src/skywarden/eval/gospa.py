"""The GOSPA distance between a set of true positions and a set of estimated positions.

GOSPA (generalised optimal sub-pattern assignment, Rahmathullah, García-Fernández and Svensson,
2017) scores one scan of a multi-target tracker with a single number that splits into
interpretable parts. With ``alpha = 2`` it is the cost of the best partial assignment of truths to
estimates::

    GOSPA^p = sum over assigned pairs of d^p  +  c^p / 2 * (missed + false)

where only pairs closer than the cut-off ``c`` may be assigned, ``missed`` counts truths left
unassigned and ``false`` counts estimates left unassigned. With ``p = 1`` every term is in metres:
the localisation error of the assigned pairs, plus ``c/2`` per missed target and per false track.

Example:
    >>> import numpy as np
    >>> r = gospa(np.array([[0.0, 0, 0], [500, 0, 0]]), np.array([[3.0, 4, 0]]), c=100.0)
    >>> r.distance, r.localisation, r.missed, r.false, r.assignment
    (55.0, 5.0, 1, 0, [(0, 0)])
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

__all__ = ["GospaResult", "check_parameters", "gospa"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class GospaResult(msgspec.Struct, frozen=True):
    """The GOSPA distance of one scan and its parts.

    With ``alpha = 2``: ``distance ** p == localisation + c ** p / 2 * (missed + false)``.
    """

    distance: float
    """GOSPA distance, metres."""
    localisation: float
    """Sum of ``d ** p`` over the assigned pairs (metres when ``p = 1``)."""
    missed: int
    """Number of truths with no estimate assigned."""
    false: int
    """Number of estimates with no truth assigned."""
    assignment: list[tuple[int, int]]
    """``(truth row, estimate row)`` pairs, each closer than ``c``, sorted by truth row."""


def gospa(
    truth_xyz: npt.ArrayLike,
    est_xyz: npt.ArrayLike,
    c: float = 100.0,
    p: float = 1.0,
    alpha: float = 2.0,
) -> GospaResult:
    """GOSPA distance between true and estimated positions of one scan.

    Args:
        truth_xyz: ``(n, k)`` true positions, metres (any Cartesian frame, usually ENU).
        est_xyz: ``(m, k)`` estimated positions in the same frame, metres.
        c: cut-off distance, metres; pairs at least this far apart are never assigned.
        p: order, ``>= 1``; ``p = 1`` makes every part additive in metres.
        alpha: ``0 < alpha <= 2``. Only ``alpha = 2`` gives the missed/false reading; for smaller
            values pairs beyond ``c`` cost ``c ** p`` and only the cardinality mismatch costs
            ``c ** p / alpha`` per item (the general definition).

    Returns:
        The distance, its localisation part, the missed and false counts and the assignment.

    Raises:
        ValueError: on a bad parameter, mismatched shapes or non-finite coordinates.

    Example:
        >>> gospa(np.zeros((1, 3)), np.zeros((0, 3))).distance  # one missed target: c / 2
        50.0
    """
    check_parameters(c, p, alpha)
    x = _as_points(truth_xyz, "truth_xyz")
    y = _as_points(est_xyz, "est_xyz")
    if x.size and y.size and x.shape[1] != y.shape[1]:
        raise ValueError(f"truth_xyz has {x.shape[1]} coordinates per row but est_xyz has {y.shape[1]}")
    n, m = len(x), len(y)

    rows, cols, dist = _pairs_closer_than(x, y, c)
    chosen = _best_assignment(rows, cols, dist**p, c**p)
    order = np.argsort(rows[chosen], kind="stable")
    rows, cols, dist = rows[chosen][order], cols[chosen][order], dist[chosen][order]

    k = len(rows)
    localisation = float(np.sum(dist**p))
    # Pairs beyond c cost c^p each; the |n - m| truths or estimates that cannot be paired at all cost
    # c^p / alpha each. With alpha = 2 both are c^p / 2 per missed truth and per false estimate.
    far_pairs = min(n, m) - k
    total = localisation + c**p * far_pairs + c**p / alpha * abs(n - m)
    return GospaResult(
        distance=float(total ** (1.0 / p)),
        localisation=localisation,
        missed=n - k,
        false=m - k,
        assignment=[(int(i), int(j)) for i, j in zip(rows, cols)],
    )


def check_parameters(c: float, p: float, alpha: float) -> None:
    """Raise ValueError unless ``c > 0`` (metres), ``1 <= p < inf`` and ``0 < alpha <= 2``."""
    if not (math.isfinite(c) and c > 0.0):
        raise ValueError(f"c must be a positive number of metres, got {c}")
    if not (math.isfinite(p) and p >= 1.0):
        raise ValueError(f"p must be a finite number >= 1, got {p}")
    if not (0.0 < alpha <= 2.0):
        raise ValueError(f"alpha must be in (0, 2], got {alpha}")


def _as_points(a: npt.ArrayLike, name: str) -> FloatArray:
    """``a`` as a finite ``(rows, k)`` float array; an empty input becomes ``(0, 3)``."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, arr.shape[-1] if arr.ndim == 2 else 3))
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (rows, coordinates), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite coordinates")
    return arr


def _pairs_closer_than(x: FloatArray, y: FloatArray, c: float) -> tuple[IntArray, IntArray, FloatArray]:
    """All ``(i, j, |x_i - y_j|)`` with distance below ``c``.

    A k-d tree finds them without the full ``n * m`` distance matrix: in an airspace picture
    targets are usually far more than ``c`` apart, so there are about ``n`` pairs, not ``n * m``.
    """
    if len(x) == 0 or len(y) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)
    near = cKDTree(x).sparse_distance_matrix(cKDTree(y), max_distance=c, output_type="ndarray")
    near = near[near["v"] < c]  # the tree includes pairs at exactly c; GOSPA assigns only below c
    return near["i"].astype(np.intp), near["j"].astype(np.intp), near["v"].astype(np.float64)


def _best_assignment(rows: IntArray, cols: IntArray, cost: FloatArray, cost_cap: float) -> IntArray:
    """Indices of the candidate pairs in a minimum-cost assignment.

    Every candidate pair costs less than ``cost_cap``, the price of leaving its two ends
    unassigned, so the problem splits into independent pieces along the candidate graph. A pair
    whose truth and estimate have no other candidate is its own piece and is always taken; the
    rest go to one Hungarian-type solve on just the rows and columns that still compete.
    """
    if len(rows) == 0:
        return np.zeros(0, np.intp)
    row_degree = np.bincount(rows)
    col_degree = np.bincount(cols)
    alone = (row_degree[rows] == 1) & (col_degree[cols] == 1)
    chosen = [np.flatnonzero(alone)]
    contested = np.flatnonzero(~alone)
    if contested.size:
        r_ids, r = np.unique(rows[contested], return_inverse=True)
        c_ids, c = np.unique(cols[contested], return_inverse=True)
        # Non-candidates cost the cap: assigning them is no better than leaving both ends out.
        matrix = np.full((len(r_ids), len(c_ids)), cost_cap)
        matrix[r, c] = cost[contested]
        pair_of = np.full(matrix.shape, -1, dtype=np.intp)
        pair_of[r, c] = contested
        ri, ci = linear_sum_assignment(matrix)
        picked = pair_of[ri, ci]
        chosen.append(picked[picked >= 0])
    return np.concatenate(chosen)
