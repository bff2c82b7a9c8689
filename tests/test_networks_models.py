"""Model presets: named stitchable layers, configs that rebuild the same architecture, training."""
import pytest
import torch

from scenarios.networks import models
from scenarios.networks.data import load_digits, subset
from scenarios.networks.train import Schedule, train

torch.set_num_threads(1)


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_presets_rebuild_from_their_config(name):
    shape = (3, 32, 32)
    with torch.device("meta"):
        net = models.build(models.config_for(name, shape, 10))
        assert models.build(net.config).config == net.config
    layers = models.layer_names(net)
    assert layers and "head" not in layers and len(set(layers)) == len(layers)
    assert [n for n, _ in models.prefix(net, layers[1]).named_children()] == ["0", "1"]
    assert len(models.suffix(net, layers[-1])) == 1  # only the head


def test_gpu_presets_have_the_published_depths():
    with torch.device("meta"):
        depth = {name: sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)
                           for m in models.build(models.config_for(name, (3, 32, 32), 10)).modules())
                 for name in ("vgg11", "vgg19", "resnet18", "resnet101")}
    # VGG11/19: 8/16 conv + 3/3 fc in the paper (here one classifier); ResNet18: 1 + 16; ResNet101: 1 + 33
    assert depth == {"vgg11": 8, "vgg19": 16, "resnet18": 17, "resnet101": 34}


def test_training_is_seeded_and_reports_accuracy():
    digits = subset(load_digits(), 256, 64)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        net = models.build(models.config_for("mlp", digits.shape, 10))
        runs.append((train(net, digits, Schedule(epochs=2, lr_schedule="step"), 3, label="seeded"), net))
    assert runs[0][0] == runs[1][0] and 0 <= runs[0][0]["test_accuracy"] <= 1
    for a, b in zip(runs[0][1].parameters(), runs[1][1].parameters()):
        assert torch.equal(a, b)


def test_a_checkpoint_is_the_full_runs_prefix():
    """stop_after=e stops the full schedule's run after e epochs (its learning rate is not that of an
    e-epoch schedule); stop_after=epochs is the full run."""
    digits = subset(load_digits(), 256, 64)
    schedule = Schedule(epochs=3, lr_schedule="cosine")

    def run(schedule, stop_after=None):
        torch.manual_seed(3)
        net = models.build(models.config_for("mlp", digits.shape, 10))
        train(net, digits, schedule, 3, label="checkpoint", stop_after=stop_after)
        return torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    full, stopped_at_end = run(schedule), run(schedule, stop_after=3)
    assert torch.equal(full, stopped_at_end)
    early, short_schedule = run(schedule, stop_after=1), run(Schedule(epochs=1, lr_schedule="cosine"))
    assert not torch.equal(early, full) and not torch.equal(early, short_schedule)


def test_bad_schedule_and_unknown_arch():
    with pytest.raises(ValueError, match="optimizer"):
        Schedule(optimizer="rmsprop")
    with pytest.raises(ValueError, match="unknown architecture"):
        models.config_for("alexnet", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="unknown architecture"):
        models.config_for("mlp[0]", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="hidden widths"):
        models.mlp_named([])


def test_an_mlp_by_its_hidden_widths():
    name = models.mlp_named([32, 8])
    assert name == "mlp[32,8]"
    net = models.build(models.config_for(name, (1, 8, 8), 10))
    assert net.config == {"arch": "mlp", "in_features": 64, "hidden": [32, 8], "num_classes": 10}
    assert models.layer_names(net) == ["fc1", "fc2"]
