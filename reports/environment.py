"""The run's environment: versions, platform and thread settings for report headers, and the CPU
kernels every run pins (stdlib imports only, so that the pin can come before numpy and torch load)."""
from __future__ import annotations

import os
import platform
import sys

__all__ = ["PINNED_KERNELS", "environment", "pin_cpu_kernels"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

#: The CPU kernels of every run on an x86-64 machine with AVX2: torch's own kernels, MKL (its
#: conditional numerical reproducibility), oneDNN, numpy's OpenBLAS and numpy's own SIMD loops (its
#: AVX-512 targets disabled: X86_V3 is AVX2) all at the AVX2 level, so that a
#: machine with AVX-512 trains the same models and computes the same values, bit for bit, as one
#: without (measured: a SkylakeX machine reproduced a Haswell machine's baseline exactly with them,
#: and differed in the third decimal without). ``benchmarks/conftest.py`` and ``tests/conftest.py`` set
#: them before numpy and torch load their libraries; a variable already set wins, and
#: ``STITCHBENCH_NATIVE_KERNELS=1`` leaves them all alone. The networks cache keys its entries by them.
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                  "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}  # fmt: skip


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and " avx2" in line for line in cpuinfo)
    except OSError:  # not Linux: leave the kernels as they are
        return False


def pin_cpu_kernels() -> list[str]:
    """Set :data:`PINNED_KERNELS` where they apply (x86-64 with AVX2); returns the names set here.
    Where numpy or torch was loaded before (a plugin given with ``-p``), the libraries may keep their
    native kernels: the platform fingerprint of the baseline (``blas_core``, ``torch_cpu``) records
    what ran."""
    if os.environ.get("STITCHBENCH_NATIVE_KERNELS") == "1" or platform.machine() != "x86_64" or not _has_avx2():
        return []
    unset = [name for name in PINNED_KERNELS if name not in os.environ]
    os.environ.update({name: PINNED_KERNELS[name] for name in unset})
    return unset


def environment() -> dict[str, str]:
    """Versions of Python and the numerical libraries, the platform, and the thread settings."""
    import numpy
    import pandas
    import scipy
    import torch

    threads = [f"torch {torch.get_num_threads()}", f"cpus {os.cpu_count()}"]
    threads += [f"{name}={os.environ[name]}" for name in _THREAD_VARIABLES if name in os.environ]
    return {
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "torch": torch.__version__,
        "platform": f"{platform.platform()} ({platform.machine()})",
        "threads": ", ".join(threads),
    }
