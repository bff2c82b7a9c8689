"""Speed of every registered measure at the profile's shapes, each against its own bound, timed in one run.

For each shape (n, p1, p2) the group times every primitive of the vocabulary
``metrics._bounds.PRIMITIVES`` (products, decompositions, n x n distance and Gram matrices, top-k, a
sort, an assignment...; each with the fastest routine installed, on centered X [n, p1] and Y [n, p2]
prepared beforehand), and every measure. A measure's bound is the summed fastest time of the primitives
it declares in its registration (``@register(..., speed_bound=("XtX", "YtY", "XtY"))``): what its exact
formula cannot do without. What the measure adds (input checks, centering, rank decisions) shows as the
excess of its ratio over 1; a measure without a declared bound shows "no bound". Two ratios are reported
per measure: to one ``X^T X`` (the one product every linear measure needs) and to its own bound.
Each is timed after one first call, which also sizes its rounds: as many as fit in ``ROUND_BUDGET``
seconds, at least ``MIN_ROUNDS`` (three for calls of seconds, the first call counted as one of them) and
at most ``MAX_ROUNDS`` (thirty for calls of milliseconds). The fastest round is what counts, as with
``timeit``: on a 2-core machine one call of a second can take twice as long as the next (a first touch
of its memory, another library's threads still spinning), and a slow round says nothing about the code.

Ratios are written to ``reports/out/speed.md``, each beside the baseline's (``--baseline``) and its change,
and handed to the baseline comparison: ``reports.baseline.speed_section`` keeps the ratios where the
bound takes at least a few milliseconds, and a ratio that grew past twice the recorded one is reported
(it fails the run only with ``--speed-gate``: on a shared machine ratios move by up to 2x between quiet
runs). The quick profile times the two smaller shapes, the full profile all three. Timings need the
whole machine: under xdist this module is skipped (benchmarks/conftest.py).
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np
import pytest
import torch

import metrics
from metrics._bounds import PRIMITIVES, Operands
from reports.baseline import speed_section

BOUND = "XtX"
_fastest: dict[tuple[int, int, int], dict[str, float]] = {}


def shape_id(shape) -> str:
    """The id of a speed shape, as the test ids and the baseline's speed section spell it: n1000-p64x64."""
    n, p1, p2 = shape
    return f"n{n}-p{p1}x{p2}"


@pytest.fixture(scope="module")
def operands(pair) -> Operands:
    return Operands(*pair)


#: Seconds of timed calls to aim for per measure or primitive: calls of milliseconds get up to
#: ``MAX_ROUNDS`` rounds, calls of a second ``MIN_ROUNDS``.
ROUND_BUDGET, MIN_ROUNDS, MAX_ROUNDS = 1.0, 3, 30
#: A first call at least this long is its own warm-up: it counts as one of the ``MIN_ROUNDS`` (what it
#: pays once, a lazy import or the first touch of its memory, is small beside it, and the fastest of
#: three ignores slow rounds), so a measure of seconds is called three times, not four.
SLOW_CALL = 0.25


def rounds_for(first_call: float) -> int:
    """Rounds to time after a first call that took ``first_call`` seconds: as many as fit in
    ``ROUND_BUDGET``, at least ``MIN_ROUNDS`` (counting the first call when it was slow) and at most
    ``MAX_ROUNDS``."""
    if first_call >= SLOW_CALL:
        return MIN_ROUNDS - 1
    return max(MIN_ROUNDS, min(MAX_ROUNDS, int(ROUND_BUDGET / max(first_call, 1e-9))))


def _time(benchmark, shape, name, function, *args):
    """Time ``function(*args)``: a first call, timed to size the rounds, then the rounds; the fastest
    (the first call included when it was slow) goes into the speed report."""
    benchmark.group = "n={}, p1={}, p2={}".format(*shape)
    start = time.perf_counter()
    function(*args)
    first = time.perf_counter() - start
    value = benchmark.pedantic(function, args=args, rounds=rounds_for(first), iterations=1, warmup_rounds=0)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        rounds = list(stats.stats.data) + ([first] if first >= SLOW_CALL else [])
        _fastest.setdefault(shape, {})[name] = float(np.min(rounds))
    return value


