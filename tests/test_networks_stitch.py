"""Stitching: a network stitched with itself at any layer by direct matching is the network itself;
stitches between differently shaped layers run; distillation loss is Hinton et al.'s."""
import pytest
import torch
import torch.nn.functional as F

from scenarios.networks import models
from scenarios.networks.distill import distillation_loss
from scenarios.networks.stitch import StitchLayer, stitch
from tiny_networks import TINY, digits, trained  # noqa: F401 (fixtures)

torch.set_num_threads(1)


@pytest.mark.parametrize("arch", sorted(TINY))
def test_self_stitch_with_least_squares_init_has_relative_accuracy_one(trained, digits, arch):
    net = trained[arch]
    for layer in models.layer_names(net):
        scores = stitch(net, layer, net, layer, digits, epochs=0)
        assert scores["relative_direct"] == 1.0, layer
        assert scores["accuracy_direct"] == scores["accuracy_b"]


def test_stitches_between_layers_of_different_shapes(trained, digits):
    net = trained["resnet"]
    for a, b in [("stem", "block2_1"), ("block2_1", "stem"), ("block1_1", "block1_2")]:
        scores = stitch(net, a, net, b, digits, epochs=1)
        assert 0 <= scores["relative_trained"] <= 1 / scores["accuracy_b"]
        assert scores["penalty_trained"] == pytest.approx(scores["accuracy_b"] - scores["accuracy_trained"])


def test_stitch_layer_shapes():
    conv_down = StitchLayer((4, 8, 8), (6, 4, 4))
    assert conv_down(torch.randn(2, 4, 8, 8)).shape == (2, 6, 4, 4)
    conv_up = StitchLayer((4, 2, 2), (6, 4, 4))
    assert conv_up(torch.randn(2, 4, 2, 2)).shape == (2, 6, 4, 4)
    dense_to_conv = StitchLayer((10,), (3, 2, 2))
    assert dense_to_conv(torch.randn(2, 10)).shape == (2, 3, 2, 2)
    assert not dense_to_conv.convolutional and conv_down.convolutional


def test_frozen_models_are_not_changed_by_stitching(trained, digits):
    net = trained["vgg"]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    stitch(net, "conv1", net, "conv2", digits, epochs=1)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_distillation_loss_is_hinton_et_al():
    torch.manual_seed(0)
    teacher = torch.nn.Linear(5, 3)
    x, y, student = torch.randn(8, 5), torch.randint(0, 3, (8,)), torch.randn(8, 3)
    t = 4.0
    kl = (F.softmax(teacher(x) / t, 1) * (F.log_softmax(teacher(x) / t, 1) - F.log_softmax(student / t, 1))).sum(1).mean()
    expected = 0.9 * t ** 2 * kl + 0.1 * F.cross_entropy(student, y)
    torch.testing.assert_close(distillation_loss(teacher, t, 0.9)(student, x, y), expected)
    assert float(distillation_loss(teacher, t, 1.0)(teacher(x).detach(), x, y)) == pytest.approx(0, abs=1e-6)
