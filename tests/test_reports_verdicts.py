"""Each expectation kind judged on constructed values with a known answer: pass, fail and undecided
(noise that cannot support a verdict, too few seeds), errors, the orientation of distances, premises
judged on the functional references, the derived kind follows_reference, and unbounded measures."""
import math

import numpy as np
import pytest

from reports.results import results_table
from reports.scales import MeasureScale
from reports.verdicts import (
    MARKS,
    VerdictSettings,
    evaluate,
    evaluate_expectation,
    expectation_labels,
    on_edge,
)
from reports.scenario_values import scenario_values
from scenarios.types import Expectation

UNIT = MeasureScale(0.0, 1.0)
SETTINGS = VerdictSettings(n_resamples=500, n_permutations=500)


def _rows(values, params=None, stitch=None, errors=(), metric="m", scenario="s", family="f", references=None):
    """Results rows from ``{case: [value per seed]}``; ``errors`` holds (case, seed) pairs that failed;
    ``stitch`` (default 1 everywhere) and ``references`` (name -> {case: [per seed]}) the references."""
    rows = []
    for case, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            failed = (case, seed) in errors
            others = {name: by_case[case][seed] for name, by_case in (references or {}).items() if case in by_case}
            rows.append({
                "metric": metric, "family": family, "scenario": scenario, "case": case,
                "param": (params or {}).get(case), "seed": seed,
                "value": math.nan if failed else value,
                "stitch": (stitch or {}).get(case, [1.0] * len(per_seed))[seed],
                "stitch_reverse": math.nan, **others, "time": 0.0,
                "error": "RuntimeError: boom" if failed else "",
            })  # fmt: skip
    return rows


def judge(expectation, values, scale=UNIT, **kwargs):
    return evaluate_expectation(expectation, scenario_values(results_table(_rows(values, **kwargs))), scale, SETTINGS)


SEEDS = 5


def test_invariant_passes_when_equal_fails_when_moved_undecided_when_noise_straddles_the_tolerance():
    same = {"a": [0.5] * SEEDS, "b": [0.5 + 1e-12] * SEEDS}
    moved = {"a": [0.5] * SEEDS, "b": [0.8] * SEEDS}
    straddling = {"a": [0.5] * SEEDS, "b": [0.5, 0.6, 0.5, 0.6, 0.55]}
    expectation = Expectation("invariant", tolerance=0.05)
    assert judge(expectation, same)["verdict"] == "pass"
    assert judge(expectation, moved)["verdict"] == "fail"
    verdict = judge(expectation, moved)
    assert verdict["estimate"] == pytest.approx(0.3)
    assert judge(expectation, straddling)["verdict"] == "undecided"


def test_invariant_tolerance_is_relative_to_the_bound_width():
    moved = {"a": [0.0] * SEEDS, "b": [0.15] * SEEDS}
    expectation = Expectation("invariant", tolerance=0.1)
    assert judge(expectation, moved, scale=MeasureScale(0.0, 1.0))["verdict"] == "fail"
    assert judge(expectation, moved, scale=MeasureScale(-1.0, 1.0))["verdict"] == "pass"


def test_sensitive_is_the_mirror_of_invariant():
    expectation = Expectation("sensitive", tolerance=0.05)
    stitch = {"a": [1.0] * SEEDS, "b": [0.6] * SEEDS}  # function differs: the premise holds
    assert judge(expectation, {"a": [0.5] * SEEDS, "b": [0.8] * SEEDS}, stitch=stitch)["verdict"] == "pass"
    assert judge(expectation, {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS}, stitch=stitch)["verdict"] == "fail"
    straddling = {"a": [0.5] * SEEDS, "b": [0.5, 0.6, 0.5, 0.6, 0.55]}
    assert judge(expectation, straddling, stitch=stitch)["verdict"] == "undecided"


def test_too_few_seeds_is_undecided_however_clear_the_numbers():
    verdict = judge(Expectation("invariant", tolerance=0.05), {"a": [0.5, 0.5], "b": [0.9, 0.9]})
    assert verdict["verdict"] == "undecided"
    assert "too few" in verdict["detail"]
    assert verdict["estimate"] == pytest.approx(0.4)


