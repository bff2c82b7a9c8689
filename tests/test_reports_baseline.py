"""Baseline comparison: an unchanged run passes, a drifted value and a changed verdict are caught, a
run restricted to some measures is compared only on what it ran, every family is tracked, another
platform or other dependency versions are a line that does not fail (values compared all the same), and
a run on another network bank compares the networks family's verdicts but not its values."""
import copy
import importlib.metadata
import math
import platform
import sys

import pandas as pd

from reports.baseline import baseline_document, compare, read_baseline, write_baseline
from runner.environment import platform_fingerprint
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


def _with_networks(values=VALUES, verdicts=VERDICTS, bank="bank-1"):
    """A document of scenario "s" (family f) and scenario "net" (family networks, read from ``bank``)."""
    networks = _results(values).assign(family="networks", scenario="net")
    results = pd.concat([_results(values), networks], ignore_index=True)
    table = pd.concat([_verdicts(verdicts), _verdicts(verdicts).assign(scenario="net")], ignore_index=True)
    return baseline_document(results, table, profile="quick", bank=bank)


def test_the_networks_family_is_tracked_like_every_other():
    document = _with_networks()
    assert document["values"]["a"]["net"] == document["values"]["a"]["s"] == {"c1": 0.6, "c2": 0.1}
    assert document["verdicts"]["b"]["net"] == {"invariant": "fail"}
    assert document["families"] == {"net": "networks", "s": "f"} and document["bank"] == "bank-1"
    drifted = {**VALUES, ("a", "c2"): [0.3, 0.3]}
    assert [d.key for d in compare(document, _with_networks(drifted))] == ["a / net / c2", "a / s / c2"]


def test_on_another_bank_networks_verdicts_are_compared_and_their_values_are_not():
    drifted = {**VALUES, ("a", "c2"): [0.3, 0.3]}
    changed = {**VERDICTS, ("b", "invariant"): "pass"}
    differences = compare(_with_networks(), _with_networks(drifted, changed, bank="bank-2"))
    found = [(d.kind, d.key, d.fails) for d in differences]
    assert found == [("bank", "bank", False), ("verdict", "b / net / invariant", True),
                     ("verdict", "b / s / invariant", True), ("value", "a / s / c2", True)]
    assert str(differences[0]) == ("bank: the baseline was recorded on network bank bank-1, this run read bank-2: "
                                   "networks verdicts compared, values not")
    # a run without a networks scenario does not care which bank the baseline was recorded on
    assert compare(_with_networks(), _document()) == []


def test_the_document_records_this_platform_and_the_dependency_versions():
    document = _document()
    fingerprint = document["platform"]
    assert set(fingerprint) == {"torch", "torch_cpu", "numpy_simd", "machine", "blas", "blas_core", "python"}
    assert fingerprint == platform_fingerprint()
    assert fingerprint["machine"] == platform.machine() and fingerprint["python"] == "{}.{}".format(*sys.version_info)
    assert fingerprint["blas"] and fingerprint["torch"]
    assert {"numpy", "scipy", "scikit-learn", "torch"} <= set(document["versions"])
    assert document["versions"]["numpy"] == importlib.metadata.version("numpy")


OTHER_PLATFORM = {"torch": "2.0.0", "machine": "arm64", "blas": "accelerate 14", "blas_core": "m2", "python": "3.12"}


def test_another_platform_or_other_versions_are_said_and_values_are_compared_all_the_same():
    baseline = baseline_document(_results(VALUES), _verdicts(VERDICTS), "quick", fingerprint=OTHER_PLATFORM,
                                 versions={"numpy": "1.0"})
    drifted = {**VALUES, ("a", "c2"): [0.3, 0.3]}
    changed = {**VERDICTS, ("b", "invariant"): "pass"}
    differences = compare(baseline, _document(drifted, changed))
    assert [(d.kind, d.fails) for d in differences] == [("versions", False), ("platform", False), ("verdict", True),
                                                        ("value", True)]
    platform_line = str(differences[1])
    assert "arm64" in platform_line and platform.machine() in platform_line and "values compared" in platform_line
    assert "numpy 1.0" in str(differences[0]) and f"numpy {importlib.metadata.version('numpy')}" in str(differences[0])


def test_a_baseline_without_a_fingerprint_is_said_to_come_from_an_unrecorded_platform():
    baseline = _document()
    del baseline["platform"]
    differences = compare(baseline, _document())
    assert [(d.kind, d.fails) for d in differences] == [("platform", False)]
    assert "an unrecorded platform" in str(differences[0])


BROKEN_BASELINES = {
    "empty": (b"", "is not valid JSON"),
    "truncated": (b'{"format": 2, "profile": "quick", "verdicts": {', "is not valid JSON"),
    "list": (b"[1, 2]", "this file holds a list"),
    "not UTF-8": ("{}".encode("utf-16"), "is not UTF-8"),
    "no verdicts": (b'{"format": 2, "profile": "quick", "values": {}}', "no 'verdicts' section"),
    "a malformed section": (b'{"format": 2, "profile": "quick", "verdicts": {"m": []}, "values": {}}',
                            "section 'verdicts' is malformed"),
}


def test_a_file_that_is_no_baseline_is_one_line_naming_it(tmp_path):
    """Before: a raw JSONDecodeError, UnicodeDecodeError or AttributeError at the end of the run."""
    from reports.baseline import BaselineError

    for name, (content, problem) in BROKEN_BASELINES.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(content)
        try:
            read_baseline(path)
        except BaselineError as err:
            assert str(path) in str(err) and problem in str(err) and "\n" not in str(err), name
        else:
            raise AssertionError(f"{name}: read as a baseline")


def test_the_committed_baseline_has_a_baselines_shape():
    """The shape check refuses no baseline the suite writes (the recorded one, with every section)."""
    from pathlib import Path

    committed = read_baseline(Path(__file__).resolve().parents[1] / "reports" / "baseline.json")
    assert {"verdicts", "values", "speed"} <= set(committed)
