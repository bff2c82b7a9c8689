"""What a run measures: the scenario specs and measures selected (--profile, --specs, --families,
--scenarios, --metrics), the grid's parametrization (one test per measure x scenario, scenario-major) and
the tests left out (timing benchmarks under xdist, the opt-in retraining check)."""
from __future__ import annotations

import pytest

import metrics
import scenarios
from pytest_stitchbench.state import is_worker, run_of, split

__all__ = ["SERIAL_ONLY", "SPEED_SHAPES", "selected_metrics", "selected_specs"]

#: (n, p1, p2) of the speed and peer benchmarks, per profile.
SPEED_SHAPES = {
    "quick": [(1000, 64, 64), (5000, 512, 512)],
    "full": [(1000, 64, 64), (5000, 512, 512), (10000, 2048, 2048)],
}
#: Benchmark modules that time code and need the whole machine: under xdist they are skipped.
SERIAL_ONLY = ("test_speed.py", "test_streaming.py", "test_peers.py", "test_peers_field.py", "test_retrain.py")


def selected_specs(config) -> list:
    """The scenario specs of this run (--profile, --specs, --families, --scenarios), loaded once per
    process. Only the selected entries are validated: a malformed one is a one-line usage error naming
    the file, the scenario and the problem; a broken spec that is not selected stops nothing."""
    run = run_of(config)
    if run.specs is None:
        paths = split(config.getoption("--specs"))
        index = scenarios.spec_index(paths)
        filters = {}
        for option, attribute, key in (("--families", "family", "families"), ("--scenarios", "name", "names")):
            wanted = split(config.getoption(option))
            if wanted is None:
                continue
            known = sorted({getattr(entry, attribute) for entry in index if getattr(entry, attribute)})
            unknown = sorted(set(wanted) - set(known))
            if unknown:
                raise pytest.UsageError(f"{option}: unknown {unknown}; known: {', '.join(known)}")
            filters[key] = wanted
        problems: list = []
        specs = scenarios.load_specs(paths=paths, profile=config.getoption("--profile"), errors=problems, **filters)
        selected = [p for p in problems if _selected(p, filters)]
        if selected:
            more = f" (and {len(selected) - 1} more: {'; '.join(str(p) for p in selected[1:])})" if len(selected) > 1 else ""
            raise pytest.UsageError(f"{selected[0]}{more}")
        for problem in problems:  # a file no filter can attribute, left out of a filtered run
            config.issue_config_time_warning(pytest.PytestConfigWarning(f"left out: {problem}"), stacklevel=2)
        run.specs = specs
    return run.specs


def _selected(problem, filters: dict) -> bool:
    """Whether a spec problem concerns the run's selection (a file that could not be read at all names no
    scenario: it concerns an unfiltered run, and is a warning for a filtered one)."""
    if problem.scenario is None:
        return not filters
    return problem.family in filters.get("families", [problem.family]) and \
        problem.scenario in filters.get("names", [problem.scenario])


def _known(name: str) -> bool:
    try:
        metrics.get(name)
    except (KeyError, ValueError):
        return False
    return True


def selected_metrics(config) -> list[str]:
    """The measures of this run (--metrics, default every registered one but the opt-in ones); --metrics
    also takes modified measures (``cka_linear@calibrated``), after the registered ones in its order."""
    available = metrics.available()
    wanted = split(config.getoption("--metrics"))
    if wanted is None:
        return [name for name in available if not metrics.get(name).info.opt_in]
    unknown = sorted(name for name in set(wanted) if not _known(name))
    if unknown:
        modifiers = ", ".join(f"name@{modifier}" for modifier in metrics.modifiers())
        raise pytest.UsageError(f"--metrics: unknown {unknown}; available: {', '.join(available)}; and {modifiers}")
    variants = [name for name in dict.fromkeys(wanted) if name not in available]
    return [name for name in available if name in wanted] + variants


def pytest_configure(config):
    """Unknown measures, families or scenarios and malformed selected specs are usage errors before
    anything runs."""
    if is_worker(config):
        return
    if config.getoption("--metrics") is not None:
        selected_metrics(config)
    selected_specs(config)


def pytest_generate_tests(metafunc):
    """Parametrize ``shape`` over the profile's ``SPEED_SHAPES`` (or the module's own ``SHAPES``, the same
    form; ids like "n1000-p64x64"), ``scenario``
    alone over the selected specs, and ``(metric_name, scenario)`` over the grid, scenario-major, ids like
    "cka_linear-orthogonal"."""
    config = metafunc.config
    if "shape" in metafunc.fixturenames:
        shapes = getattr(metafunc.module, "SHAPES", SPEED_SHAPES)[config.getoption("--profile")]
        metafunc.parametrize("shape", shapes, ids=[f"n{n}-p{p1}x{p2}" for n, p1, p2 in shapes], scope="module")
    if "scenario" in metafunc.fixturenames and "metric_name" not in metafunc.fixturenames:
        specs = selected_specs(config)
        metafunc.parametrize("scenario", specs, ids=[spec.name for spec in specs])
    if not {"metric_name", "scenario"} <= set(metafunc.fixturenames):
        return
    grid = [
        pytest.param(name, spec, id=f"{name}-{spec.name}", marks=pytest.mark.xdist_group(spec.name))
        for spec in selected_specs(config)
        for name in selected_metrics(config)
    ]
    metafunc.parametrize(("metric_name", "scenario"), grid)


def pytest_collection_modifyitems(config, items):
    """Leave out the opt-in retraining check unless --retrain; skip the timing benchmarks under xdist, and
    the speed benchmark of measures this run leaves out (opt-in measures not named with --metrics)."""
    if not config.getoption("--retrain"):
        retrain = [item for item in items if item.path.name == "test_retrain.py"]
        if retrain:
            config.hook.pytest_deselected(items=retrain)
            items[:] = [item for item in items if item.path.name != "test_retrain.py"]
    left_out = set(metrics.available()) - set(selected_metrics(config))
    serial = pytest.mark.skip(reason="timing benchmarks need the whole machine: run them serially (without -n)")
    for item in items:
        if is_worker(config) and item.path.name in SERIAL_ONLY:
            item.add_marker(serial)
        name = getattr(item, "callspec", None) and item.callspec.params.get("name")
        if item.path.name == "test_speed.py" and name in left_out:
            item.add_marker(pytest.mark.skip(reason=f"{name} is not in this run (opt-in measures run when --metrics "
                                                    "names them)"))