@pytest.mark.parametrize("primitive", PRIMITIVES)
def test_primitive(benchmark, shape, operands, primitive):
    if PRIMITIVES[primitive].needs_n_above_p and max(shape[1:]) > shape[0]:
        pytest.skip("thin QR needs n >= p")
    _time(benchmark, shape, primitive, PRIMITIVES[primitive].run, operands)


@pytest.mark.parametrize("name", metrics.available())
def test_measure_speed(benchmark, shape, pair, name):
    measure = metrics.get(name)
    x, y = pair
    n, p1, p2 = shape
    needs_n_above_p = measure.info.needs_n_above_p
    if needs_n_above_p and max(p1, p2) >= n:
        pytest.skip(f"{name} refuses p >= n")
    value = _time(benchmark, shape, name, measure, x, y)
    assert np.isfinite(value)


def own_bound(name: str, times: dict[str, float]) -> float | None:
    """Summed fastest time of the primitives ``name`` declares (``info.speed_bound``, a repeated name
    counted each time), or None when it declares none or one was not timed at this shape."""
    parts = [times.get(primitive) for primitive in metrics.get(name).info.speed_bound]
    return sum(parts) if parts and None not in parts else None


def speed_timings(times: dict[tuple[int, int, int], dict[str, float]]):
    """``(measure, shape_id, seconds, bound_seconds)`` for every measure timed (bound None without one)."""
    for shape, row in sorted(times.items()):
        for name in sorted(row.keys() - PRIMITIVES.keys()):
            yield name, shape_id(shape), row[name], own_bound(name, row)


def ratio_table(times: dict[tuple[int, int, int], dict[str, float]], baseline: dict | None = None) -> str:
    """Markdown tables: each primitive's fastest time, then each measure's bound and its time with its two
    ratios per shape, the own-bound ratio beside the ``baseline``'s (``{measure: {shape_id: ratio}}``)
    with its change."""
    baseline = baseline or {}
    shapes = sorted(times)
    columns = " | ".join(f"n={n}, p={p1}x{p2}" for n, p1, p2 in shapes)

    def ms(seconds):
        return "-" if seconds is None else f"{seconds * 1e3:.1f} ms"

    lines = [f"| primitive | meaning | {columns} |", "|---" * (len(shapes) + 2) + "|"]
    for primitive, entry in PRIMITIVES.items():
        timing = " | ".join(ms(times[s].get(primitive)) for s in shapes)
        lines.append(f"| `{primitive}` | {entry.meaning} | {timing} |")
    lines += ["", f"| measure | bound | ms (x one X^T X, x own bound) per shape: {columns} |",
              "|---" * (len(shapes) + 2) + "|"]  # fmt: skip
    names = sorted({name for row in times.values() for name in row} - PRIMITIVES.keys())
    for name in names:
        declared = metrics.get(name).info.speed_bound
        bound_column = " + ".join(f"`{p}`" for p in declared) if declared else "no bound"
        cells = []
        for shape in shapes:
            row = times[shape]
            seconds = row.get(name)
            if seconds is None:
                cells.append("-")
                continue
            ratios = [f"{seconds / row[BOUND]:.1f}x"] if row.get(BOUND) else []
            bound = own_bound(name, row)
            ratios.append(f"{seconds / bound:.2f}x bound" if bound else "no bound")
            before = baseline.get(name, {}).get(shape_id(shape))
            if bound and before:
                ratios.append(f"baseline {before:.2f}x, {seconds / bound / before - 1:+.0%}")
            cells.append(f"{ms(seconds)} ({', '.join(ratios)})")
        lines.append(f"| {name} | {bound_column} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.fixture(scope="session", autouse=True)
def _write_speed_report(benchmark_report, record_speed, baseline_speed):
    yield
    if not _fastest:
        return
    record_speed(speed_section(speed_timings(_fastest)))
    threads = f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}"
    benchmark_report(
        "speed.md",
        "# Speed of the measures (fastest of the rounds; ratios to one float64 X^T X and to the measure's own bound)\n\n"
        f"{platform.platform()}, {platform.processor() or platform.machine()}, {threads}, "
        f"numpy {np.__version__}, torch {torch.__version__}\n\n"
        "A measure's bound is the summed fastest time of the primitives it declares (`speed_bound=` in its "
        "registration), timed in the same run; \"no bound\" where it declares none. Beside it the baseline's "
        "ratio and the change (reported, never failing unless --speed-gate is given).\n\n"
        f"{ratio_table(_fastest, baseline_speed)}\n",
    )
