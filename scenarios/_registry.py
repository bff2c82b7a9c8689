"""The generator registry: ``@generator`` registers a function that turns a Scenario and a seed into
Cases; ``generate`` and ``cases`` run it and check what it yields.

Generators are found by being there: every module of the ``scenarios`` package is imported on first use
of the registry (those that define generators register them), and a family that lives in a subpackage
(``scenarios.networks``, heavy: torch) is imported only when a spec names one of its generators
(``<family>.<what>``: :func:`family_package`). A family is whatever its generators declare.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from scenarios.types import Case, Scenario, Sweep
from scenarios.use_cases import UNDECLARED, check_use_case

__all__ = [
    "families",
    "family_package",
    "Generator",
    "SweepPoint",
    "case_id",
    "cases",
    "generate",
    "generator",
    "generators",
    "lookup",
    "sweep_points",
]

FAMILY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
#: A generator's name: dot-separated lower-case words (``networks.user_models``); names land in the results
#: table and the reports, so nothing that reads as a path or as markup gets in.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
PARAM_TYPES = (bool, int, float, str)

GeneratorFn = Callable[[Scenario, int], Iterable[Case]]


@dataclass(frozen=True)
class Generator:
    """A registered generator: its parameters (name -> default; the default's type is the type),
    the allowed values of string parameters, an optional cross-parameter check raising ValueError,
    an optional function listing the case ids it will produce for (params, sweep), and the use case its
    scenarios answer (``scenarios.use_cases``; "" when it declares none)."""

    name: str
    family: str
    params: dict[str, Any]
    fn: GeneratorFn
    choices: dict[str, tuple[str, ...]]
    check: Callable[[dict[str, Any]], None] | None
    case_ids: Callable[[dict[str, Any], Sweep | None], list[str]] | None
    use_case: str = UNDECLARED

    def expected_case_ids(self, params: dict[str, Any], sweep: Sweep | None) -> list[str]:
        """The declared case ids, or the default naming (``sweep=value`` per value, else ``base``)."""
        return (self.case_ids or default_case_ids)(params, sweep)


_REGISTRY: dict[str, Generator] = {}
_builtins_loaded = False


def generator(name: str, *, family: str, params: dict[str, Any],
              choices: dict[str, Iterable[str]] | None = None,
              check: Callable[[dict[str, Any]], None] | None = None,
              case_ids: Callable[[dict[str, Any], Sweep | None], list[str]] | None = None,
              use_case: str = UNDECLARED):
    """Register ``fn(scenario, seed) -> Iterable[Case]`` under ``name`` (convention: ``family.what``).

    ``params`` maps each parameter to its default; specs are validated against them (type of the
    default; an int is accepted for a float). ``choices`` lists the allowed values of string
    parameters. ``check(params)`` raises ValueError for bad combinations. ``case_ids(params, sweep)``
    lists the case ids the generator yields (used to validate ``ordering`` expectations); leave it out
    when the generator follows the default naming of :func:`sweep_points`. ``use_case`` names the question
    its scenarios answer (one of ``scenarios.use_cases.USE_CASES``), read by the scorecard's first table.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"generator {name!r}: a name is dot-separated lower-case words of letters, digits and "
                         f"underscores (family.what)")
    check_use_case(use_case, f"generator {name!r}")
    if not FAMILY_PATTERN.match(family):
        raise ValueError(f"generator {name!r}: family {family!r} must be lower-case letters, digits and underscores")
    for key, default in params.items():
        if type(default) not in PARAM_TYPES:
            raise ValueError(f"generator {name!r}: parameter {key!r} has a default of type "
                             f"{type(default).__name__}; expected one of bool, int, float, str")
    allowed = {key: tuple(values) for key, values in (choices or {}).items()}
    for key, values in allowed.items():
        if key not in params or params[key] not in values:
            raise ValueError(f"generator {name!r}: choices for {key!r} must name a parameter and "
                             f"include its default")

    def register(fn: GeneratorFn) -> GeneratorFn:
        previous = _REGISTRY.get(name)
        reimported = previous is not None and (previous.fn.__module__, previous.fn.__qualname__) == (
            fn.__module__, fn.__qualname__)  # the same module imported again (e.g. by pytester)
        if previous is not None and not reimported:
            raise ValueError(f"generator {name!r} is already registered (by {_REGISTRY[name].fn.__module__})")
        _REGISTRY[name] = Generator(name, family, dict(params), fn, allowed, check, case_ids, use_case)
        return fn

    return register


def _package():
    return importlib.import_module(__name__.rpartition(".")[0])


