"""A content-addressed cache of models, activations and stitching results.

An entry is a dict of tensors and plain values (str, int, float, bool, lists, dicts) stored with
``torch.save`` under ``<root>/<key[:2]>/<key>.pt``; ``key`` is the SHA-256 of the full recipe (every
input that determines the entry: architecture, seed, data, schedule, pruning method and parameters...)
plus :data:`CODE_VERSION`. Bump the version when a change to the code changes what a recipe builds.

Safety and robustness:
- written atomically: a temporary file in the same folder, fsync, ``os.replace``; a sidecar
  ``<key>.json`` with the file's SHA-256 and the recipe is written the same way *after* the entry, so
  a write killed at any point leaves either no entry, or an entry without a sidecar (rebuilt), and
  stray temporary files that are never read;
- read only after the file's SHA-256 matches the sidecar, then with ``torch.load(weights_only=True)``
  (:func:`load_weights_only`), which refuses any pickled object that is not a tensor or a plain
  container: a tampered or corrupt file raises :class:`CacheIntegrityError`, and :meth:`Cache.fetch`
  rebuilds it (with a warning). On a torch older than :data:`SAFE_LOAD_TORCH` (known bypasses of
  ``weights_only``) nothing is loaded: every entry is rebuilt;
- a fault of the cache costs time, never a result: an entry that cannot be read (another account's file
  it may not read) is rebuilt, and one that cannot be written (a read-only folder, a full disk) is a
  warning, the built value returned all the same; files and folders get the permissions the umask
  gives them (``runner.atomic``), so a cache shared by the accounts of a group stays shared;
- entries read in this process are kept in memory (least recently used first out, ``memory_bytes`` of
  tensors at most) together with the size and modification time of their two files: a warm run reads
  and verifies each file once, not once per case that uses it, and a file changed on disk since is read
  (and verified) again.

A :class:`Cache` pickles as its folder: a worker process that receives one (``prefetch``) uses its own
process's shared cache of that folder, not a copy of the sender's memory.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import io
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import torch

from runner.atomic import write_bytes
from runner.environment import PINNED_KERNELS
from runner.paths import cache_root

__all__ = ["CODE_VERSION", "SAFE_LOAD_TORCH", "Cache", "CacheIntegrityError", "Memory", "load_weights_only",
           "recipe_key", "sha256_file"]

#: Part of every key: bump it when the code that builds entries changes what a recipe produces.
CODE_VERSION = "networks-4"  # 4: float64 data statistics, float64 recording, the network bank


class CacheIntegrityError(RuntimeError):
    """A cache entry failed its checksum or held something other than tensors and plain values."""


#: The first torch release whose ``torch.load(weights_only=True)`` has no known bypass: CVE-2025-32434
#: (code execution, fixed in 2.6.0) and CVE-2026-24747 (GHSA-63cw-57p8-fm3p: memory corruption by crafted
#: pickle opcodes and storage sizes, fixed in 2.10.0). pyproject.toml requires it.
SAFE_LOAD_TORCH = "2.10"


def _release(version: str) -> tuple[int, int]:
    """(major, minor) of a version string such as ``"2.13.0+cpu"``."""
    major, minor = version.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def load_weights_only(path: str | os.PathLike):
    """``torch.load(path, map_location="cpu", weights_only=True)``, refused on a torch older than
    :data:`SAFE_LOAD_TORCH`, whose ``weights_only`` can be bypassed by a crafted file.

    Raises:
        RuntimeError: torch is older than :data:`SAFE_LOAD_TORCH` (naming the advisories).
    """
    if _release(torch.__version__) < _release(SAFE_LOAD_TORCH):
        raise RuntimeError(f"torch {torch.__version__} cannot load {path} safely: weights_only=True can be bypassed "
                           f"before torch {SAFE_LOAD_TORCH} (CVE-2025-32434, CVE-2026-24747); install "
                           f"torch>={SAFE_LOAD_TORCH}")
    return torch.load(path, map_location="cpu", weights_only=True)


#: The environment variables that choose the CPU kernels torch and numpy run (pinned to one level by
#: ``runner.environment.pin_cpu_kernels``): models trained under other kernels differ in their last
#: bits, so they are part of every key.
KERNEL_VARIABLES = tuple(PINNED_KERNELS)


def recipe_key(recipe: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``recipe``, the code version and the CPU kernel settings."""
    kernels = {name: os.environ.get(name) for name in KERNEL_VARIABLES}
    text = json.dumps({"code_version": CODE_VERSION, "kernels": kernels, "recipe": recipe}, sort_keys=True,
                      separators=(",", ":"))  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tensor_bytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


