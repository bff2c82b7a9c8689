"""Loading users' checkpoints: architectures by name, state dicts only through safe loaders."""
from __future__ import annotations

import pickle
import sys
import types

import pytest
import torch
from torch import nn

from scenarios.networks.checkpoints import CheckpointError, build_architecture, load_model, load_state_dict


def small_net(num_classes: int = 10) -> nn.Module:
    """A factory of the form users write ("module:function")."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, num_classes))


NAME = f"{__name__}:small_net"


def not_a_module() -> int:
    return 3


@pytest.fixture
def trained():
    torch.manual_seed(0)
    return small_net()


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_state_dict_round_trip_through_torch_save(trained, tmp_path):
    torch.save(trained.state_dict(), tmp_path / "net.pt")
    loaded = load_model(NAME, tmp_path / "net.pt")
    assert _same_weights(loaded, trained) and not loaded.training


def test_safetensors_round_trip(trained, tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    safetensors_torch.save_file(trained.state_dict(), str(tmp_path / "net.safetensors"))
    assert _same_weights(load_model(NAME, tmp_path / "net.safetensors"), trained)


def test_wrapped_and_data_parallel_checkpoints_are_unwrapped(trained, tmp_path):
    prefixed = {f"module.{k}": v for k, v in trained.state_dict().items()}
    torch.save({"state_dict": prefixed, "epoch": 3}, tmp_path / "lightning.ckpt")
    assert _same_weights(load_model(NAME, tmp_path / "lightning.ckpt"), trained)


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickled_object_is_refused_not_run(tmp_path, capsys):
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"weight": _Payload()}, handle, protocol=2)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_state_dict(tmp_path / "evil.pt")
    assert "must never run" not in capsys.readouterr().out


@pytest.mark.parametrize("where, message", [("https://example.org/resnet18.pth", "URL"), ("missing.pt", "does not exist")])
def test_only_local_files(tmp_path, where, message):
    path = where if "://" in where else tmp_path / where
    with pytest.raises(CheckpointError, match=message):
        load_state_dict(path)


def test_a_checkpoint_that_does_not_fit_names_the_keys(trained, tmp_path):
    state = trained.state_dict()
    state.pop("3.bias")
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=r"missing \['3.bias'\]"):
        load_model(NAME, tmp_path / "partial.pt")
    torch.save(small_net(num_classes=5).state_dict(), tmp_path / "five.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(NAME, tmp_path / "five.pt")


def test_library_names_dispatch_without_pretrained_weights(monkeypatch):
    calls = {}
    vision = types.ModuleType("torchvision.models")
    vision.list_models = lambda: ["resnet18"]
    vision.get_model = lambda name, weights, **kw: calls.setdefault("tv", (name, weights, kw)) and small_net()
    timm = types.ModuleType("timm")
    timm.is_model = lambda name: name == "vit_tiny"
    timm.create_model = lambda name, pretrained, **kw: calls.setdefault("timm", (name, pretrained, kw)) and small_net()
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.models", vision)
    monkeypatch.setitem(sys.modules, "timm", timm)
    build_architecture("torchvision:resnet18", num_classes=10)
    build_architecture("timm:vit_tiny", num_classes=10)
    assert calls == {"tv": ("resnet18", None, {"num_classes": 10}), "timm": ("vit_tiny", False, {"num_classes": 10})}
    with pytest.raises(CheckpointError, match="no architecture 'resnet999'"):
        build_architecture("torchvision:resnet999")


@pytest.mark.parametrize("name, message", [
    ("resnet18", "must read"), ("no_such_module_xyz:net", "pip install no_such_module_xyz"),
    (f"{__name__}:NAME", "no callable"), (f"{__name__}:not_a_module", "returned int, not a torch.nn.Module"),
])
def test_bad_architecture_names(name, message):
    with pytest.raises(CheckpointError, match=message):
        build_architecture(name)
