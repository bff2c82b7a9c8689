"""The networks generators end to end on a tiny budget (MLP or CNN, one epoch, a temporary cache): their
cases and references, the controls, the cache's reuse on a second run (no build at all), the parallel
prefetch (the same entries as a serial run), and the spec file (layer identification:
tests/test_networks_reports.py)."""
import os

import numpy as np
import pytest
import torch

import scenarios
from scenarios import Scenario, Sweep
from scenarios.networks import plan, prefetch, recipes
from scenarios.networks.experiments import controls, seeds
from scenarios.networks.cache import Cache
from runner.schema import REFERENCE_COLUMNS

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def serial(monkeypatch):
    """Build on demand in the test process unless a test asks for workers."""
    monkeypatch.setenv(prefetch.WORKERS_ENV, "1")


def tiny_scenario(tmp_path, generator, sweep=None, seeds=(0,), **params):
    resolved = {**plan.COMMON_PARAMS, "epochs": 1, "stitch_epochs": 1, "imp_rounds": 1,
                "probe_size": 64, "cache_dir": str(tmp_path), "device": "cpu", "arch": "mlp", **params}
    registered = scenarios.lookup(generator).params
    resolved = {k: v for k, v in {**registered, **resolved}.items() if k in registered}
    return Scenario(name="tiny", family="networks", generator=generator, params=resolved, seeds=seeds,
                    expectations=(), sweep=sweep)


def references(case) -> list:
    return [getattr(case, column) for column in REFERENCE_COLUMNS]


def test_generators_are_registered():
    names = [n for n in scenarios.generators() if n.startswith("networks.")]
    # at least these (a new experiment module adds its own: tests/test_networks_api.py)
    assert set(names) >= {"networks.controls", "networks.distillation", "networks.groups",
                          "networks.layer_monotonicity", "networks.layer_pairs", "networks.layer_removal",
                          "networks.mixed_quality", "networks.pc_deletion", "networks.pruning_denoising",
                          "networks.pruning_identity", "networks.pruning_progression", "networks.seed_pairs",
                          "networks.training_progression", "networks.user_models", "networks.width_null"}


def test_pruning_identity_cases_and_a_warm_cache_builds_nothing(tmp_path, monkeypatch):
    scenario = tiny_scenario(tmp_path, "networks.pruning_identity")
    cases = scenarios.generate(scenario, 0)
    assert [c.case for c in cases] == ["same_seed", "other_seed"]
    same, other = cases
    assert same.x.shape == (64, 64) and same.x.dtype == np.float64  # mlp fc3: 64 units
    assert same.meta["model_x"] == "mlp/seed=0" and same.meta["model_y"] == "mlp/seed=0/imp"
    assert other.meta["model_x"] == "mlp/seed=1/imp" and other.meta["sparsity_x"] == pytest.approx(0.2, abs=0.01)
    assert all(value is not None for value in references(same))
    assert 0 <= same.agreement <= 1 and 0 <= same.accuracy_difference <= 1
    assert same.accuracy_difference == pytest.approx(abs(same.meta["accuracy_x"] - same.meta["accuracy_y"]))

    def refuse(*args, **kwargs):
        raise AssertionError("a warm cache must build nothing")

    # every build (training, pruning, distillation, stitching, records) ends in Cache.store
    monkeypatch.setattr(Cache, "store", refuse)
    again = scenarios.generate(scenario, 0)
    assert np.array_equal(again[0].y, same.y) and references(again[1]) == references(other)
    # the guard sees a cache miss: the entry of a pruned model's stitch is gone
    setup = recipes.Setup.from_params(scenario.params)
    pair = seeds.pruning_identity.__wrapped__(scenario, setup, 0)[1]
    stitch = pair.recipes(setup)["forward"]
    entry, sidecar = Cache(tmp_path).paths(stitch.key())
    assert entry.is_file()
    sidecar.unlink()
    with pytest.raises(AssertionError, match="build nothing"):
        scenarios.generate(scenario, 0)


def test_progression_param_is_the_sparsity_and_step_zero_is_the_model_itself(tmp_path):
    scenario = tiny_scenario(tmp_path, "networks.pruning_progression", sweep=Sweep("step", (0, 2)),
                             method="magnitude_global")
    first, second = scenarios.generate(scenario, 0)
    assert (first.case, second.case) == ("step=0", "step=2")
    assert first.param == 0.0 and second.param == pytest.approx(0.36, abs=0.01)
    assert second.meta["sparsity"] == second.param
    assert np.array_equal(first.x, first.y)
    assert (first.stitch_direct, first.stitch_direct_reverse, first.agreement, first.accuracy_difference) == (1, 1, 1, 0)


