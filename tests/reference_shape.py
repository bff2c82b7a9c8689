"""Independent reference routes for the shape metrics and unit matching.

Nothing here imports ``metrics``; numpy float64, explicit and slow on purpose: explicit zero padding,
scipy's orthogonal Procrustes solver and assignment solver on explicit matrices, numpy's correlation
coefficients, brute force over permutations for tiny widths, scipy's linear-programming solver for the
transport problem, and explicit matrix square roots for the partial whitening.
"""
from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.spatial.distance import cdist


def centered(a: np.ndarray) -> np.ndarray:
    """Column means removed."""
    a = np.asarray(a, dtype=np.float64)
    return a - a.mean(axis=0)


def padded(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X and Y with zero columns appended to the narrower one, so both have max(p1, p2) columns."""
    width = max(x.shape[1], y.shape[1])
    return (np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in (x, y))


def procrustes_rotation(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X padded, Y padded, R) with R = argmin_{R^T R = I} ||X R - Y||_F from scipy.linalg.orthogonal_procrustes."""
    xp, yp = padded(x, y)
    r, _ = scipy.linalg.orthogonal_procrustes(xp, yp)
    return xp, yp, r


def procrustes_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """<X R, Y>_F / (||X||_F ||Y||_F) after the best rotation R (no centering here)."""
    xp, yp, r = procrustes_rotation(x, y)
    return float(np.sum((xp @ r) * yp) / (np.linalg.norm(xp) * np.linalg.norm(yp)))


def arccos_clipped(c: float) -> float:
    return float(np.arccos(np.clip(c, -1.0, 1.0)))


# ----------------------------------------------------------------------------------------------------
# Procrustes distances
# ----------------------------------------------------------------------------------------------------
def procrustes_size_shape(x: np.ndarray, y: np.ndarray) -> float:
    """||Xc R - Yc||_F, the residual of the orthogonal Procrustes fit itself (no nuclear-norm formula)."""
    xp, yp, r = procrustes_rotation(centered(x), centered(y))
    return float(np.linalg.norm(xp @ r - yp))


def procrustes_angular(x: np.ndarray, y: np.ndarray) -> float:
    """arccos(<Xc R, Yc> / (||Xc|| ||Yc||)) with scipy's rotation R."""
    return arccos_clipped(procrustes_cosine(centered(x), centered(y)))


def procrustes_angle_from_chord(x: np.ndarray, y: np.ndarray) -> float:
    """2 arcsin(||A R - B||_F / 2) for the unit-norm centered A, B and scipy's rotation R: the angle from
    the residual itself, which keeps its digits where arccos of a cosine near 1 does not."""
    a, b = centered(x), centered(y)
    ap, bp, r = procrustes_rotation(a / np.linalg.norm(a), b / np.linalg.norm(b))
    return float(2 * np.arcsin(np.linalg.norm(ap @ r - bp) / 2))


def procrustes_permutation(x: np.ndarray, y: np.ndarray) -> float:
    """||Xp P - Yp||_F with Xp, Yp zero-padded and the permutation matrix P from scipy's assignment on the
    square padded Xp^T Yp (maximizing), formed explicitly."""
    xp, yp = padded(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    rows, cols = scipy.optimize.linear_sum_assignment(xp.T @ yp, maximize=True)
    p = np.zeros((xp.shape[1], xp.shape[1]))
    p[rows, cols] = 1.0
    return float(np.linalg.norm(xp @ p - yp))


def procrustes_permutation_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """min over every permutation of the padded columns of ||Xp[:, perm] - Yp||_F (tiny widths only)."""
    xp, yp = padded(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return min(float(np.linalg.norm(xp[:, list(perm)] - yp)) for perm in itertools.permutations(range(xp.shape[1])))


# ----------------------------------------------------------------------------------------------------
# Partially whitened shape metric
# ----------------------------------------------------------------------------------------------------
def _rms_normalized(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Xc / s_rms with s_rms = ||Xc||_F / sqrt(rank Xc) (numpy's matrix_rank), and that rank."""
    xc = centered(x)
    rank = int(np.linalg.matrix_rank(xc))
    return xc / (np.linalg.norm(xc) / np.sqrt(rank)), rank


def partially_whitened_svd(x: np.ndarray, alpha: float) -> np.ndarray:
    """phi(X) = U_r diag(alpha s_r + 1 - alpha) V_r^T of X~ = Xc / s_rms, from numpy's SVD of X~ itself
    (any width; the r = rank directions only)."""
    xn, rank = _rms_normalized(x)
    u, s, vt = np.linalg.svd(xn, full_matrices=False)
    return (u[:, :rank] * (alpha * s[:rank] + 1 - alpha)) @ vt[:rank]


def partially_whitened_sqrtm(x: np.ndarray, alpha: float) -> np.ndarray:
    """phi(X) = X~ (alpha I + (1 - alpha) C^(-1/2)), C = X~^T X~, C^(-1/2) the inverse of scipy.linalg.sqrtm(C)
    (full column rank only: p < n and no collinear units)."""
    xn, rank = _rms_normalized(x)
    if rank < xn.shape[1]:
        raise ValueError("the sqrtm route needs full column rank")
    root = np.real(scipy.linalg.sqrtm(xn.T @ xn))
    return xn @ (alpha * np.eye(xn.shape[1]) + (1 - alpha) * np.linalg.inv(root))


def shape_metric(x: np.ndarray, y: np.ndarray, alpha: float = 0.5, *, whiten=partially_whitened_svd) -> float:
    """arccos of the Procrustes cosine (scipy's rotation, padded) of the partially whitened sides."""
    return arccos_clipped(procrustes_cosine(whiten(x, alpha), whiten(y, alpha)))


# ----------------------------------------------------------------------------------------------------
# Aligned cosine
# ----------------------------------------------------------------------------------------------------
def aligned_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """mean_i cos((Xp R)_i, (Yp)_i), R from scipy.linalg.orthogonal_procrustes on the padded uncentered data."""
    xp, yp, r = procrustes_rotation(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    rotated = xp @ r
    cosines = [a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(rotated, yp)]
    return float(np.mean(cosines))


# ----------------------------------------------------------------------------------------------------
# Correlation matching
# ----------------------------------------------------------------------------------------------------
def unit_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The X-by-Y block of numpy.corrcoef over the units, constant units (np.ptp == 0) left out."""
    x, y = (np.asarray(a, dtype=np.float64) for a in (x, y))
    x, y = x[:, np.ptp(x, axis=0) > 0], y[:, np.ptp(y, axis=0) > 0]
    return np.corrcoef(x.T, y.T)[: x.shape[1], x.shape[1] :]


def correlation_match_hard(x: np.ndarray, y: np.ndarray) -> float:
    """Mean of C over scipy's maximizing assignment on the explicit correlation matrix."""
    c = unit_correlations(x, y)
    rows, cols = scipy.optimize.linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].mean())


def correlation_match_hard_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """max over every injective map of the narrower side's units into the wider side's of the mean C."""
    c = unit_correlations(x, y)
    if c.shape[0] > c.shape[1]:
        c = c.T
    rows = np.arange(c.shape[0])
    return max(float(c[rows, list(cols)].mean()) for cols in itertools.permutations(range(c.shape[1]), c.shape[0]))


def correlation_match_soft(x: np.ndarray, y: np.ndarray) -> float:
    """(mean over X's units of their best correlation with Y + the same from Y) / 2, by explicit loops."""
    c = unit_correlations(x, y)
    best_x = [max(row) for row in c]
    best_y = [max(column) for column in c.T]
    return float((np.mean(best_x) + np.mean(best_y)) / 2)


# ----------------------------------------------------------------------------------------------------
# Soft matching (optimal transport between units)
# ----------------------------------------------------------------------------------------------------
def soft_matching(x: np.ndarray, y: np.ndarray) -> float:
    """sqrt of the optimal value of the transport linear program, solved by scipy.optimize.linprog (HiGHS
    dual simplex, a vertex) on the explicit costs ||x_j - y_k||^2 (scipy cdist between centered columns):
    min sum_jk T_jk cost_jk subject to sum_k T_jk = 1/p1, sum_j T_jk = 1/p2, T >= 0.
    The optimal plan's cost is then summed in float64 from cdist's costs."""
    xc, yc = centered(x), centered(y)
    cost = cdist(xc.T, yc.T, "sqeuclidean")
    p1, p2 = cost.shape
    rows = np.kron(np.eye(p1), np.ones((1, p2)))  # sum over k of T_jk
    cols = np.kron(np.ones((1, p1)), np.eye(p2))  # sum over j of T_jk
    scale = cost.max()
    result = scipy.optimize.linprog(
        cost.ravel() / scale,
        A_eq=np.vstack([rows, cols]),
        b_eq=np.concatenate([np.full(p1, 1.0 / p1), np.full(p2, 1.0 / p2)]),
        bounds=(0, None),
        method="highs-ds",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if result.status != 0:
        raise RuntimeError(f"linprog did not solve the transport problem: {result.message}")
    return float(np.sqrt(max(np.sum(result.x * cost.ravel()), 0.0)))


def soft_matching_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """Equal widths: the optimal plan is a permutation / p (Birkhoff-von Neumann), so the distance is
    min over permutations of sqrt(sum_j ||x_j - y_perm(j)||^2 / p) (tiny p only)."""
    xc, yc = centered(x), centered(y)
    p = xc.shape[1]
    if yc.shape[1] != p:
        raise ValueError("the permutation route needs equal widths")
    return min(
        float(np.sqrt(np.sum((xc[:, list(perm)] - yc) ** 2) / p)) for perm in itertools.permutations(range(p))
    )


#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {
    "procrustes_size_shape": procrustes_size_shape,
    "procrustes_angular": procrustes_angular,
    "procrustes_permutation": procrustes_permutation,
    "shape_metric": shape_metric,
    "aligned_cosine": aligned_cosine,
    "correlation_match_hard": correlation_match_hard,
    "correlation_match_soft": correlation_match_soft,
    "soft_matching": soft_matching,
}
