"""Build the missing recipes of a scenario in parallel processes, in dependency order.

Every build is deterministic and single-threaded (``determinism.deterministic``), so a machine's cores
are kept busy by building independent recipes at once: :func:`prefetch` collects the recipes a scenario
needs that the cache lacks (and, recursively, the missing recipes they read), then builds them in a pool
of worker processes (``$STITCHBENCH_WORKERS``, default one per core on the CPU and 1 on a GPU), each
recipe once every recipe it reads is stored. Workers write to the cache atomically (``cache.Cache``), and
the generators then read what they need as in a serial run; the entries are the same bit for bit as
those a serial run would build. With one worker (or nothing to build) it does nothing: the generators
build on demand.
"""
from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable

import torch

from scenarios.networks.recipes.base import Recipe, Setup
from scenarios.progress import note

__all__ = ["WORKERS_ENV", "missing", "prefetch", "workers"]

#: Environment variable: the number of worker processes that build recipes (1: build in the process).
WORKERS_ENV = "STITCHBENCH_WORKERS"

_pools: dict[int, ProcessPoolExecutor] = {}


def workers(device: str) -> int:
    """``$STITCHBENCH_WORKERS``, else the number of cores on the CPU and 1 on a GPU."""
    value = os.environ.get(WORKERS_ENV, "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{WORKERS_ENV} must be a positive integer, got {value!r}")
        return int(value)
    return (os.cpu_count() or 1) if device == "cpu" else 1


def missing(setup: Setup, recipes: Iterable[Recipe]) -> dict[Recipe, set[Recipe]]:
    """The recipes of ``recipes`` the cache lacks, and the missing ones they read, each with the set of
    missing recipes it reads; in dependency order (a recipe after what it reads)."""
    found: dict[Recipe, set[Recipe]] = {}

    def visit(recipe: Recipe) -> bool:
        if recipe in found:
            return True
        if recipe.is_stored(setup):
            return False
        needs = {parent for parent in recipe.parents() if visit(parent)}
        found[recipe] = needs
        return True

    for recipe in recipes:
        visit(recipe)
    return found


def _start_worker() -> None:
    torch.set_num_threads(1)


def _pool(size: int) -> ProcessPoolExecutor:
    """This process's pool of ``size`` workers (started with ``spawn``: a forked torch is not safe)."""
    if size not in _pools:
        _pools[size] = ProcessPoolExecutor(size, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_start_worker)
    return _pools[size]


def _build(setup: Setup, recipe: Recipe) -> None:
    recipe.fetch(setup)


def prefetch(setup: Setup, recipes: Iterable[Recipe], size: int | None = None) -> int:
    """Build the missing ones of ``recipes`` (see :func:`missing`) in a pool of ``size`` workers
    (default :func:`workers`); returns how many were built. A build that fails raises here; a pool
    that cannot run (a worker killed, or a main script that ``spawn`` cannot re-import, such as one
    read from stdin) is given up with a warning, leaving the rest to be built on demand."""
    todo = missing(setup, recipes)
    size = workers(setup.device) if size is None else size
    if size <= 1 or len(todo) < 2:
        return 0
    try:
        return _run(setup, todo, size)
    except BrokenProcessPool as err:
        broken = _pools.pop(size, None)
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)
        warnings.warn(f"prefetch: the pool of {size} workers broke ({err}); building in this process",
                      stacklevel=2)
        return 0


def _run(setup: Setup, todo: dict[Recipe, set[Recipe]], size: int) -> int:
    """Build ``todo`` (recipe -> the recipes of ``todo`` it reads) in the pool of ``size`` workers, each
    once what it reads is built; returns how many were built."""
    readers: dict[Recipe, list[Recipe]] = {recipe: [] for recipe in todo}
    for recipe, needs in todo.items():
        for parent in needs:
            readers[parent].append(recipe)
    waiting = {recipe: set(needs) for recipe, needs in todo.items()}
    ready = [recipe for recipe, needs in waiting.items() if not needs]
    pool, running, started = _pool(size), {}, 0
    while ready or running:
        for recipe in ready:
            started += 1
            note(f"{recipe.action} {recipe.describe()} ({started} of {len(todo)}, {size} workers)")
            running[pool.submit(_build, setup, recipe)] = recipe
        ready = []
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            recipe = running.pop(future)
            future.result()
            for reader in readers[recipe]:
                waiting[reader].discard(recipe)
                if not waiting[reader]:
                    ready.append(reader)
    return started
