"""The run held against ReSi's published vision ranking (reports.resi_ranking): the per-seed statistics
behind the verdicts' estimates, median ranks and Kendall's tau on a hand-made table with known answers,
the seeded bootstrap over model seeds, the published file's name mapping, and what either side lacks."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

import metrics
from reports.resi_ranking import (
    PUBLISHED,
    Comparison,
    Published,
    compare_with_published,
    comparison_of,
    comparison_markdown,
    read_published,
    seed_table,
    write_comparison,
)
from reports.results import results_table
from reports.scales import MeasureScale
from reports.scenario_values import scenario_values
from reports.verdicts import VerdictSettings, evaluate, evaluate_expectation, seed_statistics
from scenarios import spec_index
from scenarios.types import Expectation

UNIT = MeasureScale(0.0, 1.0)
DISTANCE = MeasureScale(0.0, 1.0, higher_is_more_similar=False)
SETTINGS = VerdictSettings(n_resamples=200, n_permutations=200)
RNG_SEED = 7


def _rows(values, params=None, positions=None, references=None, metric="m", scenario="s", meta=None):
    """Results rows from ``{case: [value per seed]}`` with each case's ``param``, layer ``positions``
    ((i, j), into meta) and ``references`` (name -> {case: [per seed]})."""
    rows = []
    for case, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            extra = {"index_x": positions[case][0], "index_y": positions[case][1]} if positions else {}
            rows.append({"metric": metric, "family": "networks", "scenario": scenario, "case": case,
                         "param": (params or {}).get(case), "seed": seed, "value": value, "stitch": 1.0,
                         **{name: by_case[case][seed] for name, by_case in (references or {}).items()},
                         "time": 0.0, "error": "", "meta": json.dumps({**(meta or {}), **extra})})  # fmt: skip
    return rows


def _groups(metric="m", scenario="s", shift=0.0, meta=None):
    rng = np.random.default_rng(RNG_SEED)
    cases = {"0~0": 0.0, "1~1": 0.0, "0~1": 1.0, "1~2": 1.0, "0~2": 2.0}
    values = {case: list(0.8 - 0.2 * param + shift + 0.15 * rng.standard_normal(4)) for case, param in cases.items()}
    agreement = {case: [1.0 - 0.3 * param] * 4 for case, param in cases.items()}
    return _rows(values, cases, references={"agreement": agreement}, metric=metric, scenario=scenario, meta=meta)


def _layers():
    rng = np.random.default_rng(RNG_SEED)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    values = {f"{i}-{j}": list(1.0 - 0.2 * (j - i) + 0.15 * rng.standard_normal(4)) for i, j in pairs}
    return _rows(values, positions={f"{i}-{j}": (i, j) for i, j in pairs})


def _tracks():
    rng = np.random.default_rng(RNG_SEED)
    difference = {f"c{k}": list(0.1 * k + 0.02 * rng.standard_normal(4)) for k in range(6)}
    values = {case: list(1.0 - np.array(d) + 0.1 * rng.standard_normal(4)) for case, d in difference.items()}
    return _rows(values, references={"accuracy_difference": difference})


@pytest.mark.parametrize("rows, expectation", [
    (_groups, Expectation("separates_groups", reference="agreement", tolerance=0.1)),
    (_layers, Expectation("monotone_in_layer_distance", tolerance=0.1)),
    (_tracks, Expectation("tracks_stitching", reference="accuracy_difference")),
])  # fmt: skip
@pytest.mark.parametrize("scale", [UNIT, DISTANCE])
def test_the_per_seed_statistics_average_to_the_verdict_estimate(rows, expectation, scale):
    data = scenario_values(results_table(rows()))
    statistics = seed_statistics(expectation, data, scale)
    verdict = evaluate_expectation(expectation, data, scale, SETTINGS)
    assert statistics.shape == (4,)
    assert np.mean(statistics) == pytest.approx(verdict["estimate"], rel=1e-10)  # the same arithmetic reordered: the platform bound (PLATFORM_RTOL)


def test_the_per_seed_auprc_is_scikit_learns_average_precision():
    data = scenario_values(results_table(_groups()))
    statistics = seed_statistics(Expectation("separates_groups", reference="agreement"), data, UNIT)
    within = data.params == 0
    expected = [average_precision_score(within, column) for column in data.values.T]
    assert statistics == pytest.approx(expected, rel=1e-10)  # sums of a few ratios, at the platform bound


def test_a_kind_that_ranks_nothing_has_no_per_seed_statistic():
    data = scenario_values(results_table(_groups()))
    with pytest.raises(ValueError, match="'invariant' ranks no measures"):
        seed_statistics(Expectation("invariant", tolerance=0.1), data, UNIT)


def _seeds(cells, noise=0.0, seed=0):
    """A seed table of hand-made cells: (scenario, test, direction, premise, {metric: mean}), 4 seeds each,
    the seeds spread by ``noise`` around the mean (the mean kept exactly)."""
    rng = np.random.default_rng(seed)
    records = []
    for scenario, test, direction, premise, means in cells:
        for metric, mean in means.items():
            spread = noise * rng.standard_normal(4)
            for s, value in enumerate(mean + spread - spread.mean()):
                records.append((metric, scenario, test, "cnn", s, value, direction, premise))
    return pd.DataFrame(records, columns=["metric", "scenario", "test", "arch", "seed", "statistic", "direction",
                                          "premise"])  # fmt: skip


#: ranks a b c d e: groups 1 2 3 4 5, layers (lower is better) 1 2 4 3 5, accuracy 2 1 4 3 5, and a
#: premise-failed cell that reverses a..d: 4 3 2 1 5
CELLS = [
    ("groups", "label_randomization", 1, "pass", {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.1}),
    ("layers", "layer_monotonicity", -1, "pass", {"a": 0.0, "b": 0.1, "c": 0.3, "d": 0.2, "e": 0.9}),
    ("accuracy", "accuracy_correlation", 1, "pass", {"a": 0.5, "b": 0.9, "c": 0.1, "d": 0.2, "e": -0.5}),
    ("shortcut", "shortcut_affinity", 1, "fail", {"a": 0.6, "b": 0.7, "c": 0.8, "d": 0.9, "e": 0.1}),
]
PUBLISHED_TOY = Published(positions={"a": 1, "b": 2, "c": 3, "d": 4, "z": 5}, names={m: m.upper() for m in "abcdz"},
                          unmapped=("X",), source={"paper": "toy"},
                          tests={t: t for t in ("label_randomization", "layer_monotonicity", "accuracy_correlation",
                                                "shortcut_affinity", "augmentation")})  # fmt: skip


def _pairs_tau(ours, theirs):
    """Kendall's tau without ties, by counting the pairs: (concordant - discordant) / pairs."""
    signs = [np.sign(ours[i] - ours[j]) * np.sign(theirs[i] - theirs[j])
             for i in range(len(ours)) for j in range(i + 1, len(ours))]  # fmt: skip
    return sum(signs) / len(signs)


