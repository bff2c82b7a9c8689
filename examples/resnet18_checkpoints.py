"""Bring your own networks on a GPU: two ResNet-18 checkpoints (e.g. dense and pruned) on CIFAR-10.

Set, before ``pytest benchmarks/ --specs examples/resnet18_specs.toml``:

- ``STITCHBENCH_DATA``: a folder with CIFAR-10's python batches (``data_batch_1..5``, ``test_batch``),
  or an ImageFolder tree ``<class>/<image>.png`` (then also ``RESNET18_DATA=imagefolder``);
- ``RESNET18_CHECKPOINTS``: a folder with ``dense_seed<s>.pt`` and ``pruned_seed<s>.pt`` (or
  ``.safetensors``) for every seed of the spec: state dicts of torchvision's ``resnet18(num_classes=10)``.

The checkpoints are loaded the safe way (``checkpoints.load_model``: ``torch.load(weights_only=True)``
or safetensors, nothing fetched from the internet). Bump ``VERSION`` whenever the checkpoints change.
"""
import os
from pathlib import Path

from torch.utils.data import TensorDataset

from scenarios.networks import checkpoints, data

VERSION = "v1"
LAYERS = ("layer1", "layer2", "layer3", "layer4")


def _datasets():
    root = os.environ.get(data.DATA_ENV)
    if os.environ.get("RESNET18_DATA", "cifar10") == "imagefolder":
        loaded = data.load_imagefolder(root, size=32)
    else:
        loaded = data.load_cifar10(root)
    return TensorDataset(loaded.x_train, loaded.y_train), TensorDataset(loaded.x_test, loaded.y_test)


def _checkpoint(kind, seed):
    folder = Path(os.environ["RESNET18_CHECKPOINTS"]).expanduser()
    for suffix in (".safetensors", ".pt"):
        if (folder / f"{kind}_seed{seed}{suffix}").is_file():
            return folder / f"{kind}_seed{seed}{suffix}"
    raise FileNotFoundError(f"no {kind}_seed{seed}.pt or .safetensors in {folder}")


def build(seed):
    train, test = _datasets()
    models = {kind: checkpoints.load_model("torchvision:resnet18", _checkpoint(kind, seed), num_classes=10)
              for kind in ("dense", "pruned")}
    return {"models": models, "train": train, "test": test,
            "pairs": [("dense", layer, "pruned", layer) for layer in LAYERS], "version": VERSION}