def test_training_progression_compares_checkpoints_with_the_trained_model(tmp_path):
    scenario = tiny_scenario(tmp_path, "networks.training_progression", sweep=Sweep("epoch", (1, 2)), epochs=2)
    early, last = scenarios.generate(scenario, 0)
    assert (early.case, last.case) == ("epoch=1", "epoch=2") and (early.param, last.param) == (1.0, 2.0)
    assert early.meta["model_x"] == "mlp/seed=0/epoch=1" and early.meta["model_y"] == "mlp/seed=0"
    assert not np.array_equal(early.x, early.y)
    assert np.array_equal(last.x, last.y) and last.stitch_direct == 1.0 and last.agreement == 1.0


def test_layer_pairs_cover_every_pair(tmp_path):
    cases = scenarios.generate(tiny_scenario(tmp_path, "networks.layer_pairs", stitch_epochs=0), 0)
    assert [c.case for c in cases][:4] == ["fc1->fc1", "fc1->fc2", "fc1->fc3", "fc2->fc1"]
    assert len(cases) == 9 and all(c.stitch == c.stitch_direct for c in cases)
    # agreement is a property of the two whole models: the same in every layer pair
    assert len({(c.agreement, c.accuracy_difference) for c in cases}) == 1


def test_controls_senders_and_their_references(tmp_path):
    scenario = tiny_scenario(tmp_path, "networks.controls", arch="cnn", layers="conv1,conv4")
    cases = {c.case: c for c in scenarios.generate(scenario, 0)}
    assert list(cases) == [f"{s}/{layer}" for s in controls.CONTROL_SENDERS for layer in ("conv1", "conv4")]
    for name, case in cases.items():
        sender, layer = name.split("/")
        assert (case.meta["sender"], case.meta["layer_x"], case.meta["layer_y"]) == (sender, layer, layer)
        assert case.meta["model_y"] == "cnn/seed=0" and case.x.shape == case.y.shape
    assert cases["trained/conv1"].meta["model_x"] == "cnn/seed=1"
    assert cases["random_init/conv1"].meta["model_x"] == "cnn/seed=1/random_init"
    assert cases["shuffled_labels/conv4"].meta["model_x"] == "cnn/seed=1/shuffled_labels(1)"
    noise = cases["clustered_noise/conv4"]
    assert noise.meta["model_x"] == "clustered_noise/seed=1" and noise.meta["accuracy_x"] is None
    # noise is no model: no reverse stitch and no predictions to compare
    assert (noise.stitch_reverse, noise.stitch_direct_reverse, noise.agreement, noise.accuracy_difference) == (None,) * 4
    assert noise.stitch is not None and noise.stitch_direct is not None
    assert all(value is not None for value in references(cases["trained/conv4"]))
    for name in ("random_init/conv4", "shuffled_labels/conv4"):  # no stitch into a control
        case = cases[name]
        assert (case.stitch_reverse, case.stitch_direct_reverse) == (None, None)
        assert None not in (case.stitch, case.stitch_direct, case.agreement, case.accuracy_difference)
    # the noise is a function of the label: the probe's rows of one class scatter around one mean
    labels = recipes.DataSpec.of("digits").load().y_test[:64].numpy()
    within = np.mean([noise.x[labels == c].std(0).mean() for c in np.unique(labels)])
    assert within < noise.x.std(0).mean()


def test_controls_reject_unknown_layers(tmp_path):
    with pytest.raises(ValueError, match="not stitchable layers"):
        scenarios.lookup("networks.controls").check(
            tiny_scenario(tmp_path, "networks.controls", arch="cnn", layers="conv9").params)


def test_parallel_prefetch_builds_what_a_serial_run_builds(tmp_path, monkeypatch):
    serial, parallel = (tiny_scenario(tmp_path / name, "networks.seed_pairs", seeds=(0, 1), pairs="dense", stitch_epochs=0)
                        for name in ("serial", "parallel"))
    expected = [c for seed in (0, 1) for c in scenarios.generate(serial, seed)]
    monkeypatch.setenv(prefetch.WORKERS_ENV, "2")
    built = []
    real = prefetch.prefetch
    monkeypatch.setattr(plan, "prefetch", lambda *args: built.append(real(*args)))
    got = [c for seed in (0, 1) for c in scenarios.generate(parallel, seed)]
    assert built[0] > 0 and built[1] == 0  # the first seed's call built both seeds' recipes
    for a, b in zip(expected, got):
        assert a.case == b.case and np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
        assert references(a) == references(b)


def test_missing_recipes_in_dependency_order(tmp_path):
    setup = recipes.Setup.from_params({**plan.COMMON_PARAMS, "cache_dir": str(tmp_path), "device": "cpu"})
    trained = recipes.Trained("cnn", 0, setup.data, setup.schedule)
    pruned = recipes.Imp.rounds(setup, trained, 2)
    stitch = recipes.Stitch(pruned, "conv1", trained, "conv1", 1)
    todo = prefetch.missing(setup, [stitch, recipes.Record(trained)])
    assert list(todo) == [trained, pruned.base, pruned, stitch, recipes.Record(trained)]
    assert todo[stitch] == {pruned, trained} and todo[pruned] == {pruned.base} and todo[trained] == set()
    noise = recipes.ClusteredNoise(setup.data, (16, 8, 8), 1)
    assert list(prefetch.missing(setup, [recipes.Stitch(noise, "conv1", trained, "conv1", 1)]))[0] == trained