def test_equals_checks_every_case_against_the_target_in_absolute_units():
    expectation = Expectation("equals", target=0.0, tolerance=0.02)
    assert judge(expectation, {"a": [0.001, -0.002, 0.0, 0.003, -0.001]})["verdict"] == "pass"
    off = judge(expectation, {"a": [0.0] * SEEDS, "b": [0.2, 0.21, 0.19, 0.2, 0.2]})
    assert off["verdict"] == "fail"
    assert off["estimate"] == pytest.approx(0.2)
    assert "b" in off["detail"]
    assert judge(expectation, {"a": [0.0, 0.04, -0.01, 0.05, 0.0]})["verdict"] == "undecided"


ORDERED = {"hi": [1.0] * SEEDS, "lo": [0.5] * SEEDS}  # stitching orders hi above lo


def test_ordering_pass_fail_undecided_and_ties_fail():
    expectation = Expectation("ordering", higher="hi", lower="lo", tolerance=1e-6)
    assert judge(expectation, {"hi": [0.9] * SEEDS, "lo": [0.5] * SEEDS}, stitch=ORDERED)["verdict"] == "pass"
    assert judge(expectation, {"hi": [0.5] * SEEDS, "lo": [0.9] * SEEDS}, stitch=ORDERED)["verdict"] == "fail"
    # a symmetric measure cannot tell the directions apart: equal values are not an ordering
    tie = {"hi": [0.7] * SEEDS, "lo": [0.7 - 1e-16] * SEEDS}
    assert judge(expectation, tie, stitch=ORDERED)["verdict"] == "fail"
    noisy = {"hi": [0.7, 0.5, 0.65, 0.55, 0.6], "lo": [0.5, 0.6, 0.5, 0.6, 0.55]}
    assert judge(expectation, noisy, stitch=ORDERED)["verdict"] == "undecided"


def test_monotone_pass_fail_undecided():
    params = {"p0": 0.0, "p1": 1.0, "p2": 2.0, "p3": 3.0, "p4": 4.0}
    rising = {case: [0.1 * p + 0.01 * s for s in range(SEEDS)] for case, p in params.items()}
    flat = {case: [0.5] * SEEDS for case in params}
    decreasing = {case: [1 - 0.1 * p] * SEEDS for case, p in params.items()}
    # seeds disagree: rising in some, falling in others
    mixed = {case: [0.1 * p, -0.1 * p, 0.1 * p, -0.1 * p, 0.05 * p] for case, p in params.items()}
    up = Expectation("monotone", direction=1)
    down = Expectation("monotone", direction=-1)
    gaining = {case: [0.5 + 0.1 * p] * SEEDS for case, p in params.items()}  # stitching rises with p
    losing = {case: [1 - 0.1 * p] * SEEDS for case, p in params.items()}
    assert judge(up, rising, params=params, stitch=gaining)["verdict"] == "pass"
    assert judge(down, decreasing, params=params, stitch=losing)["verdict"] == "pass"
    assert judge(up, decreasing, params=params, stitch=gaining)["verdict"] == "fail"
    assert judge(up, flat, params=params, stitch=gaining)["verdict"] == "fail"
    assert judge(up, mixed, params=params, stitch=gaining)["verdict"] == "undecided"
    assert judge(up, rising, params=params, stitch=gaining)["p_value"] < 0.01


def test_monotone_ignores_rounding_noise_below_the_tolerance():
    params = {f"p{i}": float(i) for i in range(5)}
    rng = np.random.default_rng(0)
    jitter = {case: list(0.5 + 1e-13 * rng.normal(size=SEEDS)) for case in params}
    gaining = {case: [0.5 + 0.1 * p] * SEEDS for case, p in params.items()}
    verdict = judge(Expectation("monotone", direction=1), jitter, params=params, stitch=gaining)
    assert verdict["verdict"] == "fail"
    assert verdict["estimate"] == 0.0


