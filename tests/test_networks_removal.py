"""Layer removal (the seed study's toy experiment): VGG stages and residual blocks removed by name keep
the model runnable and its config rebuildable, a stage the identity cannot stand in for is refused with
a reason, the pruning record and the recipe hold, and ``networks.layer_removal`` yields every (dense
layer, kept layer) pair."""
import copy

import pytest
import torch
from torch import nn

import scenarios
from scenarios import Scenario
from scenarios.networks import models, plan, prefetch, prune, recipes
from scenarios.networks.experiments import removal
from scenarios.networks.cache import Cache
from scenarios.networks.train import Schedule
from runner.schema import REFERENCE_COLUMNS
from tiny_networks import SCHEDULE, digits, trained  # noqa: F401 (fixtures)

torch.set_num_threads(1)


def preset(name: str, shape=(1, 8, 8)) -> nn.Module:
    torch.manual_seed(0)
    return models.build(models.config_for(name, shape, 10)).eval()


def rebuilt(net: nn.Module) -> nn.Module:
    """``net`` rebuilt from its config and state, as the cache does."""
    copy_ = models.build(net.config)
    copy_.load_state_dict(net.state_dict())
    return copy_.eval()


@pytest.mark.parametrize("arch, names, kept", [
    ("cnn", ["conv3"], ["conv1", "conv2", "conv4"]),
    ("resnet", ["block1_2", "block2_2"], ["stem", "block1_1", "block2_1"]),
])
def test_removal_keeps_the_model_runnable_and_its_config_rebuildable(arch, names, kept):
    net = preset(arch)
    x = torch.randn(5, 1, 8, 8)
    shapes = {layer: models.prefix(net, layer)(x).shape for layer in models.layer_names(net)}
    models.remove_stages(net, names)
    assert models.layer_names(net) == kept
    assert net.config["removed"] == names
    out = net(x)
    assert out.shape == (5, 10)
    # the kept layers see and produce the shapes they were trained with
    assert {layer: models.prefix(net, layer)(x).shape for layer in kept} == {layer: shapes[layer] for layer in kept}
    again = rebuilt(net)
    assert again.config == net.config and models.layer_names(again) == kept
    assert torch.equal(again(x), out)


def test_a_removed_vgg_stage_keeps_its_max_pool():
    net = preset("cnn")
    assert models.removable_stages(net) == ["conv3"]  # the only stage that keeps the channels (32 -> 32)
    models.remove_stages(net, ["conv3"])
    assert isinstance(net.conv3, models.RemovedStage) and [type(m) for m in net.conv3] == [nn.MaxPool2d]
    assert net.config["cfg"] == [16, "M", 32, 32, "M", 64]  # the removed stage passes its 32 channels on
    assert [producer for producer, _, _ in net.channel_groups()] == [net.conv1[0], net.conv2[0], net.conv4[0]]
    assert models.prefix(net, "conv4")(torch.zeros(1, 1, 8, 8)).shape == (1, 64, 2, 2)


def test_removable_stages_of_the_presets():
    def removable(arch):
        with torch.device("meta"):
            return models.removable_stages(models.build(models.config_for(arch, (3, 32, 32), 10)))

    assert removable("resnet") == ["block1_1", "block1_2", "block2_2"]
    assert removable("vgg11") == ["conv4", "conv6", "conv7", "conv8"]
    assert removable("resnet18") == ["block1_1", "block1_2", "block2_2", "block3_2", "block4_2"]
    assert removable("mlp") == []


@pytest.mark.parametrize("arch, names, message", [
    ("cnn", ["conv2"], r"'conv2'.*changes the number of channels \(16 -> 32\)"),
    ("cnn", ["conv9"], r"'conv9'.*not a stage"),
    ("cnn", ["head"], r"'head'.*not a stage"),
    ("cnn", ["conv3", "conv3"], "distinct"),
    ("resnet", ["block2_1"], r"'block2_1'.*shortcut is a projection \(8 -> 16 channels, stride 2\)"),
    ("resnet", ["stem"], r"'stem'.*not a residual block"),
    ("mlp", ["fc2"], r"'fc2'.*cannot be removed"),
])
def test_a_stage_that_cannot_be_removed_is_named_with_the_reason(arch, names, message):
    net = preset(arch)
    before = net.config
    with pytest.raises(ValueError, match=message):
        models.remove_stages(net, names)
    assert net.config == before


def test_nothing_is_removed_when_one_name_is_refused():
    net = preset("resnet")
    with pytest.raises(ValueError, match="'block2_1'"):
        models.remove_stages(net, ["block1_2", "block2_1"])
    assert net.config["removed"] == [] and "block1_2" in models.layer_names(net)
    models.remove_stages(net, ["block1_2"])
    with pytest.raises(ValueError, match="already removed"):
        models.remove_stages(net, ["block1_2"])


@pytest.mark.parametrize("name, names", [("vgg", ["conv3"]), ("resnet", ["block1_2", "block2_2"])])
def test_layer_removal_record(trained, digits, name, names):  # noqa: F811
    net = copy.deepcopy(trained[name])
    dense = prune.parameter_count(net)
    record = prune.layer_removal(net, digits, Schedule(epochs=1, batch_size=32), 0, names)
    assert record["method"] == "layer_removal" and record["removed"] == names
    assert record["sparsity"] == pytest.approx(1 - prune.parameter_count(net) / dense) and 0 < record["sparsity"] < 1
    for key in ("accuracy_dense", "accuracy_before_retraining", "accuracy_after_retraining"):
        assert 0 <= record[key] <= 1
    assert record["accuracy_dense"] > 0.3  # the tiny model learned something before the surgery
    assert [n for n in names if n in models.layer_names(net)] == []
    with pytest.raises(ValueError, match="at least one"):
        prune.layer_removal(net, digits, SCHEDULE, 0, [])


