"""Model stitching and the other functional references of a pair of networks (Lenc & Vedaldi 2015;
Bansal et al. 2021; Csiszárik et al. 2021; Balogh & Jelasity 2025; Klabunde et al. 2025).

Stitching A[:l] -> S -> B[m:], B frozen in eval mode. The sender need not be a network: it is any
:class:`Sender`, a function from (split, image indices) to activations, so that a control whose
"activations" are a function of the label (class-clustered noise, Smith et al. 2025) is stitched like a
network layer (:class:`NetworkSender`, :class:`ClusteredNoiseSender`).

S is a 1x1 convolution with bias when both layers are convolutional (A's map is first resized to B's
spatial size: average pooling down, nearest-neighbour up) or both are token streams (the same linear map
for every token: the convention for a vision transformer's blocks), and a linear map with bias otherwise
(flatten, then reshape to B's layer shape). S starts from direct matching, the least-squares fit of B's
activations at m from A's at l (a ones column for the bias) on the *training* images, which is scored
on its own on the held-out *test* images (Balogh & Jelasity's direct matching); then S is trained on the
task loss on the training images (cross-entropy through B's frozen tail, Adam, lr 1e-3) and scored on
the test images. A stitch's score (:func:`stitch_score`) is its accuracy above chance relative to the
receiver's accuracy above chance, clipped to [0, 1]: 1 when nothing is lost (a network stitched with
itself at one layer with the least-squares S is the network itself), 0 at chance; None (not
informative) when the receiver itself is within :data:`CHANCE_MARGIN` of chance, where the ratio would
divide by noise (acc(stitched) / acc(B) reached 9.9 with a receiver trained on shuffled labels).

:func:`references` gives every reference of two networks at two layers: the trained and direct stitches
both ways and, for two whole models with the same outputs, :func:`prediction_agreement` (the fraction of
test images on which their predictions agree and the absolute difference of their test accuracies,
ReSi's functional measures). Stitching runs inside :func:`determinism.deterministic`.
"""
from __future__ import annotations

import copy
import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from scenarios.networks.data import Dataset
from scenarios.networks.determinism import deterministic
from scenarios.networks.models import prefix, suffix
from scenarios.networks.train import accuracy, predict

__all__ = ["CHANCE_MARGIN", "Sender", "NetworkSender", "ClusteredNoiseSender", "StitchLayer", "stitch", "stitch_from",
           "least_squares_init", "prediction_agreement", "references", "stitch_score", "stitch_scores"]

SPLITS = ("train", "test")
#: A receiver whose test accuracy is within this of chance (1 / classes) makes its stitches' scores not
#: informative (None): there is no function above chance to keep.
CHANCE_MARGIN = 0.1


def stitch_score(accuracy: float, receiver_accuracy: float, num_classes: int) -> float | None:
    """(accuracy - chance) / (receiver_accuracy - chance), clipped to [0, 1], chance = 1 / ``num_classes``
    (a balanced test set): the share of the receiver's function above chance that the stitched model
    keeps. None when the receiver is within :data:`CHANCE_MARGIN` of chance."""
    chance = 1.0 / num_classes
    if receiver_accuracy - chance < CHANCE_MARGIN:
        return None
    return min(1.0, max(0.0, (accuracy - chance) / (receiver_accuracy - chance)))


def stitch_scores(result: dict, num_classes: int) -> dict[str, float | None]:
    """``{"trained", "direct"}`` scores (:func:`stitch_score`) of a :func:`stitch_from` result."""
    return {kind: stitch_score(result[f"accuracy_{kind}"], result["accuracy_b"], num_classes)
            for kind in ("trained", "direct")}


class Sender(Protocol):
    """The sending side of a stitch: activations of shape ``shape`` for images of a split."""

    shape: tuple[int, ...]

    def __call__(self, split: str, index: torch.Tensor) -> torch.Tensor:
        """Activations [len(index), *shape] (float32, on the stitch's device) of the images ``index`` of
        ``split`` (``train`` or ``test``)."""


class StitchLayer(nn.Module):
    """Maps an activation of shape ``shape_a`` (without the batch dimension) to ``shape_b``.

    Between two channels-first maps of the same rank (conv layers [c, h, w]; token streams [dim, tokens])
    S is a 1x1 convolution: one linear map (with bias) applied at every position or token, A's map first
    resized to B's positions; otherwise a linear map of the flattened activation."""

    def __init__(self, shape_a: tuple[int, ...], shape_b: tuple[int, ...]):
        super().__init__()
        self.shape_a, self.shape_b = tuple(shape_a), tuple(shape_b)
        self.convolutional = len(self.shape_a) == len(self.shape_b) and len(self.shape_a) in (2, 3)
        if self.convolutional:
            conv = nn.Conv2d if len(self.shape_a) == 3 else nn.Conv1d
            self.map = conv(self.shape_a[0], self.shape_b[0], 1)
        else:
            self.map = nn.Linear(math.prod(self.shape_a), math.prod(self.shape_b))

    def inputs(self, a: torch.Tensor) -> torch.Tensor:
        """A's activation as the rows S maps: [n * positions, c] (resized) for a 1x1 convolution, [n, p]
        otherwise."""
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
            pool = F.adaptive_avg_pool2d if len(size) == 2 else F.adaptive_avg_pool1d
            return pool(a, size)
        return F.interpolate(a, size=size, mode="nearest")

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if self.convolutional:
            return self.map(self._resize(a))
        return self.map(a.flatten(1)).reshape(-1, *self.shape_b)


