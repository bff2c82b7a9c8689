"""Exact streaming measures: accumulate co-moments batch by batch, compute the full-data value at the end.

The linear measures are functions of the centered second moments Xc^T Xc, Xc^T Yc, Yc^T Yc (debiased CKA
also of a few per-sample sums of squared norms), so one pass over any number of samples in
O(p1^2 + p2^2 + p1 p2) memory gives the same number as the in-memory measure on all the data (DESIGN
section 7). Batches are combined with the pairwise update of Chan, Golub, LeVeque 1979 (see
:mod:`metrics._stats`), in float64 on the inputs' device, so a large mean costs no digits.

>>> import numpy as np, metrics
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(1000, 8)); y = x @ rng.normal(size=(8, 5)) + rng.normal(size=(1000, 5))
>>> stats = SufficientStats()
>>> for start in range(0, 1000, 300):
...     _ = stats.update(x[start:start + 300], y[start:start + 300])
>>> abs(stats.compute("cka_linear") - metrics.get("cka_linear")(x, y)) < 1e-12
True
"""
from __future__ import annotations

from typing import Any

import torch

from metrics._formulas import Derived
from metrics._inputs import CONVENTIONS, InputError, prepare_pair
from metrics._registry import MeasureError, _check_sample_to_feature_ratio, as_value, available, get
from metrics._stats import Moments, batch_moments, combine

__all__ = ["STREAMABLE", "Derived", "NotStreamableError", "SufficientStats", "check_streamable", "streamable"]

_PRECISIONS = {"float64": torch.float64, "float32": torch.float32}


class NotStreamableError(ValueError):
    """The measure is not a function of the co-moments, so no exact streaming value exists."""


def streamable() -> tuple[str, ...]:
    """Sorted names of every registered measure (plugins included) that declares a streaming formula."""
    return tuple(name for name in available() if get(name).info.streaming is not None)


def __getattr__(attribute: str):
    """``STREAMABLE``: :func:`streamable` at the time of access (measures may register later)."""
    if attribute == "STREAMABLE":
        return streamable()
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def check_streamable(name: str) -> None:
    """Raise unless ``name`` has an exact streaming form.

    Raises:
        UnknownMetricError: no measure of that name is registered.
        NotStreamableError: the measure needs all samples at once.
    """
    if get(name).info.streaming is not None:  # an unknown name gets the registry's error with close names
        return
    raise NotStreamableError(
        f"{name} cannot be streamed exactly: it is not a function of the sums over samples (it needs all "
        f"samples at once: n x n kernels, ranks or neighbours). Compute it in memory, or on a subsample. "
        f"Streamable measures: {', '.join(streamable())}"
    )


# Input of one batch.


