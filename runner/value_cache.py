"""Measured values kept between runs, so that a warm run measures only what changed.

A value is a function of the measure's code and the two inputs alone, so it is kept under two hashes:

- the measure's **fingerprint** (:func:`measure_fingerprint`): SHA-256 of the source of every module of
  the ``metrics`` package, of the measure's own module (and of every module of its top-level package,
  for a plugin that lives in one), of the versions of Python and of every package stitchbench depends
  on, and of the platform fingerprint (``runner.environment.platform_fingerprint``: BLAS, its kernel core,
  torch and the level of its CPU kernels);
- the case's **digest** (:func:`case_digest`): BLAKE2b of both inputs' dtype, shape and bytes.

One JSON file per (measure, scenario) under ``<cache>/values/<measure>/<scenario>.json`` holds the
fingerprint, the values by digest (``float.hex``, exact; the error message where the measure failed; the
seconds the call took when it ran) and the SHA-256 of that content. A file of another fingerprint, one
that does not parse or fails its checksum is ignored and rewritten (atomically); JSON only, never
pickle. A cached cell's ``time`` is that of the run that measured it. ``pytest benchmarks/
--recompute`` (and ``--update-baseline``) measure every cell again.

The cache costs speed, never results: a file that cannot be written (a read-only cache, a full disk) is
a warning, and the values stay in the run's results; a measure or scenario name that is not a plain
file name (letters, digits, ``_ . @ -``; no ``..``) is never made into a path: its values are not kept.

What the fingerprint cannot see: a plugin's code outside its own package (a helper library of its
author's, changed without a version bump). Run ``--recompute`` after changing such code.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import json
import math
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from runner.atomic import write_text

__all__ = ["ValueCache", "case_digest", "decode", "encode", "measure_fingerprint"]

_METRICS_PACKAGE = Path(__file__).resolve().parents[1] / "metrics"
#: What a measure's or scenario's name must be to name a file of the cache.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@\-]*")


def _sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@functools.lru_cache(maxsize=1)
def _environment_part() -> str:
    """Python, the versions of stitchbench's dependencies, and the platform fingerprint."""
    from runner.environment import platform_fingerprint

    try:
        requirements = importlib.metadata.requires("stitchbench") or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    versions = {}
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return json.dumps({"python": sys.version, "packages": versions, "platform": platform_fingerprint()}, sort_keys=True)


def _module_files(fn: Callable) -> list[Path]:
    """The measure's own module, or every module of its top-level package; none for the metrics package."""
    try:
        source = Path(inspect.getsourcefile(fn) or "").resolve()
    except TypeError:  # a builtin or C function: nothing to hash beyond the packages' versions
        return []
    if not source.is_file() or _METRICS_PACKAGE in source.parents:
        return []
    top = sys.modules.get((getattr(fn, "__module__", None) or "").split(".")[0])
    package_file = getattr(top, "__file__", None)
    if package_file and Path(package_file).name == "__init__.py":
        return _sources(Path(package_file).resolve().parent)
    return [source]


def measure_fingerprint(fn: Callable) -> str:
    """SHA-256 (hex) of everything a measure's values depend on besides its inputs (module docstring)."""
    digest = hashlib.sha256(_environment_part().encode())
    for path in _sources(_METRICS_PACKAGE) + _module_files(fn):
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def case_digest(case) -> str:
    """BLAKE2b (hex) of ``case.x`` and ``case.y``: dtype, shape and bytes of each; and the aggregate over
    layer pairs where the case sets one."""
    digest = hashlib.blake2b(digest_size=20)
    if case.aggregate is not None:
        digest.update(f"aggregate={case.aggregate}".encode())
    for side in (case.x, case.y):
        array = side.detach().cpu().numpy() if hasattr(side, "detach") else np.asarray(side)
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.view(np.uint8).reshape(-1).data if array.size else b"")
    return digest.hexdigest()


def _checksum(fingerprint: str, values: dict) -> str:
    return hashlib.sha256(json.dumps([fingerprint, values], sort_keys=True).encode()).hexdigest()


class ValueCache:
    """The values of one folder (``<cache>/values``); ``read=False`` measures everything again (and
    still keeps what it measured). Each case is hashed once per instance."""

    def __init__(self, root: str | Path, read: bool = True):
        self.root, self.read = Path(root), read
        self._digests: dict[int, tuple[Any, str]] = {}  # id(case) -> (case, digest): the case kept alive

    def digest(self, case) -> str:
        known = self._digests.get(id(case))
        if known is None:
            known = self._digests[id(case)] = (case, case_digest(case))
        return known[1]

    def _path(self, metric: str, scenario: str) -> Path | None:
        """The file of (metric, scenario); None where a name is not a plain file name."""
        if not all(_FILE_NAME.fullmatch(name) and ".." not in name for name in (metric, scenario)):
            return None
        return self.root / metric / f"{scenario}.json"

    def load(self, metric: str, scenario: str, fingerprint: str) -> dict[str, list]:
        """``{digest: [value hex or None, seconds, error]}`` kept for this fingerprint ({} if none)."""
        path = self._path(metric, scenario)
        if not self.read or path is None:
            return {}
        try:
            document = json.loads(path.read_text())
            values = document["values"]
            if document["fingerprint"] != fingerprint or document["sha256"] != _checksum(fingerprint, values):
                return {}
            return values
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def save(self, metric: str, scenario: str, fingerprint: str, values: dict[str, list]) -> None:
        """Keep ``values`` for the next run; a name that is no file name, or a file that cannot be written,
        is a warning (the values are in this run's results all the same)."""
        path = self._path(metric, scenario)
        if path is None:
            warnings.warn(f"value cache: {metric!r} on {scenario!r} is not kept (a name that is not a plain file "
                          f"name)", stacklevel=2)
            return
        document = {"fingerprint": fingerprint, "sha256": _checksum(fingerprint, values), "values": values}
        try:
            write_text(path, json.dumps(document, sort_keys=True))
        except OSError as err:
            warnings.warn(f"value cache: could not keep the values of {metric} on {scenario} ({err}); they are in "
                          f"this run's results, and the next run measures them again", stacklevel=2)


def encode(value: float, seconds: float, error: str) -> list:
    """One kept cell: the value exactly (``float.hex``; None for NaN), the seconds and the error."""
    return [None if math.isnan(value) else float(value).hex(), seconds, error]


def decode(entry: Sequence) -> tuple[float, float, str]:
    """(value, seconds, error) of a kept cell."""
    value, seconds, error = entry
    return (math.nan if value is None else float.fromhex(value)), float(seconds), str(error)
