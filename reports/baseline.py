"""Regression baseline: a run's verdicts and rounded values, compared with a committed JSON file.

The document nests ``verdicts[metric][scenario][expectation]`` and ``values[metric][scenario][case]``
(mean over seeds, rounded; ``null`` when the measure failed on the case). A comparison only looks at
the (metric, scenario) pairs the current run computed, so a run restricted with ``--metrics`` or
``--scenarios`` is compared on what it ran. Differences of kind ``verdict``, ``value``, ``missing`` and
``settings`` fail a comparison; ``new`` entries (not in the baseline yet) are listed only.

Speed: ``speed[metric][shape_id]`` is the measure's median time over its own speed bound (the summed
medians of the primitives it declares, ``benchmarks/test_speed.py``), both timed in the same run, at
the profile's speed shapes where the bound takes at least :data:`SPEED_MIN_BOUND_SECONDS`. A ratio that
grew past :data:`SPEED_FACTOR` times the recorded one is a failing ``speed`` difference: a ratio, so a
slow or busy machine, which slows measure and bound alike, does not trip it.

Every family is tracked, networks included: training, pruning, distillation and stitching are
bit-reproducible on one platform whatever the thread count. Across platforms they are not (another
BLAS, its kernels for another CPU, another torch), so the document records a platform fingerprint
(:func:`platform_fingerprint`: torch version, CPU architecture, the BLAS numpy uses with its version
and the kernel core it picked, the Python minor version). A comparison with a baseline recorded on
another platform says so (a ``platform`` difference, listed, not failing) and compares the verdicts
only: value drift there is no regression signal, a changed verdict still is.
"""
from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports.atomic import write_text

__all__ = ["FORMAT", "SPEED_FACTOR", "SPEED_MIN_BOUND_SECONDS", "Difference", "baseline_document", "compare",
           "platform_fingerprint", "read_baseline", "speed_section", "write_baseline"]

FORMAT = 1
FAILING = ("verdict", "value", "missing", "settings", "speed")
#: A measure's speed ratio (its median time over its own bound) fails the comparison when it grows past
#: this factor times the baseline's ratio.
SPEED_FACTOR = 2.0
#: Ratios are recorded only where the bound takes at least this long (seconds) in the run: below a few
#: milliseconds the medians are timer and cache noise, not speed.
SPEED_MIN_BOUND_SECONDS = 5e-3


@dataclass(frozen=True)
class Difference:
    """One difference between a baseline and the current run."""

    kind: str  # verdict | value | missing | new | settings | platform | speed
    key: str  # "metric / scenario / expectation-or-case"
    baseline: object
    current: object

    @property
    def fails(self) -> bool:
        """Whether this difference fails the comparison."""
        return self.kind in FAILING

    def __str__(self) -> str:
        if self.kind == "platform":
            return (f"platform: the baseline was recorded on {_describe(self.baseline)}, this run is on "
                    f"{_describe(self.current)}: verdicts compared, values not")
        return f"{self.kind}: {self.key}: {self.baseline} -> {self.current}"


def _describe(fingerprint) -> str:
    if not isinstance(fingerprint, dict):
        return "an unrecorded platform"
    return ", ".join(f"{key} {value}" for key, value in sorted(fingerprint.items()))


def _numpy_simd() -> str:
    """The SIMD target numpy's own loops run (``np.add``'s dispatch, e.g. X86_V3 = AVX2), or "unknown"."""
    try:
        from numpy._core import _multiarray_umath
    except ImportError:  # numpy 1.x
        return "unknown"
    info = getattr(_multiarray_umath, "__cpu_targets_info__", {}).get("add", {})
    return next(iter(info.values()), {}).get("current", "unknown") if info else "unknown"


def platform_fingerprint() -> dict[str, str]:
    """What a run's values depend on beyond the code: torch's version (read from the installed
    distribution; torch is not imported), the CPU architecture, the BLAS numpy was built with, its
    version and the kernel core it runs (threadpoolctl), the level of torch's own CPU kernels
    (``ATEN_CPU_CAPABILITY``, pinned by benchmarks/conftest.py; "native": the best the CPU has), the SIMD
    target of numpy's own loops, and the Python minor version."""
    import numpy
    from threadpoolctl import threadpool_info

    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "not installed"
    blas = numpy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    cores = {info.get("architecture", "") for info in threadpool_info()
             if info.get("user_api") == "blas" and info.get("version") == blas.get("version")}
    return {
        "torch": torch,
        "torch_cpu": os.environ.get("ATEN_CPU_CAPABILITY", "native"),
        "numpy_simd": _numpy_simd(),
        "machine": platform.machine(),
        "blas": f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip(),
        "blas_core": ", ".join(sorted(c for c in cores if c)) or "unknown",
        "python": ".".join(platform.python_version_tuple()[:2]),
    }


