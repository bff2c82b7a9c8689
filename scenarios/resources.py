"""Each process's share of the machine: CPU threads and accelerator for one pytest-xdist worker.

``pytest benchmarks/ -n N`` starts N worker processes. Left alone, each would run torch's and the BLAS
library's thread pools over every core, and N pools fighting over the same cores run slower than one
process (on 2 cores, ``-n 2`` took 209-231 s against 73 s serially before this). So each worker takes
an equal share of the cores, and, where accelerators exist, one device chosen by its worker index.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = ["Share", "apply", "worker_share"]

DEVICE_ENV = "STITCHBENCH_DEVICE"


@dataclass(frozen=True)
class Share:
    """What one process may use: ``threads`` CPU threads and ``device`` ("" : choose as usual)."""

    threads: int
    device: str


def worker_share(worker_id: str, workers: int, cpus: int, gpus: int) -> Share:
    """The share of worker ``worker_id`` ("gw0", "gw1", ...) among ``workers`` processes.

    Threads: ``cpus // workers`` (at least 1), the remainder going to the lowest worker indices.
    Device: ``cuda:<index mod gpus>`` when there are accelerators, so N workers on N GPUs get one GPU
    each; with more workers than GPUs they share them round-robin; "" without any.

    Raises:
        ValueError: a worker id that is not ``gw<number>``, or counts below 1 (``gpus`` may be 0).
    """
    match = re.fullmatch(r"gw(\d+)", worker_id)
    if match is None:
        raise ValueError(f"worker id {worker_id!r} is not of pytest-xdist's form 'gw<number>'")
    if workers < 1 or cpus < 1 or gpus < 0:
        raise ValueError(f"need workers >= 1, cpus >= 1 and gpus >= 0; got {workers}, {cpus}, {gpus}")
    index = int(match.group(1))
    if index >= workers:
        raise ValueError(f"worker {worker_id} is beyond the {workers} workers of the run")
    base, extra = divmod(cpus, workers)
    threads = max(1, base + (1 if index < extra else 0))
    return Share(threads=threads, device=f"cuda:{index % gpus}" if gpus else "")


def apply(share: Share) -> None:
    """Limit this process to ``share``: torch's intra-op threads, the BLAS pools (threadpoolctl), the
    thread variables of libraries started later, and ``$STITCHBENCH_DEVICE`` unless the user set it."""
    import torch
    from threadpoolctl import threadpool_limits

    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(share.threads)
    torch.set_num_threads(share.threads)
    threadpool_limits(share.threads)
    if share.device and not os.environ.get(DEVICE_ENV):
        os.environ[DEVICE_ENV] = share.device
