"""The docstring examples of the scenarios, reports and runner packages run (those of ``metrics`` run in
tests/test_metrics_package.py, with the measures' own)."""
from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

PACKAGES = ("scenarios", "reports", "runner")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names += [package] + sorted(m.name for m in pkgutil.walk_packages(path, f"{package}.")
                                    if not m.name.endswith("__main__"))
    return names


DOCTESTS = [test for name in _modules() for test in doctest.DocTestFinder().find(importlib.import_module(name))
            if test.examples]


def test_the_examples_are_found():
    assert {test.name.split(".")[0] for test in DOCTESTS} >= {"scenarios", "reports"}


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_examples_run(test):
    output = io.StringIO()
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test, out=output.write)
    assert result.failed == 0, output.getvalue()
