"""How to read a measure's values: its bounds and orientation, as the reports need them.

The reports do not import the measures; a run records each measure's scale (from ``MetricInfo``) so
that verdicts and reports can be recomputed from the saved results alone.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["MeasureScale"]


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
    def width(self) -> float:
        """``high - low``, the unit of relative tolerances; 1 when a bound is infinite."""
        width = self.high - self.low
        return width if math.isfinite(width) else 1.0

    @property
    def orientation(self) -> int:
        """+1 for similarities, -1 for distances: ``orientation * value`` grows with similarity."""
        return 1 if self.higher_is_more_similar else -1

    def similarity(self, values) -> np.ndarray:
        """Values mapped to 0 (dissimilar) .. 1 (identical).

        Finite bounds map linearly; for a measure whose range straddles 0 (correlations), 0 means
        unrelated and negative values are clipped to 0. Without finite bounds the values' percentile
        ranks among themselves are used, so only their order is read.
        """
        values = np.asarray(values, dtype=float)
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return (rankdata(self.orientation * values) - 1) / max(values.size - 1, 1)
        if self.higher_is_more_similar:
            floor = 0.0 if self.low < 0.0 < self.high else self.low
            scaled = (values - floor) / (self.high - floor)
        else:
            scaled = (self.high - values) / (self.high - self.low)
        return np.clip(scaled, 0.0, 1.0)
