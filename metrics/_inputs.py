"""Input conversion and validation, done once at the edge before any measure runs.

Every measure receives two 2-D floating-point arrays with the same number of rows (samples), finite,
on one device, in the requested precision. Everything that can go wrong with an input is reported here
as an :class:`InputError` that the registry prefixes with the measure's name.
"""
from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import torch

__all__ = ["InputError", "CONVENTIONS", "check_not_saturated", "reshape_activations", "prepare_pair"]

#: How activations with more than two dimensions ([n, c, h, w, ...], channels first) become [samples, features].
CONVENTIONS = {
    "flatten": "[n, c, h, w] -> [n, c*h*w]: every unit at every position is a feature (the default)",
    "positions": "[n, c, h, w] -> [n*h*w, c]: positions become samples, channels are the features",
    "pool": "[n, c, h, w] -> [n, c]: global average pooling over positions",
}

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class InputError(ValueError):
    """An input a measure cannot be computed on (the message says what is wrong and what to do)."""


def reshape_activations(a: Any, conv: str = "flatten") -> Any:
    """Bring activations of shape [n, c, *spatial] to [samples, features] by convention ``conv``.

    Two-dimensional input is returned unchanged. Works on numpy arrays and torch tensors alike.

    Args:
        a: activations, channels first for 3+ dimensions (PyTorch's layout).
        conv: one of :data:`CONVENTIONS` (``"flatten"``, ``"positions"``, ``"pool"``).

    Raises:
        InputError: unknown convention, or fewer than two dimensions.
    """
    if conv not in CONVENTIONS:
        raise InputError(f"unknown conv convention {conv!r}; choose one of {sorted(CONVENTIONS)}")
    if a.ndim < 2:
        raise InputError(
            f"expected a 2-D [n, p] array (or [n, c, ...] activations), got {a.ndim}-D shape "
            f"{tuple(a.shape)}; reshape a single feature to [n, 1]"
        )
    if a.ndim == 2:
        return a
    n, c = a.shape[0], a.shape[1]
    if conv == "flatten":
        return a.reshape(n, -1)
    if conv == "pool":
        return a.reshape(n, c, -1).mean(-1)
    # positions: move channels last, then every (sample, position) is a row
    moved = np.moveaxis(a, 1, -1) if isinstance(a, np.ndarray) else a.movedim(1, -1)
    return moved.reshape(-1, c)


def _as_tensor(a: Any, which: str) -> torch.Tensor:
    """Any array-like -> torch tensor (no copy for numpy arrays and tensors), with a dtype check."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
        if t.is_complex():
            raise InputError(f"{which} is complex ({t.dtype}); similarity measures need real data")
        return t
    arr = a if isinstance(a, np.ndarray) else np.asarray(a)
    kind = arr.dtype.kind
    if kind == "c":
        raise InputError(f"{which} is complex ({arr.dtype}); similarity measures need real data")
    if kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise InputError(f"{which} has object dtype that cannot be cast to float ({err})") from None
    elif kind not in "biuf":
        raise InputError(f"{which} has dtype {arr.dtype}, which cannot be cast to float")
    if kind == "f" and arr.dtype.itemsize not in (4, 8):  # float16/longdouble: go through float64
        arr = arr.astype(np.float64)
    if not arr.flags.writeable or not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = np.array(arr)
    return torch.from_numpy(arr)


def _column_extremes(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column min and max (numpy's row-wise vectorized reduction is the fastest on the CPU)."""
    if t.device.type == "cpu":
        a = t.numpy()
        return torch.from_numpy(a.min(axis=0)), torch.from_numpy(a.max(axis=0))
    return t.amin(dim=0), t.amax(dim=0)


#: From this many entries a reduction over a CPU matrix goes through numpy (the input checks here, and
#: metrics._linalg's reductions): torch's thread pool then stays asleep between the numpy products of the
#: large path (see metrics._linalg.NUMPY_MIN_MULTIPLY_ADDS).
NUMPY_MIN_ENTRIES = 1 << 18


def _extremes(t: torch.Tensor) -> tuple[float, float]:
    """The smallest and the largest entry of the whole matrix: torch.aminmax (one pass), numpy's min and max
    for large CPU matrices."""
    if t.device.type == "cpu" and t.numel() >= NUMPY_MIN_ENTRIES:
        a = t.numpy()
        return float(a.min()), float(a.max())
    low, high = torch.aminmax(t)
    return float(low), float(high)


def column_sums(t: torch.Tensor) -> torch.Tensor:
    """sum_i t_ij for every column: numpy's reduction over rows for large CPU matrices (torch's was 4x
    slower at 5000 x 512), torch's below :data:`NUMPY_MIN_ENTRIES` (3x faster than numpy's at 1000 x 64)."""
    if t.is_cpu and t.numel() >= NUMPY_MIN_ENTRIES:
        return torch.from_numpy(np.add.reduce(t.numpy(), axis=0))
    return t.sum(dim=0)


#: Column sums of the matrices the edge checked last, by tensor identity: ``id -> (weak reference, the
#: tensor's version counter, sums)``. The finiteness check's one pass over each input hands them to the
#: measure's own column means (:func:`remembered_column_sums`); an entry lives at most as long as its
#: tensor and is ignored once the tensor is modified in place; at most :data:`REMEMBERED` are kept.
_COLUMN_SUMS: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}
REMEMBERED = 4


def _remember_column_sums(t: torch.Tensor, sums: torch.Tensor) -> None:
    key = id(t)
    _COLUMN_SUMS[key] = (weakref.ref(t, lambda _, key=key: _COLUMN_SUMS.pop(key, None)), t._version, sums)
    while len(_COLUMN_SUMS) > REMEMBERED:
        _COLUMN_SUMS.pop(next(iter(_COLUMN_SUMS)), None)