class Memory:
    """Entries read in this process, least recently used first out, at most ``limit`` bytes of tensors;
    each kept with a signature (e.g. its files' sizes and times) that must match for it to be returned."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self._kept: OrderedDict[object, tuple[tuple, dict, int]] = OrderedDict()

    def get(self, key, signature: tuple) -> dict | None:
        kept = self._kept.get(key)
        if kept is None or kept[0] != signature:
            return None
        self._kept.move_to_end(key)
        return kept[1]

    def put(self, key, signature: tuple, value: dict) -> None:
        size = _tensor_bytes(value)
        if size > self.limit:
            return
        old = self._kept.pop(key, None)
        self.used += size - (old[2] if old else 0)
        self._kept[key] = (signature, value, size)
        while self.used > self.limit:
            self.used -= self._kept.popitem(last=False)[1][2]


class Cache:
    """The cache folder ``root`` (default ``$STITCHBENCH_CACHE`` or ``~/.cache/stitchbench``).

    Entries returned by :meth:`load` and :meth:`fetch` may be shared with earlier calls: read, never
    modify them.
    """

    def __init__(self, root: str | os.PathLike | None = None, memory_bytes: int = 1 << 28):
        self.root = cache_root(root)
        self._memory = Memory(memory_bytes)

    def __reduce__(self):
        return (Cache.shared, (str(self.root),))

    @classmethod
    def shared(cls, root: str | os.PathLike | None = None) -> "Cache":
        """The process's one :class:`Cache` of the folder ``root`` resolves to, so that its memory of
        read entries serves every scenario."""
        return _shared(cls(root).root.resolve())

    def paths(self, recipe: dict) -> tuple[Path, Path]:
        """(entry file, sidecar file) of ``recipe``."""
        key = recipe_key(recipe)
        folder = self.root / key[:2]
        return folder / f"{key}.pt", folder / f"{key}.json"

    def load(self, recipe: dict) -> dict | None:
        """The stored entry of ``recipe``, or None when there is no complete entry.

        Raises:
            CacheIntegrityError: the file's checksum does not match its sidecar, or it holds objects
                that ``torch.load(weights_only=True)`` refuses.
        """
        entry, sidecar = self.paths(recipe)
        if not (entry.is_file() and sidecar.is_file()):
            return None
        signature = tuple((s.st_size, s.st_mtime_ns, s.st_ino) for s in (entry.stat(), sidecar.stat()))
        kept = self._memory.get(entry, signature)
        if kept is not None:
            return kept
        value = self._read(entry, sidecar)
        self._memory.put(entry, signature, value)
        return value

    def _read(self, entry: Path, sidecar: Path) -> dict:
        try:
            expected = json.loads(sidecar.read_text())["sha256"]
            found = sha256_file(entry)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CacheIntegrityError(f"unreadable entry {entry} or sidecar: {err}") from None
        if found != expected:
            raise CacheIntegrityError(f"{entry} does not match its recorded checksum; refusing to load it")
        try:
            return load_weights_only(entry)
        except Exception as err:  # noqa: BLE001 - any refusal or corruption makes the entry unusable
            raise CacheIntegrityError(f"{entry} refused by torch.load(weights_only=True): {err}") from None

    def store(self, recipe: dict, value: dict) -> None:
        """Write ``value`` for ``recipe`` atomically, then its sidecar."""
        entry, sidecar = self.paths(recipe)
        entry.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(value, buffer)
        write_bytes(entry, buffer.getvalue(), fsync=True)
        record = {"sha256": sha256_file(entry), "code_version": CODE_VERSION, "recipe": recipe}
        write_bytes(sidecar, json.dumps(record, sort_keys=True, indent=1).encode(), fsync=True)

    def fetch(self, recipe: dict, build: Callable[[], dict]) -> dict:
        """The entry of ``recipe``: loaded when complete and intact, else built by ``build()`` and stored."""
        try:
            value = self.load(recipe)
        except (CacheIntegrityError, OSError) as err:  # OSError: a folder this account may not read
            warnings.warn(f"rebuilding cache entry: {err}", stacklevel=2)
            value = None
        if value is None:
            value = build()
            try:
                self.store(recipe, value)
            except OSError as err:
                warnings.warn(f"cache entry not stored ({err}); the built value is used, and the next run builds "
                              f"it again", stacklevel=2)
        return value


@functools.lru_cache(maxsize=None)
def _shared(root: Path) -> Cache:
    return Cache(root)
