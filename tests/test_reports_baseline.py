"""Baseline comparison: an unchanged run passes, a drifted value and a changed verdict are caught, and a
run restricted to some measures is compared only on what it ran."""
import copy
import math

import pandas as pd

from reports.baseline import baseline_document, compare, read_baseline, write_baseline
from reports.results import results_table


def _results(values):
    """``{(metric, case): [value per seed]}`` -> results table of one scenario; NaN marks a failure."""
    rows = []
    for (metric, case), per_seed in values.items():
        for seed, value in enumerate(per_seed):
            failed = math.isnan(value)
            rows.append({"metric": metric, "family": "f", "scenario": "s", "case": case, "param": None, "seed": seed,
                         "value": value, "stitch": 1.0, "stitch_reverse": 1.0, "time": 0.01,
                         "error": "MeasureError: failed" if failed else ""})  # fmt: skip
    return results_table(rows)


def _verdicts(verdicts):
    return pd.DataFrame(
        [{"metric": m, "scenario": "s", "expectation": e, "verdict": v} for (m, e), v in verdicts.items()]
    )


VALUES = {("a", "c1"): [0.5, 0.7], ("a", "c2"): [0.1, 0.1], ("b", "c1"): [0.9, 0.9], ("b", "c2"): [0.2, 0.2]}
VERDICTS = {("a", "invariant"): "pass", ("b", "invariant"): "fail"}


def _document(values=VALUES, verdicts=VERDICTS, profile="quick"):
    return baseline_document(_results(values), _verdicts(verdicts), profile=profile)


def test_values_are_means_over_seeds_and_failures_are_null():
    values = {**VALUES, ("b", "c2"): [0.2, math.nan]}
    document = _document(values)
    assert document["values"]["a"]["s"]["c1"] == 0.6
    assert document["values"]["b"]["s"]["c2"] is None
    assert document["verdicts"]["b"]["s"]["invariant"] == "fail"


def test_an_unchanged_run_has_no_difference(tmp_path):
    path = write_baseline(_document(), tmp_path / "baseline.json")
    assert compare(read_baseline(path), _document()) == []


def test_a_value_drift_beyond_the_tolerance_is_caught_and_small_noise_is_not():
    drifted = {**VALUES, ("a", "c2"): [0.1, 0.1 + 2e-3]}
    differences = compare(_document(), _document(drifted), tolerance=1e-4)
    assert [(d.kind, d.key) for d in differences] == [("value", "a / s / c2")]
    assert differences[0].fails and "0.1 -> 0.101" in str(differences[0])
    jitter = {**VALUES, ("a", "c2"): [0.1, 0.1 + 2e-7]}
    assert compare(_document(), _document(jitter), tolerance=1e-4) == []


def test_a_measure_that_starts_failing_is_a_value_change():
    failing = {**VALUES, ("a", "c1"): [0.5, math.nan]}
    differences = compare(_document(), _document(failing))
    assert [(d.kind, d.baseline, d.current) for d in differences] == [("value", 0.6, None)]


def test_a_changed_verdict_is_caught():
    changed = {**VERDICTS, ("b", "invariant"): "undecided"}
    differences = compare(_document(), _document(verdicts=changed))
    found = [(d.kind, d.key, d.baseline, d.current) for d in differences]
    assert found == [("verdict", "b / s / invariant", "fail", "undecided")]


def test_missing_entries_fail_new_entries_are_listed_only():
    baseline = _document()
    current = copy.deepcopy(baseline)
    del current["verdicts"]["a"]["s"]["invariant"]
    current["verdicts"]["a"]["s"]["sensitive"] = "pass"
    kinds = {d.kind: d.fails for d in compare(baseline, current)}
    assert kinds == {"missing": True, "new": False}


def test_a_restricted_run_is_compared_on_what_it_ran():
    only_a = {key: v for key, v in VALUES.items() if key[0] == "a"}
    current = _document(only_a, {("a", "invariant"): "pass"})
    assert compare(_document(), current) == []


def test_a_different_profile_is_a_difference():
    differences = compare(_document(), _document(profile="full"))
    assert [(d.kind, d.key) for d in differences] == [("settings", "profile")]


def test_trained_network_families_stay_out_of_the_baseline():
    networks = _results(VALUES).assign(family="networks", scenario="net")
    results = pd.concat([_results(VALUES), networks], ignore_index=True)
    verdicts = pd.concat([_verdicts(VERDICTS), _verdicts(VERDICTS).assign(scenario="net")], ignore_index=True)
    document = baseline_document(results, verdicts, profile="quick")
    assert document == _document()
