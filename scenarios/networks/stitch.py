"""Model stitching: A[:l] -> S -> B[m:], A and B frozen in eval mode (Lenc & Vedaldi 2015; Bansal et al.
2021; Csiszárik et al. 2021).

S is a 1x1 convolution with bias when both layers are convolutional (A's map is first resized to B's
spatial size: average pooling down, nearest-neighbour up) and a linear map with bias otherwise (flatten,
then reshape to B's layer shape). S starts from direct matching, the least-squares fit of B's
activations at m from A's at l (a ones column for the bias), which is scored on its own; then S is
trained on the task loss (cross-entropy through B's frozen tail, Adam, lr 1e-3). Scores are relative
accuracies acc(stitched) / acc(B) on the test split; a network stitched with itself at one layer with
the least-squares S is the network itself, relative accuracy 1.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from scenarios.networks.data import Dataset
from scenarios.networks.models import prefix, suffix
from scenarios.networks.train import accuracy

__all__ = ["StitchLayer", "stitch", "least_squares_init"]


class StitchLayer(nn.Module):
    """Maps an activation of shape ``shape_a`` (without the batch dimension) to ``shape_b``."""

    def __init__(self, shape_a: tuple[int, ...], shape_b: tuple[int, ...]):
        super().__init__()
        self.shape_a, self.shape_b = tuple(shape_a), tuple(shape_b)
        self.convolutional = len(self.shape_a) == 3 and len(self.shape_b) == 3
        if self.convolutional:
            self.map = nn.Conv2d(self.shape_a[0], self.shape_b[0], 1)
        else:
            self.map = nn.Linear(math.prod(self.shape_a), math.prod(self.shape_b))

    def inputs(self, a: torch.Tensor) -> torch.Tensor:
        """A's activation as the rows S maps: [n*h*w, c] (resized) for 1x1 conv, [n, p] otherwise."""
        if not self.convolutional:
            return a.flatten(1)
        return self._resize(a).movedim(1, -1).reshape(-1, self.shape_a[0])

    def targets(self, b: torch.Tensor) -> torch.Tensor:
        """B's activation as the rows S should produce."""
        return b.movedim(1, -1).reshape(-1, self.shape_b[0]) if self.convolutional else b.flatten(1)

    def _resize(self, a: torch.Tensor) -> torch.Tensor:
        size = self.shape_b[1:]
        if tuple(a.shape[2:]) == size:
            return a
        if a.shape[2] >= size[0]:
            return F.adaptive_avg_pool2d(a, size)
        return F.interpolate(a, size=size, mode="nearest")

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if self.convolutional:
            return self.map(self._resize(a))
        return self.map(a.flatten(1)).reshape(-1, *self.shape_b)


def _frozen(model: nn.Module, device: str) -> nn.Module:
    return copy.deepcopy(model).to(device).eval().requires_grad_(False)


@torch.no_grad()
def least_squares_init(layer: StitchLayer, head_a: nn.Module, head_b: nn.Module, x: torch.Tensor,
                       device: str, batch_size: int = 256) -> None:
    """Direct matching: set S to the least-squares map (with bias) from A's to B's activations on ``x``.

    Accumulates the normal equations [A 1]^T [A 1] and [A 1]^T B in float64 over batches (memory
    O(p^2) at any data size) and solves them with the pseudo-inverse (minimum-norm solution).
    """
    gram, cross = None, None
    for i in range(0, len(x), batch_size):
        batch = x[i:i + batch_size].to(device)
        rows = layer.inputs(head_a(batch)).double()
        rows = torch.cat([rows, torch.ones(len(rows), 1, dtype=rows.dtype, device=device)], 1)
        target = layer.targets(head_b(batch)).double()
        gram = rows.T @ rows if gram is None else gram + rows.T @ rows
        cross = rows.T @ target if cross is None else cross + rows.T @ target
    solution = torch.linalg.pinv(gram, hermitian=True) @ cross  # [p_a + 1, p_b]
    weight, bias = solution[:-1].T, solution[-1]
    layer.map.weight.copy_(weight.reshape(layer.map.weight.shape).float())
    layer.map.bias.copy_(bias.float())


#: A's training activations are computed once when they take at most this many bytes (else per batch).
PRECOMPUTE_BYTES = 1 << 30


@torch.no_grad()
def _stitch_inputs(head_a: nn.Module, x: torch.Tensor, device: str, batch_size: int = 512):
    """A function from a batch of training indices to A's (frozen) activations for that batch."""
    per_sample = head_a(x[:1].to(device)).numel() * 4
    if per_sample * len(x) > PRECOMPUTE_BYTES:
        return lambda batch: head_a(x[batch].to(device))
    stored = torch.cat([head_a(x[i:i + batch_size].to(device)) for i in range(0, len(x), batch_size)])
    return lambda batch: stored[batch.to(device)]


def _stitched_accuracy(head_a, layer, tail_b, data: Dataset, device) -> float:
    return accuracy(nn.Sequential(head_a, layer, tail_b), data.x_test, data.y_test, device)


def stitch(model_a: nn.Module, layer_a: str, model_b: nn.Module, layer_b: str, data: Dataset, *,
           epochs: int = 10, lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
           device: str = "cpu") -> dict:
    """Stitch A's layer ``layer_a`` into B after ``layer_b``; returns accuracies and relative accuracies.

    Keys: ``accuracy_b``, ``accuracy_direct`` / ``relative_direct`` (least-squares S, no training),
    ``accuracy_trained`` / ``relative_trained`` (after ``epochs`` of Adam on the task loss; equal to the
    direct ones when ``epochs`` is 0), ``penalty_trained`` = acc(B) - acc(stitched).
    """
    a, b = _frozen(model_a, device), _frozen(model_b, device)
    head_a, head_b, tail_b = prefix(a, layer_a), prefix(b, layer_b), suffix(b, layer_b)
    probe = data.x_train[:2].to(device)
    with torch.no_grad():
        shape_a, shape_b = head_a(probe).shape[1:], head_b(probe).shape[1:]
    layer = StitchLayer(shape_a, shape_b).to(device)
    least_squares_init(layer, head_a, head_b, data.x_train, device)
    accuracy_b = accuracy(b, data.x_test, data.y_test, device)
    accuracy_direct = _stitched_accuracy(head_a, layer, tail_b, data, device)
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n = len(data.x_train)
    inputs = _stitch_inputs(head_a, data.x_train, device) if epochs else None
    for _ in range(epochs):
        layer.train()
        for batch in torch.randperm(n, generator=generator).split(batch_size):
            loss = F.cross_entropy(tail_b(layer(inputs(batch))), data.y_train[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    accuracy_trained = _stitched_accuracy(head_a, layer, tail_b, data, device)
    return {
        "accuracy_b": accuracy_b,
        "accuracy_direct": accuracy_direct,
        "accuracy_trained": accuracy_trained,
        "relative_direct": accuracy_direct / accuracy_b,
        "relative_trained": accuracy_trained / accuracy_b,
        "penalty_trained": accuracy_b - accuracy_trained,
    }
