"""Nearest-neighbour measures, all on one neighbour computation: ``knn_jaccard``, ``mutual_knn``,
``cknna``, ``rank_similarity``, ``second_order_cosine``.

Neighbours. N_X(i) is the list of the k samples j != i nearest to x_i, nearest first (its rank
r_X(j) = 1, 2, ..., k), either by Euclidean distance or by cosine similarity of the rows (largest
cos(x_i, x_j) first). One pass over row blocks of ``_BLOCK_ELEMENTS`` entries finds both sides'
lists: per block, one product per side gives that block's rows of the n x n ranking matrix, in
float64 (||x_j||^2 - 2 <x_i, x_j> on the centered rows, the distance up to ||x_i||^2, which is constant
along a row; or -cos(x_i, x_j) on rows scaled to unit norm), ``torch.topk`` picks the k + 1 smallest,
and the cosines the measures need at both sides' neighbours are read from the two slabs while they
are in memory. Memory stays O(n * block) instead of n x n.

Ties are broken by the data, not by the order of the rows. Both sides rank tied candidates in one
order of the samples: lexicographic by the pair of rows (x_j, y_j), each compared entry by entry,
where X is the side whose rows, sorted, come first lexicographically (the narrower side first; Y
otherwise, and then the pairs are (y_j, x_j)). Only samples identical in both X and Y remain tied,
and those are interchangeable (the lower index goes first). The computation runs on the samples
sorted in that order, so

- every value is a function of the set of sample pairs alone: m(PX, PY) == m(X, Y) exactly for
  every permutation P of the samples;
- the order does not change when X and Y trade places, so the symmetric measures stay symmetric
  under ties;
- both sides break ties alike, so an exact isometry of tied data (Y = -X on points of a line) still
  gives the same lists on both sides: m(X, -X) = m(X, X).

A duplicate of x_i (the same row) is at distance exactly 0: it comes before every other sample, and
the copies of a row tie exactly with each other in every other sample's ranking. (Before, ties went
wherever torch.topk and rounding put them: knn_jaccard gave 0.33488 and 0.34222 on the same data
with duplicated rows in two orders.)
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import torch

from metrics import _naive
from metrics._inputs import InputError
from metrics._linalg import center_unit, cross, row_sq_norms
from metrics._registry import register

KLABUNDE = "Klabunde et al. 2024, ReSi: A Comprehensive Benchmark for Representational Similarity Measures (ICLR 2025)"
HUH = "Huh, Cheung, Wang & Isola 2024, The Platonic Representation Hypothesis (ICML 2024)"
HUH_CKNNA = HUH + " (platonic-rep's AlignmentMetrics.cknna without its + 1e-6 in the denominator)"
HAMILTON_PAPER = " (the paper's cosine similarities; ReSi's code uses cosine distances)"
WANG = "Wang, Rao, Guo, Wang, Liu & Guan 2022, Towards Understanding the Instability of Network Embedding (IEEE TKDE)"
HAMILTON = "Hamilton, Leskovec & Jurafsky 2016, Cultural Shift or Linguistic Drift? (EMNLP 2016)"

_BLOCK_ELEMENTS = 1 << 24  # rows per block x n entries of the ranking matrix held at once
_EUCLIDEAN, _COSINE = "euclidean", "cosine"
_COSINE_INVARIANCES = {"orthogonal", "isotropic_scaling"}  # cosines change under translation
_COSINE_BOUND = ("XXt", "YYt", "topk(XXt)", "topk(YYt)")


# ----------------------------------------------------------------------------------------------------
# The order of the samples that breaks ties
# ----------------------------------------------------------------------------------------------------
class Runs(NamedTuple):
    """A stable lexicographic order of rows: ``order[q]`` is the q-th row; ``starts[q]`` says that it
    differs from the (q-1)-th in some column compared so far (equal rows form runs, in index order)."""

    order: np.ndarray
    starts: np.ndarray


def lexicographic_runs(rows: np.ndarray, runs: Runs | None = None) -> Runs:
    """Sort the rows lexicographically (first column first), or refine ``runs`` by these columns.

    Column by column, only the rows still tied with another are sorted again, so generic data costs
    one argsort of the first column, and duplicated rows O(p) passes over their copies.
    """
    n = rows.shape[0]
    if runs is None:
        runs = Runs(np.arange(n), np.append(True, np.zeros(n - 1, dtype=bool)))
    order, starts = runs.order.copy(), runs.starts.copy()
    for column in range(rows.shape[1]):
        tied = np.flatnonzero(~(starts & np.append(starts[1:], True)))
        if tied.size == 0:
            break
        samples = order[tied]
        order[tied] = samples[np.lexsort((rows[samples, column], np.cumsum(starts)[tied]))]  # stable
        moved = rows[order[tied], column]
        starts[tied[1:]] |= moved[1:] != moved[:-1]
    return Runs(order, starts)


def _as_rows(z: torch.Tensor) -> np.ndarray:
    return z.detach().cpu().numpy().astype(np.float64, copy=False)


def _sorted_rows_precede(a: np.ndarray, runs_a: Runs, b: np.ndarray, runs_b: Runs) -> bool:
    """Whether matrix a comes before (or equals) b: the narrower first, else the rows of each sorted
    lexicographically and compared entry by entry (a few rows at a time, up to the first difference)."""
    if a.shape[1] != b.shape[1]:
        return a.shape[1] < b.shape[1]
    for start in range(0, a.shape[0], 64):
        rows_a = a[runs_a.order[start : start + 64]].reshape(-1)
        rows_b = b[runs_b.order[start : start + 64]].reshape(-1)
        differ = np.flatnonzero(rows_a != rows_b)
        if differ.size:
            return bool(rows_a[differ[0]] < rows_b[differ[0]])
    return True


def _first_copies(runs: Runs, position: np.ndarray) -> np.ndarray:
    """[n] in the common numbering: for each row, the lowest position among its copies (itself when
    it occurs once), from the runs of equal rows."""
    run_starts = np.flatnonzero(runs.starts)
    lowest = np.minimum.reduceat(position[runs.order], run_starts)
    first = np.empty_like(position)
    first[position[runs.order]] = np.repeat(lowest, np.diff(np.append(run_starts, len(position))))
    return first


class CommonOrder(NamedTuple):
    """The samples in the order that breaks ties, and each side's first copy of every row."""

    order: torch.Tensor  # order[i]: the input sample that comes i-th
    first_x: torch.Tensor  # [n]: first_x[i] = the lowest i' whose row of X equals row i's
    first_y: torch.Tensor


