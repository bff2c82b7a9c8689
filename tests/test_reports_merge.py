"""Shares of one grid, run separately and merged, give the reports of a single run of the grid."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reports.merge import MergeError, merge_runs
from reports.run import read_run

ROOT = Path(__file__).resolve().parents[1]
GRID = ["--families", "symmetry", "--metrics", "cka_linear,procrustes,rsa", "-p", "no:cacheprovider", "-q"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run of the grid, and the same grid as two pytest-split groups (in this process: the runner's
    files copied beside the reports)."""
    base = tmp_path_factory.mktemp("merge")
    for name in ("conftest.py", "test_scenarios.py"):
        shutil.copy(ROOT / "benchmarks" / name, base / name)
    (base / "pytest.ini").write_text("[pytest]\n")
    for folder, extra in (("single", ()), ("share1", ("--splits", "2", "--group", "1")),
                          ("share2", ("--splits", "2", "--group", "2"))):
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(base)
            code = pytest.main([*GRID, "--report-dir", str(base / folder), *extra, str(base / "test_scenarios.py")])
        for module in [m for m in sys.modules if m.split(".")[0] in ("test_scenarios", "conftest", "pytest_stitchbench")]:
            del sys.modules[module]  # a later in-process run (pytester) imports and assert-rewrites its own copies
        assert code == 0, folder
    return base


def _without_time(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns="time")


def test_two_shares_merged_equal_one_run(runs, tmp_path):
    shares = [read_run(runs / f"share{g}")[0] for g in (1, 2)]
    assert all(len(share) for share in shares) and len(shares[0]) != len(read_run(runs / "single")[0])
    merge_runs([runs / "share1", runs / "share2"], tmp_path, figures=False)
    single, single_record = read_run(runs / "single")
    merged, merged_record = read_run(tmp_path)
    pd.testing.assert_frame_equal(_without_time(merged), _without_time(single))
    assert merged_record.expectations == single_record.expectations
    assert merged_record.scales == single_record.scales
    header = {k: v for k, v in merged_record.header.items() if k != "execution"}
    assert header == {k: v for k, v in single_record.header.items() if k != "execution"}
    for name in ("verdicts.csv", "scorecard.csv"):
        assert (tmp_path / name).read_text() == (runs / "single" / name).read_text(), name


def test_overlapping_shares_are_refused(runs, tmp_path):
    with pytest.raises(MergeError, match="both measured"):
        merge_runs([runs / "share1", runs / "share1"], tmp_path)


def test_merge_from_the_command_line(runs, tmp_path):
    command = [sys.executable, "-m", "reports", "merge", str(runs / "share1"), str(runs / "share2"), "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scorecard.md").exists()
    missing = subprocess.run([sys.executable, "-m", "reports", "merge", str(tmp_path / "nowhere"), "--out", str(tmp_path)],
                             cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and "nowhere" in missing.stderr


def _share(runs, tmp_path, name="share2"):
    return Path(shutil.copytree(runs / name, tmp_path / name))


def _edit_record(folder, edit):
    document = json.loads((folder / "run.json").read_text())
    edit(document)
    (folder / "run.json").write_text(json.dumps(document))


@pytest.mark.parametrize("change, problem", [
    (lambda d: d["code"].update(sources="0" * 64), "ran other code than"),
    (lambda d: d["code"]["dependencies"].update(numpy="0.0"), "dependencies differ: numpy"),
    (lambda d: d["code"]["options"].update({"--cell-timeout": 1.0}), "options differ"),
    (lambda d: d.pop("code"), "records no code"),
])  # fmt: skip
def test_shares_of_other_code_are_refused_naming_the_share(runs, tmp_path, change, problem):
    """Before: shares from different code merged silently (no commit or fingerprint was recorded)."""
    share = _share(runs, tmp_path)
    _edit_record(share, change)
    with pytest.raises(MergeError, match=problem) as raised:
        merge_runs([runs / "share1", share], tmp_path / "out", figures=False)
    assert str(share) in str(raised.value)


def test_a_scenario_defined_otherwise_is_refused(runs, tmp_path):
    share = _share(runs, tmp_path, "share1")
    scenario = next(iter(json.loads((share / "run.json").read_text())["code"]["scenarios"]))
    _edit_record(share, lambda d: d["code"]["scenarios"].update({scenario: "0" * 64}))
    other = _share(runs, tmp_path / "other", "share2")
    _edit_record(other, lambda d: d["code"]["scenarios"].update({scenario: "1" * 64}))
    with pytest.raises(MergeError, match=f"scenario definitions of \\['{scenario}'\\] differ"):
        merge_runs([share, other], tmp_path / "out", figures=False)


@pytest.mark.parametrize("damage, problem", [("column", "lacks the column"), ("truncated", "a truncated or edited")])
def test_a_damaged_share_is_refused_naming_it(runs, tmp_path, damage, problem):
    """Before: a missing column turned verdicts into "premise failed", a truncated file lost a verdict."""
    share = _share(runs, tmp_path)
    path = share / "results.csv"
    lines = path.read_text().splitlines(keepends=True)
    if damage == "column":
        table = pd.read_csv(path, keep_default_na=False)
        table.drop(columns="stitch_reverse").to_csv(path, index=False)
    else:
        path.write_text("".join(lines[:-3]))
    with pytest.raises(MergeError, match=problem) as raised:
        merge_runs([runs / "share1", share], tmp_path / "out", figures=False)
    assert str(share) in str(raised.value)


def test_a_share_records_its_code_and_its_results(runs):
    document = json.loads((runs / "share1" / "run.json").read_text())
    assert len(document["code"]["sources"]) == 64 and document["code"]["dependencies"]["numpy"]
    assert set(document["code"]["options"]) == {"--profile", "--cell-timeout", "--generation-timeout"}
    assert document["results"]["rows"] == len(read_run(runs / "share1")[0])
