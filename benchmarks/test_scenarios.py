"""Every registered measure on every scenario: one test per (measure, scenario), e.g. "cka_linear-orthogonal".

The test measures all cases and seeds of its scenario and records one row per case (value, stitching
reference, time, error). It does not judge: a measure that raises or returns NaN leaves error rows and
the test passes; verdicts, the scorecard and the baseline comparison are made from all rows at the end
of the session (benchmarks/conftest.py, reports/).
"""
from __future__ import annotations

import pytest

import metrics
from reports.results import measure_cases


def test_scenario(metric_name, scenario, scenario_cases, record_rows):
    cases = scenario_cases(scenario)
    if not cases:
        pytest.skip(f"scenario {scenario.name} generated no case")
    record_rows(measure_cases(metric_name, metrics.get(metric_name), cases))
