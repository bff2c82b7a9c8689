"""Which network bank a run reads (--bank, ``$STITCHBENCH_BANK``, else the repository's ``bank/``), and
--rebuild-networks: the networks family built from the seeds with no bank, and the bank written at the
end from what its cases read (``scenarios.networks.bank_build``). The networks stack is imported only
when a bank is rebuilt."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import scenarios
from pytest_stitchbench.state import is_worker, run_of, split, under_root
from runner.environment import PINNED_KERNELS, dependency_versions, platform_fingerprint
from runner.paths import BANK_ENV

__all__ = ["Rebuild", "rebuild_bank"]


@dataclass
class Rebuild:
    """A --rebuild-networks under way: the folder to write, the recipes the cases read, and once written
    the bank's version."""

    into: Path
    reading: object
    reads: set = field(default_factory=set)
    version: str | None = None


def pytest_configure(config):
    """--bank names the bank every process reads; --rebuild-networks reads none and starts collecting what
    the networks cases read."""
    if is_worker(config):
        return
    bank = config.getoption("--bank")
    if bank is not None:
        os.environ[BANK_ENV] = str(under_root(config, bank))
    if not config.getoption("--rebuild-networks"):
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--rebuild-networks runs serially: leave out -n")
    from scenarios.networks import bank as networks_bank
    from scenarios.networks.recipes import reading as reads_of_cases

    reading = reads_of_cases()
    rebuild = Rebuild(Path(networks_bank.Bank().root or networks_bank.DEFAULT_ROOT), reading)
    os.environ[BANK_ENV] = "none"
    rebuild.reads = reading.__enter__()
    run_of(config).rebuild = rebuild


def rebuild_bank(config) -> str:
    """Write the bank from what the networks cases read; replace it when every networks scenario of the
    specs was generated, else add to it. Returns the summary line."""
    from scenarios.networks.bank_build import needed, write_bank

    run = run_of(config)
    rebuild = run.rebuild
    rebuild.reading.__exit__(None, None, None)
    wanted = {entry.name for entry in scenarios.spec_index(split(config.getoption("--specs")))
              if entry.family == "networks"}
    generated = {name for name in run.cases if name in wanted}
    complete = generated == wanted and not run.generation_errors
    built_with = {"platform": platform_fingerprint(), "versions": dependency_versions(),
                  "kernels": {name: os.environ.get(name) for name in sorted(PINNED_KERNELS)}}
    report = write_bank(needed(rebuild.reads), rebuild.into, built_with, replace=complete)
    rebuild.version = report.version
    scope = "replaced" if complete else "added to (not every networks scenario ran)"
    return f"{report} at {rebuild.into}: {scope}"
