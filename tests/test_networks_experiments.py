"""The networks generators end to end on a tiny budget (MLP, one epoch, a temporary cache), the cache's
reuse on a second run, the spec file, and the layer-identification analysis."""
import numpy as np
import pandas as pd
import pytest
import torch

import scenarios
from scenarios import Scenario, Sweep
from scenarios.networks import analysis, experiments, stitch, zoo

torch.set_num_threads(1)


def tiny_scenario(tmp_path, generator, sweep=None, **params):
    resolved = {**experiments.COMMON_PARAMS, "epochs": 1, "stitch_epochs": 1, "imp_rounds": 1,
                "probe_size": 64, "cache_dir": str(tmp_path), "device": "cpu", "arch": "mlp", **params}
    registered = scenarios.lookup(generator).params
    resolved = {k: v for k, v in {**registered, **resolved}.items() if k in registered}
    return Scenario(name="tiny", family="networks", generator=generator, params=resolved, seeds=(0,),
                    expectations=(), sweep=sweep)


def test_generators_are_registered():
    names = [n for n in scenarios.generators() if n.startswith("networks.")]
    assert names == ["networks.distillation", "networks.layer_pairs", "networks.pruning_identity",
                     "networks.pruning_progression", "networks.seed_pairs", "networks.training_progression"]


def test_pruning_identity_cases_and_cache_reuse(tmp_path, monkeypatch):
    scenario = tiny_scenario(tmp_path, "networks.pruning_identity")
    cases = scenarios.generate(scenario, 0)
    assert [c.case for c in cases] == ["same_seed", "other_seed"]
    same, other = cases
    assert same.x.shape == (64, 64) and same.x.dtype == np.float64  # mlp fc3: 64 units
    assert same.meta["model_x"] == "mlp/seed=0" and same.meta["model_y"] == "mlp/seed=0/imp"
    assert other.meta["model_x"] == "mlp/seed=1/imp" and other.meta["sparsity_x"] == pytest.approx(0.2, abs=0.01)
    assert 0 <= same.stitch <= 2 and 0 <= same.stitch_reverse <= 2
    assert {"stitch_direct", "stitch_direct_reverse", "conv", "layer_x", "accuracy_y"} <= same.meta.keys()

    def refuse(*args, **kwargs):
        raise AssertionError("a warm cache must not train or stitch again")

    monkeypatch.setattr(zoo, "train", refuse)
    monkeypatch.setattr(zoo, "stitch", refuse)
    again = scenarios.generate(scenario, 0)
    assert np.array_equal(again[0].y, same.y) and again[1].stitch == other.stitch


def test_progression_param_is_the_sparsity(tmp_path):
    scenario = tiny_scenario(tmp_path, "networks.pruning_progression", sweep=Sweep("step", (0, 2)),
                             method="magnitude_global")
    first, second = scenarios.generate(scenario, 0)
    assert (first.case, second.case) == ("step=0", "step=2")
    assert first.param == 0.0 and second.param == pytest.approx(0.36, abs=0.01)
    assert np.array_equal(first.x, first.y) and first.meta["stitch_direct"] == 1.0  # step 0: the model itself


def test_training_progression_compares_checkpoints_with_the_trained_model(tmp_path):
    scenario = tiny_scenario(tmp_path, "networks.training_progression", sweep=Sweep("epoch", (1, 2)), epochs=2)
    early, last = scenarios.generate(scenario, 0)
    assert (early.case, last.case) == ("epoch=1", "epoch=2") and (early.param, last.param) == (1.0, 2.0)
    assert early.meta["model_x"] == "mlp/seed=0/epoch=1" and early.meta["model_y"] == "mlp/seed=0"
    assert not np.array_equal(early.x, early.y)
    assert np.array_equal(last.x, last.y) and last.meta["stitch_direct"] == 1.0  # the last epoch: the model itself


def test_layer_pairs_cover_every_pair(tmp_path):
    cases = scenarios.generate(tiny_scenario(tmp_path, "networks.layer_pairs", stitch_epochs=0), 0)
    assert [c.case for c in cases][:4] == ["fc1->fc1", "fc1->fc2", "fc1->fc3", "fc2->fc1"]
    assert len(cases) == 9 and all(c.stitch == c.meta["stitch_direct"] for c in cases)


def test_specs_load_in_both_profiles():
    for profile in scenarios.PROFILES:
        specs = [s for s in scenarios.load_specs(profile=profile) if s.family == "networks"]
        assert len(specs) >= 6
        assert all(s.generator.startswith("networks.") for s in specs)


def test_layer_identification():
    rows = []
    for metric, best in [("good", lambda i, j: i == j), ("bad", lambda i, j: j == 0)]:
        for i in range(3):
            for j in range(3):
                rows.append({"metric": metric, "scenario": "s", "seed": 0, "layer_x": f"l{i}", "layer_y": f"l{j}",
                             "value": float(best(i, j)), "stitch": 1.0 if j >= i else 0.5})
    table = analysis.layer_identification(pd.DataFrame(rows)).set_index("metric")["accuracy"]
    assert table["good"] == 1.0
    assert table["bad"] == pytest.approx(1 / 3)
    # stitching ties at the top: l0 -> {l0, l1, l2}: 1/3, l1 -> {l1, l2}: 1/2, l2 -> {l2}: 1
    assert table["stitching"] == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)