def test_tracks_stitching_pass_fail_and_undecided():
    stitch = {f"c{i}": [0.2 * i + 0.01 * s for s in range(SEEDS)] for i in range(5)}
    following = {case: [v + 0.001 for v in per_seed] for case, per_seed in stitch.items()}
    opposing = {case: [1 - v for v in per_seed] for case, per_seed in stitch.items()}
    expectation = Expectation("tracks_stitching")
    assert judge(expectation, following, stitch=stitch)["verdict"] == "pass"
    assert judge(expectation, opposing, stitch=stitch)["verdict"] == "fail"
    constant_stitch = {case: [1.0] * SEEDS for case in stitch}
    flat = judge(expectation, following, stitch=constant_stitch)  # nothing to track: the premise fails
    assert (flat["verdict"], flat["premise"]) == ("premise failed", "fail")
    assert "does not vary" in flat["detail"]
    # half the seeds follow stitching, half oppose it
    mixed = {case: [f if s % 2 == 0 else o for s, (f, o) in enumerate(zip(following[case], opposing[case]))]
             for case in stitch}  # fmt: skip
    assert judge(expectation, mixed, stitch=stitch)["verdict"] == "undecided"


def test_two_cases_are_decided_only_when_the_seeds_allow_it():
    stitch = {"works": [1.0] * 3, "fails": [0.3] * 3}
    values = {"works": [0.9] * 3, "fails": [0.4] * 3}
    # 3 seeds x 2 cases: 8 permutations, the smallest p-value is 1/8, not below alpha
    assert judge(Expectation("tracks_stitching"), values, stitch=stitch)["verdict"] == "undecided"
    symmetric = {"works": [0.7] * 3, "fails": [0.7] * 3}
    assert judge(Expectation("tracks_stitching"), symmetric, stitch=stitch)["verdict"] == "fail"


def test_distances_are_oriented_so_that_higher_means_more_similar():
    distance = MeasureScale(0.0, 2.0, higher_is_more_similar=False)
    stitch = {f"c{i}": [0.2 * i] * SEEDS for i in range(5)}
    shrinking = {case: [2 - 2 * v for v in per_seed] for case, per_seed in stitch.items()}
    assert judge(Expectation("tracks_stitching"), shrinking, scale=distance, stitch=stitch)["verdict"] == "pass"
    ordering = Expectation("ordering", higher="near", lower="far")
    stitch = {"near": [1.0] * SEEDS, "far": [0.5] * SEEDS}
    assert judge(ordering, {"near": [0.1] * SEEDS, "far": [1.5] * SEEDS}, scale=distance, stitch=stitch)[
        "verdict"] == "pass"


def test_failed_cells_are_left_out_and_a_verdict_without_data_is_an_error():
    values = {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS, "c": [0.9] * SEEDS}
    partial = judge(Expectation("invariant", tolerance=0.01), values, errors={("c", 2)})
    assert partial["verdict"] == "pass"
    assert partial["n_failed_cases"] == 1 and "left out" in partial["detail"]
    everything = {(case, s) for case in values for s in range(SEEDS)}
    assert judge(Expectation("invariant"), values, errors=everything)["verdict"] == "error"
    ordering = judge(Expectation("ordering", higher="c", lower="a"), values, errors={("c", 0)})
    assert ordering["verdict"] == "error" and "boom" in ordering["detail"]


def test_evaluate_judges_every_expectation_for_every_measure():
    rows = _rows({"a": [0.5] * SEEDS, "b": [0.5] * SEEDS}, metric="steady")
    rows += _rows({"a": [0.5] * SEEDS, "b": [0.9] * SEEDS}, metric="moving")
    expectations = {"s": (Expectation("invariant", tolerance=0.01), Expectation("sensitive", tolerance=0.01))}
    verdicts = evaluate(results_table(rows), expectations, {"steady": UNIT, "moving": UNIT}, SETTINGS)
    got = {(r.metric, r.expectation): r.verdict for r in verdicts.itertuples()}
    # stitching is 1 in both cases: invariance is backed by function, sensitivity is not
    assert got == {
        ("moving", "invariant"): "fail",
        ("moving", "sensitive"): "premise failed",
        ("steady", "invariant"): "pass",
        ("steady", "sensitive"): "premise failed",
    }
    assert set(verdicts["premise"]) == {"pass", "fail"} and set(verdicts["reference"]) == {"stitch"}


def test_expectation_labels_are_readable_and_unique():
    labels = expectation_labels([
        Expectation("invariant"), Expectation("invariant"), Expectation("monotone", direction=-1),
        Expectation("ordering", higher="a", lower="b"), Expectation("equals", target=0.0),
    ])  # fmt: skip
    assert labels == ["invariant", "invariant#2", "monotone(-)", "ordering(a > b)", "equals(0)"]


# --- premises: every expectation judged first on its functional reference -------------------------------


