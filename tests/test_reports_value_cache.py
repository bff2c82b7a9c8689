"""Values kept between runs (``runner.value_cache``): a warm run gives the rows a cold run gave, bit for
bit, without calling the measure; a changed input, measure or file is measured again."""
from __future__ import annotations

import importlib.util
import json
import math
import sys

import numpy as np
import pytest
import torch

from runner.cells import measure_cases
from runner.value_cache import ValueCache, case_digest, measure_fingerprint
from scenarios.types import Case


def _cases(seed: int = 0) -> list[Case]:
    """Three cases; the last one's corner entry is negative (the measure below fails on it)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(3):
        x = rng.standard_normal((20, 4))
        x[0, 0] = -1.0 if i == 2 else 1.0
        cases.append(Case("symmetry", "toy", f"c{i}", seed, x, rng.standard_normal((20, 3)), param=float(i), stitch=0.5))
    return cases


class Counting:
    """A measure that counts its calls; it fails on the case whose first entry is negative."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x, y):
        self.calls += 1
        if x[0, 0] < 0:
            raise ValueError("negative corner")
        return float(np.sum(x) / np.sum(np.abs(y)) + 1 / 3)


def test_a_warm_run_gives_the_cold_rows_bit_for_bit_without_measuring(tmp_path):
    cases, measure = _cases(), Counting()
    cold = measure_cases("toy_measure", measure, cases, ValueCache(tmp_path))
    calls = measure.calls
    warm = measure_cases("toy_measure", measure, _cases(), ValueCache(tmp_path))  # same inputs, new objects
    assert measure.calls == calls == len(cases)
    assert [r["cached"] for r in cold] == [False] * 3 and [r["cached"] for r in warm] == [True] * 3
    for before, after in zip(cold, warm):
        assert {k: v for k, v in before.items() if k not in ("cached", "value")} == \
               {k: v for k, v in after.items() if k not in ("cached", "value")}  # fmt: skip
        assert (math.isnan(before["value"]) and math.isnan(after["value"])) or before["value"].hex() == after["value"].hex()
    assert any(r["error"] for r in warm), "the failing case keeps its error"


def test_only_the_changed_case_is_measured_again(tmp_path):
    measure = Counting()
    measure_cases("toy_measure", measure, _cases(), ValueCache(tmp_path))
    changed = _cases()
    changed[1] = Case(**{**changed[1].__dict__, "x": changed[1].x + 1.0})
    measure.calls = 0
    rows = measure_cases("toy_measure", measure, changed, ValueCache(tmp_path))
    assert measure.calls == 1 and [r["cached"] for r in rows] == [True, False, True]


def test_without_reading_everything_is_measured_and_kept(tmp_path):
    measure = Counting()
    measure_cases("toy_measure", measure, _cases(), ValueCache(tmp_path, read=False))
    measure_cases("toy_measure", measure, _cases(), ValueCache(tmp_path, read=False))
    assert measure.calls == 6
    measure_cases("toy_measure", measure, _cases(), ValueCache(tmp_path))
    assert measure.calls == 6


@pytest.mark.parametrize("damage", ["value", "garbage", "fingerprint"])
def test_a_damaged_file_is_measured_again_and_rewritten(tmp_path, damage):
    measure = Counting()
    cold = measure_cases("toy_measure", measure, _cases(), ValueCache(tmp_path))
    path = tmp_path / "toy_measure" / "toy.json"
    document = json.loads(path.read_text())
    if damage == "value":
        digest = next(iter(document["values"]))
        document["values"][digest][0] = (1.5).hex()
        path.write_text(json.dumps(document))
    elif damage == "garbage":
        path.write_text("{not json")
    else:
        document["fingerprint"] = "0" * 64
        path.write_text(json.dumps(document))
    measure.calls = 0
    again = measure_cases("toy_measure", measure, _cases(), ValueCache(tmp_path))
    assert measure.calls == 3 and not any(r["cached"] for r in again)
    assert [r["error"] for r in again] == [r["error"] for r in cold]
    assert json.loads(path.read_text())["fingerprint"] == measure_fingerprint(measure)


def test_the_digest_sees_dtype_shape_and_every_byte():
    base = _cases()[0]
    x = base.x
    variants = [x.astype(np.float32), x.reshape(10, 8), np.nextafter(x, np.inf), torch.from_numpy(x.copy())]
    digests = {case_digest(Case(**{**base.__dict__, "x": v})) for v in variants[:3]}
    assert len(digests | {case_digest(base)}) == 4
    assert case_digest(Case(**{**base.__dict__, "x": variants[3]})) == case_digest(base)  # a tensor of the same bytes


def test_the_fingerprint_follows_a_plugin_module_source(tmp_path, monkeypatch):
    module_file = tmp_path / "toy_plugin_module.py"

    def load(constant: str):
        module_file.write_text(f"def toy(x, y):\n    return {constant}\n")
        spec = importlib.util.spec_from_file_location("toy_plugin_module", module_file)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, "toy_plugin_module", module)
        spec.loader.exec_module(module)
        return module.toy

    first = measure_fingerprint(load("1.0"))
    assert measure_fingerprint(load("1.0")) == first
    assert measure_fingerprint(load("2.0")) != first


def test_the_digest_sees_the_aggregate_over_layer_pairs():
    stack = np.random.default_rng(2).standard_normal((2, 10, 3))
    digests = {case_digest(Case("estimator", "layers", "c", 0, stack, stack, aggregate=aggregate))
               for aggregate in (None, "max", "mean")}
    assert len(digests) == 3


def test_a_cache_that_cannot_be_written_is_a_warning_and_the_values_stay(tmp_path):
    """A read-only cache or a full disk (here: a root below a file, which no account can write into): the
    measured values are in the rows all the same (before: the measure vanished from the results)."""
    (tmp_path / "file").write_text("")
    with pytest.warns(UserWarning, match="could not keep the values of toy_measure on toy"):
        rows = measure_cases("toy_measure", Counting(), _cases(), ValueCache(tmp_path / "file" / "values"))
    assert [r["error"] == "" for r in rows] == [True, True, False] and all(math.isfinite(r["value"]) for r in rows[:2])


@pytest.mark.parametrize("metric, scenario", [("../outside", "toy"), ("toy_measure", "../../outside"),
                                              ("toy_measure", "a/b")])
def test_a_name_that_reads_as_a_path_never_makes_a_file(tmp_path, metric, scenario):
    cases = [Case("symmetry", scenario, c.case, c.seed, c.x, c.y) for c in _cases()]
    values = ValueCache(tmp_path / "values")
    with pytest.warns(UserWarning, match="not a plain file name"):
        rows = measure_cases(metric, Counting(), cases, values)
    assert len(rows) == 3 and not any(tmp_path.rglob("*.json"))
