"""Layer activations by forward hooks, in eval mode, on a fixed probe set.

The probe set is the test split of the data (the same images for every model). Activations of conv
layers ([n, c, h, w]) are brought to [n, p] by one of ``metrics.CONVENTIONS`` (``flatten`` by default,
as in Kornblith et al. 2019), and the convention is recorded with every case.

The suite's own networks are recorded in float64 (``dtype``): their float32 weights and images are
exact in float64, and a float64 forward pass is the same on every CPU to about 1e-15 relative, where a
float32 one differs in its last bits between kernels (AVX2, AVX-512) and thread counts. The measures
compute in float64 anyway, so nothing is lost, and a run reads the same activations on every machine.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from metrics import reshape_activations

__all__ = ["record", "penultimate", "as_matrix"]


@torch.no_grad()
def record(model: nn.Sequential, x: torch.Tensor, layers: list[str], device: str, batch_size: int = 512,
           dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Outputs of the named stages of ``model`` (eval mode) on ``x``, the forward pass in ``dtype`` (a
    copy of the model when that is not its own): layer -> CPU tensor of ``dtype``."""
    if any(p.dtype != dtype for p in model.parameters()):
        model = copy.deepcopy(model).to(dtype)
    model.to(device).eval()
    stages = dict(model.named_children())
    outputs: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    handles = [stages[layer].register_forward_hook(
        lambda module, inputs, output, layer=layer: outputs[layer].append(output.detach().to(dtype).cpu()))
        for layer in layers]
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size].to(device, dtype))
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