def test_a_failed_premise_sets_the_verdict_aside_and_keeps_the_measure_numbers():
    moved_stitch = {"a": [1.0] * SEEDS, "b": [0.6] * SEEDS}
    verdict = judge(Expectation("invariant", tolerance=0.05), {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS},
                    stitch=moved_stitch)
    assert (verdict["verdict"], verdict["premise"], verdict["reference"]) == ("premise failed", "fail", "stitch")
    assert verdict["premise_estimate"] == pytest.approx(0.4)
    assert verdict["estimate"] == 0.0 and verdict["ci_high"] == 0.0  # the measure's own statistic is kept
    assert "the measure alone: pass" in verdict["detail"]
    assert MARKS["premise failed"] == "⊘"


def test_a_constant_reference_passes_an_invariance_premise():
    verdict = judge(Expectation("invariant", tolerance=0.0), {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS})
    assert (verdict["premise"], verdict["premise_estimate"], verdict["verdict"]) == ("pass", 0.0, "pass")


def test_a_noisy_reference_leaves_the_premise_undecided():
    noisy = {"a": [1.0] * SEEDS, "b": [1.0, 0.9, 1.0, 0.9, 0.95]}
    verdict = judge(Expectation("invariant", tolerance=0.05), {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS},
                    stitch=noisy)
    assert (verdict["premise"], verdict["verdict"]) == ("undecided", "premise failed")


def test_an_error_stays_an_error_whatever_the_premise():
    values = {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS}
    everything = {(case, s) for case in values for s in range(SEEDS)}
    rows = _rows(values, stitch={"a": [1.0] * SEEDS, "b": [0.2] * SEEDS}, errors=everything)
    (verdict,) = evaluate(results_table(rows), {"s": (Expectation("invariant"),)}, {"m": UNIT}, SETTINGS).itertuples()
    assert (verdict.verdict, verdict.premise) == ("error", "fail")


def test_ordering_premise_needs_the_reference_in_the_same_order():
    expectation = Expectation("ordering", higher="hi", lower="lo")
    values = {"hi": [0.9] * SEEDS, "lo": [0.5] * SEEDS}
    reversed_stitch = {"hi": [0.5] * SEEDS, "lo": [1.0] * SEEDS}
    verdict = judge(expectation, values, stitch=reversed_stitch)
    assert (verdict["premise"], verdict["premise_estimate"], verdict["verdict"]) == ("fail", -0.5, "premise failed")


def test_monotone_premise_needs_the_reference_to_move_that_way():
    params = {f"p{i}": float(i) for i in range(5)}
    rising = {case: [0.1 * p] * SEEDS for case, p in params.items()}
    verdict = judge(Expectation("monotone", direction=1), rising, params=params)  # stitching flat at 1
    assert (verdict["premise"], verdict["verdict"]) == ("fail", "premise failed")
    falling_stitch = {case: [1 - 0.1 * p] * SEEDS for case, p in params.items()}
    verdict = judge(Expectation("monotone", direction=1), rising, params=params, stitch=falling_stitch)
    assert verdict["premise"] == "fail" and verdict["premise_estimate"] == pytest.approx(-1.0)


def test_equals_has_no_premise_its_target_holds_by_construction():
    expectation = Expectation("equals", target=0.0, tolerance=0.05)
    zero = {"a": [0.0] * SEEDS, "b": [0.01] * SEEDS}
    chance = {"a": [0.25, 0.3, 0.2, 0.28, 0.22], "b": [0.4, 0.2, 0.3, 0.25, 0.35]}  # stitching at chance, noisy
    verdict = judge(expectation, zero, stitch=chance)
    assert (verdict["premise"], verdict["verdict"]) == ("", "pass") and math.isnan(verdict["premise_estimate"])
    assert judge(expectation, {"a": [0.0] * SEEDS, "b": [0.3] * SEEDS}, stitch=chance)["verdict"] == "fail"


