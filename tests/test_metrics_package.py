"""The ``metrics`` package as a whole: the examples in its docstrings run (modules, functions, classes and
every registered measure's docstring, found in every module of the package, private ones included), and
its modules import each other without a cycle (function-level imports counted)."""
from __future__ import annotations

import ast
import doctest
import importlib
import io
import pkgutil
import types
from pathlib import Path

import pytest

import metrics
from metrics import Metric


def _modules() -> list[str]:
    return ["metrics"] + sorted(f"metrics.{m.name}" for m in pkgutil.iter_modules(metrics.__path__))


def _doctests(module: types.ModuleType) -> list[doctest.DocTest]:
    """The module's examples as ``doctest.testmod`` finds them, plus those of the measures it registers
    (a registered measure is a :class:`metrics.Metric` object, which doctest does not look into)."""
    finder = doctest.DocTestFinder()
    tests = finder.find(module)
    for value in vars(module).values():
        if isinstance(value, Metric) and value.fn.__module__ == module.__name__:
            tests += finder.find(value.fn, f"{module.__name__}.{value.info.name}", module=module, globs=vars(module))
    return [test for test in tests if test.examples]


DOCTESTS = [test for name in _modules() for test in _doctests(importlib.import_module(name))]


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_examples_run(test):
    output = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=output.write)
    assert result.failed == 0, output.getvalue()


SCRATCH_MODULE = '''
from metrics import register


@register("test_doctest_example", symmetric=True, bounds=(0.0, 1.0))
def half(x, y):
    """One half.

    >>> 1 / 2
    0.5
    """
    return 0.5
'''


def test_examples_are_found_in_modules_and_in_measures(isolated_registry):
    """The collection above sees a measure's docstring example (a Metric object, not a function)."""
    module = types.ModuleType("scratch_doctest_module")
    exec(SCRATCH_MODULE, vars(module))
    assert [test.name for test in _doctests(module)] == ["scratch_doctest_module.test_doctest_example"]
    assert {"metrics", "metrics.streaming", "metrics.testing.check_measure"} <= {test.name for test in DOCTESTS}


# ----------------------------------------------------------------------------------------------------
# No import cycles
# ----------------------------------------------------------------------------------------------------
def _imports(module_name: str, modules: set[str]) -> set[str]:
    """The package's modules that ``module_name`` imports anywhere in its source (``from metrics import
    _formulas`` counts as metrics._formulas, ``from metrics import register`` as the package itself)."""
    source = Path(importlib.import_module(module_name).__file__).read_text(encoding="utf-8")
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                      for alias in node.names}  # fmt: skip
    return (found & modules) - {module_name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a path [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        path.pop()
        return None

    return next((found for node in sorted(graph) if node not in state and (found := visit(node))), None)


def test_cycle_search_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_modules_import_each_other_without_a_cycle():
    modules = set(_modules())
    graph = {module: _imports(module, modules) for module in modules}
    assert graph["metrics.cka"] >= {"metrics._formulas", "metrics._registry"}, "the import scan sees imports"
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"