def test_median_ranks_and_tau_on_a_hand_made_table():
    comparison = compare_with_published(_seeds(CELLS), PUBLISHED_TOY, n_resamples=50)
    table = comparison.table.set_index("metric")
    # over the three cells whose premise held: a (1, 1, 2), b (2, 2, 1), c (3, 4, 4), d (4, 3, 3), e 5
    assert table["median"].to_dict() == {"a": 1, "b": 2, "c": 4, "d": 3, "e": 5}
    assert (table.loc["c", "q1"], table.loc["c", "q3"], table.loc["c", "low"], table.loc["c", "high"]) == (3.5, 4, 3, 4)
    assert table["cells"].to_dict() == {m: 3 for m in "abcde"}
    # every cell: the premise-failed one adds a 4, b 3, c 2, d 1, e 5
    assert table["median_all"].to_dict() == {"a": 1.5, "b": 2, "c": 3.5, "d": 3, "e": 5}
    assert comparison.shared == ("a", "b", "c", "d") and pd.isna(table.loc["e", "resi_position"])
    assert comparison.tau == pytest.approx(_pairs_tau([1, 2, 4, 3], [1, 2, 3, 4]))  # 4 / 6, known by counting
    assert comparison.tau_all == pytest.approx(_pairs_tau([1.5, 2, 3.5, 3], [1, 2, 3, 4]))
    assert list(comparison.cells["premise_held"]) == [True, True, True, False]  # cells by scenario name
    assert comparison.missing == {"X": "no stitchbench measure implements it",
                                  "Z": "z is not in this run's cells of ReSi's tests"}
    assert comparison.absent_tests == ("augmentation",)