def test_the_expectation_names_its_reference_and_accuracy_difference_reads_as_a_distance():
    values = {"hi": [0.9] * SEEDS, "lo": [0.5] * SEEDS}
    direct = {"stitch_direct": {"hi": [0.4] * SEEDS, "lo": [0.9] * SEEDS}}  # direct matching disagrees
    trained = judge(Expectation("ordering", higher="hi", lower="lo"), values, stitch=ORDERED, references=direct)
    named = judge(Expectation("ordering", higher="hi", lower="lo", reference="stitch_direct"), values,
                  stitch=ORDERED, references=direct)
    assert (trained["premise"], named["premise"], named["reference"]) == ("pass", "fail", "stitch_direct")
    # a smaller accuracy difference is the more similar function
    gap = {"accuracy_difference": {"hi": [0.01] * SEEDS, "lo": [0.2] * SEEDS}}
    verdict = judge(Expectation("ordering", higher="hi", lower="lo", reference="accuracy_difference"), values,
                    references=gap)
    assert verdict["premise"] == "pass" and verdict["premise_estimate"] == pytest.approx(0.19)
    assert verdict["verdict"] == "pass"


def test_a_reference_recorded_in_no_case_leaves_the_premise_undecided():
    verdict = judge(Expectation("invariant", reference="agreement"), {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS})
    assert (verdict["premise"], verdict["verdict"]) == ("undecided", "premise failed")
    assert "agreement not recorded" in verdict["detail"]


def test_evaluate_judges_each_premise_once_on_every_case_of_the_scenario():
    stitch = {"a": [1.0] * SEEDS, "b": [0.99] * SEEDS, "c": [0.5] * SEEDS}
    values = {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS, "c": [0.5] * SEEDS}
    rows = _rows(values, stitch=stitch, metric="whole") + _rows(values, stitch=stitch, metric="partial",
                                                                 errors={("c", s) for s in range(SEEDS)})
    verdicts = evaluate(results_table(rows), {"s": (Expectation("invariant", tolerance=0.05),)},
                        {"whole": UNIT, "partial": UNIT}, SETTINGS).set_index("metric")
    # case c (where stitching drops) counts for the premise although "partial" failed on it
    assert verdicts.loc["partial", "premise"] == verdicts.loc["whole", "premise"] == "fail"
    assert verdicts.loc["partial", "premise_estimate"] == pytest.approx(0.5)
    assert (verdicts["verdict"] == "premise failed").all()


# --- follows_reference: derived in the run -------------------------------------------------------------


FOLLOWS = Expectation("follows_reference", tolerance=0.02)


def test_follows_reference_becomes_invariant_on_a_flat_reference():
    verdict = judge(FOLLOWS, {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS, "c": [0.505] * SEEDS})
    assert (verdict["became"], verdict["premise"], verdict["verdict"]) == ("invariant", "pass", "pass")
    assert verdict["statistic"] == "spread"
    moving = judge(FOLLOWS, {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS, "c": [0.9] * SEEDS})
    assert (moving["became"], moving["verdict"]) == ("invariant", "fail")


def test_follows_reference_becomes_an_ordering_of_two_ordered_cases():
    stitch = {"first": [0.6] * SEEDS, "second": [0.95] * SEEDS}
    agrees = judge(FOLLOWS, {"first": [0.3] * SEEDS, "second": [0.8] * SEEDS}, stitch=stitch)
    assert (agrees["became"], agrees["verdict"]) == ("ordering(second > first)", "pass")
    assert agrees["estimate"] == pytest.approx(0.5) and agrees["premise_estimate"] == pytest.approx(0.35)
    opposes = judge(FOLLOWS, {"first": [0.8] * SEEDS, "second": [0.3] * SEEDS}, stitch=stitch)
    assert (opposes["became"], opposes["verdict"]) == ("ordering(second > first)", "fail")


def test_follows_reference_tracks_a_varying_reference():
    stitch = {f"c{i}": [0.2 * i + 0.01 * s for s in range(SEEDS)] for i in range(5)}
    following = {case: [v ** 2 for v in per_seed] for case, per_seed in stitch.items()}
    opposing = {case: [1 - v for v in per_seed] for case, per_seed in stitch.items()}
    tracks = judge(FOLLOWS, following, stitch=stitch)
    assert (tracks["became"], tracks["verdict"], tracks["statistic"]) == ("tracks_stitching", "pass", "spearman with reference")
    assert tracks["estimate"] == pytest.approx(1.0) and tracks["p_value"] < 0.05
    assert judge(FOLLOWS, opposing, stitch=stitch)["verdict"] == "fail"


