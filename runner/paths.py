"""Where a run keeps what outlives it: the cache folder (``$STITCHBENCH_CACHE``, default
``~/.cache/stitchbench``), with the networks' entries in it and the measured values in ``values/``; and
where it reads the network bank from (``$STITCHBENCH_BANK``, read by ``scenarios.networks.bank``)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BANK_ENV", "CACHE_ENV", "cache_root", "values_root"]

#: Environment variable naming the cache folder.
CACHE_ENV = "STITCHBENCH_CACHE"
#: Environment variable naming the network bank's folder (``none``: no bank); every process of a run,
#: pytest-xdist workers included, reads it.
BANK_ENV = "STITCHBENCH_BANK"


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else ``$STITCHBENCH_CACHE``, else ``~/.cache/stitchbench`` (user expanded)."""
    return Path(root or os.environ.get(CACHE_ENV) or "~/.cache/stitchbench").expanduser()


def values_root(root: str | os.PathLike | None = None) -> Path:
    """The folder of the values kept between runs (``runner.value_cache``): ``values/`` of the cache."""
    return cache_root(root) / "values"
