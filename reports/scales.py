"""How to read a measure's values: its bounds and orientation, as the reports need them.

The reports do not import the measures; a run records each measure's scale (from ``MetricInfo``) so
that verdicts and reports can be recomputed from the saved results alone. Bounds may be infinite
(unbounded distances such as ``rsm_norm_difference``): :meth:`MeasureScale.unit` and
:meth:`MeasureScale.similarity` then read the values relative to how far they reach from the finite
bound (the scale-free rule, documented there).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["MeasureScale"]

#: an unbounded measure's values within this fraction of the run's extent from its bound read as at the
#: bound. A float64 measure's rounding through BLAS is about 1e-14 .. 1e-12 of its extent, so it then
#: reads as 1e-8 .. 1e-6 (the tightest tolerance of a spec: 1e-6) and no verdict turns on the CPU's
#: rounding; with sqrt(eps) ~1.5e-8, GULP's 2e-13 of rounding under a translation read as 1e-6 itself
#: and flipped fail <-> undecided between kernels. Real changes of a millionth of the extent or more
#: keep the scenario's own extent as their unit.
_ROUNDING = 1e-6


@dataclass(frozen=True)
class MeasureScale:
    """Bounds ``[low, high]`` of a measure's values and whether higher means more similar."""

    low: float
    high: float
    higher_is_more_similar: bool = True

    @classmethod
    def from_info(cls, info) -> MeasureScale:
        """The scale declared by a ``metrics.MetricInfo``."""
        low, high = info.bounds
        return cls(float(low), float(high), bool(info.higher_is_more_similar))

    def to_dict(self) -> dict:
        """JSON-ready form (infinite bounds become None)."""
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> MeasureScale:
        """Inverse of :meth:`to_dict`."""
        low = -math.inf if data["low"] is None else data["low"]
        high = math.inf if data["high"] is None else data["high"]
        return cls(float(low), float(high), bool(data["higher_is_more_similar"]))

    @property
    def bounded(self) -> bool:
        """Whether both bounds are finite."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def orientation(self) -> int:
        """+1 for similarities, -1 for distances: ``orientation * value`` grows with similarity."""
        return 1 if self.higher_is_more_similar else -1

    def _extent(self, values) -> float:
        """An unbounded measure's reach: the largest ``|value - finite bound|`` of the finite ``values``
        (their range when neither bound is finite); 0 for no values."""
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if not values.size:
            return 0.0
        for bound in (self.low, self.high):
            if math.isfinite(bound):
                return float(np.max(np.abs(values - bound)))
        return float(np.ptp(values))

    def unit(self, values, context=None) -> float:
        """The unit of relative tolerances on ``values`` (one measure's values on one scenario).

        The scale-free rule, the same for every measure:

        - both bounds finite: the bound width ``high - low`` (``values`` are not read);
        - otherwise: the observed extent ``max |value - finite bound|`` over ``values`` (their range
          when neither bound is finite), so that a spread or a difference becomes a change relative to
          the largest value seen: unchanged by rescaling the measure;
        - that extent is at least :data:`_ROUNDING` (1e-6) times the extent over ``context`` (the measure's values
          in the whole run, when given): values that all sit within rounding of the bound (a distance of
          1e-15 where the measure is exactly invariant) are not read as a 100 % change;
        - an extent of 0 (every value at the bound, so every difference is 0) gives 1, never 0/0.
        """
        if self.bounded:
            return self.high - self.low
        extent = self._extent(values)
        if context is not None:
            extent = max(extent, _ROUNDING * self._extent(context))
        return extent if extent > 0 else 1.0

    def similarity(self, values) -> np.ndarray:
        """Values mapped to 0 (dissimilar) .. 1 (identical).

        Finite bounds map linearly; for a measure whose range straddles 0 (correlations), 0 means
        unrelated and negative values are clipped to 0. Without an upper (similarity) or lower
        (distance) finite bound, the values are read relative to their own :meth:`unit`: a distance
        ``d`` with lower bound ``b`` maps to ``1 - (d - b) / unit`` (the bound reads 1, the farthest
        value of ``values`` reads 0), a similarity to ``(v - b) / unit``; with neither bound finite, the
        oriented values map linearly from their minimum (0) to their maximum (1). The caller chooses
        ``values`` (the disagreement report: one measure's values on one family).
        """
        values = np.asarray(values, dtype=float)
        if self.bounded:
            if self.higher_is_more_similar:
                floor = 0.0 if self.low < 0.0 < self.high else self.low
                scaled = (values - floor) / (self.high - floor)
            else:
                scaled = (self.high - values) / (self.high - self.low)
        elif math.isfinite(self.low) or math.isfinite(self.high):
            bound = self.low if math.isfinite(self.low) else self.high
            reach = np.abs(values - bound) / self.unit(values)
            scaled = 1.0 - reach if self.higher_is_more_similar == math.isfinite(self.high) else reach
        else:
            oriented = self.orientation * values
            finite = oriented[np.isfinite(oriented)]
            lowest = finite.min() if finite.size else 0.0
            scaled = (oriented - lowest) / self.unit(values)
        return np.clip(scaled, 0.0, 1.0)

