"""runner.isolation: user code that exits or hangs becomes the error of its own cells (item 2 of issue 21)."""
import math
import signal
import sys
import time

import numpy as np
import pytest

from runner.cells import measure_cases
from runner.isolation import TimeLimitExceeded, time_limit
from scenarios.types import Case


def _cases(count=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    return [Case("symmetry", "s", f"c{i}", 0, x, x + i, i, 1.0, 1.0) for i in range(count)]


def test_a_hang_is_stopped_at_its_time_limit_and_no_timer_is_left():
    with pytest.raises(TimeLimitExceeded, match="the block: still running after 0.2 s"):
        with time_limit(0.2, "the block"):
            time.sleep(60)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_an_enclosing_limit_is_restored_after_an_inner_block():
    with time_limit(50, "outer"):
        with time_limit(0.5, "inner"):
            pass
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < remaining <= 50  # the outer limit is armed again, less the time the inner block took
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_no_limit_runs_the_block_as_it_is():
    for seconds in (None, 0):
        with time_limit(seconds, "free"):
            assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _exit():
    sys.exit(2)


@pytest.mark.parametrize("fault, error", [
    (_exit, "SystemExit: the code called sys.exit(2)"),
    (lambda: time.sleep(60), "TimeLimitExceeded: faulty on case 'c0' of s: still running after 0.2 s"),
])  # fmt: skip
def test_a_measure_that_exits_or_hangs_is_an_error_row_and_the_next_case_is_measured(fault, error):
    calls = []

    def faulty(x, y):
        calls.append(1)
        if len(calls) == 1:
            fault()
        return 0.5

    rows = measure_cases("faulty", faulty, _cases(), seconds=0.2)
    assert rows[0]["error"].startswith(error) and math.isnan(rows[0]["value"])
    assert [r["value"] for r in rows[1:]] == [0.5, 0.5] and all(r["error"] == "" for r in rows[1:])


def test_ctrl_c_is_not_swallowed():
    def interrupted(x, y):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure_cases("interrupted", interrupted, _cases(1))