def _frozen(model: nn.Module, device: str) -> nn.Module:
    return copy.deepcopy(model).to(device).eval().requires_grad_(False)


def _images(data: Dataset, split: str) -> torch.Tensor:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return data.x_train if split == "train" else data.x_test


def _labels(data: Dataset, split: str) -> torch.Tensor:
    return data.y_train if split == "train" else data.y_test


#: A network sender keeps a split's activations in memory when they take at most this many bytes
#: (else it recomputes them batch by batch).
PRECOMPUTE_BYTES = 1 << 30


class NetworkSender:
    """A[:layer] of a frozen copy of ``model`` (eval mode) on the images of ``data``."""

    def __init__(self, model: nn.Module, layer: str, data: Dataset, device: str, batch_size: int = 512):
        self.head = prefix(_frozen(model, device), layer)
        self.data, self.device, self.batch_size = data, device, batch_size
        with torch.no_grad():
            self.shape = tuple(self.head(data.x_train[:1].to(device)).shape[1:])
        self._stored: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def __call__(self, split: str, index: torch.Tensor) -> torch.Tensor:
        images = _images(self.data, split)
        if 4 * math.prod(self.shape) * len(images) > PRECOMPUTE_BYTES:
            return self.head(images[index].to(self.device))
        if split not in self._stored:
            self._stored[split] = torch.cat([self.head(images[i:i + self.batch_size].to(self.device))
                                             for i in range(0, len(images), self.batch_size)])
        return self._stored[split][index.to(self.device)]


class ClusteredNoiseSender:
    """Class-clustered Gaussian noise shaped like a layer (Smith et al., ICML 2025): every class c has a
    random mean mu_c ~ N(0, I) of shape ``shape``; image i of either split is mu_{y_i} + ``scale`` * e_i
    with e_i ~ N(0, I). A function of the label alone: it carries no learned function of the image.

    The noise of image i of a split is drawn from a generator seeded by (``seed``, split, i) (one stream
    per image: 2^32 images per split at most), so that it is the same every epoch and needs no memory
    beyond the class means.
    """

    def __init__(self, data: Dataset, shape: tuple[int, ...], seed: int, scale: float, device: str):
        if scale < 0:
            raise ValueError(f"clustered noise: scale must be >= 0, got {scale}")
        self.shape, self.data, self.seed, self.scale, self.device = tuple(shape), data, seed, scale, device
        generator = torch.Generator().manual_seed(seed)
        self.means = torch.randn((data.num_classes, *self.shape), generator=generator)

    def __call__(self, split: str, index: torch.Tensor) -> torch.Tensor:
        labels = _labels(self.data, split)[index]
        stream = (2 * self.seed + SPLITS.index(split)) << 32
        noise = torch.stack([torch.randn(self.shape, generator=torch.Generator().manual_seed(stream + int(i)))
                             for i in index])
        return (self.means[labels] + self.scale * noise).to(self.device)


@torch.no_grad()
def least_squares_init(layer: StitchLayer, sender: Sender, head_b: nn.Module, data: Dataset, device: str,
                       batch_size: int = 256) -> None:
    """Direct matching: set S to the least-squares map (with bias) from the sender's activations to B's
    on the training images.

    Accumulates the normal equations [A 1]^T [A 1] and [A 1]^T B in float64 over batches (memory
    O(p^2) at any data size) and solves them with the pseudo-inverse (minimum-norm solution).
    """
    gram, cross = None, None
    for batch in torch.arange(len(data.x_train)).split(batch_size):
        rows = layer.inputs(sender("train", batch)).double()
        rows = torch.cat([rows, torch.ones(len(rows), 1, dtype=rows.dtype, device=device)], 1)
        target = layer.targets(head_b(data.x_train[batch].to(device))).double()
        gram = rows.T @ rows if gram is None else gram + rows.T @ rows
        cross = rows.T @ target if cross is None else cross + rows.T @ target
    solution = torch.linalg.pinv(gram, hermitian=True) @ cross  # [p_a + 1, p_b]
    weight, bias = solution[:-1].T, solution[-1]
    layer.map.weight.copy_(weight.reshape(layer.map.weight.shape).float())
    layer.map.bias.copy_(bias.float())


@torch.no_grad()
def _stitched_accuracy(sender: Sender, layer: StitchLayer, tail_b: nn.Module, data: Dataset, device: str,
                       batch_size: int = 1024) -> float:
    """Top-1 accuracy on the test images of the sender's activations through S and B's tail."""
    layer.eval()
    correct = 0
    for batch in torch.arange(len(data.x_test)).split(batch_size):
        logits = tail_b(layer(sender("test", batch)))
        correct += int((logits.argmax(1).cpu() == data.y_test[batch]).sum())
    return correct / len(data.x_test)


