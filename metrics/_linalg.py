"""Linear-algebra building blocks shared by the measures (torch, any device, float32 or float64)."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import scipy.linalg
import torch

from metrics._inputs import NUMPY_MIN_ENTRIES, InputError, remembered_column_sums


# Products of at least this many multiply-adds run through numpy's BLAS on the CPU; smaller ones, and
# everything else, through torch. numpy computes X^T X with syrk (half the flops of torch's gemm) and was
# about 2x faster from 2^28 on (2 cores). Below that the switch costs more than it saves: each library
# leaves its threads spinning after a call, and a 500 x 64 procrustes took 12 ms instead of 1 ms while
# torch's and the BLAS's thread pools competed for the cores.
NUMPY_MIN_MULTIPLY_ADDS = 1 << 28
# The same rule for a reduction over one matrix, by its number of entries: metrics._inputs.NUMPY_MIN_ENTRIES
# (the input checks follow it too).


def _numpy_path(x: torch.Tensor, multiply_adds: int) -> bool:
    """numpy for CPU operands from :data:`NUMPY_MIN_MULTIPLY_ADDS` on, and at every size while torch runs on
    one thread: no torch pool then competes with the BLAS's, and numpy's syrk and dispatch won (cka_linear
    at 1000 x 64 x 64 took 1.0 ms instead of 1.4 ms; with torch's two threads the mixed route took 12 ms)."""
    return x.device.type == "cpu" and (multiply_adds >= NUMPY_MIN_MULTIPLY_ADDS or torch.get_num_threads() == 1)


def _threads_compete(x: torch.Tensor, multiply_adds: int) -> bool:
    """Whether an elementwise step before products of ``multiply_adds`` should run in numpy although torch's
    is faster: large CPU operands (the numpy path of the products) while torch runs on several threads,
    whose pool would then wake between the BLAS's products."""
    return x.is_cpu and multiply_adds >= NUMPY_MIN_MULTIPLY_ADDS and torch.get_num_threads() > 1


def center(x: torch.Tensor) -> torch.Tensor:
    """Column-mean subtraction, Xc = X - 1 mean(X); returns a new tensor, with the mean from the column sums
    of the input check (:func:`column_means`). torch's broadcast subtraction (twice as fast as numpy's on
    one thread, 1000 x 64 and 5000 x 512); numpy's for large CPU operands while torch runs on several
    threads, so that its pool sleeps between the numpy products (``NUMPY_MIN_MULTIPLY_ADDS``)."""
    n, p = x.shape
    if _threads_compete(x, n * p * p):
        return torch.from_numpy(x.numpy() - column_means(x).numpy())
    return x - column_means(x)


def _largest_magnitude(t: torch.Tensor) -> float:
    """max |t_ij| (through numpy for large CPU operands, see ``NUMPY_MIN_MULTIPLY_ADDS``)."""
    n, p = t.shape
    if _numpy_path(t, n * p * p):
        a = t.numpy()
        return max(-float(a.min()), float(a.max()))
    low, high = torch.aminmax(t)
    return max(-float(low), float(high))


def magnitude_exponent(*tensors: torch.Tensor) -> int:
    """The exponent e that puts the largest magnitude of all the entries in [2^(e-1), 2^e) (that of
    ``math.frexp``; 0 when every entry is 0)."""
    return max(math.frexp(_largest_magnitude(t))[1] for t in tensors)


def scale_by_power_of_two_(x: torch.Tensor, exponent: int) -> torch.Tensor:
    """x * 2^-exponent in place: exact in floating point (no rounding unless the result is subnormal)."""
    if abs(exponent) >= 1000:  # 2.0 ** -exponent would not be a normal float
        return x.ldexp_(torch.tensor(-exponent, dtype=torch.int32, device=x.device))
    n, p = x.shape
    if _numpy_path(x, n * p * p):
        a = x.numpy()
        np.multiply(a, 2.0**-exponent, out=a)
        return x
    return x.mul_(2.0**-exponent)


def unit_scaled(x: torch.Tensor) -> torch.Tensor:
    """A copy of X multiplied by the power of two that brings its largest magnitude into [0.5, 1): for
    measures invariant to isotropic scaling that take products of uncentered rows (exact; squares and
    products of norms can then neither overflow nor underflow)."""
    return scale_by_power_of_two_(x.clone(), magnitude_exponent(x))


def squares_in_range(largest: float, dtype: torch.dtype) -> bool:
    """Whether ``largest``, the largest of some sums of squares, lies in [sqrt(tiny), sqrt(max)] of ``dtype``:
    the squares and products of the largest entries are then normal floats, so that a measure that does
    not see a power of two on either side may take its products unscaled (multiplying by one first, which
    is exact, would give the same value); outside, it scales first (:func:`unit_scaled`, :func:`center_unit`)."""
    info = torch.finfo(dtype)
    return math.sqrt(info.tiny) <= largest <= math.sqrt(info.max)


def center_unit(x: torch.Tensor) -> torch.Tensor:
    """Centered and multiplied by a power of two that brings its largest magnitude into [0.5, 1).

    Exact in floating point; for the scale-free measures, whose squares and fourth powers can then
    neither overflow nor underflow.
    """
    xc = center(x)
    return scale_by_power_of_two_(xc, magnitude_exponent(xc))


def row_sq_norms(x: torch.Tensor) -> torch.Tensor:
    """||x_i||^2 for every row (numpy when X^T X would be, without a temporary the size of X)."""
    n, p = x.shape
    if _numpy_path(x, n * p * p):
        a = x.numpy()
        return torch.from_numpy(np.einsum("ij,ij->i", a, a))
    return x.square().sum(dim=1)


def column_sq_norms(x: torch.Tensor) -> torch.Tensor:
    """||x_j||^2 for every column (numpy's einsum on the CPU: torch's column reduction was 5x slower)."""
    if x.device.type == "cpu":
        a = x.numpy()
        return torch.from_numpy(np.einsum("ij,ij->j", a, a))
    return x.square().sum(dim=0)


def column_means(x: torch.Tensor) -> torch.Tensor:
    """The mean row, from the column sums the input check computed when ``x`` is a checked input (no second
    pass over it), else from the same sums computed now (:func:`metrics._inputs.remembered_column_sums`)."""
    sums = remembered_column_sums(x)
    return torch.from_numpy(sums.numpy() / x.shape[0]) if sums.device.type == "cpu" else sums / x.shape[0]


def take_columns(x: torch.Tensor, index) -> torch.Tensor:
    """The columns ``x[:, index]`` (numpy's take on the CPU: 4x faster than torch's gather of a row-major
    matrix's columns)."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.take(x.numpy(), np.asarray(index), axis=1))
    return x[:, torch.as_tensor(index, device=x.device)]


def gram(x: torch.Tensor) -> torch.Tensor:
    """X^T X (through numpy's syrk for large CPU operands, see ``NUMPY_MIN_MULTIPLY_ADDS``)."""
    n, p = x.shape
    if _numpy_path(x, n * p * p):
        a = x.numpy()
        return torch.from_numpy(a.T @ a)
    return x.T @ x


def cross(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """X^T Y (through numpy's BLAS for large CPU operands, see ``NUMPY_MIN_MULTIPLY_ADDS``)."""
    if _numpy_path(x, x.shape[0] * x.shape[1] * y.shape[1]):
        return torch.from_numpy(x.numpy().T @ y.numpy())
    return x.T @ y


def sum_sq(x: torch.Tensor) -> float:
    """sum of x_ij^2 as a Python float. Large CPU matrices (from 2^18 entries: the products of the numpy
    path) go through numpy's BLAS, so that torch's thread pool does not wake up between those products."""
    if x.device.type == "cpu" and x.numel() >= NUMPY_MIN_ENTRIES:
        a = x.numpy().reshape(-1)
        return float(np.vdot(a, a))
    return float(x.square().sum())


def double_center_symmetric_(k: torch.Tensor) -> torch.Tensor:
    """H K H with H = I - 11^T/n for a symmetric K, in place: K - r 1^T - 1 r^T + mean(r), r its row means
    (which, K being symmetric, are also its column means)."""
    row_means = k.mean(dim=1)
    return k.sub_(row_means[:, None]).sub_(row_means[None, :]).add_(row_means.mean())


def rank_tolerance(s: torch.Tensor, shape: tuple[int, int]) -> float:
    """Singular values below this are numerically zero (numpy.linalg.matrix_rank's default)."""
    return float(s.max()) * max(shape) * torch.finfo(s.dtype).eps


class Factor(NamedTuple):
    """Xc = q @ r with orthonormal columns q [n, m], and r = u diag(s) vh its SVD (s descending).

    The column space of Xc is spanned by ``q @ u[:, :rank]``; ``s`` are the singular values of Xc.
    """

    q: torch.Tensor
    r: torch.Tensor
    u: torch.Tensor
    s: torch.Tensor
    rank: int

    def basis_coordinates(self, k: int | None = None) -> torch.Tensor:
        """Coordinates in q of the top-k (default: all numerically nonzero) left singular directions."""
        return self.u[:, : self.rank if k is None else k]


def factor(xc: torch.Tensor) -> Factor:
    """Rank-revealing factorization of a centered matrix: thin QR, then the SVD of the small R.

    Accurate to float precision (no squared condition number); O(n p^2). For p >= n the SVD is taken
    directly. Raises :class:`InputError` if Xc is numerically zero.
    """
    n, p = xc.shape
    if n >= p:
        q, r = torch.linalg.qr(xc)
    else:
        q, s, vh = torch.linalg.svd(xc, full_matrices=False)
        r = s[:, None] * vh
    u, s, _ = torch.linalg.svd(r)
    rank = int((s > rank_tolerance(s, (n, p))).sum()) if s.numel() and float(s.max()) > 0 else 0
    if rank == 0:
        raise InputError("input has zero variance")
    return Factor(q, r, u, s, rank)


#: The relative error a value computed by the Gram route (:func:`gram_basis`) may carry and still be
#: returned: 2^-36 (1.5e-11), a tenth of what the tests allow across platforms (1e-10). A measure estimates
#: its value's error from the two bases' :attr:`GramBasis.error` and the conditioning of its own formula,
#: and takes the rank-revealing QR route (:func:`factor`) where the estimate is larger.
GRAM_ROUTE_ERROR = 2.0**-36
#: eps kappa^2 at most this (kappa the condition number of Xc, at most 64 in float64) for :func:`gram_basis`.
GRAM_ROUTE_CONDITION = 2.0**-40


class GramBasis(NamedTuple):
    """Xc = B T with B [n, p] orthonormal (never formed) and T = B^T Xc [p, p], from the p x p Gram matrix
    Xc^T Xc = T^T T: T = L^T of its Cholesky factor L, or T = diag(s) V^T from its eigendecomposition
    V diag(s^2) V^T (``singular=True``: ``s`` the singular values of Xc, descending; B its left singular
    vectors). ``error`` = eps kappa^2 (kappa = s_max / s_min): the relative accuracy of what is computed
    from it.
    """

    t: np.ndarray
    s: np.ndarray
    error: float
    singular: bool


def gram_basis(xc: torch.Tensor, singular: bool = False) -> GramBasis | None:
    """The factor T of a centered Xc [n, p] = B T (B orthonormal) from its Gram matrix: one syrk and a p x p
    factorization (Cholesky and the eigenvalues, or the eigendecomposition), against a QR of the whole n x p
    matrix for :func:`factor`. Squaring the matrix squares its condition number, so the route is taken only
    on the CPU for p < n and eps kappa^2 at most :data:`GRAM_ROUTE_CONDITION` (every singular value is then
    far above the rank tolerance: the rank is p); otherwise None, and the caller takes :func:`factor`. Scale
    Xc first (:func:`center_unit`): its squares must neither overflow nor underflow.
    """
    n, p = xc.shape
    if p >= n or xc.device.type != "cpu":
        return None
    a = xc.numpy()
    g = a.T @ a  # numpy's syrk: half the multiply-adds of torch's gemm, and no torch dispatch at small sizes
    if singular:
        values, vectors = np.linalg.eigh(g)
        values, vectors = values[::-1], vectors[:, ::-1]
    else:
        values = np.linalg.eigvalsh(g)[::-1]
    eps = np.finfo(g.dtype).eps
    smallest, largest = float(values[-1]), float(values[0])
    if not (smallest > 0 and math.isfinite(largest) and eps * largest <= GRAM_ROUTE_CONDITION * smallest):
        return None
    s = np.sqrt(values)
    t = s[:, None] * vectors.T if singular else scipy.linalg.cholesky(g, lower=False, check_finite=False)
    return GramBasis(t, s, eps * largest / smallest, singular)


def _solve_right(a: np.ndarray, basis: GramBasis) -> np.ndarray:
    """a T^-1 (T upper triangular, or diag(s) V^T)."""
    if basis.singular:
        return (a @ basis.t.T) / basis.s**2  # T^-1 = V diag(s)^-1 = T^T diag(s)^-2
    return scipy.linalg.solve_triangular(basis.t, a.T, trans="T", lower=False, check_finite=False).T


def gram_cross(bx: GramBasis, by: GramBasis, xc: torch.Tensor, yc: torch.Tensor) -> np.ndarray:
    """B_X^T B_Y = T_X^-T (Xc^T Yc) T_Y^-1, the cross product of the two orthonormal bases (for singular
    bases in the coordinates of the singular directions, those of :func:`factor`'s ``q u``), from the
    p1 x p2 product Xc^T Yc (numpy's BLAS) alone."""
    return np.ascontiguousarray(_solve_right(_solve_right(xc.numpy().T @ yc.numpy(), by).T, bx).T)


# ----------------------------------------------------------------------------------------------------
# Pairwise squared distances by row blocks: the O(n^2) measures in O(n * block) memory
# ----------------------------------------------------------------------------------------------------
#: Rows per block of :func:`sq_distance_blocks`: a block holds at most BLOCK_ROWS x n entries (256 rows
#: kept the products efficient and the block in cache: n = 2,000 and 5,000 ran as fast as one n x n syrk).
BLOCK_ROWS = 256
#: The Gram route ||x_i||^2 + ||x_j||^2 - 2 x_i.x_j loses about log2((||x_i||^2 + ||x_j||^2) / d_ij^2)
#: bits to cancellation; a squared distance below this fraction of ||x_i||^2 + ||x_j||^2 (more than 10
#: bits lost: near-duplicate rows) is recomputed from the difference x_i - x_j.
CANCELLATION_FRACTION = 2.0**-10


def sq_distance_blocks(xc: torch.Tensor) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Squared Euclidean distances between the rows of ``xc``, the upper block triangle by row blocks.

    Yields ``(start, stop, d2)`` with ``d2[i - start, j - start] = ||x_i - x_j||^2`` for the rows
    start <= i < stop and the columns start <= j < n: the diagonal block ``d2[:, :stop - start]``
    (symmetric, exact zeros on its diagonal) and everything right of it. Together the blocks hold every
    pair i < j once, for half the multiply-adds of the full matrix, and at most :data:`BLOCK_ROWS` x n
    entries at a time. Entries come from the Gram route (one product per block); those where it loses
    more than 10 bits (:data:`CANCELLATION_FRACTION`) are recomputed from the differences, so each entry
    is within about 2^10 units of rounding of the exact distance and duplicated rows are exactly 0
    apart. Centered input keeps the cancelling norms small.
    """
    sq_norms = row_sq_norms(xc)
    for start in range(0, xc.shape[0], BLOCK_ROWS):
        stop = min(xc.shape[0], start + BLOCK_ROWS)
        yield start, stop, _sq_distance_block(xc, sq_norms, start, stop)


def _sq_distance_block(xc: torch.Tensor, sq_norms: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """One block of :func:`sq_distance_blocks` (its temporaries are freed before the caller gets it)."""
    n, p = xc.shape
    d2 = cross(xc[start:stop].T * -2.0, xc[start:].T)
    norms = sq_norms[start:stop, None] + sq_norms[None, start:]
    d2.add_(norms)
    diagonal = d2[:, : stop - start]
    diagonal.fill_diagonal_(math.inf)  # kept out of the check below, set to its exact 0 after it
    lost = d2 < norms.mul_(CANCELLATION_FRACTION)
    if bool(lost.any()):
        for pairs in lost.nonzero().split(max(1, BLOCK_ROWS * n // p)):
            i, j = pairs[:, 0], pairs[:, 1]
            d2[i, j] = (xc[start + i] - xc[start + j]).square().sum(dim=1)
    diagonal.fill_diagonal_(0.0)
    return d2


def symmetric_sum(values: torch.Tensor, rows: int) -> torch.Tensor:
    """Sum, in float64, over the full symmetric n x n matrix that one block of :func:`sq_distance_blocks`
    (``rows`` = stop - start) stands for: its diagonal block once, the columns right of it twice (as
    the entries (i, j) and (j, i))."""
    return 2 * values.sum(dtype=torch.float64) - values[:, :rows].sum(dtype=torch.float64)


def symmetric_inner(a: torch.Tensor, b: torch.Tensor, rows: int) -> torch.Tensor:
    """sum_ij a_ij b_ij over the full symmetric matrices that two blocks of :func:`sq_distance_blocks`
    stand for (as :func:`symmetric_sum` of a * b, without the temporary product)."""
    corner = (a[:, :rows] * b[:, :rows]).sum()
    return (2 * torch.dot(a.reshape(-1), b.reshape(-1)) - corner).to(torch.float64)
