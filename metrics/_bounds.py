"""The vocabulary of speed-bound primitives, and how to time each one.

A measure declares ``speed_bound=`` in its registration: the names of the products and decompositions
its exact formula cannot do without (``@register(..., speed_bound=("XtX", "YtY", "XtY"))`` for linear
CKA). The registry checks every name against :data:`PRIMITIVES`; ``benchmarks/test_speed.py`` times
every primitive on the same operands (centered X [n, p1], Y [n, p2]) and reports each measure's median
time over the sum of its declared primitives' medians, measured in the same run. What a measure adds
(input checks, centering, rank decisions, bookkeeping) shows as the excess of that ratio over 1.

Each primitive runs the fastest routine installed here (numpy's BLAS for products, torch's LAPACK for
QR and SVD, ``torch.topk``, scipy's assignment solver) on operands prepared beforehand (:class:`Operands`,
whose factors are computed lazily and once), so a primitive's time is that one step alone.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(50, 4)); y = x[:, :3]
>>> operands = Operands(x, y)
>>> PRIMITIVES["XtY"].run(operands).shape
(4, 3)
>>> unknown_primitives(("XtX", "XtX^2"))
['XtX^2']
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.linalg
import torch

__all__ = [
    "NEIGHBOURS",
    "PRIMITIVES",
    "TRANSPORT_MAX_ITERATIONS",
    "Operands",
    "Primitive",
    "transport_cost",
    "unknown_primitives",
]

#: k of the row-wise top-k primitives (the kNN measures' default neighbourhood size).
NEIGHBOURS = 10
#: Iteration limit of the network simplex. POT's default, 1e5, sufficed up to 2048 x 2048 units here, but
#: the pivots grow with p1 p2; soft_matching raises rather than report a plan stopped short of optimal.
TRANSPORT_MAX_ITERATIONS = 100_000_000


class Operands:
    """Centered X [n, p1], Y [n, p2] (float64) and the factors the primitives start from, each made once.

    A primitive times one step; its inputs (QR factors, Gram and distance matrices...) come from here,
    computed on first use (the n x n ones are only built when an O(n^2) primitive is timed).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.xc, self.yc = x - x.mean(axis=0), y - y.mean(axis=0)
        self.n = self.xc.shape[0]
        self._made: dict[tuple[str, str], Any] = {}  # per instance, so a shape's matrices go with it

    def side(self, which: str) -> np.ndarray:
        return self.xc if which == "X" else self.yc

    def _once(self, what: str, which: str, make: Callable[[np.ndarray], Any]) -> Any:
        if (what, which) not in self._made:
            self._made[what, which] = make(self.side(which))
        return self._made[what, which]

    def qr(self, which: str) -> tuple[np.ndarray, torch.Tensor]:
        """Thin QR (Q as numpy, R as a tensor) of the centered side."""

        def make(a):
            q, r = torch.linalg.qr(torch.from_numpy(a))
            return q.numpy(), r

        return self._once("qr", which, make)

    def covariance(self, which: str) -> np.ndarray:
        """Xc^T Xc (or Yc^T Yc), the p x p product the Gram routes factor."""
        return self._once("covariance", which, lambda a: a.T @ a)

    @functools.cached_property
    def cross(self) -> torch.Tensor:
        """Xc^T Yc."""
        return torch.from_numpy(self.xc.T @ self.yc)

    @functools.cached_property
    def bases(self) -> torch.Tensor:
        """Qx^T Qy."""
        return torch.from_numpy(self.qr("X")[0].T @ self.qr("Y")[0])

    def gram(self, which: str) -> torch.Tensor:
        """The n x n Gram matrix of the centered side."""
        return self._once("gram", which, lambda a: torch.from_numpy(a @ a.T))

    def sqdist(self, which: str) -> np.ndarray:
        """The n x n squared Euclidean distances of one side."""
        return self._once("sqdist", which, _sqdist)

    @functools.cached_property
    def pairs(self) -> torch.Tensor:
        """The n(n-1)/2 upper-triangle values of X's distance matrix."""
        return torch.from_numpy(self.sqdist("X")[np.triu_indices(self.n, k=1)])


