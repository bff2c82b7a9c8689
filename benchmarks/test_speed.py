"""Speed of every registered measure at three shapes, beside matrix-product bounds of the same run.

For each shape (n, p1, p2) the group also times the float64 products and decompositions the linear
measures are made of (``PRIMITIVES``, on centered X [n, p1] and Y [n, p2], each with the fastest routine
here: numpy's BLAS for products, torch's LAPACK for QR and SVD). Two ratios are reported per measure:

- to one ``X^T X`` (syrk), the one product every linear measure needs at least;
- to its own bound (``BOUNDS``): the summed time of the products and decompositions its exact formula
  cannot do without, e.g. X^T X, Y^T Y and X^T Y for linear CKA, or QR(X), QR(Y), Qx^T Qy and the
  singular values of that for mean CCA. What the measure adds (input checks, centering, scaling,
  rank-revealing SVDs) shows as the excess over 1.

Ratios are written to ``reports/out/speed.md`` and printed at the end of the run; they are measured,
never asserted. The quick profile times the two smaller shapes, the full profile all three.
"""
from __future__ import annotations

import os
import platform
from typing import NamedTuple

import numpy as np
import pytest
import torch

import metrics

BOUND = "XtX"


class Operands(NamedTuple):
    xc: np.ndarray  # centered X
    yc: np.ndarray
    qx: np.ndarray  # thin QR factors of the centered data
    rx: torch.Tensor
    qy: np.ndarray
    ry: torch.Tensor
    cross: torch.Tensor  # Xc^T Yc
    bases: torch.Tensor  # Qx^T Qy


#: The products and decompositions the linear measures are made of.
PRIMITIVES = {
    "XtX": lambda o: o.xc.T @ o.xc,
    "YtY": lambda o: o.yc.T @ o.yc,
    "XtY": lambda o: o.xc.T @ o.yc,
    "QR(X)": lambda o: torch.linalg.qr(torch.from_numpy(o.xc)),
    "QR(Y)": lambda o: torch.linalg.qr(torch.from_numpy(o.yc)),
    "Qx^T Y": lambda o: o.qx.T @ o.yc,
    "Qx^T Qy": lambda o: o.qx.T @ o.qy,
    "svdvals(Xc^T Yc)": lambda o: torch.linalg.svdvals(o.cross),
    "svdvals(Qx^T Qy)": lambda o: torch.linalg.svdvals(o.bases),
    "svd(Qx^T Qy)": lambda o: torch.linalg.svd(o.bases),
    "svd(Rx)": lambda o: torch.linalg.svd(o.rx),
    "svd(Ry)": lambda o: torch.linalg.svd(o.ry),
}
_CCA_BOUND = ("QR(X)", "QR(Y)", "Qx^T Qy", "svdvals(Qx^T Qy)")
#: Each linear measure's bound: what its exact formula needs at the least on full-rank data.
BOUNDS = {
    "cka_linear": ("XtX", "YtY", "XtY"),
    "cka_linear_debiased": ("XtX", "YtY", "XtY"),
    "procrustes": ("XtY", "svdvals(Xc^T Yc)"),
    "nbs": ("XtY", "svdvals(Xc^T Yc)"),
    "ols_r2": ("QR(X)", "Qx^T Y"),
    "cca_mean": _CCA_BOUND,
    "cca_mean_sq": _CCA_BOUND,
    "svcca": _CCA_BOUND + ("svd(Rx)", "svd(Ry)"),  # the singular directions of each side
    "pwcca": ("QR(X)", "QR(Y)", "Qx^T Qy", "svd(Qx^T Qy)"),  # the canonical directions, for the weights
}
_medians: dict[tuple[int, int, int], dict[str, float]] = {}


@pytest.fixture(scope="module")
def operands(pair) -> Operands:
    x, y = pair
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    qx, rx = torch.linalg.qr(torch.from_numpy(xc))
    qy, ry = torch.linalg.qr(torch.from_numpy(yc))
    return Operands(xc, yc, qx.numpy(), rx, qy.numpy(), ry, torch.from_numpy(xc.T @ yc), torch.from_numpy(qx.numpy().T @ qy.numpy()))


