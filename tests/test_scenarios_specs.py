"""The spec loader: valid specs resolve; every kind of invalid spec raises SpecError naming the file,
the scenario and the key."""
from __future__ import annotations

import sys
import textwrap

import pytest

import scenarios
from scenarios import SpecError, load_specs

VALID = """
[[scenario]]
name = "noise"
family = "relevance"
generator = "relevance.signal_and_irrelevant"
description = "noise channels"
seeds = 2
[scenario.params]
n = 200
signal_amplitude = 2
[scenario.sweep]
name = "noise_channels"
values = [0, 8]
[[scenario.expect]]
kind = "invariant"
tolerance = 0.05
reason = "stitching stays 1"
[[scenario.expect]]
kind = "ordering"
higher = "noise_channels=0"
lower = "noise_channels=8"
[scenario.full]
seeds = [3, 5, 7]
params = { n = 400 }
sweep = { values = [0, 8, 32] }
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_valid_spec_resolves_params_defaults_and_expectations(tmp_path):
    (scenario,) = load_specs(write(tmp_path, VALID))
    assert scenario.name == "noise" and scenario.family == "relevance"
    assert scenario.seeds == (0, 1)
    assert scenario.params["n"] == 200
    assert scenario.params["signal_amplitude"] == 2.0 and type(scenario.params["signal_amplitude"]) is float
    assert scenario.params["classes"] == 4  # the generator's default
    assert scenario.sweep == scenarios.Sweep("noise_channels", (0, 8))
    assert [e.kind for e in scenario.expectations] == ["invariant", "ordering"]
    assert scenario.expectations[0].tolerance == 0.05
    assert scenario.source.endswith("spec.toml") and scenario.profile == "quick"


def test_full_profile_applies_overrides(tmp_path):
    (scenario,) = load_specs(write(tmp_path, VALID), profile="full")
    assert scenario.seeds == (3, 5, 7)
    assert scenario.params["n"] == 400 and scenario.params["signal_amplitude"] == 2.0
    assert scenario.sweep.values == (0, 8, 32)
    assert scenario.profile == "full"


def test_unknown_profile_is_rejected():
    with pytest.raises(ValueError, match="profile"):
        load_specs(profile="huge")


def test_a_folder_loads_its_toml_files_sorted(tmp_path):
    write(tmp_path, VALID.replace('"noise"', '"b_second"'), "b.toml")
    write(tmp_path, VALID.replace('"noise"', '"a_first"'), "a.toml")
    assert [s.name for s in load_specs(tmp_path)] == ["a_first", "b_second"]


# (description, old text, new text, fragments the message must contain)
INVALID = [
    ("unknown scenario key", 'seeds = 2\n', 'seeds = 2\ncolour = "red"\n', ["'colour'", "unknown key"]),
    ("missing required key", 'description = "noise channels"\n', "", ["'description'", "missing"]),
    ("unknown family", 'family = "relevance"', 'family = "vibes"', ["'family'", "vibes"]),
    ("unknown generator", 'generator = "relevance.signal_and_irrelevant"', 'generator = "relevance.nope"',
     ["'generator'", "relevance.nope"]),
    ("generator of another family", 'family = "relevance"', 'family = "symmetry"',
     ["'generator'", "belongs to family"]),
    ("unknown parameter", "n = 200", "m = 200", ["'params.m'", "unknown key"]),
    ("parameter of the wrong type", "n = 200", 'n = "200"', ["'params.n'", "expected int"]),
    ("float where an int is declared", "n = 200", "n = 200.0", ["'params.n'", "expected int"]),
    ("value outside the choices", "n = 200", 'structure = "spiral"', ["'params.structure'", "spiral"]),
    ("parameters that fail the generator's check", "n = 200", "n = 20", ["'params'", "training samples"]),
    ("bad seed count", "seeds = 2", "seeds = 0", ["'seeds'", ">= 1"]),
    ("seed count too large to make", "seeds = 2", "seeds = 1000000000", ["'seeds'", "<= 100000"]),
    ("seed of 2^63 (overflowed the results table's int64 seeds at the end of the run)", "seeds = 2",
     "seeds = [0, 9223372036854775808]", ["'seeds'", "at most 4294967295", "9223372036854775808"]),
    ("seed beyond 32 bits", "seeds = 2", "seeds = [4294967296]", ["'seeds'", "at most"]),
    ("seeds of the wrong type", "seeds = 2", 'seeds = "two"', ["'seeds'"]),
    ("duplicate seeds", "seeds = 2", "seeds = [1, 1]", ["'seeds'", "duplicate"]),
    ("sweep over an unknown parameter", 'name = "noise_channels"', 'name = "colour"',
     ["'sweep.name'", "colour"]),
    ("sweep value of the wrong type", "values = [0, 8]", 'values = [0, "8"]', ["'sweep.values'"]),
    ("empty sweep", "values = [0, 8]", "values = []", ["'sweep.values'", "non-empty"]),
    ("swept parameter also set", "n = 200", "n = 200\nnoise_channels = 3", ["'params.noise_channels'", "swept"]),
    ("unknown expectation kind", 'kind = "invariant"', 'kind = "vibes"', ["'expect[0].kind'", "vibes"]),
    ("unknown expectation key", "tolerance = 0.05", "tolerance = 0.05\nweight = 2", ["'expect[0].weight'"]),
    ("key that does not apply to the kind", "tolerance = 0.05", "tolerance = 0.05\ntarget = 1.0",
     ["'expect[0].target'", "does not apply"]),
    ("negative tolerance", "tolerance = 0.05", "tolerance = -1", ["'expect[0].tolerance'", ">= 0"]),
    ("ordering naming a case the scenario does not produce", 'lower = "noise_channels=8"',
     'lower = "noise_channels=9"', ["'expect[1].lower'", "noise_channels=9"]),
    ("ordering missing a side", 'lower = "noise_channels=8"\n', "", ["'expect[1].lower'", "requires"]),
    ("monotone without a direction", 'kind = "invariant"\ntolerance = 0.05', 'kind = "monotone"',
     ["'expect[0].direction'", "requires"]),
    ("monotone with direction 0", 'kind = "invariant"\ntolerance = 0.05', 'kind = "monotone"\ndirection = 0',
     ["'expect[0].direction'", "+1 or -1"]),
    ("unknown key in the full profile", "seeds = [3, 5, 7]", "seeds = [3, 5, 7]\nn = 3", ["'full.n'"]),
    ("bad parameter in the full profile", "params = { n = 400 }", "params = { n = 'big' }",
     ["'full.params.n'", "expected int"]),
    ("full profile failing the generator's check", "params = { n = 400 }", "params = { n = 30 }",
     ["'full.params'", "training samples"]),
    ("full profile dropping a case an ordering names", "sweep = { values = [0, 8, 32] }",
     "sweep = { values = [0, 32] }", ["'expect[1].lower'", "noise_channels=8"]),
    ("bad scenario name", 'name = "noise"', 'name = "Noise Channels"', ["'name'"]),
    ("unknown functional reference", "tolerance = 0.05", 'tolerance = 0.05\nreference = "vibes"',
     ["'expect[0].reference'", "vibes", "stitch_direct"]),
    ("follows_reference with a key it does not take", 'kind = "invariant"\ntolerance = 0.05',
     'kind = "follows_reference"\ndirection = 1', ["'expect[0].direction'", "does not apply"]),
    ("follows_reference with an unknown reference", 'kind = "invariant"\ntolerance = 0.05',
     'kind = "follows_reference"\nreference = "accuracy"', ["'expect[0].reference'", "accuracy"]),
    ("follows_reference with a negative tolerance", 'kind = "invariant"\ntolerance = 0.05',
     'kind = "follows_reference"\ntolerance = -0.1', ["'expect[0].tolerance'", ">= 0"]),
]


@pytest.mark.parametrize(("old", "new", "fragments"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_spec_names_file_scenario_and_key(tmp_path, old, new, fragments):
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(SpecError) as error:
        load_specs(path)
    message = str(error.value)
    assert str(path) in message
    assert "scenario '" in message
    for fragment in fragments:
        assert fragment in message


def test_follows_reference_names_a_reference_and_a_tolerance(tmp_path):
    text = VALID.replace('kind = "invariant"\ntolerance = 0.05',
                         'kind = "follows_reference"\nreference = "stitch_direct"\ntolerance = 0.02', 1)
    (scenario,) = load_specs(write(tmp_path, text))
    follows = scenario.expectations[0]
    assert (follows.kind, follows.reference, follows.tolerance) == ("follows_reference", "stitch_direct", 0.02)
    assert scenario.expectations[1].reference == "stitch"  # the default: the trained stitch X -> Y
    bare = VALID.replace('kind = "invariant"\ntolerance = 0.05\nreason = "stitching stays 1"',
                         'kind = "follows_reference"', 1)
    assert load_specs(write(tmp_path, bare))[0].expectations[0].reference == "stitch"


def test_every_kind_names_its_reference(tmp_path):
    text = VALID.replace('lower = "noise_channels=8"', 'lower = "noise_channels=8"\nreference = "agreement"', 1)
    (scenario,) = load_specs(write(tmp_path, text))
    assert [e.reference for e in scenario.expectations] == ["stitch", "agreement"]


def test_monotone_needs_a_sweep(tmp_path):
    text = VALID.split("[scenario.sweep]")[0] + '[[scenario.expect]]\nkind = "monotone"\ndirection = 1\n'
    with pytest.raises(SpecError, match="needs a"):
        load_specs(write(tmp_path, text))


def test_duplicate_names_are_rejected_within_and_across_files(tmp_path):
    with pytest.raises(SpecError, match="'noise'.*duplicate"):
        load_specs(write(tmp_path, VALID + VALID))
    first, second = write(tmp_path, VALID, "a.toml"), write(tmp_path, VALID, "b.toml")
    with pytest.raises(SpecError, match=f"{second}.*'noise'.*'name'.*first defined in {first}"):
        load_specs([first, second])


def test_unparsable_toml_and_unknown_top_level_key_name_the_file(tmp_path):
    broken = write(tmp_path, "[[scenario]\nname = ", "broken.toml")
    with pytest.raises(SpecError, match="broken.toml"):
        load_specs(broken)
    extra = write(tmp_path, VALID + '\n[settings]\nfast = true\n', "extra.toml")
    with pytest.raises(SpecError, match="extra.toml.*'settings'"):
        load_specs(extra)


def test_networks_module_is_imported_only_for_networks_generators(tmp_path, monkeypatch):
    # None in sys.modules makes any import of scenarios.networks fail.
    monkeypatch.setitem(sys.modules, "scenarios.networks", None)
    assert load_specs(write(tmp_path, VALID))  # no networks generator: no import attempted
    text = VALID.replace('family = "relevance"', 'family = "networks"').replace(
        "relevance.signal_and_irrelevant", "networks.stitched_layers")
    with pytest.raises(SpecError, match="'generator'.*scenarios.networks.*failed to import"):
        load_specs(write(tmp_path, text))


@pytest.mark.parametrize("profile", scenarios.PROFILES)
def test_the_shipped_specs_are_valid(profile):
    specs = load_specs(profile=profile)
    assert {s.family for s in specs} >= {"symmetry", "relevance", "estimator"}
    assert all(s.expectations and s.description for s in specs)


FILE_DEFAULTS = """
[profile.full]
seeds = 4
params = { n = 300, classes = 3 }
""" + VALID.replace("[scenario.full]\nseeds = [3, 5, 7]\nparams = { n = 400 }\n", "[scenario.full]\nparams = { n = 400 }\n")


def test_a_file_sets_full_profile_defaults_once_and_a_scenario_overrides_them(tmp_path):
    (full,) = load_specs(write(tmp_path, FILE_DEFAULTS), profile="full")
    assert full.seeds == (0, 1, 2, 3) and full.params["classes"] == 3  # from [profile.full]
    assert full.params["n"] == 400  # the scenario's own [scenario.full] wins
    (quick,) = load_specs(write(tmp_path, FILE_DEFAULTS))
    assert quick.seeds == (0, 1) and quick.params["classes"] == 4 and quick.params["n"] == 200  # quick: untouched


@pytest.mark.parametrize("old, new, fragments", [
    ("classes = 3", "colour = 3", ["'profile.full.params.colour'", "unknown key"]),
    ("seeds = 4\n", "seeds = 4\nsweep = 1\n", ["'profile.full.sweep'", "unknown key"]),
    ("[profile.full]", "[profile.huge]", ["'profile.huge'", "unknown key"]),
])
def test_bad_file_defaults_name_the_key(tmp_path, old, new, fragments):
    with pytest.raises(SpecError) as info:
        load_specs(write(tmp_path, FILE_DEFAULTS.replace(old, new)), profile="full")
    assert all(fragment in str(info.value) for fragment in fragments), str(info.value)


BROKEN = VALID.replace('"noise"', '"broken"').replace("seeds = 2", 'seeds = "two"')


def test_only_selected_entries_are_validated_and_problems_say_which_spec(tmp_path):
    write(tmp_path, VALID, "a.toml")
    write(tmp_path, BROKEN, "b.toml")
    assert [s.name for s in load_specs(tmp_path, names=["noise"])] == ["noise"]  # the broken one is not read
    assert load_specs(tmp_path, families=["symmetry"]) == []
    problems = []
    assert [s.name for s in load_specs(tmp_path, errors=problems)] == ["noise"]  # the rest still loads
    [problem] = problems
    assert (problem.scenario, problem.family, problem.path.name) == ("broken", "relevance", "b.toml")
    with pytest.raises(SpecError, match="broken"):
        load_specs(tmp_path)


def test_the_index_lists_entries_without_validating_them(tmp_path):
    write(tmp_path, VALID, "a.toml")
    write(tmp_path, BROKEN, "b.toml")
    write(tmp_path, "[[scenario]\nbroken toml", "c.toml")
    index = scenarios.spec_index(tmp_path)
    assert [(e.path.name, e.name, e.family) for e in index] == [
        ("a.toml", "noise", "relevance"), ("b.toml", "broken", "relevance"), ("c.toml", None, None)]
