"""How measures are found: a public module of the ``metrics`` package is a built-in plugin by being there
(no list names it); a third-party module through the ``stitchbench.metrics`` entry point; a module that
fails to import is recorded by ``metrics.load_errors()`` and stops no other.

The built-in path is tried on modules dropped into a folder added to ``metrics.__path__`` for the test (the
package's own folder is never written to: other xdist workers read it), and end to end on a copy of the
package with one measure file added, which this suite's contract, reference and doctest files collect
and pass in a fresh interpreter: a new measure is that one file and nothing else.
"""
from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import metrics
from metrics.testing import CHECKS, check_measure
from reference import route
from strategies import PLUGIN_MEASURE, assert_close, standard_pair

#: The one file of a new built-in measure, as docs/contributing_measures.md describes it: the measure, its
#: declarations, a docstring with a formula and a runnable example, and its independent reference route.
MEASURE_FILE = '''
"""Linear CKA by its feature-space formula: a measure written by the discovery test, one file."""
from __future__ import annotations

import numpy as np

from metrics import _naive, register


def _reference_{name}(x, y) -> float:
    """Independent route: <HKH, HLH>_F / (||HKH||_F ||HLH||_F) with explicit n x n kernels (metrics._naive)."""
    return _naive.cosine(_naive.double_centered(_naive.linear_gram(x)), _naive.double_centered(_naive.linear_gram(y)))


@register(
    "{name}",
    symmetric=True,
    invariances={{"orthogonal", "isotropic_scaling", "translation"}},
    bounds=(0.0, 1.0),
    reference="Kornblith et al. 2019",
    reference_route=_reference_{name},
)
def {name}(x: np.ndarray, y: np.ndarray) -> float:
    """||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) on data scaled to a largest entry of 1.

    Example:
        >>> import numpy as np, metrics
        >>> x = np.random.default_rng(0).normal(size=(50, 4))
        >>> round(metrics.get("{name}")(x, 3 * x + 1), 12)
        1.0
    """
    xc, yc = (a - a.mean(axis=0) for a in (x, y))
    xc, yc = xc / np.abs(xc).max(), yc / np.abs(yc).max()
    return float(np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))
'''


def _write(folder, modules: dict[str, str]) -> None:
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def package_folder(isolated_registry, tmp_path, monkeypatch):
    """A folder that is part of the ``metrics`` package for the test: a module written there is a module
    of ``metrics`` like one in metrics/ (removed from sys.modules afterwards)."""
    monkeypatch.setattr(metrics, "__path__", [*metrics.__path__, str(tmp_path)])
    before = set(sys.modules)
    yield tmp_path
    for module in set(sys.modules) - before:
        if module.startswith("metrics."):
            del sys.modules[module]


# ----------------------------------------------------------------------------------------------------
# Built-ins: found by being there
# ----------------------------------------------------------------------------------------------------
def test_every_public_module_of_the_package_is_loaded():
    from metrics._registry import builtin_modules

    modules = builtin_modules()
    assert {"metrics.cka", "metrics.cca", "metrics.calibration", "metrics.testing"} <= set(modules)
    assert not [module for module in modules if module.rpartition(".")[2].startswith("_")]
    assert set(modules) <= set(sys.modules), "discover() imported them all"
    measure_modules = {metrics.get(name).fn.__module__ for name in metrics.available()}
    assert measure_modules - {"stitchbench_testplugin"} <= set(modules), "every built-in measure comes from one"


def test_a_new_module_in_the_package_is_a_builtin_plugin(package_folder):
    _write(package_folder, {"scratch_kernels": MEASURE_FILE.format(name="test_scratch_kernels")})
    assert "test_scratch_kernels" in metrics.discover()
    m = metrics.get("test_scratch_kernels")
    assert m.fn.__module__ == "metrics.scratch_kernels"
    check_measure(m)
    x, y = standard_pair(3)
    assert_close(m(x, y), metrics.get("cka_linear")(x, y), what="linear CKA by the feature-space formula")
    assert metrics.get("test_scratch_kernels@calibrated").info.name == "test_scratch_kernels@calibrated"
    assert not metrics.load_errors()


def test_private_modules_are_helpers_not_plugins(package_folder):
    _write(package_folder, {"_scratch_helper": MEASURE_FILE.format(name="test_scratch_private")})
    assert "test_scratch_private" not in metrics.discover()
    assert "metrics._scratch_helper" not in sys.modules


def test_a_broken_builtin_module_is_recorded_and_does_not_break_the_others(package_folder):
    _write(
        package_folder,
        {
            "scratch_broken": "raise RuntimeError('this module is broken on purpose')\n",
            "scratch_working": MEASURE_FILE.format(name="test_scratch_working"),
        },
    )
    with pytest.warns(UserWarning, match="could not load measure plugin metrics.scratch_broken"):
        names = metrics.discover()
    assert metrics.load_errors() == {"metrics.scratch_broken": "RuntimeError: this module is broken on purpose"}
    assert "test_scratch_working" in names and "cka_linear" in names and PLUGIN_MEASURE in names


