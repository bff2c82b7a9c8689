"""Every registered measure on every scenario: one test per (measure, scenario), e.g. "cka_linear-orthogonal".

The test measures all cases and seeds of its scenario and records one row per case (value, stitching
reference, time, error; a call that runs past ``--cell-timeout`` is an error row); a case whose inputs
and measure code are those of an earlier run takes that run's value (``runner.value_cache``; ``--recompute`` measures everything again). It does not judge: a measure that raises or returns NaN leaves error rows and
the test passes; a scenario that cannot be generated (a broken factory, one that calls ``sys.exit`` or
runs past ``--generation-timeout``) leaves one error row per seed
and fails its tests, the other scenarios untouched; verdicts, the scorecard and the baseline comparison are made from all rows at the end
of the session (pytest_stitchbench.session, reports/).
"""
from __future__ import annotations

import pytest

import metrics
from runner.cells import generation_error_rows, measure_cases
from runner.isolation import USER_FAULTS


def test_scenario(metric_name, scenario, scenario_cases, record_rows, value_cache, time_limits):
    try:
        cases = scenario_cases(scenario)
    except USER_FAULTS as err:  # the scenario's cells are errors in the scorecard, and its test fails
        record_rows(generation_error_rows(metric_name, scenario, err))
        raise
    if not cases:
        pytest.skip(f"scenario {scenario.name} generated no case")
    record_rows(measure_cases(metric_name, metrics.get(metric_name), cases, value_cache, generator=scenario.generator,
                              seconds=time_limits.cell))
