"""Retraining checked statistically, not bit for bit: the first seed of every networks scenario built
again from the seeds on this machine, against the network bank (opt-in: ``--retrain``).

Training is bit-identical on one platform, not across CPU models, so the bank ships what training
produced and a retrain elsewhere is expected to differ a little. This module measures how much: for
each networks scenario of the run, its first seed is generated twice, once from the bank and once with
no bank and an empty cache of its own (every model, stitch and probe built again), and it reports per
model the accuracy drift, per case the drift of every functional reference and of a few measures
(:data:`MEASURES`), into ``retrain.md`` of the report folder. Run it under another numeric environment
(``STITCHBENCH_NATIVE_KERNELS=1``, another thread count, another CPU) to see what another machine would
get; on the machine and kernels that built the bank it reproduces the bank exactly (every drift 0).

The share of verdicts a whole retrain keeps comes from a whole rebuild instead:
``pytest benchmarks/test_scenarios.py --families networks --rebuild-networks --bank <empty folder>
--baseline reports/baseline.json`` compares the verdicts of the rebuilt bank with the baseline's.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import metrics
import scenarios
from reports.scorecard import markdown_table
from runner.schema import REFERENCE_COLUMNS

#: The measures whose per-case drift is reported (one of each kind: a kernel alignment, an alignment
#: after rotation, a rank correlation of distances, a neighbourhood overlap).
MEASURES = ("cka_linear", "procrustes", "rsa", "knn_jaccard")
_ROWS: list[dict] = []
_MODELS: dict[str, dict] = {}


@pytest.fixture(scope="session", autouse=True)
def _write_retrain_report(benchmark_report):
    yield
    if _ROWS:
        benchmark_report("retrain.md", retrain_report(pd.DataFrame(_ROWS), pd.DataFrame(_MODELS.values())))


def _models(cases) -> dict[str, dict]:
    """recipe hash -> (kind, architecture, accuracy) of every model the cases read (their meta)."""
    found = {}
    for case in cases:
        for side in ("x", "y"):
            recipe = case.meta.get(f"recipe_{side}")
            if recipe and case.meta.get(f"accuracy_{side}") is not None:
                found[recipe] = {"recipe": recipe, "model": case.meta.get(f"model_{side}"),
                                 "kind": case.meta.get(f"kind_{side}"), "arch": case.meta.get(f"arch_{side}"),
                                 "accuracy": case.meta[f"accuracy_{side}"]}
    return found


def test_retrain(scenario, tmp_path, monkeypatch):
    """The scenario's first seed from the bank and built again: the drift of every model's accuracy,
    every reference and :data:`MEASURES` on every case."""
    if scenario.family != "networks" or scenario.generator == "networks.user_models":
        pytest.skip("only the suite's own networks come from the bank")
    first = dataclasses.replace(scenario, seeds=scenario.seeds[:1])
    banked = list(scenarios.cases(first))
    monkeypatch.setenv("STITCHBENCH_BANK", "none")
    fresh = list(scenarios.cases(dataclasses.replace(first, params={**first.params, "cache_dir": str(tmp_path)})))
    assert [c.case for c in fresh] == [c.case for c in banked]
    bank_models, fresh_models = _models(banked), _models(fresh)
    for recipe, model in bank_models.items():
        _MODELS[recipe] = {**model, "scenario": scenario.name, "bank_accuracy": model.pop("accuracy"),
                           "retrained_accuracy": fresh_models.get(recipe, {}).get("accuracy")}
    for old, new in zip(banked, fresh):
        row = {"scenario": scenario.name, "case": old.case, "bank": old.meta.get("bank", "")}
        for name in REFERENCE_COLUMNS:
            before, after = getattr(old, name), getattr(new, name)
            row[name] = None if before is None or after is None else after - before
        for name in MEASURES:
            measure = metrics.get(name)
            try:
                row[name] = measure(new.x, new.y) - measure(old.x, old.y)
            except ValueError:  # a measure that refuses the case (p >= n...) refuses it both times
                row[name] = None
        _ROWS.append(row)


def _quantiles(drift: pd.Series) -> list[str]:
    absolute = pd.to_numeric(drift, errors="coerce").abs().dropna()
    if absolute.empty:
        return ["-"] * 5
    return [str(len(absolute)), *(f"{absolute.quantile(q):.3g}" for q in (0.5, 0.9)), f"{absolute.max():.3g}",
            f"{(absolute == 0).mean():.0%}"]


def retrain_report(cases: pd.DataFrame, models: pd.DataFrame) -> str:
    """retrain.md: the absolute drift of each model accuracy, reference and measure (median, 90th
    percentile, maximum, share exactly 0), then per scenario."""
    headers = ["what", "n", "median |drift|", "90th percentile", "max", "exactly 0"]
    rows = [["model test accuracy", *_quantiles(models["retrained_accuracy"] - models["bank_accuracy"])]]
    rows += [[f"reference `{name}`", *_quantiles(cases[name])] for name in REFERENCE_COLUMNS if name in cases]
    rows += [[f"measure `{name}`", *_quantiles(cases[name])] for name in MEASURES]
    per_scenario = [[scenario, len(group), *(_quantiles(group[name])[3] for name in ("stitch", *MEASURES))]
                    for scenario, group in cases.groupby("scenario", sort=True)]
    banks = sorted(set(cases["bank"]) - {""})
    return "\n".join([
        "# Retraining against the network bank", "",
        f"The first seed of every networks scenario built again from the seeds here, against the bank "
        f"{', '.join(banks) or '(none: the run had no bank)'}: {len(models)} models, {len(cases)} cases. "
        "Absolute drift = |retrained - bank|; on the machine and kernels that built the bank every drift is 0.", "",
        markdown_table(headers, rows), "",
        "## Largest drift per scenario", "",
        markdown_table(["scenario", "cases", "max |stitch|", *(f"max |{m}|" for m in MEASURES)], per_scenario), "",
        "## Models", "",
        markdown_table(["model", "scenario", "bank accuracy", "retrained accuracy"],
                       [[r.model, r.scenario, f"{r.bank_accuracy:.4f}",
                         "-" if pd.isna(r.retrained_accuracy) else f"{r.retrained_accuracy:.4f}"]
                        for r in models.sort_values(["scenario", "model"]).itertuples()]), "",
    ])
