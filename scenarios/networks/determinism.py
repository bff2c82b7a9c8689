"""Bit-reproducible training, pruning, distillation and stitching on one platform, whatever the thread count.

A float32 reduction split over several threads adds its terms in an order that depends on the split, so a
model trained under ``OMP_NUM_THREADS=1`` and under 2 threads ends up with different weights (the
differences grow with every step). Inside :func:`deterministic` torch runs every op on one intra-op
thread, where its CPU kernels are deterministic; the thread count is restored on exit, so the
measures, which are exact float64 functions, keep their threads. The cores stay busy by running
independent builds in parallel processes (``prefetch``), each on one thread.

On the CPU, convolutions run without oneDNN (``torch.backends.mkldnn``) inside: oneDNN blocks a
convolution by the CPU's cache sizes, so a thinned layer (structured pruning leaves odd channel counts)
summed in another order on another machine (values of ``networks_progression_structured_l1`` up to
0.09 apart between a Haswell and an AVX-512 machine with the same pinned kernels, everything else
equal); ATen's own convolution calls MKL's GEMM, which the pinned ``MKL_CBWR`` keeps bit-identical
across CPUs (``runner.environment.PINNED_KERNELS``). It costs about 1.5x per convolution step.

Where a GPU is available torch is also asked for deterministic algorithms
(``torch.use_deterministic_algorithms``, with ``warn_only``: some ops, such as the backward of adaptive
pooling, have no deterministic CUDA kernel) and the cuBLAS workspace is configured so that matrix
products are reproducible. On a CPU-only machine that switch is left alone: it changes no CPU kernel
here, and setting it imports torch's compiler stack (``torch._inductor``, about 10 s per process).
"""
from __future__ import annotations

import contextlib
import os

import torch

__all__ = ["deterministic"]

# cuBLAS needs this set before its first use to give reproducible products (torch's reproducibility notes)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


@contextlib.contextmanager
def deterministic():
    """One intra-op thread and no oneDNN inside (and deterministic algorithms where a GPU is available);
    the previous settings restored after.

    Usable as a context manager or a decorator (``@deterministic()``); nesting is harmless.
    """
    threads = torch.get_num_threads()
    gpu = torch.cuda.is_available()
    if gpu:
        enabled = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
    onednn = torch.backends.mkldnn.enabled
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False  # (not mkldnn.flags(): it also sets TF32, with a warning)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = onednn
        if gpu:
            torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