def common_order(x: torch.Tensor, y: torch.Tensor) -> CommonOrder:
    """The order of the samples that breaks ties on both sides (see the module docstring): the same
    for (X, Y) and for (Y, X), and for the samples given in any order."""
    rows_x, rows_y = _as_rows(x), _as_rows(y)
    runs_x, runs_y = lexicographic_runs(rows_x), lexicographic_runs(rows_y)
    if _sorted_rows_precede(rows_x, runs_x, rows_y, runs_y):
        order = lexicographic_runs(rows_y, runs_x).order
    else:
        order = lexicographic_runs(rows_x, runs_y).order
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    parts = order, _first_copies(runs_x, position), _first_copies(runs_y, position)
    return CommonOrder(*(torch.from_numpy(part).to(x.device) for part in parts))


# ----------------------------------------------------------------------------------------------------
# The neighbour search
# ----------------------------------------------------------------------------------------------------
def _unit_rows(z: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit Euclidean norm; where a norm would overflow or underflow, each row is first
    scaled by a power of two (exactly) that brings its largest entry into [0.5, 1)."""
    norms = torch.linalg.vector_norm(z, dim=1, keepdim=True)
    if bool(torch.isfinite(norms).all()) and float(norms.min()) >= torch.finfo(z.dtype).tiny ** 0.5:
        return z / norms
    _, exponent = torch.frexp(z.abs().amax(dim=1, keepdim=True))
    scaled = torch.ldexp(z, -exponent)
    return scaled / torch.linalg.vector_norm(scaled, dim=1, keepdim=True)


class _Side(NamedTuple):
    """One side of the search: the ranking matrix is left @ right^T, and the copies of each row."""

    left: torch.Tensor
    right: torch.Tensor
    first: torch.Tensor  # first copy of each row
    copies: torch.Tensor  # the rows that are not their first copy


def _side(z: torch.Tensor, metric: str, first: torch.Tensor) -> _Side:
    """Euclidean: [z_i, 1] . [-2 z_j, ||z_j||^2] = ||z_i - z_j||^2 - ||z_i||^2 on the centered rows
    (constant along a row, so the ranking is the distance's); cosine: -<u_i, u_j> on unit rows. Either
    way one product per block and no pass over it."""
    if metric == _EUCLIDEAN:
        rows = center_unit(z)
        ones = torch.ones((len(z), 1), dtype=z.dtype, device=z.device)
        left, right = torch.cat([rows, ones], dim=1), torch.cat([-2.0 * rows, row_sq_norms(rows)[:, None]], dim=1)
    else:
        right = _unit_rows(z)
        left = -right
    copies = torch.nonzero(first != torch.arange(len(first), device=z.device)).squeeze(1)
    return _Side(left, right, first, copies)


def _ranking_slab(side: _Side, start: int, stop: int) -> torch.Tensor:
    """Rows start:stop of the n x n ranking matrix (smaller is nearer): the squared distance up to
    ||z_i||^2 or the negated cosine; copies of z_i at -inf (distance exactly 0), z_i itself at +inf."""
    s = cross(side.left[start:stop].T, side.right.T)
    if side.copies.numel():
        s[:, side.copies] = s[:, side.first[side.copies]]  # every copy ties exactly with its first copy
        s.masked_fill_(side.first[None, :] == side.first[start:stop, None], -math.inf)
    local = torch.arange(stop - start, device=s.device)
    s[local, local + start] = math.inf
    return s


def _slab_cosines(s: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """cos(z_i, z_j) at the columns ``index`` of a cosine slab (a copy of z_i: exactly 1)."""
    return s.gather(1, index).neg_().clamp_(max=1.0)


class Cosines(NamedTuple):
    """cos(x_i, x_j) and cos(y_i, y_j) at both sides' neighbours: ``x_at_ny[i, c]`` = cos(x_i, x_j) for
    j = ny[i, c], and so on; [n, k] each."""

    x_at_nx: torch.Tensor
    x_at_ny: torch.Tensor
    y_at_nx: torch.Tensor
    y_at_ny: torch.Tensor


def _search(sides: tuple[_Side, _Side], k: int, cosine: bool):
    """Both sides' neighbour lists in one pass over row blocks, and (cosine) the cosines at them, read
    from the two slabs of a block while they are in memory."""
    like = sides[0].right
    n = like.shape[0]
    block = max(1, _BLOCK_ELEMENTS // n)
    lists = [torch.empty((n, k), dtype=torch.long, device=like.device) for _ in sides]
    cosines = [torch.empty((n, k), dtype=like.dtype, device=like.device) for _ in range(4)]
    for start in range(0, n, block):
        stop = min(start + block, n)
        slabs = [_ranking_slab(side, start, stop) for side in sides]
        for out, slab in zip(lists, slabs):
            out[start:stop] = _k_smallest(slab, k)
        if cosine:
            for c, (slab, out) in enumerate((slab, out) for slab in slabs for out in lists):
                cosines[c][start:stop] = _slab_cosines(slab, out[start:stop])
    return lists[0], lists[1], Cosines(*cosines) if cosine else None


def _k_smallest(s: torch.Tensor, k: int) -> torch.Tensor:
    """Columns of the k smallest entries of each row of ``s``, smallest first, ties to the lower column.

    One ``torch.topk`` of k + 1 per row; a row whose k-th and (k+1)-th values are equal is settled
    exactly: every column below the k-th value, then the lowest columns equal to it.
    """
    values, index = torch.topk(s, k + 1, dim=1, largest=False)
    kth = values[:, k - 1]
    boundary = torch.nonzero(values[:, k] == kth).squeeze(1)
    values, index = values[:, :k].clone(), index[:, :k].clone()
    if boundary.numel():
        rows, threshold = s[boundary], kth[boundary, None]
        below, at = rows < threshold, rows == threshold
        room = k - below.sum(dim=1, keepdim=True)
        take = below | (at & (at.cumsum(dim=1) <= room))
        index[boundary] = torch.nonzero(take)[:, 1].view(-1, k)
        values[boundary] = rows.gather(1, index[boundary])
    index, by_column = index.sort(dim=1)  # then a stable sort by value: equal values by column
    by_value = values.gather(1, by_column).sort(dim=1, stable=True).indices
    return index.gather(1, by_value)


class NeighbourPair(NamedTuple):
    """Both sides' neighbour lists, the samples numbered in :func:`common_order`."""

    nx: torch.Tensor  # [n, k] long: N_X(i), nearest first
    ny: torch.Tensor  # [n, k] long: N_Y(i)
    cosines: Cosines | None  # with cosine neighbours


def neighbour_pair(x: torch.Tensor, y: torch.Tensor, k: int, metric: str) -> NeighbourPair:
    """N_X and N_Y for every sample, with the tie rule of this module (see its docstring).

    Raises:
        InputError: k not an integer >= 1, n < k + 2, or a zero row with cosine neighbours.
    """
    n = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    if n < k + 2:
        raise InputError(f"needs at least k + 2 = {k + 2} samples for k = {k} neighbours, got n = {n}")
    if metric == _COSINE:
        for side, z in (("X", x), ("Y", y)):
            zero = torch.nonzero(~z.any(dim=1)).squeeze(1)
            if zero.numel():
                raise InputError(
                    f"row(s) {zero[:5].tolist()} of {side} are zero; the cosine similarity to a zero row is "
                    "undefined (drop those samples, or use the Euclidean knn_jaccard)"
                )
    key = _search_key(x, y, k, metric)
    pair = _SEARCHES.get(key)
    if pair is None:
        order, first_x, first_y = common_order(x, y)
        sides = _side(x[order], metric, first_x), _side(y[order], metric, first_y)
        pair = _SEARCHES.put(key, NeighbourPair(*_search(sides, k, metric == _COSINE)))
    return pair


# ----------------------------------------------------------------------------------------------------
# One search for the measures scored on the same case
# ----------------------------------------------------------------------------------------------------
#: Bytes of neighbour lists and cosines kept for the next measure on the same inputs (n k 8 bytes per list,
#: six per cosine search: 2.4 MB at n = 5,000, k = 10), the least recently used evicted first.
SEARCH_CACHE_BYTES = 64 << 20


class SearchCache:
    """The last neighbour searches, keyed by the digest of their inputs (blake2b of X's and Y's bytes,
    shapes and dtypes, with k and the metric), at most ``limit`` bytes. A hit returns the very tensors a
    search returned before: the measures only read them. A measure called alone computes exactly as
    without it (one pass over X and Y for the digest)."""

    def __init__(self, limit: int):
        self.limit, self.hits, self.misses = limit, 0, 0
        self._entries: OrderedDict[bytes, tuple[NeighbourPair, int]] = OrderedDict()

    @property
    def size(self) -> int:
        return sum(size for _, size in self._entries.values())

    def get(self, key: bytes | None) -> NeighbourPair | None:
        if key is not None and key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key][0]
        self.misses += 1
        return None

    def put(self, key: bytes | None, pair: NeighbourPair) -> NeighbourPair:
        size = sum(t.numel() * t.element_size() for t in (pair.nx, pair.ny, *(pair.cosines or ())))
        if key is not None and size <= self.limit:
            self._entries[key] = (pair, size)
            while self.size > self.limit:
                self._entries.popitem(last=False)
        return pair

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0


_SEARCHES = SearchCache(SEARCH_CACHE_BYTES)


def _search_key(x: torch.Tensor, y: torch.Tensor, k: int, metric: str) -> bytes | None:
    """The digest of a search's inputs; None (not cached) for tensors off the CPU."""
    if x.device.type != "cpu" or y.device.type != "cpu":
        return None
    digest = hashlib.blake2b(f"{k}|{metric}".encode(), digest_size=20)
    for z in (x, y):
        a = np.ascontiguousarray(z.numpy())
        digest.update(f"{a.shape}|{a.dtype}".encode())
        digest.update(a.data)
    return digest.digest()


# ----------------------------------------------------------------------------------------------------
# Shared pieces of the measures
# ----------------------------------------------------------------------------------------------------
def _matches(pair: NeighbourPair) -> torch.Tensor:
    """[n, k, k] bool: entry (i, a, b) says that X's a-th and Y's b-th neighbour of i are one sample."""
    return pair.nx[:, :, None] == pair.ny[:, None, :]


def _mean(values: torch.Tensor) -> float:
    """The mean, with the sum exact (math.fsum), so it does not depend on the order of the samples."""
    return math.fsum(values.tolist()) / values.numel()


def hsic_unbiased_sparse(columns: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> float:
    """Song et al.'s unbiased HSIC (2012, eq. 5) of two n x n matrices with zero diagonals that are zero
    outside the entries (i, columns[i, c]), whose values are a[i, c] and b[i, c]:
    (tr(A B) + 1'A1 1'B1 / ((n-1)(n-2)) - 2/(n-2) 1'A B 1) / (n(n-3)), in O(n k log(n k)).
    A and B need not be symmetric (Huh et al. apply it to masked kernels that are not)."""
    n = columns.shape[0]
    rows = torch.arange(n, device=columns.device)[:, None].expand_as(columns)
    keys = (rows * n + columns).reshape(-1)
    sorted_keys, order = keys.sort()
    transposed = (columns * n + rows).reshape(-1)  # tr(A B) = sum_ij A_ij B_ji
    where = torch.searchsorted(sorted_keys, transposed).clamp_(max=keys.numel() - 1)
    found = sorted_keys[where] == transposed
    b_flat = b.reshape(-1)
    trace = float((a.reshape(-1) * torch.where(found, b_flat[order[where]], 0)).sum())
    column_sums_a = torch.zeros(n, dtype=a.dtype, device=a.device).index_add_(0, columns.reshape(-1), a.reshape(-1))
    ones_a_b_ones = float(column_sums_a @ b.sum(dim=1))  # 1'A B 1
    total = float(a.sum()) * float(b.sum())
    return (trace + total / ((n - 1) * (n - 2)) - 2.0 * ones_a_b_ones / (n - 2)) / (n * (n - 3))


# ----------------------------------------------------------------------------------------------------
# The measures
# ----------------------------------------------------------------------------------------------------
def _reference_knn_jaccard(x, y, k: int = 10, neighbours: str = "euclidean") -> float:
    """Independent route: mean_i |N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)| with the neighbour lists of scipy's
    full distance matrices (Euclidean, or cosine) and the suite's tie rule, by loops."""
    return _naive.jaccard_of_lists(*_naive.pair_lists(x, y, k, neighbours))


@register(
    "knn_jaccard",
    reference_route=_reference_knn_jaccard,
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    reference=KLABUNDE + " (ReSi's JaccardSimilarity with inner='euclidean'; its default, inner='cosine', is "
    "neighbours='cosine' here)",
    backend="torch",
    speed_bound=("sqdist(X)", "sqdist(Y)", "topk(XXt)", "topk(YYt)"),
)
def knn_jaccard(x: torch.Tensor, y: torch.Tensor, k: int = 10, neighbours: str = _EUCLIDEAN) -> float:
    """Mean over samples of |N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)|, N(i) the k = 10 nearest other samples
    (Klabunde et al. 2024's kNN-Jaccard). In [0, 1], 1 when the neighbour sets agree. Needs n >= k + 2
    (with n = k + 1 every set is everything). Ties: see the module docstring.

    Neighbours: ``neighbours="euclidean"`` (the default, DESIGN's definition) by Euclidean distance,
    invariant to orthogonal maps, isotropic scaling and translation (the declared invariances); or
    ``"cosine"``, by cosine similarity of the rows, which is ReSi's default (``inner="cosine"`` of its
    ``jaccard_similarity``) and the convention most published numbers use: not invariant to translation,
    and refused on a zero row. The two give different numbers on the same data: say which one a number is.
    """
    if neighbours not in (_EUCLIDEAN, _COSINE):
        raise InputError(f"neighbours must be {_EUCLIDEAN!r} or {_COSINE!r}, got {neighbours!r}")
    shared = _matches(neighbour_pair(x, y, k, neighbours)).sum(dim=(1, 2)).to(x.dtype)
    return _mean(shared / (2 * k - shared))


def _reference_mutual_knn(x, y, k: int = 10) -> float:
    """Independent route: mean_i |N_X(i) & N_Y(i)| / k, cosine neighbours from scipy's distance matrix."""
    nx, ny = _naive.pair_lists(x, y, k, "cosine")
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nx, ny)]))


