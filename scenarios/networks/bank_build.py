"""Writing the network bank (``bank.Bank``) from the recipes a run's cases read.

``pytest benchmarks/ --rebuild-networks`` runs the networks family with no bank, so that every recipe
is built from the seeds (or read from the local cache where an earlier build left it: a build is
resumable), collects the recipes the cases read (``recipes.reading``), and hands them to
:func:`write_bank`, which stores the banked ones they need (``recipes.bank_needs``): tensors as safetensors
files, plain values and checksums in the manifest, written last and atomically. Builds are
deterministic on one platform, so a rebuild on the machine that built the bank reproduces its
checksums; on another CPU it does not, which is why the bank is shipped and retraining is checked
statistically (``benchmarks/test_retrain.py``).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from runner.atomic import write_text
from scenarios.networks.bank import FORMAT, MANIFEST, Bank, bank_key, encode, manifest_version, write_tensors
from scenarios.networks.cache import CODE_VERSION
from scenarios.networks.recipes.base import Recipe, Setup, bank_needs

__all__ = ["BuildReport", "needed", "write_bank"]


@dataclass(frozen=True)
class BuildReport:
    """What a write left in the bank: entries, files, bytes (files and manifest), its version, how many
    entries this run wrote and how many it kept from the bank before, and the seconds it took."""

    entries: int
    files: int
    bytes: int
    version: str
    written: int
    kept: int
    seconds: float

    def __str__(self) -> str:
        kept = f", {self.kept} kept from before" if self.kept else ""
        return (f"network bank {self.version}: {self.entries} entries ({self.written} written{kept}), "
                f"{self.files} files, {self.bytes / 1e6:.1f} MB, in {self.seconds:.1f} s")


def needed(reads: Iterable[tuple[Recipe, Setup]]) -> dict[str, tuple[Recipe, Setup]]:
    """bank key -> (recipe, setup) for every banked recipe that the ``reads`` (``recipes.reading``) need."""
    entries = {}
    for recipe, setup in reads:
        for banked in bank_needs(recipe):
            entries.setdefault(bank_key(banked.key()), (banked, setup))
    return entries


def write_bank(entries: dict[str, tuple[Recipe, Setup]], root: Path, built_with: dict,
               replace: bool = True) -> BuildReport:
    """Write ``entries`` (bank key -> (recipe, setup), each fetched from the setup's cache or built) to
    the bank folder ``root``: their files first, then the manifest (atomically), then the files no entry
    names any more. With ``replace`` False the entries of the bank already there (same format and code
    version) that ``entries`` lacks are kept: a run that built part of the networks adds to the bank."""
    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    records = {}
    if not replace:
        before = Bank(root).manifest
        if before.get("code_version") == CODE_VERSION:
            records = dict(before["entries"])
    kept = len(records.keys() - entries.keys())
    for key, (recipe, setup) in sorted(entries.items()):
        tensors, plain = encode(recipe.fetch(setup))
        record = {"kind": recipe.kind, "describe": recipe.describe(), "values": plain}
        if tensors:
            relative = f"{recipe.kind}/{key}.safetensors"
            record |= {"file": relative, "sha256": write_tensors(root / relative, tensors)}
        records[key] = record
    manifest = {"format": FORMAT, "code_version": CODE_VERSION, "built_with": built_with, "entries": records}
    manifest["version"] = manifest_version(manifest)
    text = json.dumps(manifest, sort_keys=True, indent=1) + "\n"
    write_text(root / MANIFEST, text, fsync=True)
    named = {record["file"] for record in records.values() if record.get("file")}
    for path in root.glob("*/*.safetensors"):
        if path.relative_to(root).as_posix() not in named:
            path.unlink()
    size = len(text) + sum((root / name).stat().st_size for name in named)
    return BuildReport(len(records), len(named), size, manifest["version"], len(entries), kept,
                       time.perf_counter() - started)