def _load_builtins() -> None:
    """Import every module of the ``scenarios`` package (not its subpackages: those load on demand)."""
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        package = _package()
        for module in pkgutil.iter_modules(package.__path__):
            if not module.ispkg and not module.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{module.name}")


def family_package(generator_name: str) -> str | None:
    """The subpackage of ``scenarios`` that holds the family a generator name starts with
    (``networks.seed_pairs`` -> ``scenarios.networks``), or None when there is none."""
    package = _package()
    family = generator_name.partition(".")[0]
    found = any(m.ispkg and m.name == family for m in pkgutil.iter_modules(package.__path__))
    return f"{package.__name__}.{family}" if found else None


def families() -> list[str]:
    """Every family: those of the registered generators and those of the family subpackages."""
    _load_builtins()
    packages = {m.name for m in pkgutil.iter_modules(_package().__path__) if m.ispkg}
    return sorted({gen.family for gen in _REGISTRY.values()} | packages)


def generators() -> list[str]:
    """Sorted names of the registered generators (built-ins, and networks ones once imported)."""
    _load_builtins()
    return sorted(_REGISTRY)


def lookup(name: str) -> Generator:
    """The registered generator ``name``; KeyError listing the registered names when unknown."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown generator {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def case_id(name: str, value: Any) -> str:
    """The readable id of one sweep value: ``noise_channels=16``, ``distance=0.5``."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{name}={text}"


@dataclass(frozen=True)
class SweepPoint:
    """One point of a scenario's sweep: its case id, the numeric sweep value (None when there is no
    sweep or the value is not a number) and the parameters with the swept one set."""

    case: str
    param: float | None
    params: dict[str, Any]


def sweep_points(params: dict[str, Any], sweep: Sweep | None) -> list[SweepPoint]:
    """The points a generator iterates (``sweep_points(scenario.params, scenario.sweep)``): one per
    sweep value with id ``name=value``, or the single point ``base`` without a sweep."""
    if sweep is None:
        return [SweepPoint("base", None, dict(params))]
    return [
        SweepPoint(case_id(sweep.name, value),
                   float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
                   {**params, sweep.name: value})
        for value in sweep.values
    ]


def default_case_ids(params: dict[str, Any], sweep: Sweep | None) -> list[str]:
    """The case ids of a generator that yields one case per sweep point."""
    return [point.case for point in sweep_points(params, sweep)]


def generate(scenario: Scenario, seed: int) -> list[Case]:
    """The cases of ``scenario`` for one seed, checked: unique ids (equal to the declared ones when the
    generator declares them), the scenario's name and family, float64 2-D X and Y with the same rows
    (3-D stacks of layers with the same rows where the case sets ``aggregate``; nothing where the case
    carries an ``error``)."""
    gen = lookup(scenario.generator)
    produced = list(gen.fn(scenario, seed))
    where = f"generator {gen.name!r} (scenario {scenario.name!r}, seed {seed})"
    ids = [case.case for case in produced]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where} produced duplicate case ids: {ids}")
    if gen.case_ids is not None and ids != gen.expected_case_ids(scenario.params, scenario.sweep):
        raise ValueError(f"{where} produced case ids {ids}, not the declared "
                         f"{gen.expected_case_ids(scenario.params, scenario.sweep)}")
    for case in produced:
        if (case.scenario, case.family, case.seed) != (scenario.name, scenario.family, seed):
            raise ValueError(f"{where}: case {case.case!r} is labelled {case.scenario!r}/{case.family!r}/"
                             f"seed {case.seed}")
        if case.error:  # a case the generator could not make: its error rows say why
            continue
        dims, rows = (2, 0) if case.aggregate is None else (3, 1)  # layer stacks [L, n, p]: n is axis 1
        for side, array in (("x", case.x), ("y", case.y)):
            if not (isinstance(array, np.ndarray) and array.dtype == np.float64 and array.ndim == dims):
                shape = "2-D" if dims == 2 else "3-D (a stack of layers, aggregate set)"
                raise ValueError(f"{where}: case {case.case!r}: {side} must be a {shape} float64 numpy array")
        if case.x.shape[rows] != case.y.shape[rows]:
            raise ValueError(f"{where}: case {case.case!r}: x has {case.x.shape[rows]} rows, y {case.y.shape[rows]}")
    return produced


def cases(scenario: Scenario) -> Iterator[Case]:
    """Every case of ``scenario``, seed by seed (generated lazily)."""
    for seed in scenario.seeds:
        yield from generate(scenario, seed)
