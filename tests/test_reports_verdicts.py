"""Each expectation kind judged on constructed values with a known answer: pass, fail and undecided
(noise that cannot support a verdict, too few seeds), errors, and the orientation of distances."""
import math

import numpy as np
import pytest

from reports.results import results_table
from reports.scales import MeasureScale
from reports.verdicts import VerdictSettings, evaluate, evaluate_expectation, expectation_labels, scenario_values
from scenarios.types import Expectation

UNIT = MeasureScale(0.0, 1.0)
SETTINGS = VerdictSettings(n_resamples=500, n_permutations=500)


def _rows(values, params=None, stitch=None, errors=(), metric="m", scenario="s", family="f"):
    """Results rows from ``{case: [value per seed]}``; ``errors`` holds (case, seed) pairs that failed."""
    rows = []
    for case, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            failed = (case, seed) in errors
            rows.append({
                "metric": metric, "family": family, "scenario": scenario, "case": case,
                "param": (params or {}).get(case), "seed": seed,
                "value": math.nan if failed else value,
                "stitch": (stitch or {}).get(case, [1.0] * len(per_seed))[seed],
                "stitch_reverse": math.nan, "time": 0.0, "error": "RuntimeError: boom" if failed else "",
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
    assert judge(expectation, {"a": [0.5] * SEEDS, "b": [0.8] * SEEDS})["verdict"] == "pass"
    assert judge(expectation, {"a": [0.5] * SEEDS, "b": [0.5] * SEEDS})["verdict"] == "fail"
    assert judge(expectation, {"a": [0.5] * SEEDS, "b": [0.5, 0.6, 0.5, 0.6, 0.55]})["verdict"] == "undecided"


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


def test_ordering_pass_fail_undecided_and_ties_fail():
    expectation = Expectation("ordering", higher="hi", lower="lo", tolerance=1e-6)
    assert judge(expectation, {"hi": [0.9] * SEEDS, "lo": [0.5] * SEEDS})["verdict"] == "pass"
    assert judge(expectation, {"hi": [0.5] * SEEDS, "lo": [0.9] * SEEDS})["verdict"] == "fail"
    # a symmetric measure cannot tell the directions apart: equal values are not an ordering
    assert judge(expectation, {"hi": [0.7] * SEEDS, "lo": [0.7 - 1e-16] * SEEDS})["verdict"] == "fail"
    noisy = {"hi": [0.7, 0.5, 0.65, 0.55, 0.6], "lo": [0.5, 0.6, 0.5, 0.6, 0.55]}
    assert judge(expectation, noisy)["verdict"] == "undecided"


def test_monotone_pass_fail_undecided():
    params = {"p0": 0.0, "p1": 1.0, "p2": 2.0, "p3": 3.0, "p4": 4.0}
    rising = {case: [0.1 * p + 0.01 * s for s in range(SEEDS)] for case, p in params.items()}
    flat = {case: [0.5] * SEEDS for case in params}
    decreasing = {case: [1 - 0.1 * p] * SEEDS for case, p in params.items()}
    # seeds disagree: rising in some, falling in others
    mixed = {case: [0.1 * p, -0.1 * p, 0.1 * p, -0.1 * p, 0.05 * p] for case, p in params.items()}
    up = Expectation("monotone", direction=1)
    down = Expectation("monotone", direction=-1)
    assert judge(up, rising, params=params)["verdict"] == "pass"
    assert judge(down, decreasing, params=params)["verdict"] == "pass"
    assert judge(up, decreasing, params=params)["verdict"] == "fail"
    assert judge(up, flat, params=params)["verdict"] == "fail"
    assert judge(up, mixed, params=params)["verdict"] == "undecided"
    assert judge(up, rising, params=params)["p_value"] < 0.01


def test_monotone_ignores_rounding_noise_below_the_tolerance():
    params = {f"p{i}": float(i) for i in range(5)}
    rng = np.random.default_rng(0)
    jitter = {case: list(0.5 + 1e-13 * rng.normal(size=SEEDS)) for case in params}
    verdict = judge(Expectation("monotone", direction=1), jitter, params=params)
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
    undecided = judge(expectation, following, stitch=constant_stitch)
    assert undecided["verdict"] == "undecided"
    assert "does not vary" in undecided["detail"]
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
    assert judge(ordering, {"near": [0.1] * SEEDS, "far": [1.5] * SEEDS}, scale=distance)["verdict"] == "pass"


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
    assert got == {
        ("moving", "invariant"): "fail",
        ("moving", "sensitive"): "pass",
        ("steady", "invariant"): "pass",
        ("steady", "sensitive"): "fail",
    }


def test_expectation_labels_are_readable_and_unique():
    labels = expectation_labels([
        Expectation("invariant"), Expectation("invariant"), Expectation("monotone", direction=-1),
        Expectation("ordering", higher="a", lower="b"), Expectation("equals", target=0.0),
    ])  # fmt: skip
    assert labels == ["invariant", "invariant#2", "monotone(-)", "ordering(a > b)", "equals(0)"]
