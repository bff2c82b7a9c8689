"""``benchmarks/conftest.py`` pins the CPU kernels before numpy and torch load them, so that machines with
and without AVX-512 give the same bits; the networks cache keys its entries by the same variables."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from runner.environment import _has_avx2
from scenarios.networks.cache import KERNEL_VARIABLES

CONFTEST = Path(__file__).resolve().parents[1] / "benchmarks" / "conftest.py"
ROOT = CONFTEST.parents[1]

#: Loads benchmarks/conftest.py as a module in a fresh interpreter, then reports what the libraries run.
PROBE = f"""
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("bench_conftest", {str(CONFTEST)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import torch
from runner import environment
from threadpoolctl import threadpool_info
print(json.dumps({{
    "pinned": environment.PINNED_KERNELS,
    "env": {{name: os.environ.get(name) for name in environment.PINNED_KERNELS}},
    "torch_cpu": torch.backends.cpu.get_cpu_capability(),
    "numpy_simd": __import__("runner.environment").environment.platform_fingerprint()["numpy_simd"],
    "blas_core": sorted({{i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"}}),
}}))
"""


def _probe(**env) -> dict:
    environment = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES} | env
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


pytestmark = pytest.mark.skipif(platform.machine() != "x86_64" or not _has_avx2(), reason="pins apply on x86-64 with AVX2")


def test_the_pinned_variables_are_those_the_cache_keys_by():
    assert set(_probe()["pinned"]) == set(KERNEL_VARIABLES)


def test_the_pins_take_effect_in_torch_and_numpy():
    seen = _probe(STITCHBENCH_NATIVE_KERNELS="0")  # pinned even when the suite itself runs on native kernels
    assert seen["env"] == seen["pinned"]
    assert seen["torch_cpu"] == "AVX2"
    assert seen["blas_core"] == ["Haswell"]
    assert seen["numpy_simd"] in ("X86_V3", "unknown")  # AVX2 (X86_V3) where numpy reports its dispatch


def test_a_variable_already_set_wins_and_the_escape_hatch_leaves_all_alone():
    assert _probe(ATEN_CPU_CAPABILITY="default")["torch_cpu"] == "DEFAULT"
    native = _probe(STITCHBENCH_NATIVE_KERNELS="1")
    assert native["env"] == {name: None for name in KERNEL_VARIABLES}
