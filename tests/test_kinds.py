"""One registry of expectation kinds (scenarios.kinds): every kind is complete, and the spec validator,
the verdicts, the labels and the ranking all read it."""
import dataclasses

import pytest

import scenarios
from reports.verdicts import RULES
from scenarios.kinds import DERIVED, KINDS, Kind, label
from scenarios.types import Expectation

SAMPLES = {"target": 0.0, "higher": "a", "lower": "b", "direction": 1, "tolerance": 0.02, "reason": "r",
           "reference": "stitch"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_is_complete(name):
    kind = KINDS[name]
    assert kind.name == name and kind.summary
    assert set(kind.requires) <= set(kind.accepts) <= {f.name for f in dataclasses.fields(Expectation)}
    if kind.premise == DERIVED:
        assert not kind.statistic and name not in RULES  # it becomes another kind in the run
    else:
        assert kind.statistic and name in RULES, "a kind with a statistic has its rule in reports.verdicts"
        assert kind.premise == "" or kind.premise in RULES, "its premise is judged by a rule"
    expectation = Expectation(name, **{key: SAMPLES[key] for key in kind.accepts})
    assert label(expectation).startswith(name.split("_")[0])


def test_the_spec_validator_reads_the_registry(tmp_path):
    """Each kind is accepted with exactly its keys; another key, or a missing required one, is an error."""
    for name, kind in KINDS.items():
        if name == "monotone":
            continue  # needs a sweep; checked in tests/test_scenarios_specs.py
        keys = "\n".join(f"{key} = {SAMPLES[key]!r}".replace("'", '"') for key in kind.accepts)
        spec = tmp_path / f"{name}.toml"
        spec.write_text(f"""
[[scenario]]
name = "k"
family = "symmetry"
generator = "symmetry.orthogonal"
description = "d"
seeds = 3
[[scenario.expect]]
kind = "{name}"
{keys}
""")
        if name == "ordering":
            spec.write_text(spec.read_text().replace('"a"', '"identity"').replace('"b"', '"orthogonal"'))
        assert scenarios.load_specs(spec)[0].expectations[0].kind == name
        foreign = next(key for key in SAMPLES if key not in kind.accepts)
        spec.write_text(spec.read_text() + f"{foreign} = {SAMPLES[foreign]!r}\n".replace("'", '"'))
        with pytest.raises(scenarios.SpecError, match=f"does not apply to kind '{name}'"):
            scenarios.load_specs(spec)


def test_a_kind_declares_only_expectation_fields_and_a_ranking_direction():
    with pytest.raises(ValueError, match="must be an Expectation field"):
        Kind("bad", "s", ("reason", "no_such_field"))
    with pytest.raises(ValueError, match="ranks must be"):
        Kind("bad", "s", ("reason",), ranks=2)
    tracks = KINDS["tracks_stitching"]
    assert tracks.ranks_for("agreement") == 1 and tracks.ranks_for("stitch") == 0  # a test only on a difference
    assert KINDS["monotone_in_layer_distance"].ranks_for("stitch") == -1  # a violation rate: lower is better
