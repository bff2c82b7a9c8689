"""Properties apart from function: which failures a measure has by its declared design.

A measure declares what it cannot do (``metrics.MetricInfo``: ``symmetric``, the invariances of each
side, with every transformation they contain); a scenario's cases state what they ask of it (their meta,
``scenarios.types.Case``: ``invariance``, the invariance that contains the transformation Y = T(X), and
``reverse``, the case with X and Y swapped). A failed verdict is **by design** when the measure's
declarations alone decide it:

- *an invariance it does not claim*: the expectation, as judged (its kind, or what ``follows_reference``
  became), is ``invariant``, a case of the scenario transforms Y by a transformation of invariance I, and
  the measure does not declare I for Y (``y_invariances``: the side the transformation acts on). CKA
  is not meant to ignore an invertible linear map;
- *a direction a symmetric measure cannot give*: the measure is symmetric, and the expectation asks it to
  tell a case from its reverse: an ``ordering`` whose two cases are each other's reverse, or a judged
  kind that needs the cases to differ (``ordering``, ``sensitive``, ``monotone``, ``tracks_stitching``)
  over a scenario of exactly one case and its reverse. m(X, Y) = m(Y, X) gives both the same value.

Every other failure is empirical. A verdict by design stays ``fail`` (the measure does not have the
property the use case asks for) and carries the reason in its ``design`` column, so the reports count
and show it apart from the empirical failures. No measure is named here: the rule reads declarations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from reports.verdicts import expectation_labels
from scenarios.kinds import KINDS

__all__ = ["MeasureDesign", "ScenarioDesign", "design_reason", "mark_design", "scenario_designs"]

#: judged kinds that need a measure to give different values to different cases
_NEEDS_A_DIFFERENCE = ("ordering", "sensitive", "monotone", "tracks_stitching")


@dataclass(frozen=True)
class MeasureDesign:
    """What a measure declares of itself: symmetry and the invariances of each side (closed: every
    transformation an invariance contains is listed)."""

    symmetric: bool
    x_invariances: frozenset[str] = frozenset()
    y_invariances: frozenset[str] = frozenset()

    @classmethod
    def from_info(cls, info) -> MeasureDesign:
        """The design declared by a ``metrics.MetricInfo``."""
        return cls(bool(info.symmetric), frozenset(info.x_invariances), frozenset(info.y_invariances))

    def to_dict(self) -> dict:
        """JSON-ready form (sorted lists)."""
        return {"symmetric": self.symmetric, "x_invariances": sorted(self.x_invariances),
                "y_invariances": sorted(self.y_invariances)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping) -> MeasureDesign:
        """Inverse of :meth:`to_dict`."""
        return cls(bool(data["symmetric"]), frozenset(data["x_invariances"]), frozenset(data["y_invariances"]))


@dataclass(frozen=True)
class ScenarioDesign:
    """What a scenario's cases ask of a measure's design: the invariances its transformations belong to,
    and each case's reverse (case id -> the id of the same pair with X and Y swapped)."""

    invariances: frozenset[str] = frozenset()
    reverse: Mapping[str, str] = field(default_factory=dict)
    cases: frozenset[str] = frozenset()


def scenario_designs(results: pd.DataFrame) -> dict[str, ScenarioDesign]:
    """Per scenario of the results table, what its cases' meta ask (see the module docstring)."""
    designs = {}
    for scenario, rows in results.drop_duplicates(["scenario", "case"]).groupby("scenario", sort=True):
        metas = list(rows["meta"])
        invariances = frozenset(meta["invariance"] for meta in metas if meta.get("invariance"))
        reverse = {case: meta["reverse"] for case, meta in zip(rows["case"], metas) if meta.get("reverse")}
        designs[scenario] = ScenarioDesign(invariances, reverse, frozenset(rows["case"]))
    return designs


def _judged(kind: str, became: str) -> str:
    """The kind a verdict was judged by: its own, or the one ``follows_reference`` became (its label
    starts with the kind's name: ``ordering(a > b)``)."""
    if kind in KINDS and KINDS[kind].statistic:
        return kind
    return next((name for name in KINDS if became == name or became.startswith(name + "(")), "")


def design_reason(kind: str, became: str, expectation, measure: MeasureDesign, scenario: ScenarioDesign) -> str:
    """Why a measure fails this expectation by its design ("" when its declarations do not decide it).

    Args:
        kind: the expectation's kind; ``became`` what a ``follows_reference`` became ("" otherwise).
        expectation: the ``scenarios.types.Expectation`` (its ``higher`` and ``lower`` for an ordering),
            or None when unknown.
        measure: the measure's declarations; ``scenario``: what the scenario's cases ask.
    """
    judged = _judged(kind, became)
    if judged == "invariant":
        missing = sorted(scenario.invariances - measure.y_invariances)
        if missing:
            return f"does not declare invariance to {', '.join(missing)}, which this scenario applies to Y"
    if not measure.symmetric or judged not in _NEEDS_A_DIFFERENCE:
        return ""
    if kind == "ordering" and expectation is not None:
        pair = (expectation.higher, expectation.lower)
    elif len(scenario.cases) == 2:
        pair = tuple(sorted(scenario.cases))
    else:
        return ""
    if scenario.reverse.get(pair[0]) == pair[1]:
        return f"symmetric: {pair[0]} and {pair[1]} are one pair in both directions, so it gives them one value"
    return ""


def mark_design(verdicts: pd.DataFrame, results: pd.DataFrame, designs: Mapping[str, MeasureDesign],
                expectations: Mapping[str, tuple] | None = None) -> pd.DataFrame:  # fmt: skip
    """``verdicts`` with its ``design`` column filled: the reason of each failure by design ("" for the
    empirical ones and every other verdict). Measures without a recorded design stay empirical.

    ``expectations`` (scenario -> its ``Expectation`` objects, in the order of the verdicts' labels)
    gives an ``ordering``'s two cases; the verdict's ``expectation`` label is matched by position.
    """
    cases = scenario_designs(results)
    by_label = {(scenario, label): expectation for scenario, specs in (expectations or {}).items()
                for label, expectation in zip(expectation_labels(specs), specs)}  # fmt: skip
    reasons = [
        design_reason(row.kind, row.became if isinstance(row.became, str) else "",
                      by_label.get((row.scenario, row.expectation)), designs[row.metric],
                      cases.get(row.scenario, ScenarioDesign()))
        if row.verdict == "fail" and row.metric in designs else ""
        for row in verdicts.itertuples()
    ]  # fmt: skip
    return verdicts.assign(design=reasons)
