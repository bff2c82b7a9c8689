"""Speed in the regression baseline: each measure's time over its own bound, and a comparison that
reports a ratio grown past twice the recorded one (a measure slowed on purpose is caught; noise is not),
failing the run only behind the opt-in gate."""
from __future__ import annotations

import copy

import pandas as pd
import pytest

from reports.baseline import SPEED_FACTOR, SPEED_MIN_BOUND_SECONDS, baseline_document, compare, speed_section
from reports.results import results_table

FINGERPRINT = {"torch": "t", "machine": "m", "blas": "b", "blas_core": "c", "python": "3"}
NO_VERDICTS = pd.DataFrame(columns=["metric", "scenario", "expectation", "verdict"])


def _document(timings) -> dict:
    return baseline_document(results_table([]), NO_VERDICTS, profile="quick", fingerprint=FINGERPRINT,
                             speed=speed_section(timings))  # fmt: skip


TIMINGS = [
    ("cka_linear", "n5000-p512x512", 0.060, 0.040),  # ratio 1.5
    ("rsa", "n5000-p512x512", 4.2, 3.0),  # ratio 1.4
    ("rsa", "n1000-p64x64", 0.150, 0.110),
    ("cka_linear", "n1000-p64x64", 0.0009, 0.0004),  # bound under the noise floor: not recorded
    ("magnitude_difference", "n5000-p512x512", 0.02, None),  # no declared bound: not recorded
]


def test_speed_section_keeps_ratios_where_the_bound_is_long_enough():
    section = speed_section(TIMINGS)
    assert section == {"cka_linear": {"n5000-p512x512": 1.5}, "rsa": {"n5000-p512x512": 1.4, "n1000-p64x64": 1.36}}
    assert SPEED_MIN_BOUND_SECONDS == pytest.approx(5e-3)


def test_a_measure_slowed_on_purpose_is_caught():
    baseline = _document(TIMINGS)
    slowed = [(m, s, seconds * (2.2 if m == "rsa" and s.startswith("n5000") else 1.0), bound)
              for m, s, seconds, bound in TIMINGS]  # fmt: skip
    differences = compare(baseline, _document(slowed))
    assert [(d.kind, d.baseline, d.current, d.fails) for d in differences] == [("speed", 1.4, 3.08, False)]
    assert "rsa / n5000-p512x512" in str(differences[0]) and "over 2x the baseline's" in str(differences[0])
    gated = compare(baseline, _document(slowed), speed_fails=True)  # --speed-gate, on quiet dedicated hardware
    assert [(d.kind, d.fails) for d in gated] == [("speed", True)]


def test_a_doubled_ratio_in_the_document_is_caught_and_one_within_twice_passes():
    baseline = _document(TIMINGS)
    current = copy.deepcopy(baseline)
    current["speed"]["cka_linear"]["n5000-p512x512"] = 1.5 * SPEED_FACTOR * 1.01
    assert [d.kind for d in compare(baseline, current)] == ["speed"]
    current["speed"]["cka_linear"]["n5000-p512x512"] = 1.5 * SPEED_FACTOR * 0.99
    assert compare(baseline, current) == []


def test_a_slower_machine_moves_measure_and_bound_alike_and_passes():
    busy = [(m, s, 20 * seconds, None if bound is None else 20 * bound) for m, s, seconds, bound in TIMINGS]
    differences = compare(_document(TIMINGS), _document(busy))
    # the 20x slower bound of cka_linear at n = 1000 now passes the noise floor: a new entry, listed only
    assert [(d.kind, d.key, d.fails) for d in differences] == [("new", "speed: cka_linear / n1000-p64x64", False)]


def test_faster_new_and_untimed_ratios_do_not_fail():
    baseline = _document(TIMINGS)
    faster = [(m, s, seconds / 3, bound) for m, s, seconds, bound in TIMINGS]
    assert compare(baseline, _document(faster)) == []
    assert compare(baseline, _document([])) == []  # speed benchmark not run: nothing compared
    added = compare(baseline, _document(TIMINGS + [("gulp", "n5000-p512x512", 0.3, 0.1)]))
    assert [(d.kind, d.fails) for d in added] == [("new", False)]


def test_speed_is_compared_on_another_platform_too():
    baseline = _document(TIMINGS)
    current = _document([(m, s, 3 * seconds, bound) for m, s, seconds, bound in TIMINGS])
    current["platform"] = {**FINGERPRINT, "machine": "aarch64"}
    kinds = sorted(d.kind for d in compare(baseline, current))
    assert kinds == ["platform", "speed", "speed", "speed"]
