"""The network bank: entries written and read back bit for bit (pruned weights stored sparsely), taken
before the cache and never built, a rebuild that reproduces the checksums on this machine, clear errors
for a missing or tampered file and an altered manifest, and the committed bank intact."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from scenarios.networks import bank
from scenarios.networks.bank import REBUILD, Bank, BankError, bank_key, decode, encode
from scenarios.networks.bank_build import needed, write_bank
from scenarios.networks.cache import Cache
from scenarios.networks.prefetch import missing
from scenarios.networks.recipes import (DataSpec, OneShot, Setup, Trained, bank_source, case_recipes, reading,
                                        reference_columns)
from scenarios.networks.train import Schedule
import tiny_networks  # noqa: F401 - torch._dynamo before pytester (see there)

pytest_plugins = ["pytester"]

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DIGITS = DataSpec.of("digits")
SCHEDULE = Schedule(epochs=1)
TRAINED = Trained("cnn", 0, DIGITS, SCHEDULE)
PRUNED = OneShot(TRAINED, SCHEDULE, 0.6, "magnitude", "global")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A cache holding a trained CNN, its pruned copy, a stitch and an agreement of the two, and the bank
    written from the reads of a case that compares them."""
    setup = Setup(DIGITS, SCHEDULE, SCHEDULE, 1, 50, "cpu", Cache(tmp_path_factory.mktemp("cache")))
    recipes = case_recipes(setup, TRAINED, "conv2", PRUNED, "conv2")
    with reading() as reads:
        reference_columns(setup, recipes)
        for name in ("x", "y", "record_x", "record_y"):
            recipes[name].fetch(setup)
    root = tmp_path_factory.mktemp("bank")
    report = write_bank(needed(reads), root, {"machine": "test"})
    return setup, recipes, root, report


def test_encode_and_decode_round_trip():
    entry = {"config": {"arch": "mlp", "hidden": [3, 2]}, "state": {"fc1.0.weight": torch.randn(3, 4)},
             "record": {"accuracy": 0.5, "missing": None}}
    tensors, plain = encode(entry)
    assert list(tensors) == ["state/fc1.0.weight"] and plain["state"] == {}
    again = decode(tensors, plain)
    assert again["config"] == entry["config"] and again["record"] == entry["record"]
    assert torch.equal(again["state"]["fc1.0.weight"], entry["state"]["fc1.0.weight"])
    with pytest.raises(ValueError, match="neither a tensor nor a plain value"):
        encode({"bad": object()})


def test_what_the_bank_holds_and_what_is_left_to_forward_passes(built):
    setup, recipes, root, report = built
    kinds = sorted(record["kind"] for record in Bank(root).manifest["entries"].values())
    # the two models, their records, the stitches both ways and the agreement; no activations
    assert kinds == ["agreement", "one_shot", "record", "record", "stitch", "stitch", "trained"]
    assert report.entries == 7 and report.files == 2  # the tensors of the two models
    assert Bank(root).version == report.version and Bank(root).verify() == []


def test_entries_read_back_bit_for_bit_and_pruned_weights_sparsely(built):
    setup, recipes, root, _ = built
    stored = Bank(root)
    for recipe in (TRAINED, PRUNED, recipes["forward"], recipes["agreement"]):
        original, banked = recipe.fetch(setup), stored.load(recipe.key())
        assert json.dumps({k: v for k, v in original.items() if k != "state"}, sort_keys=True) == \
            json.dumps({k: v for k, v in banked.items() if k != "state"}, sort_keys=True)
        for name, tensor in original.get("state", {}).items():
            assert torch.equal(banked["state"][name], tensor) and banked["state"][name].dtype == tensor.dtype, name
    record = stored.manifest["entries"][bank_key(PRUNED.key())]
    dense = sum(t.numel() * t.element_size() for t in PRUNED.fetch(setup)["state"].values())
    assert (root / record["file"]).stat().st_size < 0.75 * dense  # 60 % of the weights are zeros


def test_a_run_takes_banked_entries_and_builds_none_of_them(built, tmp_path):
    _, recipes, root, _ = built
    setup = Setup(DIGITS, SCHEDULE, SCHEDULE, 1, 50, "cpu", Cache(tmp_path), Bank(root))
    assert TRAINED.is_stored(setup) and recipes["forward"].is_stored(setup)
    assert set(missing(setup, recipes.values())) == {recipes["x"], recipes["y"]}  # forward passes only
    reference_columns(setup, recipes)
    recipes["x"].fetch(setup)
    stored = {json.loads(p.read_text())["recipe"]["kind"] for p in tmp_path.glob("*/*.json")}
    assert stored == {"activations"}  # the forward pass, made from the banked weights; nothing trained
    assert bank_source(setup, recipes.values()) == Bank(root).version