def _rounds(shape) -> int:
    """Many rounds where a call takes milliseconds (its median is then stable), few where it takes seconds."""
    n, p1, p2 = shape
    return 30 if n * max(p1, p2) <= 1000 * 64 else 5 if n * max(p1, p2) <= 5000 * 512 else 2


def _record(benchmark, shape, name):
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _medians.setdefault(shape, {})[name] = stats.stats.median


@pytest.mark.parametrize("primitive", PRIMITIVES)
def test_primitive(benchmark, shape, operands, primitive):
    if primitive.startswith(("QR", "Qx", "svd")) and max(shape[1:]) > shape[0]:
        pytest.skip("thin QR needs n >= p")
    benchmark.group = "n={}, p1={}, p2={}".format(*shape)
    call = PRIMITIVES[primitive]
    benchmark.pedantic(call, args=(operands,), rounds=_rounds(shape), iterations=1, warmup_rounds=1)
    _record(benchmark, shape, primitive)


@pytest.mark.parametrize("name", metrics.available())
def test_measure_speed(benchmark, shape, pair, name):
    measure = metrics.get(name)
    x, y = pair
    n, p1, p2 = shape
    needs_n_above_p = measure.info.needs_n_above_p
    if needs_n_above_p and max(p1, p2) >= n:
        pytest.skip(f"{name} refuses p >= n")
    benchmark.group = "n={}, p1={}, p2={}".format(*shape)
    value = benchmark.pedantic(measure, args=(x, y), rounds=_rounds(shape), iterations=1, warmup_rounds=1)
    assert np.isfinite(value)
    _record(benchmark, shape, name)


def own_bound(name: str, medians: dict[str, float]) -> float | None:
    """Summed median time of ``BOUNDS[name]``, or None when the measure has no bound or one is missing."""
    parts = [medians.get(primitive) for primitive in BOUNDS.get(name, ())]
    return sum(parts) if parts and None not in parts else None


def ratio_table(medians: dict[tuple[int, int, int], dict[str, float]]) -> str:
    """Markdown tables: each primitive's median time, then each measure's with its two ratios."""
    shapes = sorted(medians)
    columns = " | ".join(f"n={n}, p={p1}x{p2}" for n, p1, p2 in shapes)
    rule = "|---" * (len(shapes) + 1) + "|"

    def ms(seconds):
        return "-" if seconds is None else f"{seconds * 1e3:.1f} ms"

    lines = [f"| primitive | {columns} |", rule]
    for primitive in PRIMITIVES:
        lines.append(f"| {primitive} | " + " | ".join(ms(medians[s].get(primitive)) for s in shapes) + " |")
    lines += ["", f"| measure: ms (x one X^T X, x own bound) | {columns} |", rule]
    names = sorted({name for row in medians.values() for name in row} - set(PRIMITIVES))
    for name in names:
        cells = []
        for shape in shapes:
            row = medians[shape]
            seconds = row.get(name)
            if seconds is None:
                cells.append("-")
                continue
            ratios = [f"{seconds / row[BOUND]:.1f}x"] if row.get(BOUND) else []
            bound = own_bound(name, row)
            ratios += [f"{seconds / bound:.2f}x bound"] if bound else []
            cells.append(f"{ms(seconds)} ({', '.join(ratios)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.fixture(scope="session", autouse=True)
def _write_speed_report(benchmark_report):
    yield
    if not _medians:
        return
    threads = f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}"
    benchmark_report(
        "speed.md",
        "# Speed of the measures (median times; ratios to one float64 X^T X and to the measure's own bound)\n\n"
        f"{platform.platform()}, {platform.processor() or platform.machine()}, {threads}, "
        f"numpy {np.__version__}, torch {torch.__version__}\n\n{ratio_table(_medians)}\n",
    )
