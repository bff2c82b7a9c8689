"""The trust line at the top of every scorecard: whether the run compared equal to the baseline, which
verdicts sit on a premise's edge, and where the numbers came from (the network bank, the numerical
dependencies).

It reads the run's header (``network bank``, ``numerical dependencies``), the baseline comparison
(``reports.html.BaselineComparison``: its differences, ``bank`` / ``versions`` / ``platform`` context
lines included) and the verdicts (``premise_edge``). The comparison's differences are summarised by kind
(:func:`difference_counts`), never listed row by row at the top.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping

import pandas as pd

__all__ = ["CONTEXT_KINDS", "STATE_MARKS", "TrustItem", "difference_counts", "trust_items", "trust_markdown"]

#: differences that say what the run stands on (another bank, other versions, another platform)
CONTEXT_KINDS = ("bank", "versions", "platform")


@dataclass(frozen=True)
class TrustItem:
    """One entry of the trust line: what it is about, what it says, ``state`` "ok" (nothing to check),
    "warn" (read the section ``anchor`` before trusting the numbers) or "info"."""

    label: str
    text: str
    state: str
    anchor: str = ""


def difference_counts(differences) -> list[tuple[str, int, int]]:
    """(kind, how many, how many fail) per kind of difference, failing kinds first."""
    total = Counter(d.kind for d in differences)
    failing = Counter(d.kind for d in differences if d.fails)
    return sorted(((kind, count, failing[kind]) for kind, count in total.items()), key=lambda k: (-k[2], k[0]))


def _baseline(comparison) -> TrustItem:
    if not comparison.baseline:
        return TrustItem("baseline", "not compared (run with --baseline reports/baseline.json)", "info")
    if comparison.note and not comparison.differences:
        return TrustItem("baseline", f"{comparison.baseline}: {comparison.note}", "warn", "baseline")
    counts = difference_counts(comparison.differences)
    failing = [f"{fails} {kind}" for kind, _, fails in counts if fails]
    context = [kind for kind, _, _ in counts if kind in CONTEXT_KINDS]
    if failing:
        text = f"{sum(d.fails for d in comparison.differences)} difference(s) from {comparison.baseline} fail ({', '.join(failing)})"
    else:
        new = sum(count for kind, count, _ in counts if kind == "new")
        text = f"equal to {comparison.baseline}: no verdict or value changed" + (f" ({new} new entries)" if new else "")
    if context:
        text += f"; recorded on another {', '.join(context)} (values compared all the same)"
    return TrustItem("baseline", text, "warn" if failing else "info" if context else "ok", "baseline")


def _edge(verdicts: pd.DataFrame) -> TrustItem:
    edge = verdicts[verdicts["premise_edge"].eq(True)] if "premise_edge" in verdicts else verdicts.iloc[:0]
    expectations = edge.drop_duplicates(["scenario", "expectation"])
    if expectations.empty:
        return TrustItem("premises on their edge", "none: no premise is close enough to its threshold for a retrain "
                                                   "of the network bank to flip it", "ok")  # fmt: skip
    return TrustItem("premises on their edge", f"{len(expectations)} expectation(s), {len(edge)} verdict(s): a "
                     f"retrain of the network bank can flip them", "warn", "edge")  # fmt: skip


def trust_items(header: Mapping[str, object], comparison, verdicts: pd.DataFrame) -> list[TrustItem]:
    """The trust line of a run: baseline, premises on their edge, network bank, numerical dependencies."""
    bank = header.get("network bank")
    versions = str(header.get("numerical dependencies", ""))
    return [
        _baseline(comparison),
        _edge(verdicts),
        TrustItem("network bank", str(bank) if bank else "no networks case read a bank", "info"),
        TrustItem("numerical dependencies", versions or "not recorded",
                  "ok" if versions.startswith("as pinned") else "warn" if versions else "info"),
    ]


#: the mark of each state of a trust item
STATE_MARKS = {"ok": "✓", "warn": "⚠", "info": "·"}


def trust_markdown(items: list[TrustItem]) -> str:
    """The trust line as markdown: one bullet per item, its state's mark first."""
    return "\n".join(f"- {STATE_MARKS[item.state]} **{item.label}**: {item.text}" for item in items)
