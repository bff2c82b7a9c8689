"""The quick profile's shipped specs and their cases, generated once per test process: the null scenarios
score stitching on thousands of rows (seconds per generation), and several test modules read the same
cases. Read them, never modify them."""
from __future__ import annotations

import functools

import scenarios

#: The quick profile's specs by name.
QUICK = {spec.name: spec for spec in scenarios.load_specs()}


@functools.lru_cache(maxsize=None)
def quick_cases(name: str) -> tuple[scenarios.Case, ...]:
    """Every case of the quick spec ``name``, every seed (``scenarios.cases``)."""
    return tuple(scenarios.cases(QUICK[name]))
