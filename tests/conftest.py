"""Test-suite set-up: the pinned CPU kernels, hypothesis profiles, and the test measure plugin put where
importlib.metadata finds it.

- The CPU kernels are pinned as in ``pytest benchmarks/`` (``runner.environment.pin_cpu_kernels``),
  before numpy and torch load, so that the runner run in this process computes what its xdist workers do.

- Profile "ci" (selected when the environment variable CI is set): derandomized, 25 examples, no deadline
  (the CI machine has 2 shared cores). Profile "dev" otherwise: random, 15 examples, no deadline.
  Override with ``--hypothesis-profile``.
- ``tests/plugins`` holds ``stitchbench_testplugin.py`` and its ``.dist-info`` folder with an entry point
  in the ``stitchbench.metrics`` group. It is put on sys.path here, before any test module is collected,
  so that ``metrics.discover()`` loads the plugin through the entry-point path like any installed package.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

TESTS = Path(__file__).resolve().parent
PLUGINS = TESTS / "plugins"

if importlib.util.find_spec("metrics") is None:  # a source checkout that was not pip-installed
    sys.path.insert(0, str(TESTS.parent))
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))
    importlib.invalidate_caches()

from runner.environment import pin_cpu_kernels  # noqa: E402 - stdlib only; before numpy and torch load

pin_cpu_kernels()  # the kernels benchmarks/conftest.py pins: tests that run the runner in this process match its workers

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

import metrics  # noqa: E402  (after sys.path is set)

metrics.discover()  # picks up the test plugin even if another module loaded the registry first


@pytest.fixture
def isolated_registry():
    """Restore the measure registry (measures, load errors, loaded modules) after the test, so throwaway
    measures and broken plugins registered by a test do not leak into the others."""
    from metrics import _registry

    saved = dict(_registry._REGISTRY), dict(_registry._LOAD_ERRORS), set(_registry._LOADED_MODULES)
    yield _registry
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(saved[0])
    _registry._LOAD_ERRORS.clear()
    _registry._LOAD_ERRORS.update(saved[1])
    _registry._LOADED_MODULES.clear()
    _registry._LOADED_MODULES.update(saved[2])


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory):
    """Every test's networks cache and kept values live in one folder of this session, never in the
    user's ``~/.cache/stitchbench`` (a test that needs its own sets ``STITCHBENCH_CACHE`` itself), and
    no test reads the shipped network bank unless it names one (``STITCHBENCH_BANK``, ``Bank(root)``):
    a test of the builds builds."""
    names = ("STITCHBENCH_CACHE", "STITCHBENCH_BANK")
    before = {name: os.environ.get(name) for name in names}
    os.environ["STITCHBENCH_CACHE"] = str(tmp_path_factory.mktemp("stitchbench-cache"))
    os.environ["STITCHBENCH_BANK"] = "none"
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _fresh_neighbour_searches(monkeypatch):
    """Each test starts with an empty cache of neighbour searches (metrics.neighbors.SearchCache): a search
    cached by an earlier test would spare a later one the code it checks (its products, its row blocks)."""
    from metrics import neighbors

    monkeypatch.setattr(neighbors, "_SEARCHES", neighbors.SearchCache(neighbors.SEARCH_CACHE_BYTES))
