"""The network bank: what training produces for the quick profile, shipped with the repository.

Training is bit-identical on one platform whatever the thread count, not across CPU models (BLAS
blocking follows cache sizes; vendors' kernels differ), so the models and their measured references are
built once and shipped, as the field ships its models and results (ReSi: trained models and a results
table). A run takes every recipe the bank holds from the bank and builds only what it lacks (users'
factories, the full profile, a recipe whose code changed); from bank entries it computes only forward
passes (in float64: the same on every CPU to ~1e-15) and the measures.

Layout of the bank folder (``bank/`` of the repository, or ``$STITCHBENCH_BANK``):

- ``manifest.json``: the bank's format, its version (a digest of everything below, so that the
  baseline can say which bank it was recorded on), the code version of the recipes it holds, the
  platform and dependency versions it was built with, and one entry per recipe: its kind, what it is,
  its plain values (accuracies, stitch scores, a model's architecture and record) and, where it holds
  tensors, the file they are in and that file's SHA-256;
- ``<kind>/<key>.safetensors``: the tensors of one entry (a model's weights, float32 as trained; a
  pruned weight, half or more of it zeros, stored as a bit mask and its nonzero values).

An entry's key (:func:`bank_key`) is the SHA-256 of its recipe and the code version, without the CPU
kernel settings that key the local cache: the bank is what it says on every machine. Which kinds are
banked is a recipe's own declaration (``Recipe.banked``): models, stitches, agreements, records and
probes are; activations are not (a forward pass from a banked model makes them). Nothing is unpickled:
tensors are read by safetensors, everything else is JSON; a file that is missing or fails its checksum,
and a manifest whose version does not match its entries, is a :class:`BankError` that names the file
and the command that rebuilds the bank (:data:`REBUILD`).

Rebuild it from the seeds with ``pytest benchmarks/test_scenarios.py --families networks
--rebuild-networks`` (:mod:`scenarios.networks.bank_build`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from runner.atomic import write_bytes
from runner.paths import BANK_ENV
from scenarios.networks.cache import CODE_VERSION, Memory, sha256_file

__all__ = ["DEFAULT_ROOT", "FORMAT", "MANIFEST", "REBUILD", "Bank", "BankError", "bank_key", "decode",
           "encode", "manifest_version", "size_summary"]

#: The bank shipped with the repository.
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "bank"
MANIFEST = "manifest.json"
FORMAT = 1
#: The command that rebuilds the bank from the seeds (named in every error about a bank file).
REBUILD = "pytest benchmarks/test_scenarios.py --families networks --rebuild-networks"
#: A float tensor with at least this share of exact zeros is stored as a bit mask and its nonzeros.
SPARSE_SHARE = 0.25
_SPARSE_SUFFIX, _MASK_SUFFIX = "#nonzero", "#mask"


class BankError(RuntimeError):
    """A bank file is missing, fails its checksum, or the manifest is malformed or altered."""


def bank_key(recipe: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``recipe`` and the code version (no CPU kernel settings:
    a bank entry is the same on every machine)."""
    text = json.dumps({"code_version": CODE_VERSION, "recipe": recipe}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# ---- entries as tensors and JSON ---------------------------------------------------------------------


def encode(entry: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split a cache entry (a dict of tensors and plain values, nested) into its tensors, keyed by their
    path (``state/conv1.0.weight``), and the plain rest (the same dict without the tensors)."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(value, path: str, in_list: bool = False):
        if isinstance(value, torch.Tensor):
            if in_list:
                raise ValueError(f"bank: a tensor at {path} is inside a list; entries keep tensors in dicts")
            tensors[path] = value.detach().cpu().contiguous()
            return None
        if isinstance(value, dict):
            kept = {}
            for key, item in value.items():
                if not isinstance(key, str) or "/" in key or "#" in key:
                    raise ValueError(f"bank: entry key {key!r} at {path or '/'} must be a string without '/' or '#'")
                plain = walk(item, f"{path}/{key}" if path else key, in_list)
                if not isinstance(item, torch.Tensor):
                    kept[key] = plain
            return kept
        if isinstance(value, (list, tuple)):
            return [walk(item, f"{path}/{i}", True) for i, item in enumerate(value)]
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        raise ValueError(f"bank: {type(value).__name__} at {path} is neither a tensor nor a plain value")

    return tensors, walk(entry, "")


def decode(tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    """The entry :func:`encode` split: the plain values with every tensor put back at its path."""
    entry = json.loads(json.dumps(plain))  # a private copy: entries are shared read-only afterwards
    for path, tensor in tensors.items():
        *parents, leaf = path.split("/")
        node = entry
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = tensor
    return entry


def _packed(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, list[int]]]:
    """Float tensors with many exact zeros (pruned weights) as a bit mask and their nonzero values."""
    stored, sparse = {}, {}
    for path, tensor in tensors.items():
        zeros = int((tensor == 0).sum()) if tensor.is_floating_point() else 0
        if tensor.numel() and zeros >= SPARSE_SHARE * tensor.numel():
            mask = (tensor != 0).flatten().numpy()
            stored[path + _MASK_SUFFIX] = torch.from_numpy(np.packbits(mask))
            stored[path + _SPARSE_SUFFIX] = tensor.flatten()[torch.from_numpy(mask)].clone()
            sparse[path] = list(tensor.shape)
        else:
            stored[path] = tensor
    return stored, sparse


def _unpacked(stored: dict[str, torch.Tensor], sparse: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    tensors = {path: tensor for path, tensor in stored.items() if not path.endswith((_MASK_SUFFIX, _SPARSE_SUFFIX))}
    for path, shape in sparse.items():
        values = stored[path + _SPARSE_SUFFIX]
        count = int(np.prod(shape))
        mask = np.unpackbits(stored[path + _MASK_SUFFIX].numpy(), count=count).astype(bool)
        dense = torch.zeros(count, dtype=values.dtype)
        dense[torch.from_numpy(mask)] = values
        tensors[path] = dense.reshape(shape)
    return tensors


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> str:
    """Write ``tensors`` to a safetensors file atomically; returns its SHA-256."""
    from safetensors.torch import save

    stored, sparse = _packed(tensors)
    # one metadata key: safetensors writes a metadata map in no fixed order, and the bytes must be
    # the same on every rebuild of the same entry
    data = save(stored, metadata={"stitchbench": json.dumps({"sparse": sparse}, sort_keys=True)})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data, fsync=True)
    return hashlib.sha256(data).hexdigest()


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a bank file (safetensors: no code runs on load)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads((handle.metadata() or {}).get("stitchbench", "{}"))
        stored = {name: handle.get_tensor(name) for name in handle.keys()}
    return _unpacked(stored, meta.get("sparse", {}))


# ---- the manifest ------------------------------------------------------------------------------------


def manifest_version(manifest: dict) -> str:
    """The bank's version: the first 12 hex digits of the SHA-256 of its format, code version and
    entries (each entry's plain values and file checksum), so that any change to what the bank holds
    changes it."""
    content = {"format": manifest.get("format"), "code_version": manifest.get("code_version"),
               "entries": manifest.get("entries")}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _check_manifest(manifest, path: Path) -> dict:
    problem = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("entries"), dict):
        problem = "it is not a bank manifest (no 'entries' table)"
    elif manifest.get("format") != FORMAT:
        problem = f"its format is {manifest.get('format')!r}, this code reads format {FORMAT}"
    elif manifest.get("version") != manifest_version(manifest):
        problem = (f"its version {manifest.get('version')!r} does not match its entries "
                   f"({manifest_version(manifest)}): it was altered")
    if problem:
        raise BankError(f"network bank manifest {path}: {problem}; rebuild the bank with `{REBUILD}`")
    return manifest


class Bank:
    """The bank folder ``root`` (default ``$STITCHBENCH_BANK``, else the repository's ``bank/``; ``none``:
    an empty bank). Entries are read on first use, checked against the manifest's checksum, and kept in
    memory (least recently used first out); read them, never modify them."""

    def __init__(self, root: str | os.PathLike | None = None, memory_bytes: int = 1 << 28):
        setting = str(root) if root is not None else os.environ.get(BANK_ENV, "")
        self.root = None if setting.lower() == "none" else Path(setting or DEFAULT_ROOT).expanduser()
        self._manifest: dict | None = None
        self._memory = Memory(memory_bytes)

    def __reduce__(self):
        return (Bank.shared, (str(self.root) if self.root else "none",))

    @classmethod
    def shared(cls, root: str | os.PathLike | None = None) -> "Bank":
        """The process's one :class:`Bank` of the folder ``root`` resolves to."""
        bank = cls(root)
        return _shared(str(bank.root.resolve()) if bank.root else "none")

    @property
    def manifest_path(self) -> Path | None:
        return self.root / MANIFEST if self.root else None

    @property
    def manifest(self) -> dict:
        """The manifest (checked once): an empty one when there is no bank folder or manifest."""
        if self._manifest is None:
            path = self.manifest_path
            if path is None or not path.is_file():
                self._manifest = {"format": FORMAT, "version": None, "entries": {}}
            else:
                try:
                    document = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, ValueError) as err:
                    raise BankError(f"network bank manifest {path} is unreadable ({err}); rebuild the bank "
                                    f"with `{REBUILD}`") from None
                self._manifest = _check_manifest(document, path)
        return self._manifest

    @property
    def version(self) -> str | None:
        """The bank's version (None without a bank)."""
        return self.manifest.get("version")

    def __len__(self) -> int:
        return len(self.manifest["entries"])

    def holds(self, recipe: dict) -> bool:
        """Whether the bank has an entry for ``recipe``."""
        return bank_key(recipe) in self.manifest["entries"]

    def load(self, recipe: dict) -> dict | None:
        """The entry of ``recipe``, or None when the bank does not hold it.

        Raises:
            BankError: its file is missing or does not match the manifest's checksum.
        """
        key = bank_key(recipe)
        record = self.manifest["entries"].get(key)
        if record is None:
            return None
        kept = self._memory.get(key, ())
        if kept is not None:
            return kept
        tensors = {}
        if record.get("file"):
            path = self.root / record["file"]
            if not path.is_file():
                raise BankError(f"network bank file {path} is missing (entry {record.get('describe', key)}); "
                                f"restore it from the repository or rebuild the bank with `{REBUILD}`")
            if sha256_file(path) != record.get("sha256"):
                raise BankError(f"network bank file {path} does not match its checksum in {self.manifest_path}; "
                                f"restore it from the repository or rebuild the bank with `{REBUILD}`")
            tensors = read_tensors(path)
        entry = decode(tensors, record.get("values", {}))
        self._memory.put(key, (), entry)
        return entry

    def verify(self) -> list[str]:
        """Every problem with the bank's files (missing, checksum), one line each; empty when sound."""
        problems = []
        for key, record in sorted(self.manifest["entries"].items()):
            if record.get("file"):
                path = self.root / record["file"]
                if not path.is_file():
                    problems.append(f"{path}: missing")
                elif sha256_file(path) != record.get("sha256"):
                    problems.append(f"{path}: does not match its checksum")
        return problems


def size_summary(root: str | os.PathLike = DEFAULT_ROOT) -> str:
    """A bank folder's size as the docs give it: the entries of its manifest, its files and megabytes."""
    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.is_file():
        return "no network bank"
    entries = len(json.loads(manifest.read_text(encoding="utf-8")).get("entries", {}))
    files = [path for path in root.rglob("*") if path.is_file()]
    return f"{entries:,} entries in {len(files)} files, {sum(path.stat().st_size for path in files) / 1e6:.1f} MB"


@functools.lru_cache(maxsize=None)
def _shared(root: str) -> Bank:
    return Bank(root)
