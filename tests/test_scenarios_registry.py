"""The generator registry and the contract every shipped scenario keeps: deterministic cases from the
seed, unique readable ids, well-formed float64 data, a small quick profile."""
from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest

import scenarios
from scenarios import Case, Scenario, Sweep, _registry
from shipped import quick_cases

# The networks family trains models; tests/test_networks_*.py cover it on tiny settings.
QUICK = [spec for spec in scenarios.load_specs() if spec.family != "networks"]


@contextmanager
def registered(name, fn, **kwargs):
    """Register ``fn`` under ``name`` for the duration of a test."""
    scenarios.generator(name, **kwargs)(fn)
    try:
        yield scenarios.lookup(name)
    finally:
        _registry._REGISTRY.pop(name)


def spec_for(generator: str, sweep=None, seeds=(0,)) -> Scenario:
    gen = scenarios.lookup(generator)
    return Scenario("toy", gen.family, generator, dict(gen.params), tuple(seeds), (), sweep)


def test_builtin_generators_are_listed():
    names = scenarios.generators()
    assert names == sorted(names)
    assert {"symmetry.orthogonal", "symmetry.containment", "relevance.signal_and_irrelevant",
            "estimator.independent", "estimator.outliers", "estimator.low_variance_pcs"} <= set(names)


def test_rng_for_is_stable_across_processes():
    # SHA-256 of the names, not Python's salted hash(): the same numbers in any process
    assert scenarios.rng_for("h1", 3).integers(0, 2**32, 3).tolist() == [1814452300, 2166293650, 1536307161]
    code = "import scenarios; print(scenarios.rng_for('h1', 3, 'split').integers(0, 2**32, 3).tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=scenarios.SPEC_DIR.parent.parent)
    assert out.stdout.strip() == "[315828342, 215438772, 3120253128]"


@pytest.mark.parametrize("spec", QUICK, ids=[spec.name for spec in QUICK])
def test_every_shipped_scenario_keeps_the_case_contract(spec):
    cases = quick_cases(spec.name)
    assert {case.seed for case in cases} == set(spec.seeds)
    for seed in spec.seeds:
        ids = [case.case for case in cases if case.seed == seed]
        assert len(ids) == len(set(ids)) >= 2
        assert ids == scenarios.lookup(spec.generator).expected_case_ids(spec.params, spec.sweep)
    for case in cases:
        assert (case.family, case.scenario) == (spec.family, spec.name)
        layered = case.aggregate is not None  # stacks [L, n, p] of layers
        for array in (case.x, case.y):
            assert array.dtype == np.float64 and array.ndim == 2 + layered and np.all(np.isfinite(array))
        assert case.x.shape[layered] == case.y.shape[layered]
        assert 0.0 <= case.stitch <= 1.0 and 0.0 <= case.stitch_reverse <= 1.0
        if spec.sweep is not None:
            assert isinstance(case.param, float)
    for expectation in spec.expectations:
        if expectation.kind == "ordering":
            assert {expectation.higher, expectation.lower} <= {case.case for case in cases}


@pytest.mark.parametrize("spec", QUICK[::4], ids=[spec.name for spec in QUICK[::4]])
def test_cases_are_deterministic_from_the_seed(spec):
    kept = {seed: [case for case in quick_cases(spec.name) if case.seed == seed] for seed in (1, 2)}
    first, again = kept[1] or scenarios.generate(spec, 1), scenarios.generate(spec, 1)  # one generated afresh
    other = kept[2] or scenarios.generate(spec, 2)
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        assert (a.stitch, a.stitch_reverse, a.meta) == (b.stitch, b.stitch_reverse, b.meta)
        assert not np.array_equal(a.y, c.y)


def test_sweep_cases_share_their_base_data():
    # common random numbers: the cases of a sweep differ only in the swept parameter
    spec = next(s for s in QUICK if s.name == "h3_signal_amplitude")
    low, high = scenarios.generate(spec, 0)[:2]
    k = spec.params["signal_dims"]
    ratio = spec.sweep.values[1] / spec.sweep.values[0]
    np.testing.assert_allclose(high.x[:, :k], ratio * low.x[:, :k])
    np.testing.assert_array_equal(high.x[:, k:], low.x[:, k:])


def test_quick_profile_is_small():
    cases = [case for spec in QUICK for case in quick_cases(spec.name)]
    assert len(cases) <= 250
    assert all(len(spec.seeds) <= 3 for spec in QUICK)
    assert all(case.x.shape[-2] <= 1000 for case in cases)
    widths = [max(case.x.shape[-1], case.y.shape[-1]) for case in cases]
    assert np.mean(np.array(widths) <= 64) > 0.9 and max(widths) <= 512
    full = [spec for spec in scenarios.load_specs(profile="full") if spec.family != "networks"]
    assert sum(len(s.seeds) for s in full) > sum(len(s.seeds) for s in QUICK)


