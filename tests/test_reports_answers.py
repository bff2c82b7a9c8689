"""Issue 20: the scorecard answers first. Failures by a measure's declared design apart from empirical
ones (``reports.design``), the answers per use case and the one ranking with its spread
(``reports.answers``), the exports for papers, the trust line (``reports.trust``), and the use cases
and design meta the generators declare."""
from __future__ import annotations

import pandas as pd
import pytest

import metrics
import scenarios
from reports.answers import answers, bibtex, how_sure, ranking, share_interval, summarise, use_case_scores, write_exports
from reports.baseline import Difference
from reports.design import MeasureDesign, ScenarioDesign, design_reason, mark_design
from reports.html import BaselineComparison
from reports.scorecard import score_table
from reports.trust import trust_items, trust_markdown
from scenarios.types import Expectation
from scenarios.use_cases import USE_CASES, check_use_case

SYMMETRIC = MeasureDesign(True, frozenset({"orthogonal"}), frozenset({"orthogonal"}))
DIRECTED = MeasureDesign(False, frozenset({"orthogonal", "invertible_linear"}), frozenset({"orthogonal"}))
CONTAINMENT = ScenarioDesign(reverse={"sub": "sup", "sup": "sub"}, cases=frozenset({"sub", "sup"}))
LINEAR = ScenarioDesign(invariances=frozenset({"invertible_linear"}), cases=frozenset({"identity", "c=10"}))


def test_a_symmetric_measure_fails_a_direction_by_design():
    ordering = Expectation("ordering", higher="sub", lower="sup")
    assert "symmetric" in design_reason("ordering", "", ordering, SYMMETRIC, CONTAINMENT)
    assert design_reason("ordering", "", ordering, DIRECTED, CONTAINMENT) == ""  # it could tell them apart
    assert design_reason("ordering", "", ordering, SYMMETRIC, ScenarioDesign(cases=frozenset({"sub", "sup"}))) == ""
    # a follows_reference that became an ordering over exactly a case and its reverse
    assert "symmetric" in design_reason("follows_reference", "ordering(sub > sup)", None, SYMMETRIC, CONTAINMENT)


def test_an_invariance_the_measure_does_not_declare_fails_by_design():
    assert "invertible_linear" in design_reason("invariant", "", None, SYMMETRIC, LINEAR)
    assert design_reason("invariant", "", None, MeasureDesign(True, y_invariances=frozenset({"invertible_linear"})),
                         LINEAR) == ""  # fmt: skip
    assert design_reason("invariant", "", None, DIRECTED, LINEAR) != ""  # X's invariance does not help: Y moves
    assert design_reason("sensitive", "", None, SYMMETRIC, LINEAR) == ""  # not an invariance expectation


def test_mark_design_reads_the_cases_meta_and_leaves_passes_and_unknown_measures_empirical():
    results = pd.DataFrame({"scenario": ["s", "s"], "case": ["sub", "sup"],
                            "meta": [{"reverse": "sup"}, {"reverse": "sub"}]})  # fmt: skip
    verdicts = pd.DataFrame({"metric": ["sym", "sym", "other"], "scenario": "s", "kind": "ordering", "became": "",
                             "expectation": "ordering(sub > sup)", "verdict": ["fail", "pass", "fail"]})  # fmt: skip
    marked = mark_design(verdicts, results, {"sym": SYMMETRIC},
                         {"s": (Expectation("ordering", higher="sub", lower="sup"),)})  # fmt: skip
    assert marked["design"].ne("").tolist() == [True, False, False]
    counts = score_table(marked.assign(family="f")).set_index(["metric", "family"])
    assert (counts.loc[("sym", "f"), "by_design"], counts.loc[("sym", "f"), "failed"]) == (1, 0)
    assert (counts.loc[("other", "f"), "by_design"], counts.loc[("other", "f"), "failed"]) == (0, 1)


def test_every_registered_generator_declares_a_known_use_case():
    undeclared = [name for name in scenarios.generators() if not scenarios.lookup(name).use_case]
    assert not undeclared, f"generators without a use case: {undeclared}"
    with pytest.raises(ValueError, match="unknown use case 'prunning'"):
        check_use_case("prunning", "generator 'x'")


def test_symmetry_cases_record_an_invariance_of_the_vocabulary_and_their_reverse():
    from scenarios.types import Scenario

    for name in scenarios.generators():
        if not name.startswith("symmetry."):
            continue
        generator = scenarios.lookup(name)
        spec = Scenario(name=name, family="symmetry", generator=name, params=dict(generator.params), seeds=(0,),
                        expectations=())
        cases = scenarios.generate(spec, 0)
        for case in cases:
            assert case.meta.get("invariance") in (None, *metrics.INVARIANCES), (name, case.case)
            if "reverse" in case.meta:
                assert case.meta["reverse"] in {c.case for c in cases}


