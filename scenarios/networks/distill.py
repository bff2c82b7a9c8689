"""Knowledge distillation (Hinton, Vinyals & Dean 2015).

loss = alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y), evaluated at
T = 1; T = 4 and alpha = 0.9 by default (small students do best around T = 2.5-4). The T^2 factor keeps
the soft-target gradients on the scale of the hard-target ones when T changes.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from scenarios.networks.data import Dataset
from scenarios.networks.train import Loss, Schedule, train

__all__ = ["distillation_loss", "distill"]


def distillation_loss(teacher: nn.Module, temperature: float = 4.0, alpha: float = 0.9) -> Loss:
    """The Hinton et al. loss as ``loss(student_logits, x, y)``; ``teacher`` is run in eval mode."""
    if temperature <= 0 or not 0 <= alpha <= 1:
        raise ValueError(f"need temperature > 0 and 0 <= alpha <= 1, got {temperature}, {alpha}")

    def loss(logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            soft_targets = F.log_softmax(teacher(x) / temperature, dim=1)
        soft = F.kl_div(F.log_softmax(logits / temperature, dim=1), soft_targets, reduction="batchmean",
                        log_target=True)
        return alpha * temperature ** 2 * soft + (1 - alpha) * F.cross_entropy(logits, y)

    return loss


def distill(student: nn.Module, teacher: nn.Module, data: Dataset, schedule: Schedule, seed: int, *,
            temperature: float = 4.0, alpha: float = 0.9, device: str = "cpu") -> dict:
    """Train ``student`` in place on the distillation loss; returns the training record."""
    frozen = copy.deepcopy(teacher).to(device).eval().requires_grad_(False)
    result = train(student, data, schedule, seed, loss=distillation_loss(frozen, temperature, alpha),
                   device=device, label=f"distill T={temperature:g}")
    return {**result, "temperature": temperature, "alpha": alpha}
