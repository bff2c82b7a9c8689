"""Bring your own networks: a small CNN and its magnitude-pruned copy on scikit-learn's digits.

The suite calls ``build(seed)`` (spec: ``factory = "examples/my_networks.py:build"``) and stitches and
scores every pair of layers it lists, like its own networks. Everything here is ordinary PyTorch: train
your models however you like and return them with the data they were trained and tested on. Training
both models takes a few seconds on one CPU core.
"""
import copy

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn.utils import prune
from torch.utils.data import TensorDataset


class SmallCNN(nn.Module):
    """Two conv blocks, a hidden layer, a linear classifier: 8x8 digit images, 10 classes."""

    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU())
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        return self.out(self.hidden(self.block2(self.block1(x))))


def digits(split_seed=0):
    """Digits as (train, test) TensorDatasets of ([1, 8, 8] float32 image, label), 60 / 40 split."""
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(bunch.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(split_seed))
    n_train = int(0.6 * len(x))
    train, test = order[:n_train], order[n_train:]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])


def fit(model, data, epochs, seed):
    """Adam on the cross-entropy, batches of 64 in a seeded order."""
    x, y = data.tensors
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=order).split(64):
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def pruned(model, data, amount, seed):
    """``model`` with ``amount`` of its conv and linear weights removed by global magnitude, fine-tuned
    (masks kept during fine-tuning, then made permanent)."""
    model = copy.deepcopy(model)
    weights = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=amount)
    fit(model, data, epochs=3, seed=seed)
    for module, name in weights:
        prune.remove(module, name)
    return model.eval()


def build(seed):
    torch.manual_seed(seed)
    train, test = digits()
    dense = fit(SmallCNN(), train, epochs=8, seed=seed)
    return {
        "models": {"dense": dense, "pruned": pruned(dense, train, amount=0.8, seed=seed)},
        "train": train,
        "test": test,
        "pairs": [("dense", "block1", "pruned", "block1"),
                  ("dense", "block2", "pruned", "block2"),
                  ("dense", "hidden", "pruned", "hidden"),
                  ("dense", "block1", "pruned", "hidden")],
        "version": "v1",
    }
