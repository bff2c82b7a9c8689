"""Two processes on the gloo backend (loopback) give the single-process value; the code is NCCL-ready."""
from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import metrics
from metrics.distributed import all_reduce_stats
from metrics.streaming import STREAMABLE, SufficientStats

WORLD = 2
OFFSET = 1e3


def shared_data(n: int = 120):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(n, 6))
    y = x[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(n, 4))
    return x + OFFSET, y - OFFSET


def _reduced_values(rows: slice, batch: int, widths=(6, 4)) -> dict[str, float] | str:
    """Accumulate this rank's rows in batches, all-reduce, compute every measure (or the error)."""
    x, y = shared_data()
    stats = SufficientStats()
    for start in range(rows.start, rows.stop, batch):
        piece = slice(start, min(start + batch, rows.stop))
        stats.update(x[piece, : widths[0]], y[piece, : widths[1]])
    try:
        total = all_reduce_stats(stats)
    except ValueError as err:
        return str(err)
    return {"n": total.n, **{name: total.compute(name) for name in STREAMABLE}}


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        results = {
            "uneven": _reduced_values(slice(0, 70) if rank == 0 else slice(70, 120), batch=30),
            "one_rank_empty": _reduced_values(slice(0, 120) if rank == 0 else slice(0, 0), batch=50),
            "widths_disagree": _reduced_values(slice(0, 60), batch=60, widths=(6, 4) if rank == 0 else (5, 4)),
        }
    finally:
        dist.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as handle:
        json.dump(results, handle)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("gloo"))
    mp.spawn(_worker, args=(_free_port(), out), nprocs=WORLD, join=True)
    return [json.load(open(os.path.join(out, f"rank{rank}.json"))) for rank in range(WORLD)]


@pytest.fixture(scope="module")
def single_process_values():
    x, y = shared_data()
    return {"n": 120, **{name: metrics.get(name)(x, y) for name in STREAMABLE}}


@pytest.mark.parametrize("scenario", ["uneven", "one_rank_empty"])
def test_two_processes_equal_one(two_process_results, single_process_values, scenario):
    for rank_results in two_process_results:
        assert rank_results[scenario] == pytest.approx(single_process_values, rel=1e-10, abs=0)


def test_width_disagreement_raises_on_every_rank(two_process_results):
    for rank_results in two_process_results:
        assert "disagree on the widths" in rank_results["widths_disagree"]