def remembered_column_sums(t: torch.Tensor) -> torch.Tensor:
    """:func:`column_sums` of ``t``: those the edge check computed when it checked this very tensor and it
    has not been modified since, else computed now (the same function: the same numbers either way)."""
    entry = _COLUMN_SUMS.get(id(t))
    if entry is not None and entry[0]() is t and entry[1] == t._version:
        return entry[2]
    return column_sums(t)


def _is_finite(t: torch.Tensor) -> bool:
    """Whether every entry is finite, in one pass that also gives the column sums (remembered for the
    measure): a NaN or an infinite entry makes its column's sum NaN or infinite (IEEE addition), so finite
    sums (and so their finite total) prove every entry finite; a non-finite total (such an entry, or an
    overflow of finite ones) is decided by the extremes."""
    sums = column_sums(t)
    if math.isfinite(float(np.add.reduce(sums.numpy()) if sums.is_cpu else sums.sum())):
        _remember_column_sums(t, sums)
        return True
    low, high = _extremes(t)  # NaN and Inf propagate into both
    return math.isfinite(low) and math.isfinite(high)


def _is_constant(t: torch.Tensor) -> bool:
    """Whether every column spans at most tol = 8 eps times its largest magnitude (zero variance up to
    rounding).

    Decided in O(p) for almost every input: a column whose first and last entries a, b differ by more than
    2 tol max(|a|, |b|) spans more than tol times its own largest magnitude M (if it did not, its entries
    would share a sign and lie in [(1 - tol) M, M], and |a - b| <= tol M < 2 tol max(|a|, |b|)); only
    inputs without such a column take the pass over every column.
    """
    tolerance = 8 * torch.finfo(t.dtype).eps
    ends = t.numpy() if t.is_cpu else t[[0, -1]].cpu().numpy()  # numpy: a fraction of torch's dispatch
    a, b = ends.item(0), ends[-1].item(0)  # the first column alone, in Python floats: one is enough
    if abs(b - a) > 2 * tolerance * max(abs(a), abs(b)):
        return False
    first, last = ends[0], ends[-1]
    if bool((np.abs(last - first) > 2 * tolerance * np.maximum(np.abs(first), np.abs(last))).any()):
        return False
    low, high = _column_extremes(t)
    return bool(((high - low) <= tolerance * torch.maximum(low.abs(), high.abs())).all())


def prepare_pair(
    x: Any,
    y: Any,
    *,
    conv: str = "flatten",
    dtype: str = "float64",
    backend: str = "torch",
    min_samples: int = 3,
    min_features: int = 1,
    check_constant: bool = True,
) -> tuple[Any, Any]:
    """Validate and convert a pair of representations for a measure.

    Returns two 2-D arrays [n, p1], [n, p2] of the requested float dtype: torch tensors on the inputs'
    device for ``backend="torch"``, numpy arrays for ``backend="numpy"``. The inputs are never modified.
    ``check_constant=False`` accepts constant input (one batch of a stream may be a single sample).
    ``min_features``: fewest columns each input must have after reshaping (rsa needs 3).

    Raises:
        InputError: wrong rank, different sample counts, too few samples, no or too few features, NaN/Inf,
            all-constant input, complex or uncastable dtype, tensors on two different devices.
    """
    if dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    tx, ty = _as_tensor(x, "X"), _as_tensor(y, "Y")
    if tx.device != ty.device:
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            raise InputError(f"X is on {tx.device} and Y on {ty.device}; put both on one device")
        device = tx.device if isinstance(x, torch.Tensor) else ty.device
        tx, ty = tx.to(device), ty.to(device)
    out = []
    for which, t in (("X", tx), ("Y", ty)):
        t = reshape_activations(t, conv)
        if t.dtype is not _DTYPES[dtype]:
            t = t.to(_DTYPES[dtype])
        if t.shape[1] == 0:
            raise InputError(f"{which} has no features (shape {tuple(t.shape)})")
        if t.shape[1] < min_features:
            raise InputError(
                f"{which} has {t.shape[1]} feature(s) (shape {tuple(t.shape)}); the measure needs at least "
                f"{min_features} features"
            )
        out.append(t)
    tx, ty = out
    if tx.shape[0] != ty.shape[0]:
        raise InputError(
            f"X and Y must hold the same samples: X has {tx.shape[0]} rows, Y has {ty.shape[0]}"
        )
    n = tx.shape[0]
    if n == 0:
        raise InputError("empty input (0 samples)")
    if n < min_samples:
        raise InputError(f"needs at least {min_samples} samples, got n = {n}")
    for which, t in (("X", tx), ("Y", ty)):
        if not _is_finite(t):
            bad = int((~torch.isfinite(t)).sum())
            raise InputError(f"{which} contains NaN or Inf ({bad} entries); clean or drop those samples")
        if check_constant and _is_constant(t):
            raise InputError(
                f"{which} is constant (zero variance across samples); no similarity is defined"
            )
    if backend == "numpy":
        return tx.cpu().numpy(), ty.cpu().numpy()
    return tx, ty


def check_not_saturated(which: str, dims: int, n: int) -> None:
    """A subspace of all n - 1 centered dimensions correlates perfectly with anything (Kornblith 2019)."""
    if dims >= n - 1:
        raise InputError(
            f"{which} spans {dims} dimensions, all n - 1 = {n - 1} that centered data of n = {n} samples "
            "has; every canonical correlation is 1 whatever the data. Use more samples, svcca, or "
            "cka_linear_debiased"
        )