def _sqdist(a: np.ndarray) -> np.ndarray:
    """||a_i||^2 + ||a_j||^2 - 2 a_i . a_j: one n x n product and one elementwise pass."""
    norms = np.einsum("ij,ij->i", a, a)
    out = a @ a.T
    out *= -2.0
    out += norms[:, None]
    out += norms[None, :]
    return out


def _assignment(matrix: torch.Tensor):
    from scipy.optimize import linear_sum_assignment  # scipy loads only when this primitive is timed

    return linear_sum_assignment(matrix.numpy(), maximize=True)


def transport_cost(cross: torch.Tensor) -> np.ndarray:
    """(max - Xc^T Yc) / (max - min): a cost with the optimal plans of the squared distances between
    units (the norms in ||x_j - y_k||^2 only add a constant per row and per column), in [0, 1].

    Nonnegative, because POT's network simplex calls some problems whose costs are all negative
    infeasible; scaled to a largest cost of 1, because the simplex compares reduced costs with an
    absolute epsilon, which stopped it short of optimal on small-magnitude data (soft_matching(s X, s Y)
    / s was 2 % off at s = 1e-8 and 13-45 % off at s <= 1e-10). Scaling the cost does not change the
    optimal plans. All costs equal (every plan optimal) stay 0. C-ordered float64, as POT needs.
    """
    cost = cross.cpu().numpy()
    cost = cost.max() - cost
    spread = cost.max()
    return np.ascontiguousarray(cost / spread if spread > 0 else cost, dtype=np.float64)


def _transport(matrix: torch.Tensor):
    import ot  # POT loads only when this primitive is timed

    p1, p2 = matrix.shape
    weights = np.full(p1, 1.0 / p1), np.full(p2, 1.0 / p2)
    return ot.emd(*weights, transport_cost(matrix), numItermax=TRANSPORT_MAX_ITERATIONS)


@dataclass(frozen=True)
class Primitive:
    """One step of a speed bound: what it is, and how to run it on :class:`Operands`.

    ``needs_n_above_p``: the step is a thin QR (or built on one) and is only defined for p <= n.
    """

    name: str
    meaning: str
    run: Callable[[Operands], Any]
    needs_n_above_p: bool = False


def _primitives(*items: Primitive) -> dict[str, Primitive]:
    return {item.name: item for item in items}


