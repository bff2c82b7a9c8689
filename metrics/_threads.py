"""One thread for small inputs: torch's and the BLAS's thread pools, both awake, compete for the cores.

A measure on small CPU inputs mixes torch operations (torch's OpenMP pool) with numpy and scipy calls
(the BLAS's own pool). With several threads each, the threads one pool leaves spinning after a call
hold the cores the other needs: on 2 cores at (n, p1, p2) = (1000, 64, 64), gulp took 8.7 ms instead
of 1.25 ms, pwcca 15 ms instead of 1.8 ms, shape_metric 17.7 ms instead of 1.8 ms. Below
:data:`SMALL_MULTIPLY_ADDS` the work is too small for a second thread to pay, so the registry runs the
measure with every pool at one thread (:func:`one_thread_when_small`) and restores the caller's settings
after. Process-wide settings: measures called concurrently from several Python threads share them.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

import torch

from metrics._linalg import NUMPY_MIN_MULTIPLY_ADDS

#: Below this many multiply-adds, max(n (p1 + p2)^2, n^2 (p1 + p2)) (the feature-space and the n x n
#: products), a measure runs on one thread: the size under which metrics._linalg sends products
#: through torch, a few milliseconds of work on one core.
SMALL_MULTIPLY_ADDS = NUMPY_MIN_MULTIPLY_ADDS


@functools.cache
def _controller():
    """threadpoolctl's view of the loaded BLAS and OpenMP libraries (made once, on first use)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def is_small(x: Any, y: Any) -> bool:
    """Whether X [n, p1], Y [n, p2] on the CPU make less than :data:`SMALL_MULTIPLY_ADDS` of work."""
    if isinstance(x, torch.Tensor) and not x.is_cpu:
        return False
    n, p = x.shape[0], x.shape[1] + y.shape[1]
    return max(n * p * p, n * n * p) < SMALL_MULTIPLY_ADDS


@contextlib.contextmanager
def one_thread_when_small(x: Any, y: Any) -> Iterator[None]:
    """torch and the BLAS on one thread while the block runs, when the inputs are small and torch runs
    on several threads (with torch on one thread no pool competes); the caller's settings after."""
    threads = torch.get_num_threads()
    if threads == 1 or not is_small(x, y):
        yield
        return
    torch.set_num_threads(1)
    try:
        with _controller().limit(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)
