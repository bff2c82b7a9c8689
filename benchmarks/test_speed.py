"""Speed of every registered measure at three shapes, beside the matrix-multiply bound of the same run.

For each shape (n, p1, p2) the group holds one float64 ``X.T @ X`` of X [n, p1] (numpy, BLAS syrk): the
ratio measure / matmul says how far a measure is from the cost of the one product every linear measure
needs at least. Ratios are written to ``reports/out/speed.md`` and printed at the end of the run; they
are measured, never asserted. The quick profile times the two smaller shapes, the full profile all three.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import pytest
import torch

import metrics

SHAPES = {
    "quick": [(1000, 64, 64), (5000, 512, 512)],
    "full": [(1000, 64, 64), (5000, 512, 512), (10000, 2048, 2048)],
}
BOUND = "matmul_XtX"
_medians: dict[tuple[int, int, int], dict[str, float]] = {}


def pytest_generate_tests(metafunc):
    if "shape" in metafunc.fixturenames:
        shapes = SHAPES[metafunc.config.getoption("--profile")]
        metafunc.parametrize("shape", shapes, ids=[f"n{n}-p{p1}x{p2}" for n, p1, p2 in shapes], scope="module")


@pytest.fixture(scope="module")
def pair(shape):
    """Y is a noisy linear image of X: correlated, full rank, like two layers of one network."""
    n, p1, p2 = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, p1))
    y = x @ rng.standard_normal((p1, p2)) / np.sqrt(p1) + 0.5 * rng.standard_normal((n, p2))
    return x, y


def _rounds(shape) -> int:
    n, p1, p2 = shape
    return 5 if n * max(p1, p2) <= 5000 * 512 else 2


def _record(benchmark, shape, name):
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _medians.setdefault(shape, {})[name] = stats.stats.median


def test_matmul_bound(benchmark, shape, pair):
    x, _ = pair
    benchmark.group = "n={}, p1={}, p2={}".format(*shape)
    benchmark.pedantic(lambda: x.T @ x, rounds=_rounds(shape), iterations=1, warmup_rounds=1)
    _record(benchmark, shape, BOUND)


@pytest.mark.parametrize("name", metrics.available())
def test_measure_speed(benchmark, shape, pair, name):
    measure = metrics.get(name)
    x, y = pair
    n, p1, p2 = shape
    needs_n_above_p = measure.info.needs_n_above_p
    if needs_n_above_p and max(p1, p2) >= n:
        pytest.skip(f"{name} refuses p >= n")
    benchmark.group = "n={}, p1={}, p2={}".format(*shape)
    value = benchmark.pedantic(measure, args=(x, y), rounds=_rounds(shape), iterations=1)
    assert np.isfinite(value)
    _record(benchmark, shape, name)


def ratio_table(medians: dict[tuple[int, int, int], dict[str, float]]) -> str:
    """Markdown table: median seconds and the ratio to the X^T X bound, per measure and shape."""
    shapes = sorted(medians)
    names = sorted({name for row in medians.values() for name in row} - {BOUND})
    header = "| measure | " + " | ".join(f"n={n}, p={p1}x{p2}" for n, p1, p2 in shapes) + " |"
    lines = [header, "|---" * (len(shapes) + 1) + "|"]
    for name in [BOUND] + names:
        cells = []
        for shape in shapes:
            seconds = medians[shape].get(name)
            bound = medians[shape].get(BOUND)
            if seconds is None:
                cells.append("-")
            elif name == BOUND or not bound:
                cells.append(f"{seconds * 1e3:.1f} ms")
            else:
                cells.append(f"{seconds * 1e3:.1f} ms ({seconds / bound:.1f}x)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.fixture(scope="session", autouse=True)
def _write_speed_report(request):
    yield
    if not _medians:
        return
    threads = f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}"
    text = (
        "# Speed of the measures (median seconds; ratio to one float64 X^T X of X [n, p1])\n\n"
        f"{platform.platform()}, {platform.processor() or platform.machine()}, {threads}, "
        f"numpy {np.__version__}, torch {torch.__version__}\n\n{ratio_table(_medians)}\n"
    )
    out = Path(request.config.rootpath) / "reports" / "out" / "speed.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(line)
