"""The packages depend on each other one way (DESIGN section 2): ``runner`` uses neither ``scenarios`` nor
``reports``; ``reports`` reads of ``scenarios`` only its light schema modules; ``metrics`` uses none of
them; nothing depends on the pytest plugin. ``import reports`` loads no torch, and a run of the synthetic
families alone loads no networks code."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("metrics", "runner", "scenarios", "reports", "pytest_stitchbench")
#: what each package may import of the others (DESIGN section 2)
ALLOWED = {
    "metrics": set(),
    "runner": {"metrics"},
    "scenarios": {"metrics", "runner"},
    "reports": {"runner", "scenarios.types", "scenarios.kinds", "scenarios.use_cases"},
    "pytest_stitchbench": {"metrics", "runner", "scenarios", "reports"},
}

pytest_plugins = ["pytester"]


def _imports(package: str):
    """(module file, imported top-level package or module) for every import in ``package``."""
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                if name.split(".")[0] in PACKAGES and name.split(".")[0] != package:
                    yield path.relative_to(ROOT), name


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_it_may(package):
    allowed = ALLOWED[package]
    wrong = [f"{path}: {name}" for path, name in _imports(package)
             if name.split(".")[0] not in allowed and not any(name == a or name.startswith(a + ".") for a in allowed)]
    assert not wrong, wrong


def test_a_run_of_the_synthetic_families_loads_no_networks_code(pytester, monkeypatch, tmp_path):
    """The plugin imports the networks stack only when a networks scenario is selected."""
    for name in ("conftest.py", "test_scenarios.py"):
        (pytester.path / name).write_text((ROOT / "benchmarks" / name).read_text())
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(probe=textwrap.dedent("""
        import sys
        def pytest_sessionfinish(session):
            loaded = sorted(m for m in sys.modules if m.startswith("scenarios.networks"))
            print("NETWORKS LOADED:", loaded)
    """))
    monkeypatch.setenv("STITCHBENCH_CACHE", str(tmp_path))
    result = pytester.runpytest_subprocess("-p", "probe", "-p", "no:cacheprovider", "--families", "symmetry",
                                           "--scenarios", "orthogonal", "--metrics", "cka_linear", "-s",
                                           "--report-dir", "out")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*NETWORKS LOADED: []*"])


def test_importing_the_runner_loads_no_torch():
    script = "import sys, runner.cells, runner.value_cache, runner.environment, runner.paths, runner.atomic; " \
             "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('scenarios', 'reports'))))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
