"""Reports of issue 10: the measures ranked per test (ReSi's ranking figure) and the table of the models
a networks run used (networks_models.csv)."""
import json

import pandas as pd
import pytest

from reports.results import results_table
from reports.networks import MODEL_COLUMNS, models_table
from reports.ranking import ranks_per_test, write_ranking_per_test


def _verdict(metric, scenario, kind, estimate, verdict="pass", family="networks", reference="stitch", became=""):
    statistic = {"separates_groups": "auprc", "monotone_in_layer_distance": "violation rate"}.get(kind, "spearman")
    return {"metric": metric, "family": family, "scenario": scenario, "expectation": kind, "kind": kind,
            "reference": reference, "became": became, "estimate": estimate, "verdict": verdict,
            "statistic": statistic}


def _verdicts():
    rows = []
    for metric, (auprc, violations, rho) in {"a": (0.9, 0.3, 0.5), "b": (0.6, 0.0, 0.9), "c": (0.3, 0.1, 0.1)}.items():
        rows += [_verdict(metric, "groups", "separates_groups", auprc),
                 _verdict(metric, "layers", "monotone_in_layer_distance", violations),
                 _verdict(metric, "accuracy", "follows_reference", rho, reference="accuracy_difference",
                          became="tracks_stitching"),
                 _verdict(metric, "stitching", "follows_reference", rho, became="tracks_stitching"),  # no test: a stitch
                 _verdict(metric, "elsewhere", "invariant", 1.0, family="symmetry")]
    return pd.DataFrame(rows)


def test_each_test_ranks_by_its_own_statistic_the_right_way_round():
    verdicts = _verdicts()
    ranks = ranks_per_test(verdicts, ["c", "a"])
    assert list(ranks.columns) == ["accuracy", "groups", "layers"]
    assert ranks.loc["a", "groups"] == 1 and ranks.loc["c", "groups"] == 3  # AUPRC: higher is better
    assert ranks.loc["b", "layers"] == 1 and ranks.loc["a", "layers"] == 3  # violations: lower is better
    assert ranks.loc["b", "accuracy"] == 1
    assert list(ranks.index) == ["c", "a", "b"]  # the one ranking's order, then the measures it lacks


def test_the_ranking_per_test_is_written_as_markdown_and_figure(tmp_path):
    verdicts = _verdicts().assign(design="")
    verdicts.loc[(verdicts["metric"] == "c") & (verdicts["scenario"] == "groups"), ["verdict", "design"]] = [
        "fail", "symmetric"]
    paths, figures = write_ranking_per_test(verdicts, tmp_path, ["a", "b", "c"])
    assert [p.name for p in paths] == ["ranking_tests.md"] and [f.path.name for f in figures] == ["ranking_tests.png"]
    text = paths[0].read_text()
    assert "0.900 ✓ (1)" in text and "groups (auprc)" in text and "0.300 ◇ (3)" in text  # by design: ◇
    assert figures[0].path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figures[0].caption
    no_tests = verdicts[verdicts["kind"] == "invariant"]
    assert write_ranking_per_test(no_tests, tmp_path / "none") == ([], [])


def test_models_table_lists_each_model_once_with_the_scenarios_that_used_it():
    def meta(**sides):
        fields = {"data": "digits_corrupted"}
        for side, (recipe, pruning) in sides.items():
            fields |= {f"recipe_{side}": recipe, f"kind_{side}": "imp" if pruning else "trained", f"arch_{side}": "cnn",
                       f"seed_{side}": 0, f"variant_{side}": "", f"epoch_{side}": None, f"pruning_{side}": pruning,
                       f"sparsity_{side}": 0.2 if pruning else 0.0, f"accuracy_{side}": 0.9,
                       f"accuracy_before_retraining_{side}": 0.8 if pruning else None}
        return json.dumps(fields)

    rows = [{"family": "networks", "scenario": s, "case": c, "seed": 0, "metric": m, "meta": text}
            for s, c, text in (("one", "k", meta(x=("dense", ""), y=("pruned", "imp"))),
                               ("two", "k", meta(x=("dense", ""), y=("dense", ""))))
            for m in ("m1", "m2")]
    rows.append({"family": "networks", "scenario": "three", "case": "noise", "seed": 0, "metric": "m1",
                 "meta": json.dumps({"kind_x": "clustered_noise", "seed_x": 1})})  # no model: no row
    table = models_table(results_table(rows))
    assert list(table.columns) == MODEL_COLUMNS and len(table) == 2
    dense = table.set_index("recipe").loc["dense"]
    assert dense["scenarios"] == "one two" and dense["data"] == "digits_corrupted"
    pruned = table.set_index("recipe").loc["pruned"]
    assert pruned["pruning"] == "imp" and pruned["accuracy_before_retraining"] == 0.8
