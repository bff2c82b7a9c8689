"""Small CPU inputs run with every thread pool at one thread (metrics._threads): torch's and the BLAS's
pools, both awake, competed for the cores and made gulp, pwcca and shape_metric 7-10x slower at 1000 x 64."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

import metrics
from metrics._threads import SMALL_MULTIPLY_ADDS, is_small


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def two_torch_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def _recording(isolated_registry, seen: list):
    def record(x, y):
        """Records the thread settings it runs under."""
        seen.append((torch.get_num_threads(), _blas_threads()))
        return 0.5

    return metrics.register("test_threads", symmetric=True, bounds=(0.0, 1.0))(record)


def test_a_small_input_runs_on_one_thread_and_the_settings_come_back(isolated_registry, two_torch_threads):
    seen: list = []
    measure = _recording(isolated_registry, seen)
    before = _blas_threads()
    x = np.random.default_rng(0).standard_normal((100, 4))
    assert measure(x, x + 1.0) == 0.5
    assert seen == [(1, [1] * len(before))]
    assert torch.get_num_threads() == 2 and _blas_threads() == before


def test_a_large_input_keeps_the_callers_threads(isolated_registry, two_torch_threads):
    seen: list = []
    measure = _recording(isolated_registry, seen)
    n, p = 4096, 128  # n^2 (p1 + p2) = 2^33: past the bound
    assert not is_small(np.empty((n, p)), np.empty((n, p)))
    x = np.random.default_rng(1).standard_normal((n, p))
    measure(x, x + 1.0)
    assert seen[0][0] == 2


def test_settings_come_back_when_the_measure_fails(isolated_registry, two_torch_threads):
    def broken(x, y):
        """Fails inside."""
        raise RuntimeError("inside")

    measure = metrics.register("test_threads_broken", symmetric=True, bounds=(0.0, 1.0))(broken)
    with pytest.raises((RuntimeError, metrics.MeasureError)):
        measure(np.eye(5)[:, :3] + np.arange(5)[:, None], np.eye(5)[:, :2] + np.arange(5)[:, None])
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize(("n", "p1", "p2", "small"), [(1000, 64, 64, True), (5000, 512, 512, False),
                                                       (5000, 8, 8, False), (100, 700, 700, True)])
def test_the_bound_counts_the_feature_and_the_sample_products(n, p1, p2, small):
    assert is_small(np.empty((n, p1)), np.empty((n, p2))) is small
    assert (max(n * (p1 + p2) ** 2, n * n * (p1 + p2)) < SMALL_MULTIPLY_ADDS) is small
