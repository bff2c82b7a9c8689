"""Small multiples in one matplotlib axes: a grid of panels, each on its own scale.

A figure of 35 measures x 8 scenarios as separate axes takes minutes to lay out and save; here every
panel is a unit square of one axes' data coordinates, the data of each panel scaled into its square
(its own range, printed in the panel), and all lines, bands, points and images of the figure are a few
collections. Each panel's range is written at its top left ("lo .. hi"), so the scales stay readable
without an axis per panel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402

__all__ = ["Grid", "plt", "scale_into", "value_range", "widened"]


def value_range(*arrays, floor: float | None = None, ceiling: float | None = None) -> tuple[float, float]:
    """The finite min and max of ``arrays`` (widened to include ``floor`` and ``ceiling`` when given);
    (0, 1) when nothing is finite."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (min(low, floor) if floor is not None else low), (max(high, ceiling) if ceiling is not None else high)


def widened(low: float, high: float, span: float) -> tuple[float, float]:
    """[low, high] widened about its middle to at least ``span`` (so that rounding noise on a flat series is
    not drawn as a full-height swing)."""
    if high - low >= span:
        return low, high
    middle = (low + high) / 2
    return middle - span / 2, middle + span / 2


def scale_into(values, low: float, high: float):
    """``values`` mapped from [low, high] onto [0.08, 0.92] of a panel (a flat range sits at 0.5)."""
    values = np.asarray(values, dtype=float)
    if not high > low:
        return np.where(np.isfinite(values), 0.5, np.nan)
    return 0.08 + 0.84 * (values - low) / (high - low)


def _number(value: float) -> str:
    return "0" if value == 0 else f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.1e}"


