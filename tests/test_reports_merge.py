"""Shares of one grid, run separately and merged, give the reports of a single run of the grid."""
from __future__ import annotations

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