def test_follows_reference_on_an_undecided_reference_is_set_aside():
    noisy = {"a": [1.0] * SEEDS, "b": [1.0, 0.97, 1.0, 0.97, 0.985]}
    verdict = judge(FOLLOWS, {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS}, stitch=noisy)
    assert (verdict["premise"], verdict["became"], verdict["verdict"]) == ("undecided", "", "premise failed")
    assert math.isnan(verdict["estimate"])


def test_follows_reference_reads_the_named_reference():
    stitch = {"a": [1.0] * SEEDS, "b": [1.0] * SEEDS}
    direct = {"stitch_direct": {"a": [0.9] * SEEDS, "b": [0.4] * SEEDS}}
    follows_direct = Expectation("follows_reference", tolerance=0.02, reference="stitch_direct")
    verdict = judge(follows_direct, {"a": [0.7] * SEEDS, "b": [0.2] * SEEDS}, stitch=stitch, references=direct)
    assert (verdict["became"], verdict["verdict"]) == ("ordering(a > b)", "pass")
    assert judge(FOLLOWS, {"a": [0.7] * SEEDS, "b": [0.2] * SEEDS}, stitch=stitch)["became"] == "invariant"
    assert expectation_labels([FOLLOWS, follows_direct]) == ["follows_reference", "follows_reference [stitch_direct]"]


# --- unbounded measures: the scale-free rule -----------------------------------------------------------


UNBOUNDED = MeasureScale(0.0, math.inf, higher_is_more_similar=False)


def test_an_unbounded_measure_is_judged_relative_to_its_extent_whatever_its_scale():
    stitch = {"a": [1.0] * SEEDS, "b": [0.5] * SEEDS}
    for factor in (1e-3, 1.0, 1e4):
        values = {"a": [0.2 * factor] * SEEDS, "b": [1.0 * factor] * SEEDS}
        spread = judge(Expectation("invariant", tolerance=0.1), values, scale=UNBOUNDED)
        assert (spread["verdict"], spread["estimate"]) == ("fail", pytest.approx(0.8))
        ordered = judge(Expectation("ordering", higher="a", lower="b"), values, scale=UNBOUNDED, stitch=stitch)
        assert (ordered["verdict"], ordered["estimate"]) == ("pass", pytest.approx(0.8))


def test_an_unbounded_measure_within_rounding_of_its_bound_is_invariant():
    values = {"identity": [0.0] * SEEDS, "rotated": [3e-15, 1e-15, 2e-15, 4e-15, 2e-15]}
    data = scenario_values(results_table(_rows(values)))
    alone = evaluate_expectation(Expectation("invariant", tolerance=1e-6), data, UNBOUNDED, SETTINGS)
    assert alone["verdict"] == "fail"  # on its own, 1e-15 is all the scenario shows: a 100 % change
    run = np.array([0.0, 2e-15, 4.0, 7.5])  # elsewhere in the run the measure reaches 7.5
    within = evaluate_expectation(Expectation("invariant", tolerance=1e-6), data, UNBOUNDED, SETTINGS, context=run)
    assert within["verdict"] == "pass" and within["estimate"] < 1e-6
    exact = scenario_values(results_table(_rows({"a": [0.0] * SEEDS, "b": [0.0] * SEEDS})))
    verdict = evaluate_expectation(Expectation("invariant", tolerance=0.0), exact, UNBOUNDED, SETTINGS)
    assert verdict["verdict"] == "pass"


def test_rounding_of_a_measure_that_reaches_far_elsewhere_never_decides_an_invariance():
    # GULP under a translation: 2e-14 .. 2.6e-13 of float64 rounding, where the measure reaches 16 in the
    # run; with a floor of sqrt(eps) this read as a spread of 1e-6, the tolerance itself, and the verdict
    # flipped between CPU kernels
    rounding = {"identity": [2e-14, 1.8e-14, 2.1e-14, 1.9e-14, 2e-14],
                "distance=100": [2.6e-13, 2.2e-13, 2.4e-13, 1.7e-13, 2.5e-13]}
    run = np.array([0.0, 2.6e-13, 3.0, 16.0])
    data = scenario_values(results_table(_rows(rounding)))
    verdict = evaluate_expectation(Expectation("invariant", tolerance=1e-6), data, UNBOUNDED, SETTINGS, context=run)
    assert verdict["verdict"] == "pass" and verdict["ci_high"] < 1e-7
    # a real change of a few millionths of that extent keeps the scenario's own extent as its unit
    real = scenario_values(results_table(_rows({"a": [0.0] * SEEDS, "b": [5e-5] * SEEDS})))
    changed = evaluate_expectation(Expectation("invariant", tolerance=0.05), real, UNBOUNDED, SETTINGS, context=run)
    assert changed["verdict"] == "fail" and changed["estimate"] == pytest.approx(1.0)