def test_without_noise_between_seeds_the_bootstrap_interval_is_the_point():
    comparison = compare_with_published(_seeds(CELLS), PUBLISHED_TOY, n_resamples=50)
    assert comparison.tau_low == comparison.tau == comparison.tau_high  # every resample has the same means exactly


def test_the_bootstrap_is_reproducible_from_its_seed_and_its_interval_holds_the_estimate():
    seeds = _seeds(CELLS, noise=0.15, seed=3)
    first = compare_with_published(seeds, PUBLISHED_TOY, n_resamples=300, seed=11)
    again = compare_with_published(seeds, PUBLISHED_TOY, n_resamples=300, seed=11)
    assert (first.tau_low, first.tau_high, first.tau_all_low) == (again.tau_low, again.tau_high, again.tau_all_low)
    assert first.tau_low < first.tau_high  # the noise moves the ranks: a real interval
    assert first.tau_low <= first.tau <= first.tau_high
    assert first.tau_all_low <= first.tau_all <= first.tau_all_high


def test_the_published_ranking_names_registered_measures_and_tests_of_the_specs():
    published = read_published()
    assert len(json.loads(PUBLISHED.read_text())["measures"]) == 24  # ReSi's 24 measures, positions checked on read
    unregistered = sorted(set(published.positions) - set(metrics.available()))
    assert not unregistered, f"mapped to no registered measure: {unregistered}"
    names = {entry.name for entry in spec_index()}
    assert all(f"networks_{test}" in names for test in published.tests), "a ReSi test without its scenario"
    source = published.source
    assert source["path"] == "figures/Rankings.png" and len(source["commit"]) == 40 and "2408.00531" in source["paper"]


def test_a_broken_published_file_gives_one_line_naming_it(tmp_path):
    path = tmp_path / "ranking.json"
    with pytest.raises(ValueError, match="ranking.json: cannot be read"):
        read_published(path)
    path.write_text(json.dumps({"measures": [{"position": 1, "resi": "A", "ours": "a"}], "source": {}}))
    with pytest.raises(ValueError, match="ranking.json: not a published ranking .*tests"):
        read_published(path)
    path.write_text(json.dumps({"tests": {}, "source": {}, "measures": [
        {"position": 1, "resi": "A", "ours": "a"}, {"position": 3, "resi": "B", "ours": "b"}]}))
    with pytest.raises(ValueError, match=r"positions must be 1..2"):
        read_published(path)


def test_a_run_without_cells_of_resis_tests_writes_nothing_and_a_missing_measure_is_named(tmp_path):
    verdicts = pd.DataFrame(columns=["metric", "family", "scenario", "expectation", "kind", "reference", "became",
                                     "estimate", "premise", "verdict"])  # fmt: skip
    assert comparison_of(results_table([]), verdicts, {}, {}) is None and write_comparison(None, tmp_path) == []
    empty = compare_with_published(_seeds([]), PUBLISHED_TOY)
    assert np.isnan(empty.tau) and "nothing to compare" in comparison_markdown(empty)
    one = compare_with_published(_seeds(CELLS[:1]), PUBLISHED_TOY, n_resamples=20)
    assert one.absent_tests == ("layer_monotonicity", "accuracy_correlation", "shortcut_affinity", "augmentation")


