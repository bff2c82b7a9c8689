"""Seeded training with a fixed schedule, optional weight masks and an optional custom loss.

The schedule is plain data (:class:`Schedule`), so that it can be part of a cache key and be replayed
exactly: iterative magnitude pruning with learning-rate rewinding retrains with the *original* schedule
and a *fresh* optimizer (Renda et al. 2020), which is ``train(model, data, schedule, seed, masks=...)``
called again. Masks are re-applied after every optimizer step, so that momentum and weight decay cannot
move a pruned weight off zero. Training runs inside :func:`determinism.deterministic` (one thread,
deterministic algorithms): the same seed gives the same weights bit for bit whatever the thread count.
Mixed precision (``Schedule.amp``: ``bf16`` or ``fp16``, the latter with a gradient scaler) runs the
forward pass and the loss under ``torch.autocast`` on CUDA only; on the CPU it is off, and the weights,
the optimizer and every activation the measures read stay float32 (the measures compute in float64).
Labels can be shuffled once, before training, by a seeded permutation (the label-randomization control
of Zhang et al. 2017): such a model memorizes the training set and carries no learned function.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from scenarios.networks.data import Dataset
from scenarios.networks.determinism import deterministic
from scenarios.progress import note

__all__ = ["AMP_DTYPES", "Schedule", "accuracy", "apply_masks", "default_device", "predict", "shuffled_labels", "train"]

#: Environment variable that overrides the device (``cpu``, ``cuda``, ``cuda:1``...).
DEVICE_ENV = "STITCHBENCH_DEVICE"

#: Mixed-precision settings of a schedule: "" (off), "bf16", "fp16" -> the autocast dtype on CUDA.
AMP_DTYPES = {"": None, "bf16": torch.bfloat16, "fp16": torch.float16}

#: Offset of the augmentation noise's generator seed from the batch order's (two independent streams).
AUGMENT_STREAM = 1_000_003

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def default_device() -> str:
    """``$STITCHBENCH_DEVICE`` if set, else ``cuda`` when available, else ``cpu``."""
    return os.environ.get(DEVICE_ENV) or ("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class Schedule:
    """A training schedule: optimizer (``sgd`` with momentum, or ``adam``), learning-rate schedule
    (``cosine`` annealing to 0, or ``step``: x0.1 at 50 % and 75 % of the epochs), epochs, batch size,
    and mixed precision on CUDA (``amp``: "", "bf16" or "fp16"; part of the cache key when set)."""

    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    epochs: int = 15
    batch_size: int = 64
    lr_schedule: str = "cosine"
    amp: str = ""

    def __post_init__(self):
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.lr_schedule not in ("cosine", "step"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'step', got {self.lr_schedule!r}")
        if self.amp not in AMP_DTYPES:
            raise ValueError(f"amp must be one of {sorted(AMP_DTYPES)}, got {self.amp!r}")

    def as_dict(self) -> dict:
        """The fields as plain data; ``amp`` only when set, so that full-precision keys stay as they were."""
        fields = asdict(self)
        if not self.amp:
            del fields["amp"]
        return fields

    def autocast_dtype(self, device: str) -> torch.dtype | None:
        """The autocast dtype on ``device``: None (off) without ``amp`` or off CUDA."""
        return AMP_DTYPES[self.amp] if torch.device(device).type == "cuda" else None

    def scaled(self, epoch_fraction: float) -> "Schedule":
        """The same schedule over a fraction of the epochs (at least one): fine-tuning budgets."""
        return Schedule(**{**self.as_dict(), "epochs": max(1, round(self.epochs * epoch_fraction))})

    def optimizer_for(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)

    def lr_at(self, step: int, total: int) -> float:
        progress = step / max(1, total)
        if self.lr_schedule == "cosine":
            return 0.5 * self.lr * (1 + math.cos(math.pi * progress))
        return self.lr * (0.1 ** ((progress >= 0.5) + (progress >= 0.75)))


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor] | None) -> None:
    """Multiply every masked parameter by its 0/1 mask, in place."""
    if not masks:
        return
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, device: str, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` in eval mode, on the CPU."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str) -> float:
    """Top-1 accuracy in eval mode."""
    return float((predict(model, x, device).argmax(1) == y).double().mean())


def shuffled_labels(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """``labels`` in the order of a permutation seeded by ``seed``: the same label counts, no relation
    between an image and its label."""
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]


@deterministic()
def train(
    model: nn.Module,
    data: Dataset,
    schedule: Schedule,
    seed: int,
    *,
    masks: dict[str, torch.Tensor] | None = None,
    loss: Loss | None = None,
    device: str | None = None,
    label: str = "train",
    stop_after: int | None = None,
    augment: float = 0.0,
) -> dict:
    """Train ``model`` in place with a fresh optimizer; returns ``{"test_accuracy", "train_accuracy"}``.

    Args:
        masks: parameter name -> 0/1 tensor; pruned weights are zeroed before training and after every
            optimizer step.
        loss: ``loss(logits, x, y)``; cross-entropy by default (distillation passes its own).
        label: prefix of the progress note (``scenarios.progress.note``) after every epoch.
        stop_after: stop after this many epochs, the learning rate following the full schedule: the
            checkpoint of the full run at that epoch (the same batches and updates up to there).
        augment: Gaussian-noise augmentation: noise of this standard deviation added to every training
            batch afresh, drawn from its own generator (seeded by ``seed``), so the batch order is that
            of the run without augmentation.
    """
    device = device or default_device()
    loss = loss or (lambda logits, x, y: F.cross_entropy(logits, y))
    model.to(device)
    masks = {k: v.to(device) for k, v in (masks or {}).items()}
    apply_masks(model, masks)
    optimizer = schedule.optimizer_for(model.parameters())
    amp = schedule.autocast_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp is torch.float16)  # disabled: plain backward and step
    generator = torch.Generator().manual_seed(seed)
    noise = torch.Generator().manual_seed(seed + AUGMENT_STREAM)
    n = len(data.x_train)
    steps_per_epoch = math.ceil(n / schedule.batch_size)
    total, step = schedule.epochs * steps_per_epoch, 0
    for epoch in range(1, (schedule.epochs if stop_after is None else stop_after) + 1):
        model.train()
        order, running = torch.randperm(n, generator=generator), 0.0
        for i in range(0, n, schedule.batch_size):
            for group in optimizer.param_groups:
                group["lr"] = schedule.lr_at(step, total)
            batch = order[i:i + schedule.batch_size]
            x, y = data.x_train[batch], data.y_train[batch].to(device)
            if augment:
                x = x + augment * torch.randn(x.shape, generator=noise)
            x = x.to(device)
            with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
                value = loss(model(x), x, y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(value).backward()
            scaler.step(optimizer)
            scaler.update()
            apply_masks(model, masks)
            running += float(value.detach()) * len(batch)
            step += 1
        test_accuracy = accuracy(model, data.x_test, data.y_test, device)
        note(f"{label}: epoch {epoch}/{schedule.epochs}, loss {running / n:.4f}, test accuracy {test_accuracy:.4f}")
    return {"test_accuracy": test_accuracy, "train_accuracy": accuracy(model, data.x_train, data.y_train, device)}
