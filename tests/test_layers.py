"""The one-pass model path equals in-memory activations followed by the in-memory measure."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import metrics
from metrics.layers import compare_layers
from metrics.streaming import NotStreamableError

MEASURES = ["cka_linear", "cka_linear_debiased", "procrustes", "svcca"]
#: The activations are float32 (eps 1.2e-7): computed in other batches they differ in their last bits,
#: and the measures follow smoothly; a wrong layer or a lost batch moves the values by far more.
FLOAT32_RTOL = 1e-6


def small_cnn(seed: int) -> nn.Module:
    """Batch norm and dropout make train mode differ from eval mode."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Conv2d(4, 3, 3, stride=2),
        nn.Flatten(),
        nn.Linear(27, 5),
    ).train()


@pytest.fixture(scope="module")
def loader():
    torch.manual_seed(0)
    images = torch.randn(150, 1, 8, 8)
    return DataLoader(TensorDataset(images, torch.zeros(150)), batch_size=32)


def activations(model: nn.Module, name: str, images: torch.Tensor) -> torch.Tensor:
    """Reference: the layer's output on all images at once, eval mode."""
    kept = []
    handle = model.get_submodule(name).register_forward_hook(lambda m, i, out: kept.append(out))
    model.eval()
    with torch.no_grad():
        model(images)
    handle.remove()
    return kept[0]


def test_two_models_equal_in_memory(loader):
    model_a, model_b = small_cnn(1), small_cnn(2)
    pairs = [("2", "2"), ("4", "6"), ("6", "6")]
    rows = compare_layers(model_a, model_b, pairs, loader, MEASURES, progress=False)
    images = loader.dataset.tensors[0]
    assert len(rows) == len(pairs) * len(MEASURES)
    for row in rows:
        x = activations(model_a, row["layer_a"], images)
        y = activations(model_b, row["layer_b"], images)
        assert row["n"] == 150
        # float32 activations read in batches of 32 against one batch of 150: convolutions summed in another
        # order differ in their last bits (2.7e-10 relative seen on an AVX-512 CPU)
        assert row["value"] == pytest.approx(metrics.get(row["measure"])(x, y), rel=FLOAT32_RTOL), row


def test_layers_of_one_model_and_modes_restored(loader, capsys):
    model = small_cnn(3)
    rows = compare_layers(model, None, [("0", "4")], loader, ["cka_linear"], conv="pool")
    images = loader.dataset.tensors[0]
    expected = metrics.get("cka_linear")(activations(model, "0", images), activations(model, "4", images), conv="pool")
    assert rows[0]["value"] == pytest.approx(expected, rel=FLOAT32_RTOL)
    model.train()
    compare_layers(model, None, [("0", "4")], loader, ["cka_linear"])
    assert model.training and all(m.training for m in model.modules())
    assert not model[0]._forward_hooks
    assert "batch 5/5, 150 samples" in capsys.readouterr().err


def test_measures_and_layers_are_checked_before_reading_data():
    class Unreadable:
        def __iter__(self):
            raise AssertionError("the data must not be read")

    model = small_cnn(4)
    with pytest.raises(NotStreamableError, match="cka_rbf"):
        compare_layers(model, None, [("0", "4")], Unreadable(), ["cka_rbf"])
    with pytest.raises(ValueError, match="no module named"):
        compare_layers(model, None, [("0", "conv9")], Unreadable(), ["cka_linear"])
