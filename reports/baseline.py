"""Regression baseline: a run's verdicts and rounded values, compared with a committed JSON file.

The document nests ``verdicts[metric][scenario][expectation]`` and ``values[metric][scenario][case]``
(mean over seeds, rounded; ``null`` when the measure failed on the case). A comparison only looks at
the (metric, scenario) pairs the current run computed, so a run restricted with ``--metrics`` or
``--scenarios`` is compared on what it ran. Differences of kind ``verdict``, ``value``, ``missing`` and
``settings`` fail a comparison; ``new`` entries (not in the baseline yet) are listed only.

The families of :data:`UNTRACKED_FAMILIES` stay out of the baseline: their values come from trained
networks, which a seed reproduces exactly only on the same hardware with the same thread count (a clean
run with two threads moved network CKA values by up to 1e-2 against models trained with one). On one
machine the model cache makes repeated runs identical; across machines they are not a regression signal.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports.atomic import write_text

__all__ = ["FORMAT", "UNTRACKED_FAMILIES", "Difference", "baseline_document", "compare", "read_baseline", "write_baseline"]

FORMAT = 1
UNTRACKED_FAMILIES = ("networks",)
FAILING = ("verdict", "value", "missing", "settings")


@dataclass(frozen=True)
class Difference:
    """One difference between a baseline and the current run."""

    kind: str  # verdict | value | missing | new | settings
    key: str  # "metric / scenario / expectation-or-case"
    baseline: object
    current: object

    @property
    def fails(self) -> bool:
        """Whether this difference fails the comparison."""
        return self.kind in FAILING

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}: {self.baseline} -> {self.current}"


def _nest(items) -> dict:
    """``((metric, scenario, key), item)`` pairs -> ``{metric: {scenario: {key: item}}}``."""
    nested: dict = {}
    for (metric, scenario, key), item in items:
        nested.setdefault(metric, {}).setdefault(scenario, {})[str(key)] = item
    return nested


def baseline_document(results: pd.DataFrame, verdicts: pd.DataFrame, profile: str, decimals: int = 6) -> dict:
    """The baseline of a run: its verdicts, and its per-case values averaged over seeds and rounded.

    Scenarios of :data:`UNTRACKED_FAMILIES` are left out.
    """
    untracked = set(results.loc[results["family"].isin(UNTRACKED_FAMILIES), "scenario"])
    results = results[~results["scenario"].isin(untracked)]
    verdicts = verdicts[~verdicts["scenario"].isin(untracked)]
    cells = results.groupby(["metric", "scenario", "case"])
    failed = cells["error"].apply(lambda errors: (errors != "").any())
    means = cells["value"].mean().round(decimals)
    values = [(key, None if failed[key] else float(mean)) for key, mean in means.items()]
    columns = ["metric", "scenario", "expectation", "verdict"]
    verdict_items = (((m, s, e), v) for m, s, e, v in verdicts[columns].itertuples(index=False))
    return {
        "format": FORMAT,
        "profile": profile,
        "decimals": decimals,
        "verdicts": _nest(verdict_items),
        "values": _nest(values),
    }


def _leaves(nested: dict, ran: set[tuple[str, str]] | None = None):
    for metric, scenarios in nested.items():
        for scenario, leaves in scenarios.items():
            if ran is None or (metric, scenario) in ran:
                for key, item in leaves.items():
                    yield (metric, scenario, key), item


def _drifted(before, after, tolerance: float) -> bool:
    if before is None or after is None:
        return before is not after
    return not math.isclose(before, after, rel_tol=0.0, abs_tol=tolerance)


def compare(baseline: dict, current: dict, tolerance: float = 1e-4) -> list[Difference]:
    """Every difference between ``baseline`` and ``current`` (both from :func:`baseline_document`).

    A value drifts when it moved by more than ``tolerance`` (absolute), or became / stopped being a
    failure (``null``). Only the (metric, scenario) pairs present in ``current`` are compared.
    """
    differences = []
    for setting in ("format", "profile"):
        if baseline.get(setting) != current.get(setting):
            differences.append(Difference("settings", setting, baseline.get(setting), current.get(setting)))
    for section, kind in (("verdicts", "verdict"), ("values", "value")):
        now = dict(_leaves(current[section]))
        ran = {(metric, scenario) for metric, scenario, _ in now}
        before = dict(_leaves(baseline.get(section, {}), ran))
        for key in sorted(before.keys() | now.keys()):
            label = " / ".join(key)
            if key not in now:
                differences.append(Difference("missing", f"{section}: {label}", before[key], None))
            elif key not in before:
                differences.append(Difference("new", f"{section}: {label}", None, now[key]))
            elif kind == "verdict" and before[key] != now[key]:
                differences.append(Difference(kind, label, before[key], now[key]))
            elif kind == "value" and _drifted(before[key], now[key], tolerance):
                differences.append(Difference(kind, label, before[key], now[key]))
    return differences


def read_baseline(path: str | Path) -> dict:
    """Load a baseline JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_baseline(document: dict, path: str | Path) -> Path:
    """Write a baseline JSON file atomically (sorted keys, so diffs of the committed file stay small)."""
    return write_text(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
