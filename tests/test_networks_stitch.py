"""Stitching and the other references: a network stitched with itself at any layer by direct matching is
the network itself; direct matching between differently shaped layers is the least-squares fit (checked
against numpy's lstsq); both ways of feeding a sender give the same stitch; class-clustered noise is what
Smith et al. describe; prediction agreement against scikit-learn; distillation loss is Hinton et al.'s."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score

from scenarios.networks import models
from scenarios.networks import stitch as stitching
from scenarios.networks.distill import distillation_loss
from scenarios.networks.stitch import (CHANCE_MARGIN, ClusteredNoiseSender, NetworkSender, StitchLayer,
                                       prediction_agreement, stitch, stitch_score, stitch_scores)
from runner.schema import REFERENCE_COLUMNS
from tiny_networks import TINY, digits, trained  # noqa: F401 (fixtures)

torch.set_num_threads(1)


@pytest.mark.parametrize("arch", sorted(TINY))
def test_self_stitch_with_least_squares_init_scores_one(trained, digits, arch):
    net = trained[arch]
    for layer in models.layer_names(net):
        scores = stitch(net, layer, net, layer, digits, epochs=0)
        assert scores["accuracy_direct"] == scores["accuracy_b"]
        # exact: the same accuracy on both sides of the ratio (a - c) / (a - c)
        assert stitch_scores(scores, digits.num_classes)["direct"] == 1.0, layer


def direct_matching_by_lstsq(net, layer_a, layer_b, data) -> float:
    """The direct stitch's test accuracy by an independent route: numpy's lstsq on the training rows."""
    head_a, head_b = models.prefix(net, layer_a).eval(), models.prefix(net, layer_b).eval()
    tail_b = models.suffix(net, layer_b).eval()
    with torch.no_grad():
        size = head_b(data.x_train[:1]).shape[2:]

        def rows(x):
            a = head_a(x)
            a = F.adaptive_avg_pool2d(a, size) if a.shape[2] >= size[0] else F.interpolate(a, size=size)
            return a.movedim(1, -1).reshape(-1, a.shape[1]).double().numpy()

        a = rows(data.x_train)
        b = head_b(data.x_train)
        target = b.movedim(1, -1).reshape(-1, b.shape[1]).double().numpy()
        solution = np.linalg.lstsq(np.hstack([a, np.ones((len(a), 1))]), target, rcond=None)[0]
        test = rows(data.x_test) @ solution[:-1] + solution[-1]
        mapped = torch.as_tensor(test, dtype=torch.float32).reshape(len(data.x_test), *size, -1).movedim(-1, 1)
        return float((tail_b(mapped).argmax(1) == data.y_test).double().mean())


def test_direct_matching_between_layers_of_different_shapes_is_least_squares(trained, digits):
    net = trained["resnet"].eval()
    n_test = len(digits.x_test)
    for a, b in [("stem", "block2_1"), ("block2_1", "stem"), ("block1_1", "block1_2")]:
        scores = stitch(net, a, net, b, digits, epochs=1)
        assert scores["accuracy_direct"] == pytest.approx(direct_matching_by_lstsq(net, a, b, digits), abs=2 / n_test)
        assert scores["penalty_trained"] == pytest.approx(scores["accuracy_b"] - scores["accuracy_trained"])


def test_a_sender_gives_the_same_stitch_stored_or_recomputed_per_batch(trained, digits, monkeypatch):
    net = trained["vgg"]
    stored = stitch(net, "conv1", net, "conv2", digits, epochs=1)
    monkeypatch.setattr(stitching, "PRECOMPUTE_BYTES", 0)
    assert stitch(net, "conv1", net, "conv2", digits, epochs=1) == stored


def test_stitch_score_is_the_accuracy_above_chance_relative_to_the_receivers_clipped():
    # ten classes: chance 0.1, (0.55 - 0.1) / (0.9 - 0.1); decimal inputs round in binary: 1e-12
    assert stitch_score(0.55, 0.9, 10) == pytest.approx(0.5625, rel=1e-12)
    assert stitch_score(0.9, 0.9, 10) == 1.0
    assert stitch_score(0.95, 0.9, 10) == 1.0, "a stitched model better than its receiver keeps all of it"
    assert stitch_score(0.05, 0.9, 10) == 0.0, "below chance is no function kept"
    assert stitch_score(0.5, 0.5, 2) is None, "a receiver at chance carries no function to keep"
    assert stitch_score(0.9, 0.1 + CHANCE_MARGIN / 2, 10) is None, "within the margin of chance: not informative"
    assert stitch_score(0.2, 0.1 + 2 * CHANCE_MARGIN, 10) == pytest.approx(0.5, rel=1e-12)


def test_a_receiver_at_chance_makes_its_stitches_not_informative(trained, digits, monkeypatch):
    monkeypatch.setattr(stitching, "accuracy", lambda *args: 1.0 / digits.num_classes)
    scores = stitch(trained["mlp"], "fc1", trained["mlp"], "fc1", digits, epochs=0)
    assert stitch_scores(scores, digits.num_classes) == {"trained": None, "direct": None}
    refs = stitching.references(trained["mlp"], "fc1", trained["mlp"], "fc1", digits, epochs=0)
    assert [refs[name] for name in ("stitch", "stitch_reverse", "stitch_direct", "stitch_direct_reverse")] == [None] * 4


def test_clustered_noise_is_a_class_mean_plus_gaussian_noise(digits):
    shape = (4, 3, 3)
    sender = ClusteredNoiseSender(digits, shape, seed=2, scale=0.5, device="cpu")
    index = torch.arange(len(digits.x_train))
    train = sender("train", index)
    assert train.shape == (len(index), *shape)
    assert torch.equal(sender("train", index[10:20]), train[10:20])  # the same noise every time
    assert torch.equal(ClusteredNoiseSender(digits, shape, 2, 0.5, "cpu")("train", index), train)
    assert not torch.equal(ClusteredNoiseSender(digits, shape, 3, 0.5, "cpu")("train", index), train)
    residual = train - sender.means[digits.y_train]
    assert float(residual.std()) == pytest.approx(0.5, rel=0.05) and float(residual.mean()) == pytest.approx(0, abs=0.02)
    test = sender("test", torch.arange(len(digits.x_test)))
    assert torch.equal(ClusteredNoiseSender(digits, shape, 2, 0.0, "cpu")("test", torch.arange(3)),
                       sender.means[digits.y_test[:3]])
    assert not torch.equal(test[:5], train[:5])  # the splits draw their own noise
    with pytest.raises(ValueError, match="scale"):
        ClusteredNoiseSender(digits, shape, 0, -1.0, "cpu")


def test_prediction_agreement_against_scikit_learn(trained, digits):
    a, b = trained["mlp"], trained["vgg"]
    labels_a, labels_b = (net.eval()(digits.x_test).argmax(1).numpy() for net in (a, b))
    result = prediction_agreement(a, b, digits)
    assert result["agreement"] == pytest.approx(accuracy_score(labels_a, labels_b), abs=1e-15)
    expected = abs(accuracy_score(digits.y_test, labels_a) - accuracy_score(digits.y_test, labels_b))
    assert result["accuracy_difference"] == pytest.approx(expected, abs=1e-15)
    assert prediction_agreement(a, a, digits) == {"agreement": 1.0, "accuracy_difference": 0.0}
    wider = torch.nn.Sequential(a, torch.nn.Linear(10, 12))
    with pytest.raises(ValueError, match="same outputs"):
        prediction_agreement(a, wider, digits)


def test_references_of_a_network_and_itself(trained, digits):
    net = trained["vgg"]
    refs = stitching.references(net, "conv2", net, "conv2", digits, epochs=0)
    assert tuple(refs) == REFERENCE_COLUMNS
    assert refs == {"stitch": 1.0, "stitch_reverse": 1.0, "stitch_direct": 1.0, "stitch_direct_reverse": 1.0,
                    "agreement": 1.0, "accuracy_difference": 0.0}
    assert NetworkSender(net, "conv2", digits, "cpu").shape == (8, 4, 4)  # 8x8 images, one max-pool


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