def test_a_measure_is_judged_on_the_cases_its_reference_covers():
    values = {"model_a": [0.9] * SEEDS, "model_b": [0.9] * SEEDS, "layer": [0.2] * SEEDS}
    agreement = {"agreement": {"model_a": [0.97] * SEEDS, "model_b": [0.97] * SEEDS}}  # whole models only
    verdict = judge(Expectation("invariant", tolerance=0.01, reference="agreement"), values, references=agreement)
    assert (verdict["premise"], verdict["verdict"], verdict["n_cases"]) == ("pass", "pass", 2)
    assert "1 case(s) without agreement left out" in verdict["detail"]
    # judged against the trained stitch, which every case records, the layer case counts
    assert judge(Expectation("invariant", tolerance=0.01), values, references=agreement)["verdict"] == "fail"


def test_a_premise_decided_within_half_its_interval_of_the_threshold_is_on_its_edge():
    """The stitch varies across the cases by 0.10 or so against a tolerance of 0.02 (far: decided, not
    on its edge), or by about 0.03 with a spread over seeds that brings the interval's low end within
    half its width of 0.02 (decided, on its edge); the measure's verdict is judged as usual either way."""
    values = {"a": [0.7] * SEEDS, "b": [0.6] * SEEDS, "c": [0.5] * SEEDS}
    far = {"a": [1.0] * SEEDS, "b": [0.95] * SEEDS, "c": [0.9] * SEEDS}
    near = {"a": [1.0] * SEEDS, "b": [0.985] * SEEDS, "c": [0.975, 0.96, 0.98, 0.965, 0.97]}
    expectation = Expectation("follows_reference", tolerance=0.02)
    clear = judge(expectation, values, stitch=far)
    assert (clear["premise"], clear["became"], clear["premise_edge"]) == ("pass", "tracks_stitching", False)
    edge = judge(expectation, values, stitch=near)
    assert (edge["premise"], edge["became"], edge["premise_edge"]) == ("pass", "tracks_stitching", True)
    margin, half = edge["premise_ci_low"] - 0.02, (edge["premise_ci_high"] - edge["premise_ci_low"]) / 2
    assert 0 < margin < half
    assert "on its edge" in edge["detail"] and edge["verdict"] == clear["verdict"] == "pass"


def test_on_edge_is_a_margin_below_half_the_interval_or_the_slack():
    assert on_edge(0.10, 0.20, 0.05) == (False, pytest.approx(0.05))  # margin 0.05 = half the width: not below
    assert on_edge(0.10, 0.20, 0.07)[0] and on_edge(0.10, 0.20, 0.23)[0]
    assert on_edge(0.10, 0.11, 0.12, slack=0.015)[0] and not on_edge(0.10, 0.11, 0.12)[0]
    assert on_edge(np.nan, 0.2, 0.1) == (False, pytest.approx(np.nan, nan_ok=True))


def test_a_flat_reference_within_half_its_tolerance_of_the_threshold_is_on_its_edge():
    """A retrain moved the spread of a flat stitch from 0.009 to 0.021 against a tolerance of 0.02 while its
    interval over seeds was narrow (+-0.0015): half the tolerance, not the interval, says it was close."""
    values = {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS}
    expectation = Expectation("follows_reference", tolerance=0.02)
    close = judge(expectation, values, stitch={"a": [1.0] * SEEDS, "b": [0.989, 0.988, 0.989, 0.990, 0.989]})
    assert (close["premise"], close["became"], close["premise_edge"]) == ("pass", "invariant", True)
    assert close["premise_ci_high"] - close["premise_ci_low"] < 0.003  # narrow: only the slack finds it
    far = judge(expectation, values, stitch={"a": [1.0] * SEEDS, "b": [0.999, 0.998, 0.999, 0.998, 0.999]})
    assert (far["premise"], far["premise_edge"]) == ("pass", False)
