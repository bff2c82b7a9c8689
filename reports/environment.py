"""The run's environment for report headers: versions, platform and thread settings."""
from __future__ import annotations

import os
import platform
import sys

__all__ = ["environment"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


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