def test_case_ids_read_name_equals_value():
    assert scenarios.case_id("noise_channels", 16) == "noise_channels=16"
    assert scenarios.case_id("distance", 0.5) == "distance=0.5"
    assert scenarios.case_id("scale", 10.0) == "scale=10"
    points = scenarios.sweep_points({"a": 1, "b": 2.0}, Sweep("b", (0.5, 3)))
    assert [(p.case, p.param, p.params) for p in points] == [
        ("b=0.5", 0.5, {"a": 1, "b": 0.5}), ("b=3", 3.0, {"a": 1, "b": 3})]
    assert scenarios.sweep_points({"a": 1}, None)[0].case == "base"


def _toy(scenario, seed):
    for point in scenarios.sweep_points(scenario.params, scenario.sweep):
        x = scenarios.rng_for(scenario.name, seed).standard_normal((10, point.params["p"]))
        yield Case(scenario.family, scenario.name, point.case, seed, x, x, point.param, 1.0, 1.0)


def test_a_registered_generator_runs_through_generate():
    with registered("estimator.toy", _toy, family="estimator", params={"p": 3}):
        cases = scenarios.generate(spec_for("estimator.toy", Sweep("p", (2, 4))), 0)
    assert [case.case for case in cases] == ["p=2", "p=4"]
    assert cases[1].x.shape == (10, 4)


def test_generate_rejects_malformed_output():
    def duplicate_ids(scenario, seed):
        yield from _toy(scenario, seed)
        yield from _toy(scenario, seed)

    def float32(scenario, seed):
        for case in _toy(scenario, seed):
            yield Case(case.family, case.scenario, case.case, seed, case.x.astype(np.float32), case.y)

    def layers_without_aggregate(scenario, seed):
        for case in _toy(scenario, seed):
            yield Case(case.family, case.scenario, case.case, seed, case.x[None], case.y[None])

    def aggregate_of_flat_arrays(scenario, seed):
        for case in _toy(scenario, seed):
            yield Case(case.family, case.scenario, case.case, seed, case.x, case.y, aggregate="max")

    for fn, message in ((duplicate_ids, "duplicate case ids"), (float32, "float64"),
                        (layers_without_aggregate, "must be a 2-D"), (aggregate_of_flat_arrays, "must be a 3-D")):
        with registered("estimator.bad", fn, family="estimator", params={"p": 3}):
            with pytest.raises(ValueError, match=message):
                scenarios.generate(spec_for("estimator.bad"), 0)
    with registered("estimator.bad", _toy, family="estimator", params={"p": 3},
                    case_ids=lambda params, sweep: ["other"]):
        with pytest.raises(ValueError, match="not the declared"):
            scenarios.generate(spec_for("estimator.bad"), 0)


def test_registration_is_validated():
    with pytest.raises(ValueError, match="already registered"):
        scenarios.generator("symmetry.orthogonal", family="symmetry", params={})(_toy)
    with pytest.raises(ValueError, match="must be lower-case letters"):
        scenarios.generator("toy.x", family="Toy Family", params={})
    with pytest.raises(ValueError, match="default of type list"):
        scenarios.generator("estimator.x", family="estimator", params={"sizes": [1, 2]})
    with pytest.raises(KeyError, match="unknown generator 'estimator.nope'"):
        scenarios.lookup("estimator.nope")
    for unsafe in ("../estimator.x", "estimator/x", "estimator.<b>x</b>", "Estimator.X"):  # names are not paths
        with pytest.raises(ValueError, match="a name is dot-separated lower-case words"):
            scenarios.generator(unsafe, family="estimator", params={})


NEW_FAMILY = """
import numpy as np
from scenarios import generator, rng_for, sweep_points
from scenarios.readout import Readout, make_labeling
from scenarios.stitching import Pair, make_case


@generator("toyfamily.copies", family="toyfamily", params={"n": 120, "p": 4})
def copies(scenario, seed):
    \"\"\"Y is X: stitching is 1.\"\"\"
    for point in sweep_points(scenario.params, scenario.sweep):
        x = rng_for(scenario.name, seed, "x").standard_normal((point.params["n"], point.params["p"]))
        labeling = make_labeling("linear", rng_for(scenario.name, seed, "labels"), x, 3)
        readout = Readout.linear(np.eye(point.params["p"]), labeling)
        yield make_case(scenario, seed, point.case, point.param, Pair(x, x.copy(), readout, readout))
"""

NEW_SPEC = """
[[scenario]]
name = "toy_copies"
family = "toyfamily"
generator = "toyfamily.copies"
description = "A new family: one module and its spec."
seeds = 2
[[scenario.expect]]
kind = "invariant"
tolerance = 0.01
"""


def test_a_new_family_is_one_module_and_its_spec(tmp_path, monkeypatch):
    """A module dropped into the scenarios package (here: a folder added to its path) is found by being
    there, and its family by its generators: no list to edit."""
    from scenarios import _registry

    (tmp_path / "toyfamily.py").write_text(NEW_FAMILY)
    (tmp_path / "toy.toml").write_text(NEW_SPEC)
    monkeypatch.setattr(scenarios, "__path__", [*scenarios.__path__, str(tmp_path)])
    monkeypatch.setattr(_registry, "_builtins_loaded", False)
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    [spec] = scenarios.load_specs(tmp_path / "toy.toml")
    assert spec.family == "toyfamily" and "toyfamily" in scenarios.families()
    cases = list(scenarios.cases(spec))
    assert len(cases) == 2 and all(case.stitch == 1.0 for case in cases)