@deterministic()
def stitch_from(sender: Sender, model_b: nn.Module, layer_b: str, data: Dataset, *, epochs: int = 10,
                lr: float = 1e-3, batch_size: int = 128, seed: int = 0, device: str = "cpu") -> dict:
    """Stitch ``sender`` into B after ``layer_b``; returns the accuracies (scored by :func:`stitch_scores`
    when read, so that the score's definition needs no new stitch).

    Keys: ``accuracy_b``, ``accuracy_direct`` (least-squares S fitted on the training images, no
    training), ``accuracy_trained`` (after ``epochs`` of Adam on the task loss; equal to the direct one
    when ``epochs`` is 0), ``penalty_trained`` = acc(B) - acc(stitched); every accuracy on the test
    images.
    """
    b = _frozen(model_b, device)
    head_b, tail_b = prefix(b, layer_b), suffix(b, layer_b)
    with torch.no_grad():
        shape_b = head_b(data.x_train[:1].to(device)).shape[1:]
    accuracy_b = accuracy(b, data.x_test, data.y_test, device)
    layer = StitchLayer(sender.shape, shape_b).to(device)
    least_squares_init(layer, sender, head_b, data, device)
    accuracy_direct = _stitched_accuracy(sender, layer, tail_b, data, device)
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        layer.train()
        for batch in torch.randperm(len(data.x_train), generator=generator).split(batch_size):
            loss = F.cross_entropy(tail_b(layer(sender("train", batch))), data.y_train[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    accuracy_trained = _stitched_accuracy(sender, layer, tail_b, data, device)
    return {
        "accuracy_b": accuracy_b,
        "accuracy_direct": accuracy_direct,
        "accuracy_trained": accuracy_trained,
        "penalty_trained": accuracy_b - accuracy_trained,
    }


def stitch(model_a: nn.Module, layer_a: str, model_b: nn.Module, layer_b: str, data: Dataset, *,
           epochs: int = 10, lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
           device: str = "cpu") -> dict:
    """Stitch A's layer ``layer_a`` into B after ``layer_b`` (:func:`stitch_from` with A[:layer_a] as
    the sender)."""
    return stitch_from(NetworkSender(model_a, layer_a, data, device), model_b, layer_b, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                       device=device)


@deterministic()
def prediction_agreement(model_a: nn.Module, model_b: nn.Module, data: Dataset, device: str = "cpu") -> dict:
    """ReSi's functional measures of two whole models with the same outputs, on the test images:
    ``agreement`` = mean over images of [argmax f_a(x) = argmax f_b(x)] and ``accuracy_difference`` =
    abs(acc(f_a) - acc(f_b)).

    Raises:
        ValueError: the models' outputs differ in size (they do not classify the same classes).
    """
    logits_a, logits_b = (predict(m, data.x_test, device) for m in (model_a, model_b))
    if logits_a.shape != logits_b.shape:
        raise ValueError(f"prediction agreement needs models with the same outputs; got {tuple(logits_a.shape[1:])} "
                         f"and {tuple(logits_b.shape[1:])} logits")
    labels_a, labels_b = logits_a.argmax(1), logits_b.argmax(1)
    accuracy_a = float((labels_a == data.y_test).double().mean())
    accuracy_b = float((labels_b == data.y_test).double().mean())
    return {"agreement": float((labels_a == labels_b).double().mean()),
            "accuracy_difference": abs(accuracy_a - accuracy_b)}


def references(model_a: nn.Module, layer_a: str, model_b: nn.Module, layer_b: str, data: Dataset, *,
               epochs: int = 10, lr: float = 1e-3, seed: int = 0, device: str = "cpu") -> dict:
    """Every functional reference of X = ``layer_a`` of A against Y = ``layer_b`` of B, keyed like the
    results columns (``runner.schema.REFERENCE_COLUMNS``): ``stitch`` / ``stitch_direct`` (X -> Y,
    trained and direct), ``stitch_reverse`` / ``stitch_direct_reverse`` (Y -> X), ``agreement`` and
    ``accuracy_difference`` (None when the models' outputs differ in size)."""
    options = {"epochs": epochs, "lr": lr, "seed": seed, "device": device}
    forward = stitch(model_a, layer_a, model_b, layer_b, data, **options)
    backward = stitch(model_b, layer_b, model_a, layer_a, data, **options)
    try:
        whole = prediction_agreement(model_a, model_b, data, device)
    except ValueError:
        whole = {"agreement": None, "accuracy_difference": None}
    forward, backward = stitch_scores(forward, data.num_classes), stitch_scores(backward, data.num_classes)
    return {"stitch": forward["trained"], "stitch_reverse": backward["trained"],
            "stitch_direct": forward["direct"], "stitch_direct_reverse": backward["direct"],
            **whole}