def test_a_rebuild_on_this_machine_reproduces_the_checksums(built, tmp_path):
    setup, recipes, root, _ = built
    fresh = Setup(DIGITS, SCHEDULE, SCHEDULE, 1, 50, "cpu", Cache(tmp_path / "cache"))  # trains again
    with reading() as reads:
        reference_columns(fresh, recipes)
        for name in ("x", "y", "record_x", "record_y"):
            recipes[name].fetch(fresh)
    again = write_bank(needed(reads), tmp_path / "bank", {"machine": "test"})
    assert again.version == Bank(root).version
    assert Bank(tmp_path / "bank").manifest["entries"] == Bank(root).manifest["entries"]


def test_a_missing_or_tampered_file_and_an_altered_manifest_are_errors_naming_them(built, tmp_path):
    _, _, root, _ = built
    copy = tmp_path / "bank"
    shutil.copytree(root, copy)
    record = Bank(copy).manifest["entries"][bank_key(TRAINED.key())]
    path = copy / record["file"]
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(BankError, match=f"{path}.*does not match its checksum.*{REBUILD}"):
        Bank(copy).load(TRAINED.key())
    assert Bank(copy).verify() == [f"{path}: does not match its checksum"]
    path.unlink()
    with pytest.raises(BankError, match=f"{path} is missing.*{REBUILD}"):
        Bank(copy).load(TRAINED.key())
    manifest = json.loads((copy / bank.MANIFEST).read_text())
    next(iter(manifest["entries"].values()))["values"]["accuracy"] = 1.0
    (copy / bank.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BankError, match=r"does not match its entries \(\w+\): it was altered"):
        Bank(copy).holds(TRAINED.key())
    (copy / bank.MANIFEST).write_text("[1, 2]")
    with pytest.raises(BankError, match="not a bank manifest"):
        Bank(copy).holds(TRAINED.key())


def test_no_bank_and_an_empty_folder_hold_nothing(tmp_path):
    assert len(Bank("none")) == 0 and Bank("none").version is None and not Bank("none").holds(TRAINED.key())
    assert len(Bank(tmp_path)) == 0


def test_the_committed_bank_is_intact():
    """Every file of the shipped bank is present and matches the manifest's checksum, and the manifest's
    version matches its entries (a bank folder must be in the repository)."""
    shipped = Bank(bank.DEFAULT_ROOT)
    assert shipped.manifest_path.is_file(), f"no network bank at {bank.DEFAULT_ROOT}; build it with `{REBUILD}`"
    assert len(shipped) > 0 and shipped.verify() == []


NETWORKS_SPEC = """
[[scenario]]
name = "tiny_pruning_identity"
family = "networks"
generator = "networks.pruning_identity"
description = "A tiny MLP and its pruned copy."
seeds = 1
params = { arch = "mlp", data = "digits", epochs = 1, imp_rounds = 1, stitch_epochs = 1, probe_size = 50 }
[[scenario.expect]]
kind = "follows_reference"
tolerance = 0.02
"""


@pytest.fixture
def project(pytester, monkeypatch, tmp_path):
    """A pytester folder with the real runner and a tiny networks spec; runs and builds in this process."""
    for name in ("conftest.py", "test_scenarios.py"):
        shutil.copy(BENCHMARKS / name, pytester.path / name)
    pytester.makeini("[pytest]\n")
    (pytester.path / "spec.toml").write_text(NETWORKS_SPEC)
    monkeypatch.setenv("STITCHBENCH_WORKERS", "1")
    monkeypatch.setenv("STITCHBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STITCHBENCH_BANK", "none")  # the runs set it (--bank): restored after the test
    return pytester


def _run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--specs", "spec.toml", "--report-dir", "out",
                              "--metrics", "cka_linear", *args)


def test_rebuild_writes_the_bank_and_a_run_on_an_empty_cache_reads_it(project, tmp_path, monkeypatch):
    built = _run(project, "--rebuild-networks", "--bank", "bank")
    built.assert_outcomes(passed=1)
    built.stdout.fnmatch_lines(["*network bank * entries (* written), * files, * MB*: replaced*"])
    version = Bank(project.path / "bank").version
    assert version and Bank(project.path / "bank").verify() == []
    monkeypatch.setenv("STITCHBENCH_CACHE", str(tmp_path / "empty"))
    read = _run(project, "--bank", "bank")
    read.assert_outcomes(passed=1)
    header = (project.path / "out" / "scorecard.md").read_text()
    assert f"network bank**: {version} (2 of 2 networks cases)" in header
    stored = {json.loads(p.read_text())["recipe"]["kind"] for p in (tmp_path / "empty").glob("*/*.json")}
    assert stored == {"activations"}  # forward passes only: nothing was trained on the empty cache


def test_rebuild_runs_serially(project):
    result = project.runpytest("-p", "no:cacheprovider", "--specs", "spec.toml", "--rebuild-networks", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rebuild-networks runs serially*"])


def test_size_summary_counts_the_manifests_entries_and_the_folders_files(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"entries": {"a": {}, "b": {}}}))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "x.safetensors").write_bytes(b"0" * 2_000_000)
    assert bank.size_summary(tmp_path) == "2 entries in 2 files, 2.0 MB"
    assert bank.size_summary(tmp_path / "absent") == "no network bank"