def test_a_broken_pool_leaves_the_builds_to_the_generator(tmp_path, monkeypatch):
    setup = recipes.Setup.from_params({**plan.COMMON_PARAMS, "cache_dir": str(tmp_path), "device": "cpu"})
    models = [recipes.Trained("mlp", seed, setup.data, setup.schedule) for seed in (0, 1)]

    def broken(*args):
        raise prefetch.BrokenProcessPool("a worker died")

    monkeypatch.setattr(prefetch, "_run", broken)
    with pytest.warns(UserWarning, match="building in this process"):
        assert prefetch.prefetch(setup, models, size=2) == 0
    assert prefetch.prefetch(setup, models[:1], size=2) == 0  # one recipe: nothing to parallelize


def test_worker_count(monkeypatch):
    monkeypatch.delenv(prefetch.WORKERS_ENV)
    assert prefetch.workers("cpu") == (os.cpu_count() or 1) and prefetch.workers("cuda") == 1
    monkeypatch.setenv(prefetch.WORKERS_ENV, "3")
    assert prefetch.workers("cuda") == 3
    for bad in ("0", "two"):
        monkeypatch.setenv(prefetch.WORKERS_ENV, bad)
        with pytest.raises(ValueError, match="STITCHBENCH_WORKERS"):
            prefetch.workers("cpu")


def test_specs_load_in_both_profiles():
    for profile in scenarios.PROFILES:
        specs = [s for s in scenarios.load_specs(profile=profile) if s.family == "networks"]
        assert len(specs) >= 6
        assert all(s.generator.startswith("networks.") for s in specs)
        # the function measured in the run decides, except where the ground truth is a construction
        # (ReSi's groups of models, the layer order of one model, a correspondence destroyed), itself
        # premise-checked on a reference
        by_construction = {"networks.groups": {"separates_groups"},
                           "networks.layer_monotonicity": {"monotone_in_layer_distance"},
                           "networks.width_null": {"invariant"}}
        for spec in specs:
            kinds = {e.kind for e in spec.expectations}
            assert kinds == {"follows_reference"} or kinds <= by_construction.get(spec.generator, set()), spec.name
        assert {"networks_controls_cnn", "networks_controls_resnet"} <= {s.name for s in specs}


def test_width_null_pairs_untrained_networks_of_each_width_without_correspondence(tmp_path):
    """X, Y: the hidden layer of untrained mlp[w] (seeds s, s + 1) on every image, Y's rows shuffled
    within the measured block and within the rest; stitching into either side's probe readout is near
    chance (held-out agreement of unrelated images' predictions); the references are computed, not set."""
    sweep = Sweep("width", (16, 64))
    scenario = tiny_scenario(tmp_path, "networks.width_null", sweep=sweep, n=40)
    cases = list(scenarios.generate(scenario, 0))
    assert [case.case for case in cases] == ["width=16", "width=64"]
    setup = recipes.Setup.from_params(scenario.params)
    for case in cases:
        width = int(case.param)
        assert case.x.shape == case.y.shape == (40, width)
        assert case.meta["model_x"] == f"mlp[{width}]/seed=0/random_init"
        assert case.meta["model_y"].startswith(f"mlp[{width}]/seed=1/random_init")
        # chance is about 1/10 for 10 classes; a stitch that kept the correspondence reads far more
        assert case.stitch < case.meta["chance"] + 0.1 and case.stitch_reverse < case.meta["chance"] + 0.1
        # X: the first training images' activations in order (null_case's measured block), a float64 pass
        net = recipes.RandomInit(f"mlp[{width}]", 0, setup.data).load(setup)[0].double()
        with torch.no_grad():
            expected = net.fc1(setup.data.load().x_train[:40].double()).numpy()
        np.testing.assert_allclose(case.x, expected, rtol=1e-10, atol=1e-10)  # another BLAS route: rounding only (PLATFORM_RTOL)
        # Y: the other network's rows, shuffled: the same rows as unshuffled Y, not in X's order
        net_y = recipes.RandomInit(f"mlp[{width}]", 1, setup.data).load(setup)[0].double()
        with torch.no_grad():
            unshuffled = net_y.fc1(setup.data.load().x_train[:40].double()).numpy()
        assert not np.allclose(case.y, unshuffled)
        np.testing.assert_allclose(np.sort(case.y.sum(axis=1)), np.sort(unshuffled.sum(axis=1)), rtol=1e-10)


def test_width_null_refuses_more_rows_than_the_data_has(tmp_path):
    scenario = tiny_scenario(tmp_path, "networks.width_null", sweep=Sweep("width", (8,)), n=5000)
    with pytest.raises(ValueError, match="n = 5000 needs at least 10000 images"):
        list(scenarios.generate(scenario, 0))