def test_layer_removal_recipe_round_trips_through_the_cache(tmp_path):
    data = recipes.DataSpec.of("digits")
    schedule = Schedule(epochs=1)
    base = recipes.Trained("cnn", 0, data, schedule)
    recipe = recipes.LayerRemoval(base, schedule, ("conv3",))
    assert recipe.describe() == "cnn/seed=0/layer_removal(conv3)"
    assert recipe.key()["remove"] == ["conv3"] and recipe.key()["kind"] == "layer_removal"
    assert recipes.LayerRemoval(base, schedule, ("block1_2",)).key() != recipe.key()
    for bad in ((), ("conv3", "conv3"), ["conv3"]):
        with pytest.raises(ValueError, match="remove must be"):
            recipes.LayerRemoval(base, schedule, bad)
    setup = recipes.Setup(data, schedule, schedule, 1, 16, "cpu", Cache(tmp_path))
    net, record = recipe.load(setup)
    assert models.layer_names(net) == ["conv1", "conv2", "conv4"] and net.config["removed"] == ["conv3"]
    assert record["accuracy"] == record["accuracy_after_retraining"] and record["removed"] == ["conv3"]
    fields = plan.model_fields(recipe, record)
    assert fields["pruning"] == "layer_removal(conv3)" and fields["accuracy_before_retraining"] is not None


def tiny_scenario(tmp_path, **params) -> Scenario:
    registered = scenarios.lookup("networks.layer_removal").params
    resolved = {**registered, "epochs": 1, "stitch_epochs": 1, "probe_size": 64, "cache_dir": str(tmp_path),
                "device": "cpu", **params}
    return Scenario(name="tiny", family="networks", generator="networks.layer_removal", params=resolved,
                    seeds=(0,), expectations=())


def test_generator_pairs_every_dense_layer_with_every_kept_layer(tmp_path, monkeypatch):
    monkeypatch.setenv(prefetch.WORKERS_ENV, "1")
    scenario = tiny_scenario(tmp_path, arch="cnn", remove="conv3")
    cases = scenarios.generate(scenario, 0)
    expected = [f"{x}->{y}" for x in ("conv1", "conv2", "conv3", "conv4") for y in ("conv1", "conv2", "conv4")]
    assert [c.case for c in cases] == expected
    assert scenarios.lookup("networks.layer_removal").case_ids(scenario.params, None) == expected
    by_id = {c.case: c for c in cases}
    case = by_id["conv3->conv4"]
    assert (case.meta["index_x"], case.meta["index_y"], case.meta["removed_x"]) == (2, 3, True)
    assert case.meta["model_x"] == "cnn/seed=0" and case.meta["model_y"] == "cnn/seed=0/layer_removal(conv3)"
    assert case.meta["removed"] == "conv3" and by_id["conv4->conv4"].meta["removed_x"] is False
    assert case.meta["pruning_y"] == "layer_removal(conv3)" and 0 < case.meta["sparsity_y"] < 1
    assert all(getattr(c, column) is not None for c in cases for column in REFERENCE_COLUMNS)


def test_generator_case_ids_and_checks():
    ids = scenarios.lookup("networks.layer_removal").case_ids
    params = {**plan.COMMON_PARAMS, "arch": "resnet", "remove": "block1_2,block2_2"}
    assert ids(params, None) == [f"{x}->{y}" for x in ("stem", "block1_1", "block1_2", "block2_1", "block2_2")
                                 for y in ("stem", "block1_1", "block2_1")]
    assert removal.removed_stages({"remove": " block1_2, ,block2_2"}) == ("block1_2", "block2_2")
    check = scenarios.lookup("networks.layer_removal").check
    check(params)
    with pytest.raises(ValueError, match=r"'block2_1'.*projection"):
        check({**params, "remove": "block2_1"})
    with pytest.raises(ValueError, match="at least one stage"):
        check({**params, "remove": ""})
    with pytest.raises(ValueError, match=r"'conv2'.*channels"):
        check({**params, "arch": "cnn", "remove": "conv2"})


def test_the_spec_file_loads_in_both_profiles():
    path = "scenarios/specs/networks_removal.toml"
    quick = {s.name: s for s in scenarios.load_specs(paths=path)}
    assert set(quick) == {"networks_layer_removal_resnet", "networks_layer_removal_cnn"}
    assert quick["networks_layer_removal_cnn"].params["remove"] == "conv3"
    full = {s.name: s for s in scenarios.load_specs(paths=path, profile="full")}
    assert (full["networks_layer_removal_cnn"].params["arch"], full["networks_layer_removal_cnn"].params["remove"]) \
        == ("vgg11", "conv7")
    assert full["networks_layer_removal_resnet"].params["arch"] == "resnet18"
    for spec in (*quick.values(), *full.values()):
        assert [(e.kind, e.reference) for e in spec.expectations] == [("follows_reference", "stitch"),
                                                                       ("follows_reference", "stitch_direct")]