@dataclass
class Grid:
    """``rows`` x ``columns`` unit panels in one axes, ``gap`` apart; panel (r, c) spans x in
    [c (1 + gap), c (1 + gap) + 1] and y in [-(r + 1) (1 + gap), -(r + 1) (1 + gap) + 1] (row 0 on top)."""

    rows: int
    columns: int
    panel_width: float = 1.6  # inches
    panel_height: float = 0.9
    gap: float = 0.28
    left: float = 1.9  # inches for the row labels
    top: float = 0.9  # inches for the title and column titles

    def __post_init__(self):
        width = self.left + self.columns * self.panel_width * (1 + self.gap) + 0.2
        height = self.top + self.rows * self.panel_height * (1 + self.gap) + 0.5
        self.figure = plt.figure(figsize=(width, height))
        self.ax = self.figure.add_axes([self.left / width, 0.5 / height, 1 - (self.left + 0.2) / width,
                                        1 - (self.top + 0.5) / height])  # fmt: skip
        self.ax.set_xlim(-0.02, self.columns * (1 + self.gap) - self.gap + 0.02)
        self.ax.set_ylim(-self.rows * (1 + self.gap) - 0.02, 0.02)
        self.ax.set_axis_off()
        self._lines: list = []
        self._line_styles: list = []
        self._bands: list = []
        self._band_colors: list = []

    def origin(self, row: int, column: int) -> tuple[float, float]:
        """The lower-left corner of panel (row, column)."""
        return column * (1 + self.gap), -(row + 1) * (1 + self.gap) + self.gap

    def frame(self, row: int, column: int, label: str = "", color: str = "0.75") -> None:
        """The panel's box and, at its top left, ``label`` (its range, usually)."""
        x, y = self.origin(row, column)
        self.ax.add_patch(plt.Rectangle((x, y), 1, 1, fill=False, edgecolor=color, linewidth=0.6))
        if label:
            self.ax.text(x + 0.02, y + 0.98, label, fontsize=4.5, va="top", ha="left", color="0.35")

    def range_label(self, low: float, high: float) -> str:
        """The text of a panel's range."""
        return _number(low) if not high > low else f"{_number(low)} .. {_number(high)}"

    def line(self, row: int, column: int, x01, y01, color="C0", width: float = 1.0, style: str = "-") -> None:
        """A polyline in panel coordinates (both in [0, 1]; NaN points are skipped)."""
        x0, y0 = self.origin(row, column)
        points = [(x0 + a, y0 + b) for a, b in zip(x01, y01) if math.isfinite(a) and math.isfinite(b)]
        if len(points) >= 1:
            self._lines.append(points if len(points) > 1 else points * 2)
            self._line_styles.append((color, width, style))

    def band(self, row: int, column: int, x01, low01, high01, color="C0") -> None:
        """A filled band between two curves in panel coordinates."""
        x0, y0 = self.origin(row, column)
        keep = [i for i, (a, b, c) in enumerate(zip(x01, low01, high01)) if all(map(math.isfinite, (a, b, c)))]
        if len(keep) >= 2:
            top = [(x0 + x01[i], y0 + high01[i]) for i in keep]
            bottom = [(x0 + x01[i], y0 + low01[i]) for i in reversed(keep)]
            self._bands.append(top + bottom)
            self._band_colors.append(color)

    def points(self, row: int, column: int, x01, y01, color="C0", size: float = 2.0, alpha: float = 1.0) -> None:
        x0, y0 = self.origin(row, column)
        self.ax.scatter(x0 + np.asarray(x01, float), y0 + np.asarray(y01, float), s=size, color=color,
                        alpha=alpha, linewidths=0, rasterized=True)  # fmt: skip

    def image(self, row: int, column: int, values01, cmap: str = "viridis") -> None:
        """A matrix drawn into the panel, its values already scaled to [0, 1] (NaN blank)."""
        x, y = self.origin(row, column)
        self.ax.imshow(np.ma.masked_invalid(values01), cmap=cmap, vmin=0, vmax=1, extent=(x, x + 1, y, y + 1),
                       origin="upper", interpolation="nearest", aspect="auto")  # fmt: skip

    def title(self, row: int, column: int, text: str) -> None:
        """A panel's title, above it."""
        x, y = self.origin(row, column)
        self.ax.text(x + 0.5, y + 1.02, text, fontsize=5.5, ha="center", va="bottom")

    def row_label(self, row: int, text: str, **style) -> None:
        _, y = self.origin(row, 0)
        self.ax.text(-0.06, y + 0.5, text, ha="right", va="center", **{"fontsize": 6.5, **style})

    def row_names(self, row: int, names) -> None:
        """One label per matrix row of the panels in ``row`` (the first row of a matrix on top), left of the
        first panel."""
        _, y = self.origin(row, 0)
        for i, name in enumerate(names):
            self.ax.text(-0.04, y + 1 - (i + 0.5) / len(names), name, ha="right", va="center", fontsize=4.5)

    def column_label(self, column: int, text: str) -> None:
        x, _ = self.origin(0, column)
        self.ax.text(x + 0.5, 0.08, text, fontsize=6.5, ha="center", va="bottom", rotation=0, wrap=True)

    def below(self, row: int, column: int, left: str, right: str) -> None:
        """Tick-like labels under a panel: its first and last x value."""
        x, y = self.origin(row, column)
        self.ax.text(x, y - 0.04, left, fontsize=4.5, ha="left", va="top", color="0.35")
        self.ax.text(x + 1, y - 0.04, right, fontsize=4.5, ha="right", va="top", color="0.35")

    def finish(self, title: str):
        """Add the collected lines and bands and the title; the figure, ready to save."""
        if self._bands:
            self.ax.add_collection(PolyCollection(self._bands, facecolors=self._band_colors, alpha=0.22,
                                                  linewidths=0))  # fmt: skip
        for style in dict.fromkeys(self._line_styles):
            segments = [line for line, s in zip(self._lines, self._line_styles) if s == style]
            color, width, dash = style
            self.ax.add_collection(LineCollection(segments, colors=color, linewidths=width,
                                                  linestyles=dash))  # fmt: skip
        self.figure.suptitle(title, fontsize=8, x=0.01, ha="left", y=1 - 0.15 / self.figure.get_figheight())
        return self.figure
