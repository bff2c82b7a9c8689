"""The networks extension API: experiment modules build on public names only (``plan``, ``recipes`` and the
public names of the other modules), never on each other; nothing below the experiments imports them or
imports lazily; every public name is documented; and importing ``scenarios.networks`` registers the
generators of every experiment module found in ``experiments/``, a new one included."""
import ast
import importlib
import inspect
import pkgutil
import sys
import textwrap
from pathlib import Path

import pytest

import scenarios
import scenarios._registry as registry
from scenarios.networks import experiments, plan, recipes

NETWORKS = Path(scenarios.__file__).parent / "networks"
EXPERIMENTS = NETWORKS / "experiments"
EXPERIMENT_FILES = sorted(path for path in EXPERIMENTS.glob("*.py") if not path.name.startswith("_"))


def _imports(path: Path):
    """(node, module, names, top level) of every import of a ``scenarios`` module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "scenarios":
            yield node, node.module, [alias.name for alias in node.names], id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "scenarios":
                    yield node, alias.name, [], id(node) in top


def _is_module(module: str, name: str) -> bool:
    try:
        importlib.import_module(f"{module}.{name}")
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda path: path.stem)
def test_an_experiment_module_imports_only_public_names(path):
    for node, module, names, _ in _imports(path):
        where = f"{path.name}:{node.lineno}: {module}"
        assert not any(part.startswith("_") for part in module.split(".")), f"{where} is a private module"
        assert not module.startswith("scenarios.networks.experiments"), f"{where}: experiments build on the API, " \
                                                                         f"not on each other"
        public = getattr(importlib.import_module(module), "__all__", None)
        for name in names:
            assert not name.startswith("_"), f"{where} import {name} is private"
            assert public is None or name in public or _is_module(module, name), \
                f"{where} import {name} is not in its __all__"


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda path: path.stem)
def test_an_experiment_module_reads_no_private_attribute_of_a_module(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {alias.asname or alias.name for node, module, names, _ in _imports(path) for alias in node.names
               if isinstance(node, ast.Import) or _is_module(module, alias.name)}
    private = [f"{node.value.id}.{node.attr}" for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and isinstance(node.value, ast.Name) and node.value.id in modules and node.attr.startswith("_")]
    assert not private, f"{path.name} reads {private}"


def test_nothing_below_the_experiments_imports_them_and_no_import_is_lazy():
    for path in sorted(NETWORKS.rglob("*.py")):
        for node, module, _, top in _imports(path):
            where = f"{path.relative_to(NETWORKS)}:{node.lineno}: {module}"
            assert top, f"{where} is imported inside a function (a cycle to break, not to hide)"
            if EXPERIMENTS not in path.parents and path != NETWORKS / "__init__.py":
                assert not module.startswith("scenarios.networks.experiments"), \
                    f"{where}: the API and the recipes must not import the experiments"


@pytest.mark.parametrize("module", [plan, recipes], ids=lambda module: module.__name__)
def test_the_public_api_is_public_and_documented(module):
    assert module.__doc__ and len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert not name.startswith("_") and hasattr(module, name), name
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"


def _experiment_modules() -> set[str]:
    return {f"{experiments.__name__}.{module.name}" for module in pkgutil.iter_modules(experiments.__path__)
            if not module.name.startswith("_")}


def test_importing_the_package_registers_every_experiment_module_found_there():
    import scenarios.networks  # noqa: F401

    found = _experiment_modules()
    assert {path.stem for path in EXPERIMENT_FILES} == {name.rsplit(".", 1)[1] for name in found}
    assert found <= set(sys.modules)
    by_module = {}
    for name in scenarios.generators():
        if name.startswith("networks."):
            by_module.setdefault(scenarios.lookup(name).fn.__module__, []).append(name)
    assert set(by_module) == found, "every experiment module registers a generator; nothing else does"


def test_a_new_module_in_the_experiments_folder_is_found_and_registered(tmp_path, monkeypatch):
    (tmp_path / "toy_experiment.py").write_text(textwrap.dedent('''
        """A toy experiment: the last layer of two seeds."""
        from scenarios.networks.plan import ARCH_CHOICES, PlannedCase, layer, networks_generator, trained


        @networks_generator("toy_experiment", {"arch": "mlp", "layer": ""}, {"arch": ARCH_CHOICES})
        def toy_experiment(scenario, setup, seed):
            """M_s against M_s+1 at ``layer``."""
            p = scenario.params
            at = layer(p["arch"], p["layer"])
            return [PlannedCase("last", trained(setup, p["arch"], seed), at, trained(setup, p["arch"], seed + 1), at)]
    '''))
    monkeypatch.setattr(experiments, "__path__", [*experiments.__path__, str(tmp_path)])
    name = f"{experiments.__name__}.toy_experiment"
    try:
        loaded = experiments.load()
        assert name in [module.__name__ for module in loaded]
        registered = scenarios.lookup("networks.toy_experiment")
        assert registered.fn.__module__ == name and registered.family == "networks"
        assert set(plan.COMMON_PARAMS) | {"arch", "layer"} == set(registered.params)
        assert registered.choices["arch"] == plan.ARCH_CHOICES
    finally:
        registry._REGISTRY.pop("networks.toy_experiment", None)
        sys.modules.pop(name, None)