# ----------------------------------------------------------------------------------------------------
# Third-party plugins: the entry point
# ----------------------------------------------------------------------------------------------------
def test_plugin_registered_through_its_entry_point():
    entries = importlib.metadata.entry_points(group=metrics.ENTRY_POINT_GROUP)
    assert "stitchbench_testplugin" in {entry.value for entry in entries}
    assert PLUGIN_MEASURE in metrics.available()
    assert metrics.get(PLUGIN_MEASURE).fn.__module__ == "stitchbench_testplugin"
    assert not metrics.load_errors()


def _write_distribution(root, dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{key} = {value}" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{metrics.ENTRY_POINT_GROUP}]\n{lines}\n")
    _write(root, modules)


def test_broken_plugin_is_recorded_and_does_not_break_the_others(isolated_registry, tmp_path, monkeypatch):
    _write_distribution(
        tmp_path,
        "stitchbench_tmpplugins",
        {"broken": "stitchbench_tmp_broken", "good": "stitchbench_tmp_good"},
        {
            "stitchbench_tmp_broken": "raise RuntimeError('this plugin is broken on purpose')\n",
            "stitchbench_tmp_good": '''
                from metrics import register

                @register("test_tmp_good", symmetric=True, invariances={"isotropic_scaling"},
                          bounds=(0.0, 1.0), reference="none (test)")
                def good(x, y):
                    """A constant."""
                    return 0.5
            ''',
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("stitchbench_tmp_broken", "stitchbench_tmp_good"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    builtins = metrics.available()
    with pytest.warns(UserWarning, match="could not load measure plugin"):
        names = metrics.discover()
    errors = metrics.load_errors()
    assert errors == {"broken = stitchbench_tmp_broken": "RuntimeError: this plugin is broken on purpose"}
    assert "test_tmp_good" in names and set(builtins) <= set(names)
    x, y = standard_pair(6)
    assert metrics.get("test_tmp_good")(x, y) == 0.5
    assert_close(metrics.get("cka_linear")(x, y), route("cka_linear")(x, y), what="cka_linear")


def test_plugin_registering_a_taken_name_is_a_load_error(isolated_registry, tmp_path, monkeypatch):
    _write_distribution(
        tmp_path,
        "stitchbench_tmpduplicate",
        {"duplicate": "stitchbench_tmp_duplicate"},
        {
            "stitchbench_tmp_duplicate": '''
                from metrics import register

                @register("cka_linear", symmetric=True, bounds=(0.0, 1.0), reference="impostor")
                def impostor(x, y):
                    """Not CKA."""
                    return 1.0
            '''
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "stitchbench_tmp_duplicate", raising=False)
    with pytest.warns(UserWarning):
        metrics.discover()
    assert "already registered" in metrics.load_errors()["duplicate = stitchbench_tmp_duplicate"]
    assert metrics.get("cka_linear").info.reference != "impostor"


# ----------------------------------------------------------------------------------------------------
# A new measure is one file: a copy of the package with one file added, a fresh interpreter
# ----------------------------------------------------------------------------------------------------
def test_a_new_measure_file_is_found_checked_and_tested_with_no_other_edit(tmp_path):
    """Copy the package, add one measure file, and run the contract, reference and doctest files of this
    suite on the copy in a fresh interpreter: every test of the new measure is collected and passes."""
    name = "scratch_feature_cka"
    package = Path(metrics.__file__).parent
    shutil.copytree(package, tmp_path / "metrics", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "metrics" / f"{name}.py").write_text(MEASURE_FILE.format(name=name))
    tests = Path(__file__).parent
    files = [str(tests / f"test_metrics_{part}.py") for part in ("contract", "reference", "package")]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rA", "-k", name]
    run = subprocess.run(command + files, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = {line.split()[1].split("::")[1] for line in run.stdout.splitlines() if line.startswith("PASSED ")}
    expected = {f"test_contract[{name}-{check}]" for check in CHECKS} | {
        f"test_every_builtin_measure_has_an_independent_reference_route[{name}]",
        f"test_reference_route_uses_nothing_the_measure_computes_with[{name}]",
        f"test_docstring_examples_run[metrics.{name}.{name}]",
    }
    assert expected <= passed, sorted(expected - passed)
    assert any(test.startswith(f"test_measure_matches_reference[{name}-") for test in passed), sorted(passed)


@pytest.mark.parametrize("unsafe", ["../../outside", "a/b", "<img src=x onerror=alert(1)>", "x" * 101, "1st"])
def test_a_name_that_is_no_safe_file_name_is_refused(isolated_registry, unsafe):
    """Names key the value cache's files and the reports' cells (before: ``../`` wrote outside the cache)."""
    with pytest.raises(ValueError, match="a name is a letter, then letters, digits"):
        metrics.register(unsafe, symmetric=True, bounds=(0.0, 1.0))(lambda x, y: 0.5)
