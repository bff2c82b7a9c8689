"""The run's environment: versions, platform and thread settings for report headers, and the CPU
kernels every run pins (stdlib imports only, so that the pin can come before numpy and torch load)."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

__all__ = ["CONSTRAINTS", "NUMERICAL_DEPENDENCIES", "PINNED_KERNELS", "dependency_versions", "environment",
           "pin_cpu_kernels", "pinned_versions", "platform_fingerprint", "versions_note"]

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


#: The distributions a run's numbers depend on: their versions are recorded with the baseline and the
#: network bank, and pinned for CI in ``constraints.txt``.
NUMERICAL_DEPENDENCIES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "POT", "giotto-ph", "threadpoolctl",
                          "safetensors")


#: The pins CI installs with (``pip install -c constraints.txt``), beside the packages.
CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def pinned_versions(path: Path = CONSTRAINTS) -> dict[str, str]:
    """``name -> version`` of the ``name==version`` lines of a constraints file (markers ignored); empty
    when there is no such file (an installed copy without the repository's files)."""
    if not path.is_file():
        return {}
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#")[0].split(";")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[name.strip()] = version.strip()
    return pins


def versions_note(installed: dict[str, str] | None = None, pins: dict[str, str] | None = None) -> str:
    """The report header's line on the numerical dependencies: "as pinned in constraints.txt", or which
    ones differ from their pins (the scorecard then stands on other libraries than the baseline's)."""
    installed = dependency_versions() if installed is None else installed
    pins = pinned_versions() if pins is None else pins
    if not pins:
        return "no constraints.txt beside the packages: " + ", ".join(f"{k} {v}" for k, v in installed.items())
    differ = [f"{name} {version} (pinned {pins[name]})" for name, version in installed.items()
              if name in pins and version.split("+")[0] != pins[name]]
    return f"differ from constraints.txt: {', '.join(differ)}" if differ else "as pinned in constraints.txt"


def dependency_versions() -> dict[str, str]:
    """The installed version of every :data:`NUMERICAL_DEPENDENCIES` ("not installed" where absent), read
    from the distributions' metadata (nothing is imported)."""
    versions = {}
    for name in NUMERICAL_DEPENDENCIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _numpy_simd() -> str:
    """The SIMD target numpy's own loops run (``np.add``'s dispatch, e.g. X86_V3 = AVX2), or "unknown"."""
    try:
        from numpy._core import _multiarray_umath
    except ImportError:  # numpy 1.x
        return "unknown"
    info = getattr(_multiarray_umath, "__cpu_targets_info__", {}).get("add", {})
    return next(iter(info.values()), {}).get("current", "unknown") if info else "unknown"


def platform_fingerprint() -> dict[str, str]:
    """What a run's values depend on beyond the code: torch's version (read from the installed
    distribution; torch is not imported), the CPU architecture, the BLAS numpy was built with, its
    version and the kernel core it runs (threadpoolctl), the level of torch's own CPU kernels
    (``ATEN_CPU_CAPABILITY``, pinned by benchmarks/conftest.py; "native": the best the CPU has), the SIMD
    target of numpy's own loops, and the Python minor version."""
    import numpy
    from threadpoolctl import threadpool_info

    torch = dependency_versions()["torch"]
    blas = numpy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    cores = {info.get("architecture", "") for info in threadpool_info()
             if info.get("user_api") == "blas" and info.get("version") == blas.get("version")}
    return {
        "torch": torch,
        "torch_cpu": os.environ.get("ATEN_CPU_CAPABILITY", "native"),
        "numpy_simd": _numpy_simd(),
        "machine": platform.machine(),
        "blas": f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip(),
        "blas_core": ", ".join(sorted(c for c in cores if c)) or "unknown",
        "python": ".".join(platform.python_version_tuple()[:2]),
    }
