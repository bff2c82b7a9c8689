"""Regression baseline: a run's verdicts and rounded values, compared with a committed JSON file.

The document nests ``verdicts[metric][scenario][expectation]`` and ``values[metric][scenario][case]``
(mean over seeds, rounded; ``null`` when the measure failed on the case). A comparison only looks at
the (metric, scenario) pairs the current run computed, so a run restricted with ``--metrics`` or
``--scenarios`` is compared on what it ran. Differences of kind ``verdict``, ``value``, ``missing`` and
``settings`` fail a comparison; ``new`` entries (not in the baseline yet) are listed only.

Every family is compared alike, networks included, on every machine: the measures are float64 functions
of their inputs (the same to ~1e-13 whatever the BLAS kernels and threads), and the networks family's
inputs come from the network bank (``scenarios.networks.bank``: the shipped models and references; a
float64 forward pass makes the activations). So the document records what the values stand on, and a
comparison says where a run stands on something else, in one line each, without failing:

- ``bank``: the bank version the networks family read. A run on another bank (a retrained one) compares
  the networks family's verdicts (a changed one fails) but not its values, which are another bank's;
- ``versions``: the versions of the numerical dependencies (``runner.environment.dependency_versions``;
  CI installs those of ``constraints.txt``);
- ``platform``: the platform fingerprint (BLAS and its kernel core, torch's CPU kernels, numpy's SIMD
  target, machine, Python).

Speed: ``speed[metric][shape_id]`` is the measure's fastest time over its own speed bound (the summed
fastest times of the primitives it declares, ``benchmarks/test_speed.py``), both timed in the same run,
at the profile's speed shapes where the bound takes at least :data:`SPEED_MIN_BOUND_SECONDS`. A ratio
that grew past :data:`SPEED_FACTOR` times the recorded one is a ``speed`` difference: reported, and
failing only with ``speed_fails`` (``--speed-gate``, for quiet dedicated hardware: on a shared machine
a ratio moves by a factor of 2 between quiet runs).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from runner.atomic import write_text
from runner.environment import dependency_versions, platform_fingerprint

__all__ = ["FORMAT", "SPEED_FACTOR", "SPEED_MIN_BOUND_SECONDS", "BaselineError", "Difference", "baseline_document",
           "compare", "platform_fingerprint", "read_baseline", "speed_section", "write_baseline"]

FORMAT = 2
FAILING = ("verdict", "value", "missing", "settings")
#: A measure's speed ratio (its fastest time over its own bound) is a ``speed`` difference when it grows
#: past this factor times the baseline's ratio.
SPEED_FACTOR = 2.0
#: Ratios are recorded only where the bound takes at least this long (seconds) in the run: below a few
#: milliseconds the times are timer and cache noise, not speed.
SPEED_MIN_BOUND_SECONDS = 5e-3
#: The family whose values stand on the network bank.
NETWORKS = "networks"


@dataclass(frozen=True)
class Difference:
    """One difference between a baseline and the current run; ``fails`` whether it fails the
    comparison (by default: its kind is one of :data:`FAILING`)."""

    kind: str  # verdict | value | missing | new | settings | speed | bank | versions | platform
    key: str  # "metric / scenario / expectation-or-case"
    baseline: object
    current: object
    fails: bool | None = None

    def __post_init__(self):
        if self.fails is None:
            object.__setattr__(self, "fails", self.kind in FAILING)

    def __str__(self) -> str:
        if self.kind == "bank":
            return (f"bank: the baseline was recorded on network bank {self.baseline}, this run read {self.current}: "
                    f"networks verdicts compared, values not")
        if self.kind in ("platform", "versions"):
            return (f"{self.kind}: the baseline was recorded on {_describe(self.baseline, self.current)}, this run "
                    f"on {_describe(self.current, self.baseline)} (values compared all the same)")
        return f"{self.kind}: {self.key}: {self.baseline} -> {self.current}"


def _describe(fingerprint, other) -> str:
    """The entries of ``fingerprint`` that differ from ``other``'s."""
    if not isinstance(fingerprint, dict):
        return "an unrecorded platform"
    other = other if isinstance(other, dict) else {}
    return ", ".join(f"{key} {value}" for key, value in sorted(fingerprint.items()) if other.get(key) != value)


