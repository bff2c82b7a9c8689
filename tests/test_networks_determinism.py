"""Determinism: training, pruning, distillation and stitching give the same bits under 1 and 2 threads.

Each run is a fresh interpreter (``OMP_NUM_THREADS`` and ``torch.set_num_threads`` set to the thread count
before anything runs), so that nothing of one run's thread pool or allocations carries over to the other.
On this machine the same training *without* ``determinism.deterministic`` gives different weights under
1 and 2 threads, so the comparison below can fail.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scenarios.networks.determinism import deterministic

TESTS = Path(__file__).resolve().parent

SCRIPT = """
import hashlib, json, sys
import torch
torch.set_num_threads(int(sys.argv[1]))
sys.path.insert(0, sys.argv[2])
from tiny_networks import TINY, tiny_digits
from scenarios.networks import distill, models, prune, stitch
from scenarios.networks.train import Schedule, train

def digest(net):
    return hashlib.sha256(b"".join(v.numpy().tobytes() for v in net.state_dict().values())).hexdigest()

digits, schedule = tiny_digits(), Schedule(epochs=2, batch_size=32)
torch.manual_seed(0)
net = models.build(TINY["vgg"])
out = {"trained": train(net, digits, schedule, 0), "threads": torch.get_num_threads()}
out["trained_weights"] = digest(net)
torch.manual_seed(1)
student = models.build(TINY["vgg"])
out["distilled"] = distill.distill(student, net, digits, Schedule(epochs=1, batch_size=32), 1)
out["distilled_weights"] = digest(student)
out["stitch"] = stitch.stitch(net, "conv1", student, "conv2", digits, epochs=1)
out["pruned"] = prune.one_shot(net, digits, Schedule(epochs=1, batch_size=32), 0, 0.5, scores="obd")
out["pruned_weights"] = digest(net)
print(json.dumps(out))
"""


def run(threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(threads), str(TESTS)], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_one_and_two_threads_give_the_same_bits():
    one, two = run(1), run(2)
    assert (one.pop("threads"), two.pop("threads")) == (1, 2)  # the callers' settings, restored after each step
    assert one == two  # weights by SHA-256 of their bytes; accuracies and stitching scores exactly


def test_deterministic_restores_the_callers_settings():
    threads, enabled = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(2)
    try:
        onednn = torch.backends.mkldnn.enabled
        with deterministic():
            assert torch.get_num_threads() == 1 and not torch.backends.mkldnn.enabled
            assert torch.are_deterministic_algorithms_enabled() == (enabled or torch.cuda.is_available())
            with deterministic():
                pass
            assert torch.get_num_threads() == 1 and not torch.backends.mkldnn.enabled
        assert torch.get_num_threads() == 2 and torch.are_deterministic_algorithms_enabled() == enabled
        assert torch.backends.mkldnn.enabled == onednn
        with pytest.raises(RuntimeError, match="inside"):
            with deterministic():
                raise RuntimeError("inside")
        assert torch.get_num_threads() == 2 and torch.backends.mkldnn.enabled == onednn
    finally:
        torch.set_num_threads(threads)
