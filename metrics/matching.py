"""Unit-matching measures: hard and soft correlation matching (Li et al. 2016) and the soft-matching
distance by optimal transport (Khosla & Williams 2023).

All three compare the units (columns) of X and Y one by one, so they are invariant to relabelling the
units (permutation) but not to rotations of the activation space, which mix units.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from metrics import _naive
from metrics._bounds import TRANSPORT_MAX_ITERATIONS, transport_cost
from metrics._formulas import Derived
from metrics._inputs import InputError, _column_extremes
from metrics._linalg import (
    CANCELLATION_FRACTION,
    center,
    column_sq_norms,
    cross,
    magnitude_exponent,
    scale_by_power_of_two_,
    squares_in_range,
    take_columns,
)
from metrics._registry import MeasureError, register
from metrics.shape import distance_from_squares

LI_2016 = "Li, Yosinski, Clune, Lipson, Hopcroft 2016, Convergent Learning: Do different neural networks learn the same representations? (ICLR)"
KHOSLA_2023 = (
    "Khosla & Williams 2023, Soft Matching Distance: A metric on neural representations that captures "
    "single-neuron tuning (UniReps, PMLR 243)"
)


def _varying_units(a: torch.Tensor) -> torch.Tensor:
    """A without its constant columns (the registry's rule: max - min within 8 eps of the magnitude). A
    column whose first and last entries differ by more than twice that is varying without a pass over it
    (the argument of ``metrics._inputs._is_constant``); only inputs with another column take the pass."""
    tolerance = 8 * torch.finfo(a.dtype).eps
    first, last = a[0], a[-1]
    if bool(((last - first).abs() > 2 * tolerance * torch.maximum(first.abs(), last.abs())).all()):
        return a
    low, high = _column_extremes(a)
    varying = (high - low) > tolerance * torch.maximum(low.abs(), high.abs())
    return a if bool(varying.all()) else a[:, varying]


def _correlations(xy: torch.Tensor, sq_x: torch.Tensor, sq_y: torch.Tensor) -> np.ndarray:
    """C_jk = (Xc^T Yc)_jk / sqrt((Xc^T Xc)_jj (Yc^T Yc)_kk) as numpy, clipped to [-1, 1] (a unit's
    correlation with its copy may round to 1 + eps)."""
    c = (xy / torch.sqrt(sq_x[:, None] * sq_y[None, :])).cpu().numpy()
    return np.clip(c, -1.0, 1.0, out=c)


def unit_correlations(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Pearson correlations C [p1', p2'] between the varying units of X and those of Y (numpy), from the
    centered columns (each side scaled by a power of two first where its squares could overflow or
    underflow, :func:`metrics._linalg.squares_in_range`).

    Units that are constant over the samples (dead ReLUs, pruned channels) have no correlation with
    anything and are left out; the registry already refuses an input with no varying unit.
    """
    xc, yc = center(_varying_units(x)), center(_varying_units(y))
    sq_x, sq_y = column_sq_norms(xc), column_sq_norms(yc)
    if not (squares_in_range(float(sq_x.max()), xc.dtype) and squares_in_range(float(sq_y.max()), yc.dtype)):
        xc, yc = (scale_by_power_of_two_(a, magnitude_exponent(a)) for a in (xc, yc))
        sq_x, sq_y = column_sq_norms(xc), column_sq_norms(yc)
    return _correlations(cross(xc, yc), sq_x, sq_y)


def _stream_unit_correlations(d: Derived) -> np.ndarray:
    """C from the co-moments; a unit is constant when its variance is within rounding of its mean
    ((Xc^T Xc)_jj <= n (8 eps m_j)^2, the registry's rule for a spread within 8 eps of the magnitude)."""
    m, eps = d.moments, torch.finfo(d.xx.dtype).eps
    sq_x, sq_y = torch.diagonal(d.xx), torch.diagonal(d.yy)
    keep_x = sq_x > d.n * (8 * eps * m.mean_x) ** 2 / d.tx
    keep_y = sq_y > d.n * (8 * eps * m.mean_y) ** 2 / d.ty
    if not (bool(keep_x.any()) and bool(keep_y.any())):
        raise InputError("every unit of X or of Y is constant; no correlation is defined")
    return _correlations(d.xy[keep_x][:, keep_y], sq_x[keep_x], sq_y[keep_y])


def _hard_match(c: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].mean())


def _soft_match(c: np.ndarray) -> float:
    return float((c.max(axis=1).mean() + c.max(axis=0).mean()) / 2)


def _stream_correlation_match_hard(d: Derived) -> float:
    return _hard_match(_stream_unit_correlations(d))


def _stream_correlation_match_soft(d: Derived) -> float:
    return _soft_match(_stream_unit_correlations(d))


