"""Speed and memory of exact streaming measures (``pytest benchmarks/ [--profile full]``).

- throughput: samples per second through ``SufficientStats.update`` plus every ``compute``;
- the cost of linear CKA against the three products X^T X, Y^T Y, X^T Y it cannot avoid (in memory and
  streamed), measured in the same run (ratios survive a busy machine better than seconds);
- peak resident memory of a one-pass stream at n = 1e5 and 1e6 (full profile): each size runs in a fresh
  subprocess that reads its own ``ru_maxrss``, since torch's allocations are invisible to tracemalloc.
  Run one size by hand with ``python benchmarks/test_streaming.py N P BATCH``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import metrics
from metrics._linalg import center, cross, gram
from metrics.streaming import STREAMABLE, SufficientStats

ROOT = Path(__file__).resolve().parents[1]
LATENT = 32


def synthetic_batch(index: int, batch: int, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``index`` of a reproducible stream: X and Y share a 32-dimensional latent signal."""
    maps = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, LATENT, p, generator=maps, dtype=torch.float64)
    rows = torch.Generator().manual_seed(1 + index)
    z = torch.randn(batch, LATENT, generator=rows, dtype=torch.float64)
    noise = torch.randn(2, batch, p, generator=rows, dtype=torch.float64)
    return z @ a + 0.5 * noise[0] + 3.0, z @ b + noise[1] - 3.0


def stream(n: int, p: int, batch: int) -> SufficientStats:
    stats = SufficientStats()
    for index in range(n // batch):
        stats.update(*synthetic_batch(index, batch, p))
    return stats


def _best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _timed(benchmark, fn, rounds: int = 3):
    """Run ``fn`` under pytest-benchmark; return its value and the fastest round in seconds (measured
    here too, so that the ratios exist under ``--benchmark-disable``)."""
    seconds = []

    def timed():
        start = time.perf_counter()
        value = fn()
        seconds.append(time.perf_counter() - start)
        return value

    return benchmark.pedantic(timed, rounds=rounds, iterations=1), min(seconds)


def _profile(request) -> str:
    return request.config.getoption("--profile")


def test_streaming_throughput(benchmark, request):
    """Samples per second through ``update`` (four pre-made batches cycled: no data generation timed)."""
    n, p, batch = {"quick": (20_000, 64, 2_000), "full": (200_000, 256, 10_000)}[_profile(request)]
    batches = [synthetic_batch(index, batch, p) for index in range(4)]

    def run():
        stats = SufficientStats()
        for index in range(n // batch):
            stats.update(*batches[index % 4])
        return stats.compute("cka_linear")

    value, seconds = _timed(benchmark, run)
    benchmark.extra_info.update(
        n=n, p=p, batch=batch, threads=torch.get_num_threads(), cka_linear=value, samples_per_s=n / seconds
    )


def test_streamed_value_equals_in_memory_on_a_subsample():
    n, p, batch = 6_000, 128, 1_500
    stats = stream(n, p, batch)
    x, y = map(torch.cat, zip(*(synthetic_batch(i, batch, p) for i in range(n // batch))))
    for name in STREAMABLE:
        assert stats.compute(name) == pytest.approx(metrics.get(name)(x, y), rel=1e-10), name


def test_cka_linear_against_its_three_products(benchmark, request):
    """Linear CKA needs X^T X, Y^T Y and X^T Y of the centered data; everything else is O(n p + p^2)."""
    n, p = {"quick": (2_000, 256), "full": (10_000, 2_048)}[_profile(request)]
    x, y = synthetic_batch(0, n, p)
    xc, yc = center(x), center(y)
    products = _best_of(3, lambda: (gram(xc), gram(yc), cross(xc, yc)))
    in_memory = _best_of(3, lambda: metrics.get("cka_linear")(x, y))
    float32 = _best_of(3, lambda: SufficientStats(precision="float32").update(x, y).compute("cka_linear"))
    _, streamed = _timed(benchmark, lambda: SufficientStats().update(x, y).compute("cka_linear"))
    benchmark.extra_info.update(
        n=n,
        p=p,
        threads=torch.get_num_threads(),
        products_s=products,
        in_memory_ratio=in_memory / products,
        streamed_ratio=streamed / products,
        streamed_float32_ratio=float32 / products,
    )


def peak_memory(n: int, p: int, batch: int) -> dict:
    """Run :func:`stream` in this process and report its peak resident set size (Linux: KiB)."""
    start = time.perf_counter()
    stats = stream(n, p, batch)
    values = {name: stats.compute(name) for name in STREAMABLE}
    return {
        "n": n,
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "values": values,
    }


def test_peak_memory_does_not_grow_with_n(request, record_property):
    """p1 = p2 = 256 in batches of 10,000: under 1 GB, and n = 1e6 within 10 % of n = 1e5."""
    if _profile(request) != "full":
        pytest.skip("full profile only (about a minute on one core)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    peaks = {}
    for n in (100_000, 1_000_000):
        command = [sys.executable, __file__, str(n), "256", "10000"]
        result = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)
        record_property(f"peak_memory_n{n}", result)
        peaks[n] = result["peak_rss_mb"]
    assert max(peaks.values()) < 1024, peaks
    assert peaks[1_000_000] <= 1.1 * peaks[100_000], peaks


if __name__ == "__main__":
    json.dump(peak_memory(*map(int, sys.argv[1:4])), sys.stdout)
