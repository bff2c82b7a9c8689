"""The cache: round trip, reuse, a killed write, a corrupt entry rebuilt, a tampered file refused."""
import json
import os
import pickle

import pytest
import torch

from scenarios.networks.cache import KERNEL_VARIABLES, Cache, CacheIntegrityError, recipe_key

RECIPE = {"kind": "trained", "arch": "cnn", "seed": 0, "schedule": {"epochs": 3}}


def entry():
    return {"state": {"w": torch.arange(6.0).reshape(2, 3)}, "record": {"accuracy": 0.9, "removed": ["a"]}}


def test_round_trip_and_reuse(tmp_path):
    cache, calls = Cache(tmp_path), []

    def build():
        calls.append(1)
        return entry()

    first = cache.fetch(RECIPE, build)
    second = Cache(tmp_path).fetch(RECIPE, build)
    assert len(calls) == 1
    torch.testing.assert_close(second["state"]["w"], first["state"]["w"])
    assert second["record"] == {"accuracy": 0.9, "removed": ["a"]}


def test_key_covers_every_field_of_the_recipe():
    changed = {**RECIPE, "schedule": {"epochs": 4}}
    assert recipe_key(RECIPE) != recipe_key(changed)
    assert recipe_key(RECIPE) == recipe_key(dict(reversed(list(RECIPE.items()))))


@pytest.mark.parametrize("variable", KERNEL_VARIABLES)
def test_key_covers_the_cpu_kernels(variable, monkeypatch):
    """A model trained under other CPU kernels differs in its last bits: another key."""
    monkeypatch.delenv(variable, raising=False)
    native = recipe_key(RECIPE)
    monkeypatch.setenv(variable, "AVX2")
    assert recipe_key(RECIPE) != native


def test_default_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHBENCH_CACHE", str(tmp_path))
    assert Cache().root == tmp_path


def test_killed_write_leaves_nothing_that_is_read(tmp_path):
    cache = Cache(tmp_path)
    path, sidecar = cache.paths(RECIPE)
    path.parent.mkdir(parents=True)
    (path.parent / f".{path.name}.abc.tmp").write_bytes(b"partial")  # a write killed before os.replace
    assert cache.load(RECIPE) is None
    path.write_bytes(b"truncated")  # killed after the entry, before its sidecar
    assert cache.load(RECIPE) is None
    assert torch.equal(cache.fetch(RECIPE, entry)["state"]["w"], entry()["state"]["w"])
    assert json.loads(sidecar.read_text())["recipe"] == RECIPE


def test_corrupt_entry_is_detected_and_rebuilt(tmp_path):
    cache = Cache(tmp_path)
    cache.store(RECIPE, entry())
    path, _ = cache.paths(RECIPE)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CacheIntegrityError, match="checksum"):
        cache.load(RECIPE)
    with pytest.warns(UserWarning, match="rebuilding"):
        rebuilt = cache.fetch(RECIPE, entry)
    assert rebuilt["record"]["accuracy"] == 0.9
    assert cache.load(RECIPE)["record"]["accuracy"] == 0.9


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_tampered_file_with_a_matching_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = Cache(tmp_path)
    cache.store(RECIPE, entry())
    path, sidecar = cache.paths(RECIPE)
    path.write_bytes(pickle.dumps({"state": Payload()}, protocol=2))
    record = json.loads(sidecar.read_text())
    import hashlib
    record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar.write_text(json.dumps(record))
    with pytest.raises(CacheIntegrityError, match="weights_only"):
        cache.load(RECIPE)
    assert not (tmp_path / "PWNED").exists()


def test_an_entry_is_read_once_until_its_file_changes(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    cache.store(RECIPE, entry())
    reads = []
    original = cache._read
    monkeypatch.setattr(cache, "_read", lambda *paths: reads.append(paths) or original(*paths))
    first, second = cache.load(RECIPE), cache.load(RECIPE)
    assert first is second and len(reads) == 1
    path, _ = cache.paths(RECIPE)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))  # the same size; a new modification time
    with pytest.raises(CacheIntegrityError, match="checksum"):
        cache.load(RECIPE)