def speed_section(timings, decimals: int = 3) -> dict:
    """``{measure: {shape_id: ratio}}`` from ``(measure, shape_id, seconds, bound_seconds)`` timings of
    one run: each measure's median time over its own bound, both measured in that run, so a slower or
    busier machine moves both. Shapes where the bound takes less than :data:`SPEED_MIN_BOUND_SECONDS`
    are left out (too noisy to track). Ratios keep ``decimals`` significant digits."""
    section: dict = {}
    for measure, shape_id, seconds, bound_seconds in timings:
        if bound_seconds is not None and bound_seconds >= SPEED_MIN_BOUND_SECONDS:
            section.setdefault(measure, {})[shape_id] = float(f"{seconds / bound_seconds:.{decimals}g}")
    return section


def _compare_speed(baseline: dict, current: dict, factor: float) -> list[Difference]:
    """A ``speed`` difference (failing) for each ratio of ``current`` above ``factor`` times the baseline's;
    ``new`` for a ratio the baseline lacks. A ratio of the baseline that this run did not time (speed
    benchmarks not run, a bound under the noise floor on this machine) is not compared."""
    differences = []
    for measure, shapes in sorted(current.items()):
        for shape_id, ratio in sorted(shapes.items()):
            label = f"{measure} / {shape_id}"
            before = baseline.get(measure, {}).get(shape_id)
            if before is None:
                differences.append(Difference("new", f"speed: {label}", None, ratio))
            elif ratio > factor * before:
                differences.append(Difference("speed", f"{label} (time over own bound, limit {factor:g}x)", before, ratio))
    return differences


def _nest(items) -> dict:
    """``((metric, scenario, key), item)`` pairs -> ``{metric: {scenario: {key: item}}}``."""
    nested: dict = {}
    for (metric, scenario, key), item in items:
        nested.setdefault(metric, {}).setdefault(scenario, {})[str(key)] = item
    return nested


def baseline_document(results: pd.DataFrame, verdicts: pd.DataFrame, profile: str, decimals: int = 6,
                      fingerprint: dict[str, str] | None = None, speed: dict | None = None) -> dict:
    """The baseline of a run: its verdicts, its per-case values averaged over seeds and rounded, and
    the platform it ran on (``fingerprint``, default :func:`platform_fingerprint` of this process), and
    the speed ratios of the run's speed benchmark (``speed``, from :func:`speed_section`; empty when the
    speed benchmark did not run)."""
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
        "platform": platform_fingerprint() if fingerprint is None else dict(fingerprint),
        "verdicts": _nest(verdict_items),
        "values": _nest(values),
        "speed": dict(speed or {}),
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


def compare(baseline: dict, current: dict, tolerance: float = 1e-4, speed_factor: float = SPEED_FACTOR) -> list[Difference]:
    """Every difference between ``baseline`` and ``current`` (both from :func:`baseline_document`).

    A value drifts when it moved by more than ``tolerance`` (absolute), or became / stopped being a
    failure (``null``). Only the (metric, scenario) pairs present in ``current`` are compared. A
    baseline from another platform (or one without a fingerprint) gives one ``platform`` difference,
    and then only the verdicts are compared. Speed ratios are compared on any platform (a ratio to a
    bound timed in the same run): one that grew past ``speed_factor`` times the baseline's fails.
    """
    differences = []
    for setting in ("format", "profile"):
        if baseline.get(setting) != current.get(setting):
            differences.append(Difference("settings", setting, baseline.get(setting), current.get(setting)))
    sections = [("verdicts", "verdict"), ("values", "value")]
    if baseline.get("platform") != current.get("platform"):
        differences.append(Difference("platform", "platform", baseline.get("platform"), current.get("platform")))
        sections = sections[:1]
    for section, kind in sections:
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
    return differences + _compare_speed(baseline.get("speed", {}), current.get("speed", {}), speed_factor)


def read_baseline(path: str | Path) -> dict:
    """Load a baseline JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_baseline(document: dict, path: str | Path) -> Path:
    """Write a baseline JSON file atomically (sorted keys, so diffs of the committed file stay small)."""
    return write_text(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