def _batch_pair(x: Any, y: Any, conv: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch as float64 tensors [b, p1], [b, p2] on one device; a batch may be a single sample."""
    return prepare_pair(x, y, conv=conv, dtype="float64", backend="torch", min_samples=1, check_constant=False)


def _check_compatible(old: Moments, new: Moments) -> None:
    for which, before, now in (("X", old.mean_x, new.mean_x), ("Y", old.mean_y, new.mean_y)):
        if before.shape != now.shape:
            raise InputError(
                f"{which} has {now.shape[0]} features here but {before.shape[0]} in the data accumulated so far"
            )
        if before.device != now.device:
            raise InputError(f"{which} is on {now.device} but was accumulated on {before.device}")


def _check_not_constant(m: Moments) -> None:
    """Zero variance: mean squared deviation at most (8 eps max |mean|)^2, as ``prepare_pair`` judges it."""
    for which, c, mean in (("X", m.xx, m.mean_x), ("Y", m.yy, m.mean_y)):
        floor = (8 * torch.finfo(c.dtype).eps * float(mean.abs().max())) ** 2 * c.shape[0] * m.count
        if not float(torch.trace(c)) > floor:
            raise InputError(f"{which} is constant (zero variance across samples); no similarity is defined")


class SufficientStats:
    """Co-moments of two representations, accumulated one batch at a time in float64.

    Memory is O(p1^2 + p2^2 + p1 p2) whatever the number of samples; the state lives on the device of
    the first batch. ``compute`` returns the value the in-memory measure has on all samples seen.

    Args:
        conv: how [b, c, h, w] batches become 2-D (see ``metrics.CONVENTIONS``); ``"positions"`` makes
            every (sample, position) a row.
        precision: ``"float64"`` (default) or ``"float32"``: the O(b p^2) products of each batch in
            float32 (faster, ~1e-7 relative per batch); means, centering and accumulation stay float64.

    Raises:
        ValueError: unknown ``conv`` or ``precision``.

    Example:
        >>> import torch
        >>> stats = SufficientStats()
        >>> for _ in range(3):
        ...     x = torch.randn(50, 6)
        ...     _ = stats.update(x, 2 * x + 1)
        >>> stats.n, round(stats.compute("cca_mean"), 12)
        (150, 1.0)
    """

    def __init__(self, *, conv: str = "flatten", precision: str = "float64"):
        if conv not in CONVENTIONS:
            raise ValueError(f"conv must be one of {sorted(CONVENTIONS)}, got {conv!r}")
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(_PRECISIONS)}, got {precision!r}")
        self.conv, self.precision = conv, precision
        self._moments: Moments | None = None
        self._derived: Derived | None = None  # shared by the computes until the next update or merge

    @classmethod
    def from_moments(cls, moments: Moments | None, *, conv: str = "flatten", precision: str = "float64"):
        """Statistics holding given moments (used by :mod:`metrics.distributed`)."""
        stats = cls(conv=conv, precision=precision)
        stats._moments = moments
        return stats

    def __repr__(self) -> str:
        widths = "" if self._moments is None else f", p1={self.widths[0]}, p2={self.widths[1]}"
        return f"SufficientStats(n={self.n}{widths}, conv={self.conv!r}, precision={self.precision!r})"

    @property
    def moments(self) -> Moments | None:
        """The accumulated :class:`metrics._stats.Moments` (None before the first batch)."""
        return self._moments

    @property
    def n(self) -> int:
        """Number of samples (rows after reshaping) accumulated so far."""
        return 0 if self._moments is None else int(self._moments.count)

    @property
    def widths(self) -> tuple[int, int]:
        """(p1, p2), the feature counts; raises before the first batch."""
        if self._moments is None:
            raise ValueError("no batch accumulated yet")
        return self._moments.mean_x.shape[0], self._moments.mean_y.shape[0]

    def update(self, x: Any, y: Any) -> SufficientStats:
        """Add one batch of paired samples.

        Args:
            x, y: [b, p1] and [b, p2] (or [b, c, ...] activations), numpy arrays or torch tensors; any
                float or integer dtype (float32 is accumulated in float64).

        Returns:
            self, so that updates chain.

        Raises:
            ValueError: empty batch, different row counts, widths or device unlike earlier batches,
                NaN/Inf, complex or uncastable dtype.
        """
        try:
            batch = batch_moments(*_batch_pair(x, y, self.conv), _PRECISIONS[self.precision])
            self._absorb(batch)
        except InputError as err:
            raise InputError(f"SufficientStats.update: {err}") from None
        return self

    def merge(self, other: SufficientStats) -> SufficientStats:
        """Add the samples accumulated in ``other`` (which is left unchanged), exactly.

        Returns:
            self.

        Raises:
            ValueError: different feature widths or devices.
        """
        if other._moments is not None:
            try:
                self._absorb(other._moments)
            except InputError as err:
                raise InputError(f"SufficientStats.merge: {err}") from None
        return self

    def _absorb(self, moments: Moments) -> None:
        if self._moments is not None:
            _check_compatible(self._moments, moments)
            moments = combine(self._moments, moments)
        self._moments, self._derived = moments, None

    def compute(self, name: str, **params) -> float:
        """The measure ``name`` on all samples accumulated, as ``metrics.get(name)(X, Y, **params)``.

        Args:
            name: a measure that declares ``streaming=`` (see :func:`streamable`).
            **params: the measure's parameters (``svcca``: ``threshold``).

        Raises:
            NotStreamableError: the measure has no exact streaming form (cka_rbf, rsa, plugins...).
            ValueError: too few samples, p >= n for the CCA family and OLS, constant input, an unknown
                parameter; the message names the measure, like the in-memory errors.
            MeasureError: the linear algebra failed.
        """
        check_streamable(name)
        info = get(name).info
        unknown = params.keys() - info.params.keys()
        if unknown:
            raise ValueError(
                f"{name}: unknown parameter(s) {sorted(unknown)}; it takes {sorted(info.params) or 'none'}"
            )
        m = self._moments
        try:
            if m is None or m.count < info.min_samples:
                raise InputError(f"needs at least {info.min_samples} samples, got n = {self.n}")
            _check_not_constant(m)
            _check_sample_to_feature_ratio(info, (self.n, self.widths[0]), (self.n, self.widths[1]))
            if self._derived is None:
                self._derived = Derived(m)
            value = info.streaming(self._derived, **params)
        except InputError as err:
            raise InputError(f"{name}: {err}") from None
        except (torch.linalg.LinAlgError, ArithmeticError) as err:
            raise MeasureError(f"{name}: the computation failed ({err}); no value is reported") from err
        return as_value(info, value, _PRECISIONS[self.precision], self.n)