def _verdicts() -> pd.DataFrame:
    """Measure a passes 9 of 10 pruned verdicts, b 5 of 10, c 1 of 10 (and one set aside each)."""
    rows = []
    for metric, passed in (("a", 9), ("b", 5), ("c", 1)):
        for i in range(10):
            rows.append({"metric": metric, "family": "networks", "scenario": f"p{i % 5}", "expectation": f"e{i}",
                         "verdict": "pass" if i < passed else "fail", "design": ""})  # fmt: skip
        rows.append({"metric": metric, "family": "networks", "scenario": "p0", "expectation": "aside",
                     "verdict": "premise failed", "design": ""})  # fmt: skip
    return pd.DataFrame(rows)


def test_answers_name_the_best_and_the_measures_to_avoid_with_k_of_n_and_an_interval():
    scores = use_case_scores(_verdicts(), {f"p{i}": "pruned" for i in range(5)})
    table = answers(scores, shown=1)
    row = table.iloc[0]
    assert row["question"] == USE_CASES["pruned"].question
    assert [(e["metric"], e["passed"], e["counted"]) for e in row["best"]] == [("a", 9, 10)]  # set aside: not counted
    assert [e["metric"] for e in row["avoid"]] == ["c"]
    assert row["best"][0]["share_low"] < 0.9 < row["best"][0]["share_high"]
    assert row["sure"].startswith("clear")  # a's interval lies above b's and c's share
    tied = answers(use_case_scores(_verdicts().assign(verdict="pass"), {}), shown=1).iloc[0]
    assert tied["avoid"] == [] and tied["sure"].startswith("no difference")  # a measure as good as the best: never "avoid"


def test_how_sure_says_thin_with_few_verdicts_and_undeclared_use_cases_read_as_their_family():
    few = _verdicts().groupby("metric").head(3)
    scores = use_case_scores(few, {})
    assert set(scores["use_case"]) == {"other:networks"} and scores["question"].iloc[0] == "other networks scenarios"
    assert how_sure(scores).startswith("thin")


def test_the_one_ranking_has_its_spread_and_never_counts_a_set_aside_verdict():
    verdicts = _verdicts()
    ranked = ranking(verdicts, n_resamples=200)
    assert list(ranked["metric"]) == ["a", "b", "c"] and list(ranked["rank"]) == [1, 2, 3]
    assert list(ranked["counted"]) == [10, 10, 10]
    assert (ranked["rank_low"] <= ranked["rank_median"]).all() and (ranked["rank_median"] <= ranked["rank_high"]).all()
    more_aside = pd.concat([verdicts, verdicts[verdicts["verdict"] == "premise failed"].assign(expectation="x")])
    pd.testing.assert_frame_equal(ranking(more_aside, n_resamples=200).drop(columns="set_aside"),
                                  ranked.drop(columns="set_aside"))  # more set-aside verdicts change nothing else


def test_share_interval_is_wilsons():
    low, high = share_interval(13, 15)
    assert low == pytest.approx(0.6212, abs=1e-3) and high == pytest.approx(0.9626, abs=1e-3)  # Wilson, 95 %


def test_exports_write_csv_latex_and_bibtex(tmp_path):
    verdicts = _verdicts()
    summary = summarise(verdicts, {f"p{i}": "pruned" for i in range(5)}, n_resamples=100)
    references = {"a": "Kornblith et al. 2019, Similarity of Neural Network Representations Revisited (ICML)",
                  "b": "", "c": "a note, no paper"}  # fmt: skip
    paths = write_exports(summary.ranked, summary.scores, summary.table, references, tmp_path)
    assert sorted(p.name for p in paths) == ["ranking.csv", "ranking.tex", "references.bib", "use_cases.csv",
                                              "use_cases.tex"]  # fmt: skip
    ranked = pd.read_csv(tmp_path / "ranking.csv")
    assert {"rank", "rank_low", "rank_high", "share_low", "share_high"} <= set(ranked.columns)
    assert r"\begin{table}" in (tmp_path / "ranking.tex").read_text() and "9 / 10" in (tmp_path / "ranking.tex").read_text()
    assert "a pruned network" in (tmp_path / "use_cases.tex").read_text()
    assert bibtex(references).count("@misc{") == 1 and "kornblith2019similarity" in bibtex(references)


def test_the_trust_line_reads_the_comparison_the_edge_and_the_bank():
    verdicts = pd.DataFrame({"scenario": ["s", "s"], "expectation": ["e", "e"], "premise_edge": [True, True]})
    header = {"network bank": "v3 (12 cases)", "numerical dependencies": "as pinned"}
    equal = trust_items(header, BaselineComparison("reports/baseline.json"), verdicts)
    assert [item.state for item in equal] == ["ok", "warn", "info", "ok"]
    assert "equal to reports/baseline.json" in equal[0].text and "1 expectation(s), 2 verdict(s)" in equal[1].text
    differences = (Difference("verdict", "m / s / e", "pass", "fail"), Difference("bank", "bank", "v2", "v3"))
    changed = trust_items({}, BaselineComparison("b.json", 1e-4, differences), verdicts.assign(premise_edge=False))
    assert changed[0].state == "warn" and "1 verdict" in changed[0].text and "another bank" in changed[0].text
    assert changed[1].state == "ok" and changed[3].text == "not recorded"
    assert trust_markdown(equal).splitlines()[0].startswith("- ✓ **baseline**")