def speed_section(timings, decimals: int = 3) -> dict:
    """``{measure: {shape_id: ratio}}`` from ``(measure, shape_id, seconds, bound_seconds)`` timings of
    one run: each measure's fastest time over its own bound (the summed fastest times of its primitives),
    both measured in that run, so a slower or busier machine moves both. Shapes where the bound takes
    less than :data:`SPEED_MIN_BOUND_SECONDS` are left out (too noisy to track). Ratios keep ``decimals``
    significant digits."""
    section: dict = {}
    for measure, shape_id, seconds, bound_seconds in timings:
        if bound_seconds is not None and bound_seconds >= SPEED_MIN_BOUND_SECONDS:
            section.setdefault(measure, {})[shape_id] = float(f"{seconds / bound_seconds:.{decimals}g}")
    return section


def _compare_speed(baseline: dict, current: dict, factor: float, fails: bool) -> list[Difference]:
    """A ``speed`` difference (failing when ``fails``) for each ratio of ``current`` above ``factor``
    times the baseline's; ``new`` for a ratio the baseline lacks. A ratio of the baseline that this run
    did not time (speed benchmarks not run, a bound under the noise floor on this machine) is not
    compared."""
    differences = []
    for measure, shapes in sorted(current.items()):
        for shape_id, ratio in sorted(shapes.items()):
            label = f"{measure} / {shape_id}"
            before = baseline.get(measure, {}).get(shape_id)
            if before is None:
                differences.append(Difference("new", f"speed: {label}", None, ratio))
            elif ratio > factor * before:
                differences.append(Difference("speed", f"{label} (time over own bound, over {factor:g}x the baseline's)",
                                              before, ratio, fails=fails))
    return differences


def _nest(items) -> dict:
    """``((metric, scenario, key), item)`` pairs -> ``{metric: {scenario: {key: item}}}``."""
    nested: dict = {}
    for (metric, scenario, key), item in items:
        nested.setdefault(metric, {}).setdefault(scenario, {})[str(key)] = item
    return nested


