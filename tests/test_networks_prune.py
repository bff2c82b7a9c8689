"""Pruning methods on tiny models: sparsity as asked, pruned weights stay zero through retraining with
momentum, structured pruning really shrinks layers, CKA-guided removal removes a removable block."""
import copy

import pytest
import torch
from torch import nn

from scenarios.networks import models, prune
from scenarios.networks.train import train
from tiny_networks import SCHEDULE, TINY, digits, trained  # noqa: F401 (fixtures)

torch.set_num_threads(1)


def zero_fraction(weight):
    return float((weight == 0).double().mean())


@pytest.mark.parametrize("arch", sorted(TINY))
@pytest.mark.parametrize("scores,scope", [("magnitude", "global"), ("magnitude", "layer"), ("obd", "global")])
def test_one_shot_reaches_the_asked_sparsity_and_pruned_weights_stay_zero(trained, digits, arch, scores, scope):
    net = copy.deepcopy(trained[arch])
    record = prune.one_shot(net, digits, SCHEDULE, 0, 0.6, scores=scores, scope=scope)
    assert record["sparsity"] == pytest.approx(0.6, abs=0.01)
    weights = prune.prunable_weights(net)
    if scope == "layer":
        for w in weights.values():
            assert zero_fraction(w) == pytest.approx(0.6, abs=1 / w.numel() + 1e-9)
    # the masks were applied before retraining with momentum: the retrained net keeps exactly the zeros
    assert prune.sparsity(net) == pytest.approx(record["sparsity"])
    assert record["accuracy_after_retraining"] > 0.5
    head = net.head[-1].weight
    assert zero_fraction(head) == 0.0


def test_obd_with_hutchinson_probes(trained, digits):
    net = copy.deepcopy(trained["mlp"])
    saliency = prune.obd_scores(net, digits, "cpu", hessian="hutchinson")
    assert saliency.keys() == prune.prunable_weights(net).keys()
    assert all(torch.isfinite(s).all() for s in saliency.values())


def test_fisher_diagonal_is_the_mean_squared_per_sample_gradient(trained, digits):
    net = copy.deepcopy(trained["mlp"]).eval()
    saliency = prune.obd_scores(net, digits, "cpu", n_samples=5)
    name, weight = next(iter(prune.prunable_weights(net).items()))
    squares = torch.zeros_like(weight)
    for i in range(5):
        net.zero_grad()
        nn.functional.cross_entropy(net(digits.x_train[i:i + 1]), digits.y_train[i:i + 1]).backward()
        squares += weight.grad ** 2
    expected = 0.5 * (squares / 5) * weight.detach() ** 2
    torch.testing.assert_close(saliency[name], expected, rtol=1e-4, atol=1e-12)


def test_masks_survive_momentum_where_masking_gradients_alone_would_not(trained, digits):
    net = copy.deepcopy(trained["vgg"])
    masks = prune.select_masks(prune.magnitude_scores(net), prune.masks_of(net), 0.5)
    train(net, digits, SCHEDULE, 1, masks=masks)
    for name, w in prune.prunable_weights(net).items():
        assert torch.all(w[masks[name] == 0] == 0)


def test_imp_rounds_prune_twenty_percent_of_the_remaining_weights(trained, digits, monkeypatch):
    net = copy.deepcopy(trained["vgg"])
    schedules = []
    real_train = prune.train

    def spy(model, dataset, schedule, seed, **kwargs):
        schedules.append(schedule)
        return real_train(model, dataset, schedule, seed, **kwargs)

    monkeypatch.setattr(prune, "train", spy)
    for k in (1, 2):
        record = prune.imp_round(net, digits, SCHEDULE, 0)
        assert record["sparsity"] == pytest.approx(1 - 0.8 ** k, abs=0.005)
    assert schedules == [SCHEDULE, SCHEDULE]  # the full original schedule, every round
    assert zero_fraction(net.head[-1].weight) == 0.0


@pytest.mark.parametrize("arch", sorted(TINY))
def test_structured_pruning_removes_filters_for_real(trained, digits, arch):
    net = copy.deepcopy(trained[arch])
    before = prune.parameter_count(net)
    widths_before = [p.weight.shape[0] for p, _, _ in net.channel_groups()]
    record = prune.structured_l1(net, digits, SCHEDULE, 0, 0.5)
    widths_after = [p.weight.shape[0] for p, _, _ in net.channel_groups()]
    assert widths_after == [w - round(0.5 * w) for w in widths_before]
    for producer, bn, consumer in net.channel_groups():
        assert consumer.weight.shape[1] == producer.weight.shape[0]
        if bn is not None:
            assert bn.num_features == bn.running_mean.numel() == producer.weight.shape[0]
    assert prune.parameter_count(net) < before
    assert record["sparsity"] == pytest.approx(1 - prune.parameter_count(net) / before)
    assert net(digits.x_test[:3]).shape == (3, 10)
    rebuilt = models.build(net.config)
    rebuilt.load_state_dict(net.state_dict())  # the config describes the shrunk architecture


def test_cka_guided_removal_removes_a_removable_block(trained, digits):
    net = copy.deepcopy(trained["resnet"])
    removable = net.removable_blocks()
    assert removable == ["block1_1", "block1_2", "block2_2"]  # block2_1 changes the shape
    record = prune.cka_block_removal(net, digits, SCHEDULE, 0, 1)
    (removed,) = record["removed"]
    assert removed in removable and isinstance(getattr(net, removed), nn.Identity)
    assert min(record["scores"][0], key=record["scores"][0].get) == removed
    assert net(digits.x_test[:3]).shape == (3, 10)
    assert net.config["removed"] == [removed]
    with pytest.raises(ValueError, match="no removable block"):
        prune.cka_block_removal(net, digits, SCHEDULE, 0, 3)
