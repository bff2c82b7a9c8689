"""Layer activations by forward hooks, in eval mode, on a fixed probe set.

The probe set is the test split of the data (the same images for every model). Activations of conv
layers ([n, c, h, w]) are brought to [n, p] by one of ``metrics.CONVENTIONS`` (``flatten`` by default,
as in Kornblith et al. 2019), and the convention is recorded with every case.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from metrics import reshape_activations

__all__ = ["record", "penultimate", "as_matrix"]


@torch.no_grad()
def record(model: nn.Sequential, x: torch.Tensor, layers: list[str], device: str,
           batch_size: int = 512) -> dict[str, torch.Tensor]:
    """Outputs of the named stages of ``model`` (eval mode) on ``x``: layer -> float32 CPU tensor."""
    model.to(device).eval()
    stages = dict(model.named_children())
    outputs: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    handles = [stages[layer].register_forward_hook(
        lambda module, inputs, output, layer=layer: outputs[layer].append(output.detach().float().cpu()))
        for layer in layers]
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
    return {layer: torch.cat(parts) for layer, parts in outputs.items()}


@torch.no_grad()
def penultimate(model: nn.Sequential, x: torch.Tensor, device: str, batch_size: int = 512) -> torch.Tensor:
    """The input of the final linear classifier (the penultimate representation), eval mode, on ``device``."""
    model.to(device).eval()
    body = nn.Sequential(*list(model.children())[:-1], *list(model.head.children())[:-1])
    return torch.cat([body(x[i:i + batch_size].to(device)) for i in range(0, len(x), batch_size)])


def as_matrix(activation: torch.Tensor, conv: str = "flatten") -> np.ndarray:
    """float64 numpy [n, p] by the conv convention ``conv`` (2-D activations pass through)."""
    return np.ascontiguousarray(reshape_activations(activation.double().numpy(), conv))