def baseline_document(results: pd.DataFrame, verdicts: pd.DataFrame, profile: str, decimals: int = 6,
                      fingerprint: dict[str, str] | None = None, speed: dict | None = None,
                      bank: str | None = None, versions: dict[str, str] | None = None,
                      resi: dict | None = None) -> dict:  # fmt: skip
    """The baseline of a run: its verdicts, its per-case values averaged over seeds and rounded, each
    scenario's family, the speed ratios of the run's speed benchmark (``speed``, from
    :func:`speed_section`; empty when it did not run), and what the values stand on: the network bank
    the networks family read (``bank``, its version; None without one), the numerical dependencies'
    versions (default: this process's) and the platform (``fingerprint``, default this process's).
    ``resi``: the run held against ReSi's published ranking (``reports.resi_ranking.Comparison.to_dict``;
    recorded for the results page, never compared: the seeds' statistics behind it are not in the
    baseline, so it is what the recorded run found)."""
    cells = results.groupby(["metric", "scenario", "case"])
    failed = cells["error"].apply(lambda errors: (errors != "").any())
    means = cells["value"].mean().round(decimals)
    values = [(key, None if failed[key] else float(mean)) for key, mean in means.items()]
    columns = ["metric", "scenario", "expectation", "verdict"]
    verdict_items = (((m, s, e), v) for m, s, e, v in verdicts[columns].itertuples(index=False))
    families = results.drop_duplicates("scenario").set_index("scenario")["family"]
    return {
        "format": FORMAT,
        "profile": profile,
        "decimals": decimals,
        "bank": bank,
        "versions": dependency_versions() if versions is None else dict(versions),
        "platform": platform_fingerprint() if fingerprint is None else dict(fingerprint),
        "families": {str(scenario): str(family) for scenario, family in sorted(families.items())},
        "verdicts": _nest(verdict_items),
        "values": _nest(values),
        "speed": dict(speed or {}),
        **({"resi": resi} if resi is not None else {}),
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


def _context(baseline: dict, current: dict) -> tuple[list[Difference], bool]:
    """The ``bank``, ``versions`` and ``platform`` lines (listed, not failing), and whether the networks
    family's values can be compared (the same bank, or no networks scenario in this run)."""
    lines = []
    networks = NETWORKS in current.get("families", {}).values()
    same_bank = not networks or baseline.get("bank") == current.get("bank")
    if not same_bank:
        lines.append(Difference("bank", "bank", baseline.get("bank"), current.get("bank")))
    for kind in ("versions", "platform"):
        if baseline.get(kind) != current.get(kind):
            lines.append(Difference(kind, kind, baseline.get(kind), current.get(kind)))
    return lines, same_bank


def compare(baseline: dict, current: dict, tolerance: float = 1e-4, speed_factor: float = SPEED_FACTOR,
            speed_fails: bool = False) -> list[Difference]:
    """Every difference between ``baseline`` and ``current`` (both from :func:`baseline_document`).

    A value drifts when it moved by more than ``tolerance`` (absolute), or became / stopped being a
    failure (``null``). Only the (metric, scenario) pairs present in ``current`` are compared. Another
    bank, other dependency versions and another platform are each one line that does not fail (module
    docstring); on another bank the networks family's values are not compared. A speed ratio past
    ``speed_factor`` times the baseline's is a ``speed`` difference, failing only with ``speed_fails``.
    """
    differences = []
    for setting in ("format", "profile"):
        if baseline.get(setting) != current.get(setting):
            differences.append(Difference("settings", setting, baseline.get(setting), current.get(setting)))
    context, same_bank = _context(baseline, current)
    differences += context
    families = current.get("families", {})
    for section, kind in (("verdicts", "verdict"), ("values", "value")):
        now = dict(_leaves(current[section]))
        if kind == "value" and not same_bank:
            now = {key: item for key, item in now.items() if families.get(key[1]) != NETWORKS}
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
    speed = _compare_speed(baseline.get("speed", {}), current.get("speed", {}), speed_factor, speed_fails)
    return differences + speed


class BaselineError(ValueError):
    """A baseline file that cannot be read, or is not a baseline (the message names the file and why)."""


#: The sections of a baseline document: (name, required, depth of nesting, what a leaf may be).
_SECTIONS = (("verdicts", True, 3, (str,)), ("values", True, 3, (int, float, type(None))),
             ("speed", False, 2, (int, float)), ("families", False, 1, (str,)),
             ("versions", False, 1, (str,)), ("platform", False, 1, (str,)))


def _shape_problem(value, depth: int, leaves: tuple) -> str | None:
    """Where ``value`` is not ``depth`` levels of objects with string keys and leaves of type ``leaves``."""
    if depth == 0:
        return None if isinstance(value, leaves) and not isinstance(value, bool) else f"a leaf {value!r}"
    if not isinstance(value, dict):
        return f"{type(value).__name__} where an object was expected"
    for key, item in value.items():
        problem = _shape_problem(item, depth - 1, leaves)
        if problem:
            return f"{key}: {problem}"
    return None


def read_baseline(path: str | Path) -> dict:
    """Load a baseline JSON file (:func:`baseline_document`'s shape).

    Raises:
        BaselineError: the file cannot be read, is not UTF-8 JSON (empty, truncated), is not an object,
            or a section is missing or malformed; one line naming the file and the problem.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise BaselineError(f"{path} cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{path} is not UTF-8 text (not a baseline JSON file)") from None
    except ValueError as err:
        raise BaselineError(f"{path} is not valid JSON (empty or truncated?): {err}") from None
    if not isinstance(document, dict):
        raise BaselineError(f"{path}: a baseline is a JSON object, this file holds a {type(document).__name__}")
    if not isinstance(document.get("format"), int) or not isinstance(document.get("profile"), str):
        raise BaselineError(f"{path}: no 'format' number or 'profile' name: not a baseline file")
    for name, required, depth, leaves in _SECTIONS:
        if name not in document:
            if required:
                raise BaselineError(f"{path}: no '{name}' section: not a baseline file")
            continue
        problem = _shape_problem(document[name], depth, leaves)
        if problem:
            raise BaselineError(f"{path}: section '{name}' is malformed ({problem})")
    return document


def write_baseline(document: dict, path: str | Path) -> Path:
    """Write a baseline JSON file atomically (sorted keys, so diffs of the committed file stay small)."""
    return write_text(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