def test_the_seed_table_reads_test_and_architecture_from_the_scenario_and_its_meta(tmp_path):
    rows = (_groups("m", "networks_label_randomization", meta={"arch": "cnn"})
            + _groups("n", "networks_label_randomization", shift=0.3, meta={"arch": "cnn"})
            + _groups("m", "networks_augmentation_vit", meta={"arch": "vit"})
            + _groups("m", "networks_seed_pairs_vit", meta={"arch": "vit"}))  # not one of ReSi's tests
    results = results_table(rows)
    expectation = Expectation("separates_groups", reference="agreement", tolerance=0.1)
    expectations = {s: (expectation,) for s in results["scenario"].unique()}
    scales = {"m": UNIT, "n": UNIT}
    verdicts = evaluate(results, expectations, scales, SETTINGS)
    seeds = seed_table(results, verdicts, expectations, scales, PUBLISHED_TOY.tests)
    cells = seeds.drop_duplicates("scenario").set_index("scenario")[["test", "arch"]]
    assert cells.to_dict("index") == {"networks_augmentation_vit": {"test": "augmentation", "arch": "vit"},
                                      "networks_label_randomization": {"test": "label_randomization", "arch": "cnn"}}
    means = seeds.groupby(["metric", "scenario"])["statistic"].mean()
    estimates = verdicts.set_index(["metric", "scenario"])["estimate"]
    assert means.to_numpy() == pytest.approx(estimates.loc[means.index].to_numpy(), rel=1e-10)  # as above
    comparison = comparison_of(results, verdicts, expectations, scales, published=PUBLISHED_TOY)
    paths = write_comparison(comparison, tmp_path)
    assert [p.name for p in paths] == ["resi_ranking.json"] and json.loads(paths[0].read_text())["shared"] == []
    assert "Z (z is not in this run" in comparison_markdown(comparison)


def test_the_comparison_survives_its_json_and_a_broken_one_is_named():
    comparison = compare_with_published(_seeds(CELLS, noise=0.1), PUBLISHED_TOY, n_resamples=30)
    again = Comparison.from_dict(json.loads(json.dumps(comparison.to_dict(), allow_nan=False)))
    assert comparison_markdown(again) == comparison_markdown(comparison)
    assert (again.tau, again.shared, again.missing) == (comparison.tau, comparison.shared, comparison.missing)
    with pytest.raises(ValueError, match="not a comparison with ReSi's ranking .*tau"):
        Comparison.from_dict({k: v for k, v in comparison.to_dict().items() if k != "tau"})


def test_the_baseline_records_the_comparison_and_the_results_page_shows_it(tmp_path):
    from pytest_stitchbench.docs_pages import resi_section
    from reports.baseline import baseline_document, read_baseline, write_baseline

    comparison = compare_with_published(_seeds(CELLS, noise=0.1), PUBLISHED_TOY, n_resamples=30)
    results = results_table(_groups(meta={"arch": "cnn"}))
    verdicts = pd.DataFrame({"metric": ["m"], "scenario": ["s"], "expectation": ["separates_groups"],
                             "verdict": ["pass"]})  # fmt: skip
    document = baseline_document(results, verdicts, "quick", resi=comparison.to_dict())
    baseline = read_baseline(write_baseline(document, tmp_path / "baseline.json"))
    page = resi_section(baseline)
    assert "Kendall's tau" in page and comparison_markdown(comparison).splitlines()[4] in page
    assert "records no comparison" in resi_section({}) and "resi" not in baseline_document(results, verdicts, "quick")
    with pytest.raises(ValueError, match="baseline.json: section 'resi': not a comparison"):
        resi_section({"resi": {"tau": 1}})


def test_the_comparison_figure_is_written_with_its_caption(tmp_path):
    from reports.resi_ranking import comparison_figure

    figure = comparison_figure(compare_with_published(_seeds(CELLS), PUBLISHED_TOY, n_resamples=10), tmp_path)
    assert figure.path.name == "ranking_resi.png" and figure.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ReSi" in figure.caption and figure.path.with_suffix(".pdf").exists()