_CORRELATION_MATCH = dict(
    symmetric=True,
    invariances={"permutation", "isotropic_scaling", "translation"},
    bounds=(-1.0, 1.0),
    reference=LI_2016,
    backend="torch",
)


def _reference_correlation_match_hard(x, y) -> float:
    """Independent route: mean of C over scipy's maximizing assignment on the explicit correlation matrix
    C of numpy.corrcoef."""
    from scipy.optimize import linear_sum_assignment

    c = _naive.unit_correlations(x, y)
    rows, cols = linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].mean())


@register(
    "correlation_match_hard",
    reference_route=_reference_correlation_match_hard,
    **_CORRELATION_MATCH,
    streaming=_stream_correlation_match_hard,
    speed_bound=("XtY", "assignment(XtY)"),
)
def correlation_match_hard(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean correlation over the best one-to-one matching of units (Li et al. 2016, "hard" matching).

    C_jk is the Pearson correlation of unit j of X with unit k of Y over the n samples; the matching of
    min(p1, p2) pairs maximizing sum C_jk is found by scipy's ``linear_sum_assignment`` (Hungarian), and the
    value is the mean of the matched correlations, in [-1, 1]. Invariant to permuting units and to
    translation, and to rescaling each unit by its own positive factor (which the invariance vocabulary
    does not name; isotropic scaling is the case of one common factor); not to rotations. Constant units
    are left out before matching (:func:`unit_correlations`).
    """
    return _hard_match(unit_correlations(x, y))


def _reference_correlation_match_soft(x, y) -> float:
    """Independent route: (mean over X's units of their best correlation with Y + the same from Y) / 2, by
    explicit loops over numpy.corrcoef's matrix."""
    c = _naive.unit_correlations(x, y)
    best_x = [max(row) for row in c]
    best_y = [max(column) for column in c.T]
    return float((np.mean(best_x) + np.mean(best_y)) / 2)


@register(
    "correlation_match_soft",
    reference_route=_reference_correlation_match_soft,
    **_CORRELATION_MATCH,
    streaming=_stream_correlation_match_soft,
    speed_bound=("XtY",),
)
def correlation_match_soft(x: torch.Tensor, y: torch.Tensor) -> float:
    """(mean_j max_k C_jk + mean_k max_j C_jk) / 2: each unit's best-correlated partner, both ways.

    Li et al.'s (2016) "soft" (many-to-one) matching: every unit of X is paired with the unit of Y it
    correlates with most, and vice versa; the two directional means are averaged, which makes the
    measure symmetric (as ReSi does). C, the invariances and the handling of constant units are those of
    ``correlation_match_hard``.
    """
    return _soft_match(unit_correlations(x, y))


def _optimal_plan(xy: torch.Tensor) -> np.ndarray:
    """The optimal transport plan between uniform weights on the units for the costs ||x_j - y_k||^2,
    from their cross products x_j . y_k alone (:func:`metrics._bounds.transport_cost`): POT's ``ot.emd``."""
    import ot

    p1, p2 = xy.shape
    weights = np.full(p1, 1.0 / p1), np.full(p2, 1.0 / p2)
    # equal marginals by construction (no check needed), and no use for centred dual potentials
    plan, log = ot.emd(*weights, transport_cost(xy), numItermax=TRANSPORT_MAX_ITERATIONS, log=True,
                       check_marginals=False, center_dual=False)
    if log["warning"] is not None:
        raise MeasureError(f"soft_matching: the transport solver stopped short of optimal ({log['warning']})")
    return plan


def _stream_soft_matching(d: Derived) -> float:
    """From the co-moments: the plan of Xc^T Yc, its cost sum T_jk ((Xc^T Xc)_jj + (Yc^T Yc)_kk - 2 (Xc^T Yc)_jk)
    (the differences themselves are not in the sums), with the rounding rule of the distances."""
    m = d.moments
    plan = torch.as_tensor(_optimal_plan(m.xy), dtype=m.xy.dtype, device=m.xy.device)
    sq_x, sq_y = torch.diagonal(m.xx), torch.diagonal(m.yy)
    norms = float(plan.sum(dim=1) @ sq_x + plan.sum(dim=0) @ sq_y)
    return distance_from_squares(norms - 2.0 * float((plan * m.xy).sum()), norms, m.xy.dtype, int(m.count))


def _reference_soft_matching(x, y) -> float:
    """Independent route: sqrt of the optimal value of the transport linear program, solved by
    scipy.optimize.linprog (HiGHS dual simplex, a vertex) on the explicit costs ||x_j - y_k||^2 (scipy cdist
    between centered columns): min sum_jk T_jk cost_jk subject to sum_k T_jk = 1/p1, sum_j T_jk = 1/p2,
    T >= 0. The optimal plan's cost is then summed in float64 from cdist's costs."""
    from scipy.optimize import linprog
    from scipy.spatial.distance import cdist

    cost = cdist(_naive.centered(x).T, _naive.centered(y).T, "sqeuclidean")
    p1, p2 = cost.shape
    rows = np.kron(np.eye(p1), np.ones((1, p2)))  # sum over k of T_jk
    cols = np.kron(np.ones((1, p1)), np.eye(p2))  # sum over j of T_jk
    result = linprog(
        cost.ravel() / cost.max(),
        A_eq=np.vstack([rows, cols]),
        b_eq=np.concatenate([np.full(p1, 1.0 / p1), np.full(p2, 1.0 / p2)]),
        bounds=(0, None),
        method="highs-ds",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if result.status != 0:
        raise RuntimeError(f"linprog did not solve the transport problem: {result.message}")
    return float(np.sqrt(max(np.sum(result.x * cost.ravel()), 0.0)))


@register(
    "soft_matching",
    reference_route=_reference_soft_matching,
    symmetric=True,
    invariances={"permutation", "translation"},
    bounds=(0.0, math.inf),
    higher_is_more_similar=False,
    reference=KHOSLA_2023,
    backend="torch",
    streaming=_stream_soft_matching,
    speed_bound=("XtY", "transport(XtY)"),
)
def soft_matching(x: torch.Tensor, y: torch.Tensor) -> float:
    """Soft-matching distance sqrt(min_T sum_jk T_jk ||x_j - y_k||^2) between the units (Khosla & Williams 2023).

    x_j, y_k are the columns of the centered Xc, Yc (each unit's tuning over the n samples); T ranges
    over the transport plans with row sums 1/p1 and column sums 1/p2, so the value is the 2-Wasserstein
    distance between the uniform distributions on X's and on Y's units. For p1 = p2 the optimal plan is
    a permutation / p, and the distance is the centered permutation Procrustes distance over sqrt(p).
    The plan comes from POT's exact solver (``ot.emd``, network simplex) on the cost
    max_jk x_j . y_k - x_j . y_k, which has the same optimal plans as ||x_j - y_k||^2 (the norms add a
    constant per row and per column, and the marginals are fixed); the cost of that plan is then summed
    over its at most p1 + p2 - 1 pairs from the norms and the cross product, each pair that would lose more
    than 10 bits to cancellation from the difference x_j - y_k itself (:func:`_pair_costs`): identical
    inputs give exactly 0. A metric; invariant to permuting the units and to
    translation, not to rotations or scaling (it is in the data's units: soft_matching(s X, s Y) =
    s soft_matching(X, Y) for every s > 0, from 1e-150 to 1e150: where the largest squared unit norm
    leaves the range of :func:`metrics._linalg.squares_in_range`, both sides are multiplied by one power of two before the products, and the
    cost handed to the solver is scaled to a largest entry of 1, see :func:`metrics._bounds.transport_cost`).
    No side is normalized.
    """
    xc, yc = center(x), center(y)
    sq_x, sq_y = column_sq_norms(xc), column_sq_norms(yc)
    exponent = 0
    if not squares_in_range(max(float(sq_x.max()), float(sq_y.max())), xc.dtype):
        exponent = magnitude_exponent(xc, yc)  # one power of two for both sides: the distance is in their units
        xc, yc = scale_by_power_of_two_(xc, exponent), scale_by_power_of_two_(yc, exponent)
        sq_x, sq_y = column_sq_norms(xc), column_sq_norms(yc)
    xy = cross(xc, yc)
    plan = _optimal_plan(xy)
    rows, cols = np.nonzero(plan)
    mass = torch.as_tensor(plan[rows, cols], dtype=xc.dtype, device=xc.device)
    costs = _pair_costs(xc, yc, xy, sq_x[rows], sq_y[cols], rows, cols)
    return math.ldexp(math.sqrt(float((mass * costs).sum())), exponent)


def _pair_costs(xc: torch.Tensor, yc: torch.Tensor, xy: torch.Tensor, sq_x: torch.Tensor, sq_y: torch.Tensor,
                rows, cols) -> torch.Tensor:
    """||x_j - y_k||^2 for the pairs (rows[i], cols[i]) with their squared norms sq_x, sq_y: ||x_j||^2 +
    ||y_k||^2 - 2 x_j . y_k from the cross product already formed, and, where that loses more than 10 bits
    to cancellation (:data:`metrics._linalg.CANCELLATION_FRACTION`: nearly equal units), from the
    differences themselves, so each cost is within about 2^10 units of rounding and identical units cost
    exactly 0."""
    norms = sq_x + sq_y
    costs = norms - 2.0 * xy[rows, cols]
    lost = np.flatnonzero((costs < norms * CANCELLATION_FRACTION).numpy(force=True))
    if lost.size:
        costs[lost] = column_sq_norms(take_columns(xc, rows[lost]) - take_columns(yc, cols[lost]))
    return costs