def test_memory_keeps_the_most_recent_entries_within_its_budget(tmp_path):
    size = entry()["state"]["w"].nbytes
    cache = Cache(tmp_path, memory_bytes=2 * size)
    recipes = [{**RECIPE, "seed": seed} for seed in range(3)]
    for recipe in recipes:
        cache.store(recipe, entry())
        cache.load(recipe)
    kept = {path.name for path in cache._memory._kept}
    assert kept == {cache.paths(r)[0].name for r in recipes[1:]}
    assert cache._memory.used == 2 * size


def test_shared_cache_is_one_per_folder(tmp_path):
    assert Cache.shared(tmp_path) is Cache.shared(str(tmp_path) + "/.")
    assert Cache.shared(tmp_path) is not Cache.shared(tmp_path / "other")


def test_a_cache_pickles_as_its_folder(tmp_path):
    cache = Cache(tmp_path)
    cache.store(RECIPE, entry())
    cache.load(RECIPE)
    assert cache._memory._kept
    received = pickle.loads(pickle.dumps(cache))  # what a worker process receives
    assert received is Cache.shared(tmp_path) and received.root == cache.root.resolve()
    assert received.load(RECIPE)["record"] == entry()["record"]


def test_files_and_folders_honour_the_umask(tmp_path):
    """A cache shared by the accounts of a group (umask 002) stays shared (before: files were 0600)."""
    previous = os.umask(0o002)
    try:
        Cache(tmp_path / "shared").store(RECIPE, entry())
    finally:
        os.umask(previous)
    files = [p for p in (tmp_path / "shared").rglob("*") if p.is_file()]
    assert len(files) == 2 and {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o664)}
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "shared").rglob("*") if p.is_dir()} == {oct(0o775)}


def test_an_entry_this_account_may_not_read_is_rebuilt(tmp_path, monkeypatch):
    """Another account's file (simulated: the tests may run as root, who reads everything): a warning and
    a rebuild, not a PermissionError."""
    import scenarios.networks.cache as cache_module

    Cache(tmp_path).store(RECIPE, entry())

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cache_module, "sha256_file", denied)
    with pytest.warns(UserWarning, match="rebuilding cache entry.*Permission denied"):
        value = Cache(tmp_path).fetch(RECIPE, entry)
    assert value["record"]["accuracy"] == 0.9


def test_an_entry_that_cannot_be_stored_is_a_warning_and_the_value_is_used(tmp_path):
    (tmp_path / "file").write_text("")  # a cache folder below a file: no account can write there
    with pytest.warns(UserWarning, match="cache entry not stored"):
        value = Cache(tmp_path / "file" / "cache").fetch(RECIPE, entry)
    assert value["record"]["accuracy"] == 0.9


def test_nothing_is_loaded_on_a_torch_whose_weights_only_can_be_bypassed(tmp_path, monkeypatch):
    """CVE-2025-32434 (before 2.6) and CVE-2026-24747 (before 2.10): the entry is rebuilt, never loaded;
    the package requires a torch without them."""
    from pathlib import Path

    from scenarios._specs import tomllib
    from scenarios.networks.cache import SAFE_LOAD_TORCH

    Cache(tmp_path).store(RECIPE, entry())
    monkeypatch.setattr(torch, "__version__", "2.9.1")
    with pytest.raises(CacheIntegrityError, match=r"torch 2.9.1 cannot load .* safely.*CVE-2026-24747"):
        Cache(tmp_path).load(RECIPE)
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    torch_requirement = next(d for d in project["project"]["dependencies"] if d.startswith("torch"))
    assert torch_requirement.split(";")[0].strip() == f"torch>={SAFE_LOAD_TORCH}"
