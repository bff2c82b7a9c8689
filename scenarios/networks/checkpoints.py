"""Users' trained networks from local checkpoints, loaded the safe way.

``load_model("torchvision:resnet18", "ckpt/dense.pt", num_classes=10)`` builds the architecture by name
with random weights (torchvision's ``get_model(name, weights=None)``, timm's ``create_model(name,
pretrained=False)``, or any ``"module:function"`` of the user's own) and loads a state dict from a local
file: ``*.safetensors`` through safetensors, anything else through ``torch.load(weights_only=True)``,
which refuses every pickled object that is not a tensor or a plain container, so a tampered checkpoint
cannot run code. Nothing is ever fetched from the internet: a URL is refused, and so are pretrained
weights. torchvision, timm and safetensors are optional; each is imported only when a name or file
needs it, with an error that says what to install.

Checkpoints saved as ``{"state_dict": ...}`` or ``{"model": ...}`` (Lightning, training scripts) are
unwrapped, and a ``module.`` prefix left by ``DataParallel`` / ``DistributedDataParallel`` is removed.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scenarios.networks.cache import load_weights_only

__all__ = ["CheckpointError", "build_architecture", "load_model", "load_state_dict"]

LIBRARIES = ("torchvision", "timm")
_WRAPPERS = ("state_dict", "model", "model_state_dict", "net")


class CheckpointError(ValueError):
    """A checkpoint or architecture name that cannot be used, with what to do about it."""


def _import(module: str, purpose: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise CheckpointError(f"{purpose} needs the package {module.split('.')[0]!r} "
                              f"(pip install {module.split('.')[0]}); importing it failed: {err}") from None


def build_architecture(name: str, **kwargs: Any) -> nn.Module:
    """An untrained network of architecture ``name``: ``"torchvision:<name>"``, ``"timm:<name>"`` or
    ``"<module>:<function>"`` (called with ``kwargs``). Keyword arguments such as ``num_classes`` are
    passed on; pretrained weights are never requested.

    Raises:
        CheckpointError: a malformed or unknown name, or a missing optional library.
    """
    library, sep, arch = name.partition(":")
    if not sep or not library or not arch:
        raise CheckpointError(f"architecture {name!r} must read 'torchvision:<name>', 'timm:<name>' or "
                              "'<module>:<function>'")
    if library == "torchvision":
        models = _import("torchvision.models", f"architecture {name!r}")
        known = models.list_models()
        if arch not in known:
            raise CheckpointError(f"torchvision has no architecture {arch!r}; e.g. {', '.join(sorted(known)[:8])}, ...")
        return models.get_model(arch, weights=None, **kwargs)
    if library == "timm":
        timm = _import("timm", f"architecture {name!r}")
        if not timm.is_model(arch):
            raise CheckpointError(f"timm has no architecture {arch!r} (timm.list_models() lists them)")
        return timm.create_model(arch, pretrained=False, **kwargs)
    factory = getattr(_import(library, f"architecture {name!r}"), arch, None)
    if not callable(factory):
        raise CheckpointError(f"module {library!r} has no callable {arch!r}")
    model = factory(**kwargs)
    if not isinstance(model, nn.Module):
        raise CheckpointError(f"{name} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _read(path: Path) -> dict:
    if path.suffix == ".safetensors":
        safetensors_torch = _import("safetensors.torch", f"checkpoint {path}")
        return safetensors_torch.load_file(str(path), device="cpu")
    try:
        return load_weights_only(path)
    except Exception as err:  # noqa: BLE001 - any refusal is reported as a bad checkpoint
        raise CheckpointError(f"checkpoint {path} could not be loaded with weights_only=True (only tensors "
                              f"and plain containers are accepted; re-save it as a state dict): {err}") from None


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict stored in the local file ``path`` (unwrapped, ``module.`` prefixes removed).

    Raises:
        CheckpointError: a URL, a missing file, or content that is not a state dict.
    """
    text = str(path)
    if "://" in text:
        raise CheckpointError(f"{text} is a URL; stitchbench loads only local files (download it yourself)")
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    state = _read(path)
    for wrapper in _WRAPPERS:
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint {path} holds no state dict (a mapping of names to tensors)")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_model(name: str, path: str | os.PathLike, strict: bool = True, **kwargs: Any) -> nn.Module:
    """``build_architecture(name, **kwargs)`` with the weights of the local checkpoint ``path``, in
    eval mode on the CPU.

    Raises:
        CheckpointError: see :func:`build_architecture` and :func:`load_state_dict`; with ``strict``,
            names missing from or unexpected in the checkpoint (the first few of each are listed).
    """
    model = build_architecture(name, **kwargs)
    state = load_state_dict(path)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that do not match
        raise CheckpointError(f"checkpoint {path} does not fit {name}: {err}") from None
    if strict and (missing or unexpected):
        raise CheckpointError(f"checkpoint {path} does not fit {name}: missing {missing[:5]}"
                              f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                              f"{'...' if len(unexpected) > 5 else ''}")
    return model.eval()
