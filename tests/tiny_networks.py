"""Tiny models on a digits subset, trained once per test module (shared by the networks tests).

The fixtures ``digits`` and ``trained`` are imported by the test modules that use them. The test modules
that run the benchmarks with pytester in this process import this module too, for ``torch._dynamo``: torch
imports it on the first optimizer step and cannot import it twice in a process (it registers an operator
library), and pytester takes out of ``sys.modules`` every module imported while its fixture was up, so a
first training step inside a pytester run would break every later one in the worker.
"""
import pytest
import torch
import torch._dynamo  # noqa: F401 - imported before any pytester fixture (module docstring)

from scenarios.networks import data, models
from scenarios.networks.train import Schedule, train

TINY = {
    "mlp": {"arch": "mlp", "in_features": 64, "hidden": [16, 12], "num_classes": 10},
    "vgg": {"arch": "vgg", "cfg": [4, "M", 8, 8], "in_channels": 1, "num_classes": 10},
    "resnet": {"arch": "resnet", "block": "basic", "widths": [4, 8], "depths": [2, 2], "in_channels": 1,
               "num_classes": 10},
}
SCHEDULE = Schedule(optimizer="sgd", lr=0.1, momentum=0.9, epochs=4, batch_size=32)


def tiny_digits():
    """256 training and 128 test images of digits."""
    return data.subset(data.load_digits(), 256, 128)


def trained_tiny_networks(digits, schedule: Schedule = SCHEDULE) -> dict:
    """Each architecture of :data:`TINY`, seeded 0, trained on ``digits``."""
    nets = {}
    for name, config in TINY.items():
        torch.manual_seed(0)
        nets[name] = models.build(config)
        train(nets[name], digits, schedule, 0, label=name)
    return nets


@pytest.fixture(scope="module")
def digits():
    return tiny_digits()


@pytest.fixture(scope="module")
def trained(digits):
    return trained_tiny_networks(digits)