#: The vocabulary: every name a measure may list in ``speed_bound=``.
PRIMITIVES: dict[str, Primitive] = _primitives(
    Primitive("XtX", "Xc^T Xc, the p1 x p1 covariance product (syrk-sized)", lambda o: o.xc.T @ o.xc),
    Primitive("YtY", "Yc^T Yc, the p2 x p2 covariance product", lambda o: o.yc.T @ o.yc),
    Primitive("XtY", "Xc^T Yc, the p1 x p2 cross product", lambda o: o.xc.T @ o.yc),
    Primitive("QR(X)", "thin QR of Xc [n, p1]", lambda o: torch.linalg.qr(torch.from_numpy(o.xc)), True),
    Primitive("QR(Y)", "thin QR of Yc [n, p2]", lambda o: torch.linalg.qr(torch.from_numpy(o.yc)), True),
    Primitive("Qx^T Y", "Qx^T Yc, X's orthonormal basis against Y", lambda o: o.qr("X")[0].T @ o.yc, True),
    Primitive("Qx^T Qy", "Qx^T Qy, the product of the two orthonormal bases", lambda o: o.qr("X")[0].T @ o.qr("Y")[0], True),
    Primitive("svdvals(Xc^T Yc)", "singular values of the p1 x p2 cross product", lambda o: torch.linalg.svdvals(o.cross)),
    Primitive("svdvals(Qx^T Qy)", "singular values of Qx^T Qy (the canonical correlations)", lambda o: torch.linalg.svdvals(o.bases), True),
    Primitive("svd(Qx^T Qy)", "full SVD of Qx^T Qy (canonical correlations and directions)", lambda o: torch.linalg.svd(o.bases), True),
    Primitive("svd(Rx)", "SVD of X's p1 x p1 triangular QR factor", lambda o: torch.linalg.svd(o.qr("X")[1]), True),
    Primitive("svd(Ry)", "SVD of Y's p2 x p2 triangular QR factor", lambda o: torch.linalg.svd(o.qr("Y")[1]), True),
    Primitive("eigvalsh(XtX)", "eigenvalues of Xc^T Xc (numpy's eigvalsh): the Gram route's condition check", lambda o: np.linalg.eigvalsh(o.covariance("X")), True),
    Primitive("eigvalsh(YtY)", "eigenvalues of Yc^T Yc (numpy's eigvalsh)", lambda o: np.linalg.eigvalsh(o.covariance("Y")), True),
    Primitive("cholesky(XtX)", "Cholesky factor of Xc^T Xc (scipy): the Gram route's basis of X", lambda o: scipy.linalg.cholesky(o.covariance("X"), check_finite=False), True),
    Primitive("cholesky(YtY)", "Cholesky factor of Yc^T Yc (scipy)", lambda o: scipy.linalg.cholesky(o.covariance("Y"), check_finite=False), True),
    Primitive("eigh(XtX)", "eigendecomposition of Xc^T Xc (numpy's eigh): the Gram route's singular directions of X", lambda o: np.linalg.eigh(o.covariance("X")), True),
    Primitive("eigh(YtY)", "eigendecomposition of Yc^T Yc (numpy's eigh)", lambda o: np.linalg.eigh(o.covariance("Y")), True),
    Primitive("svd(X)", "thin SVD of Xc [n, p1]", lambda o: torch.linalg.svd(torch.from_numpy(o.xc), full_matrices=False)),
    Primitive("svd(Y)", "thin SVD of Yc [n, p2]", lambda o: torch.linalg.svd(torch.from_numpy(o.yc), full_matrices=False)),
    Primitive("XXt", "Xc Xc^T, the n x n Gram matrix of X", lambda o: o.xc @ o.xc.T),
    Primitive("YYt", "Yc Yc^T, the n x n Gram matrix of Y", lambda o: o.yc @ o.yc.T),
    Primitive("sqdist(X)", "n x n squared Euclidean distances of X (Gram route: one n x n product included)", lambda o: _sqdist(o.xc)),
    Primitive("sqdist(Y)", "n x n squared Euclidean distances of Y (Gram route: one n x n product included)", lambda o: _sqdist(o.yc)),
    Primitive("topk(XXt)", f"row-wise k = {NEIGHBOURS} largest of an n x n matrix (torch.topk), X's Gram", lambda o: torch.topk(o.gram("X"), NEIGHBOURS, dim=1)),
    Primitive("topk(YYt)", f"row-wise k = {NEIGHBOURS} largest of an n x n matrix (torch.topk), Y's Gram", lambda o: torch.topk(o.gram("Y"), NEIGHBOURS, dim=1)),
    Primitive("argsort(pairs)", "one sort with its permutation (torch.sort, faster than np.argsort) of the n(n-1)/2 upper-triangle values of an n x n matrix", lambda o: torch.sort(o.pairs)),
    Primitive("assignment(XtY)", "scipy's linear_sum_assignment (maximizing) on the p1 x p2 matrix Xc^T Yc", lambda o: _assignment(o.cross)),
    Primitive("svd(Xc^T Yc)", "full SVD (vectors too) of the p1 x p2 cross product", lambda o: torch.linalg.svd(o.cross, full_matrices=False)),
    Primitive("transport(XtY)", "POT's exact optimal transport (ot.emd, network simplex) between uniform weights on a p1 x p2 cost", lambda o: _transport(o.cross)),
    Primitive("exp(sqdist)", "elementwise exp of an n x n matrix (X's negated squared distances)", lambda o: np.exp(-o.sqdist("X"))),
)


def unknown_primitives(names) -> list[str]:
    """The names in ``names`` that are not in the vocabulary :data:`PRIMITIVES`."""
    return [name for name in names if name not in PRIMITIVES]
