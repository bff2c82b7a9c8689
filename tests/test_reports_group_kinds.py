"""The expectation kinds of ReSi's tests, judged on constructed values with a known answer:
``separates_groups`` (AUPRC of within-group against cross-group pairs, against scikit-learn's average
precision) and ``monotone_in_layer_distance`` (violations over ordered layer triples, counted by hand)."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from reports.results import results_table
from reports.scales import MeasureScale
from reports.stats import average_precision, group_separation_test
from reports.scenario_values import scenario_values
from reports.verdicts import VerdictSettings, evaluate_expectation
from scenarios.types import Expectation

UNIT = MeasureScale(0.0, 1.0)
DISTANCE = MeasureScale(0.0, math.inf, higher_is_more_similar=False)
SETTINGS = VerdictSettings(n_resamples=500, n_permutations=500)
SEEDS = 5
GROUPS = Expectation("separates_groups", tolerance=0.1, reference="agreement")
LAYERS = Expectation("monotone_in_layer_distance", tolerance=0.1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 4)), min_size=2, max_size=30))
def test_average_precision_is_scikit_learns_with_ties(pairs):
    labels = np.array([label for label, _ in pairs])
    scores = np.array([score for _, score in pairs], dtype=float)
    if not labels.any():
        return
    assert average_precision(labels, scores)[0] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_group_test_reads_perfect_constant_and_reversed_scores():
    labels = [np.array([True, True, False, False, False])] * 4
    rng = np.random.default_rng(0)
    scores = [np.array([0.9, 0.8, 0.3, 0.2, 0.1]) + 0.01 * rng.random(5) for _ in range(4)]
    perfect = group_separation_test(labels, scores, n_permutations=500)
    assert perfect.auprc.estimate == 1.0 and perfect.violation_rate == 0.0 and perfect.chance == 0.4
    assert perfect.p_value < 0.05
    constant = group_separation_test(labels, [np.ones(5)] * 4, n_permutations=500)
    assert constant.auprc.estimate == pytest.approx(0.4) and constant.violation_rate == 0.5
    reversed_ = group_separation_test(labels, [-s for s in scores], n_permutations=500)
    assert reversed_.violation_rate == 1.0
    assert reversed_.violation_rate == pytest.approx(1 - roc_auc_score(labels[0], -scores[0]))
    with pytest.raises(ValueError, match="within-group and a cross-group"):
        group_separation_test([np.array([True, True])], [np.array([1.0, 2.0])])


def _group_rows(within, across, agreement=None, seeds=SEEDS):
    """Three groups: cases a~a, b~b (param 0, values ``within`` per seed) and a~b, a~c, b~c (param 1 or 2,
    values ``across``); the agreement reference is high within, low across (or ``agreement``)."""
    cases = {"a~a": 0, "b~b": 0, "a~b": 1, "a~c": 2, "b~c": 1}
    rows = []
    for case, param in cases.items():
        for seed in range(seeds):
            value = (within if param == 0 else across)(case, seed)
            reference = agreement(case, seed) if agreement else (0.9 if param == 0 else 0.5)
            rows.append({"metric": "m", "family": "f", "scenario": "s", "case": case, "param": param, "seed": seed,
                         "value": value, "stitch": 1.0, "agreement": reference, "time": 0.0, "error": ""})
    return scenario_values(results_table(rows))


def test_separates_groups_passes_when_within_group_pairs_rate_higher_and_fails_when_not():
    rng = np.random.default_rng(1)
    separated = _group_rows(lambda c, s: 0.8 + 0.05 * rng.random(), lambda c, s: 0.3 + 0.05 * rng.random())
    verdict = evaluate_expectation(GROUPS, separated, UNIT, SETTINGS)
    assert verdict["verdict"] == "pass" and verdict["estimate"] == 1.0 and verdict["premise"] == "pass"
    assert verdict["threshold"] == pytest.approx(0.4 + 0.1) and "violation rate 0.000" in verdict["detail"]
    inverted = _group_rows(lambda c, s: 0.3 + 0.05 * rng.random(), lambda c, s: 0.8 + 0.05 * rng.random())
    assert evaluate_expectation(GROUPS, inverted, UNIT, SETTINGS)["verdict"] == "fail"
    constant = _group_rows(lambda c, s: 0.5, lambda c, s: 0.5)
    verdict = evaluate_expectation(GROUPS, constant, UNIT, SETTINGS)
    assert verdict["verdict"] == "fail" and verdict["estimate"] == pytest.approx(0.4)


def test_separates_groups_reads_a_distance_the_right_way_round():
    rng = np.random.default_rng(2)
    data = _group_rows(lambda c, s: 0.1 + 0.01 * rng.random(), lambda c, s: 2.0 + rng.random())
    assert evaluate_expectation(GROUPS, data, DISTANCE, SETTINGS)["verdict"] == "pass"


def test_separates_groups_is_set_aside_when_the_reference_does_not_separate_the_groups():
    rng = np.random.default_rng(3)
    data = _group_rows(lambda c, s: 0.8 + 0.05 * rng.random(), lambda c, s: 0.3 + 0.05 * rng.random(),
                       agreement=lambda c, s: rng.random())
    verdict = evaluate_expectation(GROUPS, data, UNIT, SETTINGS)
    assert verdict["premise"] != "pass" and verdict["verdict"] == "premise failed"
    assert "the measure alone: pass" in verdict["detail"]
    assert verdict["detail"].startswith("premise ") and "(violation rate" in verdict["detail"]  # the reference's
    assert verdict["detail"].count("violation rate 0.000") == 1  # the measure's own, once


def test_separates_groups_without_within_group_cases_is_an_error():
    rows = [{"metric": "m", "family": "f", "scenario": "s", "case": c, "param": 1.0, "seed": s, "value": v,
             "stitch": 1.0, "agreement": 0.5 + 0.1 * s, "time": 0.0, "error": ""}
            for c, v in (("a~b", 0.2), ("a~c", 0.4)) for s in range(SEEDS)]
    verdict = evaluate_expectation(GROUPS, scenario_values(results_table(rows)), UNIT, SETTINGS)
    assert verdict["verdict"] == "error" and "within-group cases (param 0)" in verdict["detail"]


def _layer_rows(similarity, layers=4, stitch=None, seeds=SEEDS):
    """Every layer pair i < j of ``layers`` layers, value ``similarity(i, j, seed)``, meta index_x / index_y."""
    rows = []
    for i in range(layers):
        for j in range(i + 1, layers):
            for seed in range(seeds):
                rows.append({"metric": "m", "family": "f", "scenario": "s", "case": f"l{i}->l{j}", "param": j - i,
                             "seed": seed, "value": similarity(i, j, seed),
                             "stitch": stitch(i, j, seed) if stitch else 1.0 - 0.2 * (j - i), "time": 0.0,
                             "error": "", "meta": json.dumps({"index_x": i, "index_y": j})})
    return scenario_values(results_table(rows))


def test_monotone_in_layer_distance_counts_violations_over_ordered_triples():
    rng = np.random.default_rng(4)
    falling = _layer_rows(lambda i, j, s: 1.0 - 0.2 * (j - i) + 0.01 * rng.random())
    verdict = evaluate_expectation(LAYERS, falling, UNIT, SETTINGS)
    assert verdict["verdict"] == "pass" and verdict["estimate"] == 0.0 and verdict["premise"] == "pass"
    exact = evaluate_expectation(LAYERS, _layer_rows(lambda i, j, s: 1.0 - 0.2 * (j - i)), UNIT, SETTINGS)
    assert "4 triple(s)" in exact["detail"] and "Spearman with -distance 1.000" in exact["detail"]
    rising = _layer_rows(lambda i, j, s: 0.2 * (j - i) + 0.01 * rng.random())
    assert evaluate_expectation(LAYERS, rising, UNIT, SETTINGS)["estimate"] == 1.0
    assert evaluate_expectation(LAYERS, rising, UNIT, SETTINGS)["verdict"] == "fail"
    constant = _layer_rows(lambda i, j, s: 0.5)
    assert evaluate_expectation(LAYERS, constant, UNIT, SETTINGS)["estimate"] == 0.5  # ties count half


def test_monotone_in_layer_distance_on_three_layers_by_hand():
    # one triple (0, 1, 2): sim(0,2) = 0.6 exceeds sim(0,1) = 0.5 but not sim(1,2) = 0.9: 1 of 2 violated
    values = {(0, 1): 0.5, (1, 2): 0.9, (0, 2): 0.6}
    data = _layer_rows(lambda i, j, s: values[i, j], layers=3)
    verdict = evaluate_expectation(LAYERS, data, UNIT, SETTINGS)
    assert verdict["estimate"] == 0.5 and verdict["verdict"] == "fail"


def test_monotone_in_layer_distance_premise_is_the_stitch_falling_with_distance():
    rng = np.random.default_rng(5)
    data = _layer_rows(lambda i, j, s: 1.0 - 0.2 * (j - i), stitch=lambda i, j, s: rng.random())
    verdict = evaluate_expectation(LAYERS, data, UNIT, SETTINGS)
    assert verdict["premise"] != "pass" and verdict["verdict"] == "premise failed"


def test_monotone_in_layer_distance_without_layer_indices_is_an_error():
    rows = [{"metric": "m", "family": "f", "scenario": "s", "case": c, "param": 1.0, "seed": s, "value": 0.5,
             "stitch": 0.9 - 0.1 * k, "time": 0.0, "error": ""} for k, c in enumerate("abc") for s in range(SEEDS)]
    verdict = evaluate_expectation(LAYERS, scenario_values(results_table(rows)), UNIT, SETTINGS)
    assert verdict["verdict"] == "error" and "index_x, index_y" in verdict["detail"]