@register(
    "mutual_knn",
    reference_route=_reference_mutual_knn,
    symmetric=True,
    invariances=_COSINE_INVARIANCES,
    bounds=(0.0, 1.0),
    reference=HUH + " (platonic-rep's mutual_knn on L2-normalized rows)",
    backend="torch",
    speed_bound=_COSINE_BOUND,
)
def mutual_knn(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """Mutual k-nearest-neighbour alignment, mean_i |N_X(i) & N_Y(i)| / k, with cosine neighbours
    (Huh et al. 2024, platonic-rep's ``mutual_knn`` on L2-normalized rows). In [0, 1], 1 when the
    neighbour sets agree; invariant to orthogonal maps and isotropic scaling, not to translation (it
    changes the cosines). Needs n >= k + 2 and no zero row. Ties: see the module docstring.
    """
    shared = _matches(neighbour_pair(x, y, k, _COSINE)).sum(dim=(1, 2)).to(x.dtype)
    return _mean(shared / k)


def _reference_rank_similarity(x, y, k: int = 10) -> float:
    """Independent route, Wang et al. 2022 by loops: per point, sum over shared neighbours j of
    2 / ((1 + |r_X - r_Y|)(r_X + r_Y)), over sum_{l <= |shared|} 1 / l (0 if none is shared); mean over
    points. Cosine neighbours from scipy's distance matrix."""
    nx, ny = _naive.pair_lists(x, y, k, "cosine")
    values = []
    for a, b in zip(nx, ny):
        rank_x = {int(j): r for r, j in enumerate(a, start=1)}
        rank_y = {int(j): r for r, j in enumerate(b, start=1)}
        shared = rank_x.keys() & rank_y.keys()
        if not shared:
            values.append(0.0)
            continue
        total = sum(2.0 / ((1 + abs(rank_x[j] - rank_y[j])) * (rank_x[j] + rank_y[j])) for j in shared)
        values.append(total / sum(1.0 / l for l in range(1, len(shared) + 1)))
    return float(np.mean(values))


@register(
    "rank_similarity",
    reference_route=_reference_rank_similarity,
    symmetric=True,
    invariances=_COSINE_INVARIANCES,
    bounds=(0.0, 1.0),
    reference=WANG,
    backend="torch",
    speed_bound=_COSINE_BOUND,
)
def rank_similarity(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """Rank similarity (Wang et al. 2022), cosine neighbours: for each sample i, with S = N_X(i) & N_Y(i),

        v_i = sum_{j in S} 2 / ((1 + |r_X(j) - r_Y(j)|) (r_X(j) + r_Y(j))) / sum_{l=1}^{|S|} 1/l

    (v_i = 0 when S is empty), averaged over i. Each term is at most 1 / max(r_X(j), r_Y(j)), so
    v_i is in [0, 1], 1 when both lists start with the same |S| samples in the same order. Invariant
    to orthogonal maps and isotropic scaling, not to translation. Needs n >= k + 2 and no zero row.
    """
    matches = _matches(neighbour_pair(x, y, k, _COSINE)).to(x.dtype)
    ranks = torch.arange(1, k + 1, dtype=x.dtype, device=x.device)
    weights = 2.0 / ((1.0 + (ranks[:, None] - ranks[None, :]).abs()) * (ranks[:, None] + ranks[None, :]))
    harmonic = torch.cat([ranks.new_ones(1), torch.cumsum(1.0 / ranks, dim=0)])  # H_0 := 1 (S empty: 0 / 1)
    shared = matches.sum(dim=(1, 2)).long()
    return _mean((matches * weights).sum(dim=(1, 2)) / harmonic[shared])


def _reference_second_order_cosine(x, y, k: int = 10) -> float:
    """Independent route, Hamilton et al. 2016 by loops: per point, over U = N_X(i) | N_Y(i), the cosine
    between the vectors (cos(x_i, x_j))_{j in U} and (cos(y_i, y_j))_{j in U}; mean over points. Cosine
    neighbours and cosines from scipy's distance matrices."""
    x, y = _naive.as_float(x), _naive.as_float(y)
    nx, ny = _naive.pair_lists(x, y, k, "cosine")
    cx, cy = _naive.cosine_matrix(x), _naive.cosine_matrix(y)
    values = []
    for i, (a, b) in enumerate(zip(nx, ny)):
        union = sorted(set(a) | set(b))
        u, v = cx[i, union], cy[i, union]
        values.append(u @ v / np.sqrt((u @ u) * (v @ v)))
    return float(np.mean(values))


@register(
    "second_order_cosine",
    reference_route=_reference_second_order_cosine,
    symmetric=True,
    invariances=_COSINE_INVARIANCES,
    bounds=(-1.0, 1.0),
    reference=HAMILTON + HAMILTON_PAPER,
    backend="torch",
    speed_bound=_COSINE_BOUND,
)
def second_order_cosine(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """Second-order cosine similarity (Hamilton et al. 2016), cosine neighbours: for each sample i,
    over U = N_X(i) | N_Y(i),

        v_i = cos((cos(x_i, x_j))_{j in U}, (cos(y_i, y_j))_{j in U})

    (similarities, not distances), averaged over i. In [-1, 1], 1 when the two similarity profiles are
    proportional; invariant to orthogonal maps and isotropic scaling, not to translation. Needs
    n >= k + 2, no zero row, and for every i some j in U with cos(x_i, x_j) != 0 (and the same in Y).

    We follow the paper: Hamilton et al. compare profiles of cosine similarities. ReSi's code
    (``second_order_cosine_similarity``) compares profiles of cosine distances 1 - cos (scikit-learn's
    ``pairwise_distances(metric="cosine")``), a different number.
    """
    pair = neighbour_pair(x, y, k, _COSINE)
    in_union = torch.cat([torch.ones_like(pair.nx, dtype=torch.bool), ~_matches(pair).any(dim=1)], dim=1)
    cosines = pair.cosines
    profile_x = torch.cat([cosines.x_at_nx, cosines.x_at_ny], dim=1) * in_union
    profile_y = torch.cat([cosines.y_at_nx, cosines.y_at_ny], dim=1) * in_union
    norms = torch.linalg.vector_norm(profile_x, dim=1) * torch.linalg.vector_norm(profile_y, dim=1)
    if not bool((norms > 0).all()):
        raise InputError(
            "a sample is orthogonal (cosine 0) to all its neighbours in X or in Y; its second-order "
            "cosine is undefined"
        )
    return _mean((profile_x * profile_y).sum(dim=1) / norms)


def _reference_cknna(x, y, k: int = 10) -> float:
    """Independent route, Huh et al. 2024 as platonic-rep's AlignmentMetrics.cknna (L2-normalized rows,
    unbiased=True) computes it: K, L the cosine kernels; M_K, M_L the kNN masks (self excluded),
    M = M_K * M_L; HSIC_u(M K, M L) / sqrt(HSIC_u(M_K K, M_K K) HSIC_u(M_L L, M_L L)) with Song et al.'s
    eq. (5) on the explicit n x n matrices, every product elementwise."""
    x, y = _naive.as_float(x), _naive.as_float(y)
    nx, ny = _naive.pair_lists(x, y, k, "cosine")
    kx, ly = _naive.cosine_matrix(x), _naive.cosine_matrix(y)
    mask_x, mask_y = _naive.neighbour_mask(nx), _naive.neighbour_mask(ny)
    mutual = mask_x * mask_y
    hsic = _naive.hsic_unbiased_song
    return hsic(mutual * kx, mutual * ly) / np.sqrt(hsic(mask_x * kx, mask_x * kx) * hsic(mask_y * ly, mask_y * ly))


@register(
    "cknna",
    reference_route=_reference_cknna,
    symmetric=False,
    invariances=_COSINE_INVARIANCES,
    bounds=(-math.inf, math.inf),
    reference=HUH_CKNNA,
    backend="torch",
    speed_bound=_COSINE_BOUND,
)
def cknna(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> float:
    """Centered kernel nearest-neighbour alignment (Huh et al. 2024), the estimator of platonic-rep's
    ``AlignmentMetrics.cknna`` (``unbiased=True``, on L2-normalized rows as its ``measure_alignment``
    passes them) without its ``+ 1e-6`` in the denominator, which makes platonic-rep's value depend on the
    kernels' scale (it matches ours to about 1e-6 / sqrt(HSIC_u HSIC_u) relative):

        cknna = HSIC_u(M o K, M o L) / sqrt(HSIC_u(M_X o K, M_X o K) HSIC_u(M_Y o L, M_Y o L))

    with K, L the cosine kernels, M_X[i, j] = 1 when j is in N_X(i) (cosine neighbours, self
    excluded), M = M_X o M_Y the mutual neighbours, o the elementwise product and HSIC_u the unbiased
    estimator of Song et al. 2012 (eq. 5), which centers implicitly. The masked kernels are not
    symmetric, so neither is the estimator's 1'A B 1 term: cknna(X, Y) != cknna(Y, X) (up to a few
    per cent apart on random data), and the numerator and denominators use different masks, so values above 1 occur
    (no bound holds). Invariant to orthogonal maps and isotropic scaling, not to translation. k >= 2
    (as platonic-rep asks) and n >= k + 2.

    Raises:
        ValueError: k < 2, or a side's HSIC_u with itself is not positive (the ratio is undefined).
    """
    if isinstance(k, int) and not isinstance(k, bool) and k < 2:
        raise InputError(f"cknna needs k >= 2 neighbours, got k = {k}")
    pair = neighbour_pair(x, y, k, _COSINE)
    cosines = pair.cosines
    mutual = _matches(pair).any(dim=2)  # [n, k]: X's c-th neighbour is also one of Y's
    across = hsic_unbiased_sparse(pair.nx, cosines.x_at_nx * mutual, cosines.y_at_nx * mutual)
    own_x = hsic_unbiased_sparse(pair.nx, cosines.x_at_nx, cosines.x_at_nx)
    own_y = hsic_unbiased_sparse(pair.ny, cosines.y_at_ny, cosines.y_at_ny)
    if not (own_x > 0 and own_y > 0):
        raise InputError(
            f"the unbiased HSIC of the masked kernel with itself is not positive (X: {own_x:.3g}, "
            f"Y: {own_y:.3g}); the ratio is undefined at this k and n (use more samples or a larger k)"
        )
    return across / math.sqrt(own_x * own_y)
