"""ReSi's tests on networks: the training variants (partly shuffled labels, the shortcut mark, noise
augmentation), the corrupted digits, the generators' cases, and the ground truth of each group as
built: 100 % shuffled labels classify clean test images at chance, the 100 % shortcut model fails
without its mark, noise augmentation raises accuracy on noisy test images (the quick profile's CNN
and schedule, trained in a temporary cache)."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sklearn_digits

import scenarios
from scenarios.networks import data, plan, recipes
from scenarios.networks.experiments import resi
from scenarios.networks.train import Schedule, accuracy
from scenarios.networks.recipes import base as recipes_base
from scenarios.networks.recipes import references as recipes_references
from scenarios.networks.variants import MARK_VALUE, ProbeMarks, Variant, mark, noisy, partially_shuffled

torch.set_num_threads(1)


def test_corrupted_digits_are_the_same_images_and_split_with_pixel_noise():
    clean, noisy_digits = data.load_digits(), data.load("digits_corrupted")
    assert noisy_digits.shape == clean.shape == (1, 8, 8)
    assert torch.equal(noisy_digits.y_train, clean.y_train) and torch.equal(noisy_digits.y_test, clean.y_test)
    assert float(noisy_digits.x_train.mean()) == pytest.approx(0, abs=1e-5)
    assert float(noisy_digits.x_train.std()) == pytest.approx(1, abs=1e-4)
    # noise of sd 4 independent of the image: the two versions correlate as sqrt(v / (v + 4^2)), v the
    # pixel variance (standardizing is affine, so it keeps the correlation)
    variance = sklearn_digits().images.var()
    expected = np.sqrt(variance / (variance + 16.0))
    observed = np.corrcoef(clean.x_train.flatten(), noisy_digits.x_train.flatten())[0, 1]
    assert observed == pytest.approx(expected, abs=0.01)
    assert torch.equal(data.load("digits_corrupted").x_test, noisy_digits.x_test)  # fixed noise
    with pytest.raises(ValueError, match="noise must be >= 0"):
        data.load("digits_corrupted", noise=-1.0)


def test_partial_shuffling_keeps_the_label_counts_and_leaves_the_rest_alone():
    labels = torch.arange(1000) % 10
    shuffled = partially_shuffled(labels, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(torch.bincount(shuffled), torch.bincount(labels))
    changed = float((shuffled != labels).float().mean())
    assert 0.3 * 0.8 < changed <= 0.3  # 300 permuted among themselves; about a tenth land on their own label
    assert torch.equal(partially_shuffled(labels, 0.0, torch.Generator().manual_seed(0)), labels)


def test_the_mark_codes_the_class_on_two_border_pixels_and_nothing_else():
    images = torch.zeros(10, 1, 8, 8)
    marked = mark(images, torch.arange(10), 10)
    assert torch.equal(images, torch.zeros(10, 1, 8, 8))  # a copy
    for k in range(10):
        where = (marked[k, 0] == MARK_VALUE).nonzero().tolist()
        assert len(where) == 2 and all(i in (0, 7) or j in (0, 7) for i, j in where)
    places = {tuple(map(tuple, (marked[k, 0] == MARK_VALUE).nonzero().tolist())) for k in range(10)}
    assert len(places) == 10  # every class its own place
    with pytest.raises(ValueError, match="too few border pixels"):
        mark(torch.zeros(1, 1, 3, 3), torch.zeros(1, dtype=torch.long), 10)


def test_probe_marks_mark_a_seeded_share_exactly_and_leave_the_rest_untouched():
    data_set = data.load_digits()  # 1,797 images, 719 in the test split
    n, k = len(data_set.y_test), data_set.num_classes
    marks = ProbeMarks(share=0.6, agreement=0.5, seed=3)
    codes = marks.codes(data_set.y_test, k)
    marked = (codes >= 0).nonzero().flatten()
    assert len(marked) == round(0.6 * n)  # the exact count
    assert torch.equal(codes, ProbeMarks(share=0.6, agreement=0.5, seed=3).codes(data_set.y_test, k))  # seeded
    assert not torch.equal(codes, ProbeMarks(share=0.6, agreement=0.5, seed=4).codes(data_set.y_test, k))
    # round(0.5 * marked) code their label by design, the rest a uniform class (their label's by chance)
    agreeing = int((codes[marked] == data_set.y_test[marked]).sum())
    by_chance = len(marked) - round(0.5 * len(marked))
    assert round(0.5 * len(marked)) <= agreeing <= round(0.5 * len(marked)) + by_chance // 5  # chance 1/10, 2x
    applied = marks.apply(data_set)
    unmarked = codes < 0
    assert torch.equal(applied.x_test[unmarked], data_set.x_test[unmarked])  # untouched
    assert torch.equal(applied.x_test[marked], mark(data_set.x_test[marked], codes[marked], k))  # the code's mark
    assert applied.x_train is data_set.x_train and torch.equal(applied.y_test, data_set.y_test)
    always = ProbeMarks(share=1.0, agreement=1.0).codes(data_set.y_test, k)
    assert torch.equal(always, data_set.y_test)  # every image marked with its label
    resi_codes = ProbeMarks().codes(data_set.y_test, k)  # ReSi's default: every image, a uniform class
    assert bool((resi_codes >= 0).all()) and float((resi_codes == data_set.y_test).double().mean()) < 0.16
    assert torch.equal(ProbeMarks(share=0.0).apply(data_set).x_test, data_set.x_test)
    for bad in ({"share": 1.5}, {"agreement": -0.1}):
        with pytest.raises(ValueError, match="probe marks"):
            ProbeMarks(**bad)


def test_the_shortcut_groups_read_one_marked_test_set_for_activations_and_agreement(tmp_path, monkeypatch):
    """Every forward pass of a shortcut case (X, Y and the agreement's two models) sees the same test
    images, marked by ReSi's default marks; the other factors see them unmarked."""
    monkeypatch.setenv("STITCHBENCH_WORKERS", "1")
    seen = []
    real_record, real_agreement = recipes_base.record, recipes_references.prediction_agreement

    def spy_record(net, x, *args, **kwargs):
        seen.append(("activations", x))
        return real_record(net, x, *args, **kwargs)

    def spy_agreement(net_a, net_b, data_set, *args):
        seen.append(("agreement", data_set.x_test))
        return real_agreement(net_a, net_b, data_set, *args)

    monkeypatch.setattr(recipes_base, "record", spy_record)
    monkeypatch.setattr(recipes_references, "prediction_agreement", spy_agreement)
    scenario = _scenario(tmp_path, "networks.groups", data="digits", factor="shortcut", levels="0,1",
                         probe_size=0)
    assert (scenario.params["probe_marked"], scenario.params["probe_mark_agreement"]) == (1.0, 0.0)  # ReSi's
    cases = scenarios.generate(scenario, 0)
    test = data.load_digits()
    expected = ProbeMarks().apply(test).x_test
    assert {kind for kind, _ in seen} == {"activations", "agreement"}
    assert all(torch.equal(x, expected) for _, x in seen)  # one marked test set, X, Y and agreement alike
    assert all(c.meta["probe_marks"] == ProbeMarks().describe() for c in cases)
    seen.clear()
    plain = scenarios.generate(_scenario(tmp_path, "networks.groups", data="digits", factor="augment",
                                         levels="0,1", probe_size=0), 0)
    assert seen and all(torch.equal(x, test.x_test) for _, x in seen)
    assert all("probe_marks" not in c.meta for c in plain)


@pytest.mark.parametrize("name", ["networks_shortcut_affinity", "networks_shortcut_affinity_vit"])
def test_the_shipped_shortcut_scenarios_read_x_y_and_agreement_on_the_same_marked_images(name):
    """The specs' shortcut scenarios plan every case's X, Y and agreement on ReSi's marks (no compute)."""
    scenario = scenarios.load_specs(names=[name])[0]
    setup = recipes.Setup.from_params({**scenario.params, "device": "cpu"})
    planned_cases = resi.groups.__wrapped__(scenario, setup, scenario.seeds[0])
    assert planned_cases
    for planned in planned_cases:
        read = planned.recipes(setup)
        assert read["x"].marks == read["y"].marks == read["agreement"].marks == ProbeMarks()


def test_variant_checks_its_levels_and_a_plain_variant_is_the_plain_recipe():
    with pytest.raises(ValueError, match="label_noise"):
        Variant(label_noise=1.5)
    with pytest.raises(ValueError, match="shortcut"):
        Variant(shortcut=-0.1)
    with pytest.raises(ValueError, match="augment"):
        Variant(augment=-1.0)
    assert Variant.seeded(3, label_noise=0.0) == Variant() and Variant.seeded(3, augment=1.0).seed == 3
    spec = recipes.DataSpec.of("digits_corrupted")
    plain = recipes.Trained("cnn", 3, spec, Schedule())
    assert recipes.Trained("cnn", 3, spec, Schedule(), variant=Variant.seeded(3, augment=0.0)) == plain
    assert resi.model_named(recipes.Setup.from_params({**plan.COMMON_PARAMS, "device": "cpu"}), "cnn", 3,
                            "shortcut=1").describe() == "cnn/seed=3/shortcut(1)"


def _setup(tmp_path):
    return recipes.Setup.from_params({**plan.COMMON_PARAMS, "cache_dir": str(tmp_path), "device": "cpu"})


def _net(setup, factor, level, seed=0):
    return resi._grouped(setup, "cnn", seed, factor, level).load(setup)[0]


def test_fully_shuffled_labels_classify_clean_test_images_at_chance(tmp_path):
    setup = _setup(tmp_path)
    test = setup.data.load()
    # 719 test images: chance is 0.1 +- 0.011; a model that learned anything sits far above (0.9)
    assert accuracy(_net(setup, "label_noise", 1.0), test.x_test, test.y_test, "cpu") < 0.16
    assert accuracy(_net(setup, "label_noise", 0.0), test.x_test, test.y_test, "cpu") > 0.8


def test_the_full_shortcut_model_fails_without_its_mark(tmp_path):
    setup = _setup(tmp_path)
    test = setup.data.load()
    marked = mark(test.x_test, test.y_test, test.num_classes)
    full, none = _net(setup, "shortcut", 1.0), _net(setup, "shortcut", 0.0)
    assert accuracy(full, marked, test.y_test, "cpu") > 0.95  # it reads the mark
    assert accuracy(full, test.x_test, test.y_test, "cpu") < 0.5 * accuracy(none, test.x_test, test.y_test, "cpu")


def test_noise_augmentation_raises_accuracy_on_noisy_test_images(tmp_path):
    setup = _setup(tmp_path)
    test = setup.data.load()
    noisy_test = noisy(test.x_test, 1.0, seed=0)
    plain, augmented = _net(setup, "augment", 0.0), _net(setup, "augment", 1.0)
    assert accuracy(augmented, noisy_test, test.y_test, "cpu") > accuracy(plain, noisy_test, test.y_test, "cpu") + 0.05


def _scenario(tmp_path, generator, **params):
    resolved = {**plan.COMMON_PARAMS, "epochs": 1, "stitch_epochs": 1, "probe_size": 32,
                "cache_dir": str(tmp_path), "device": "cpu", "arch": "mlp", **params}
    registered = scenarios.lookup(generator).params
    return scenarios.Scenario(name="tiny", family="networks", generator=generator, seeds=(0,), expectations=(),
                              params={k: v for k, v in {**registered, **resolved}.items() if k in registered})


def test_groups_cases_pair_every_level_with_every_later_one(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHBENCH_WORKERS", "1")
    cases = scenarios.generate(_scenario(tmp_path, "networks.groups", factor="augment", levels="0,1,2"), 0)
    assert [c.case for c in cases] == ["0~0", "0~1", "0~2", "1~1", "1~2", "2~2"]
    assert [c.param for c in cases] == [0, 1, 2, 0, 1, 0]
    assert cases[1].meta["model_x"] == "mlp/seed=0" and cases[1].meta["model_y"] == "mlp/seed=1/augment(1)"
    assert cases[1].meta["variant_y"] == "augment(1)" and cases[1].meta["group_y"] == 1.0
    assert all(c.agreement is not None for c in cases)
    # a stitch is scored unless its receiver is within the margin of chance: then marked, never a guess
    assert all((c.stitch is None) == ("stitch" in c.meta.get("not_informative", "").split(",")) for c in cases)
    assert any(c.stitch is not None for c in cases)


def test_layer_monotonicity_cases_are_the_layer_pairs_of_one_model(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHBENCH_WORKERS", "1")
    cases = scenarios.generate(_scenario(tmp_path, "networks.layer_monotonicity"), 0)
    assert [c.case for c in cases] == ["fc1->fc2", "fc1->fc3", "fc2->fc3"]
    assert [(c.meta["index_x"], c.meta["index_y"], c.param) for c in cases] == [(0, 1, 1), (0, 2, 2), (1, 2, 1)]
    assert all(c.meta["model_x"] == c.meta["model_y"] == "mlp/seed=0" and c.agreement == 1.0 for c in cases)


def test_mixed_quality_names_its_models_and_refuses_unknown_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHBENCH_WORKERS", "1")
    scenario = _scenario(tmp_path, "networks.mixed_quality", epochs=2, models="trained,epoch=1,imp=1")
    cases = scenarios.generate(scenario, 0)
    assert [c.case for c in cases] == ["trained~trained", "trained~epoch=1", "trained~imp=1", "epoch=1~epoch=1",
                                       "epoch=1~imp=1", "imp=1~imp=1"]
    assert cases[2].meta["model_y"] == "mlp/seed=1/imp" and cases[2].meta["pruning_y"] == "imp"
    assert cases[1].meta["epoch_y"] == 1 and cases[1].meta["name_y"] == "epoch=1"
    assert cases[1].meta["kind_y"] == "checkpoint"
    check = scenarios.lookup("networks.mixed_quality").check
    for bad, message in (("trained,bogus=1", "unknown kind 'bogus'"), ("trained,epoch=x", "expected epoch=<number>"),
                         ("trained", "at least two distinct"), ("trained,epoch=9", r"epoch must be in \[1, 8\]")):
        with pytest.raises(ValueError, match=message):
            check({**scenario.params, "epochs": 8, "models": bad})
    with pytest.raises(ValueError, match="at least two distinct levels"):
        scenarios.lookup("networks.groups").check({"factor": "augment", "levels": "1,1", "arch": "cnn"})
    with pytest.raises(ValueError, match="comma-separated numbers"):
        scenarios.lookup("networks.groups").check({"factor": "augment", "levels": "0,half", "arch": "cnn"})
    with pytest.raises(ValueError, match=r"label_noise must be in \[0, 1\]"):
        scenarios.lookup("networks.groups").check({"factor": "label_noise", "levels": "0,2", "arch": "cnn"})
