"""Each pytest-xdist worker's share of the machine (scenarios.resources)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scenarios.resources import Share, worker_share


@pytest.mark.parametrize(
    "workers, cpus, expected",
    [(1, 2, [2]), (2, 2, [1, 1]), (3, 2, [1, 1, 1]), (3, 16, [6, 5, 5]), (4, 16, [4, 4, 4, 4])],
)
def test_threads_split_the_cores(workers, cpus, expected):
    threads = [worker_share(f"gw{i}", workers, cpus, 0).threads for i in range(workers)]
    assert threads == expected
    assert sum(threads) == max(cpus, workers)  # every core used, none twice (one thread at the least)


def test_one_gpu_per_worker_by_worker_index():
    devices = [worker_share(f"gw{i}", 8, 64, 8).device for i in range(8)]
    assert devices == [f"cuda:{i}" for i in range(8)]


def test_more_workers_than_gpus_share_them_round_robin():
    assert [worker_share(f"gw{i}", 4, 8, 2).device for i in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]


def test_no_gpu_leaves_the_device_choice_alone():
    assert worker_share("gw1", 2, 2, 0) == Share(threads=1, device="")


@pytest.mark.parametrize("worker_id, workers", [("master", 2), ("gw2", 2), ("gw-1", 2)])
def test_bad_worker_ids_are_refused(worker_id, workers):
    with pytest.raises(ValueError, match="worker"):
        worker_share(worker_id, workers, 2, 0)


def test_apply_limits_torch_and_blas_and_sets_the_device():
    code = (
        "import os; from scenarios.resources import Share, apply; import torch, threadpoolctl;"
        "apply(Share(threads=1, device='cuda:3'));"
        "pools = threadpoolctl.threadpool_info();"
        "print(torch.get_num_threads(), max(p['num_threads'] for p in pools), os.environ['STITCHBENCH_DEVICE'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "STITCHBENCH_DEVICE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["1", "1", "cuda:3"]
