"""The speed page: made from the committed peers run, never typed (docs/peers.md = speed_page(reports/peers.json))."""
from __future__ import annotations

import json
from pathlib import Path

from reports.__main__ import main
from reports.peers import peers_table, speed_page

ROOT = Path(__file__).resolve().parents[1]
ROW = dict(shape=[1000, 64, 64], measure="gulp", peer="GULP predictor_dist", version="sgstepaniants/GULP@abc",
           value=6.99, difference=1e-15, convention="sqrt taken", rounds=20, ours_s=0.001, peer_s=0.002,
           ours_wall_s=0.001, peer_wall_s=0.002, ratio=2.0, ratio_wall=2.0, ratio_low=1.5, ratio_high=2.5)


def test_table_has_each_row_its_ratio_and_spread_and_the_absent_peers():
    table = peers_table({"rows": [ROW], "absent": {"netrep": "ahwillia/netrep: set STITCHBENCH_PEER_NETREP"}})
    assert "### n=1000, p1=64, p2=64" in table
    assert "| gulp | GULP predictor_dist | sgstepaniants/GULP@abc | 0.0010 | 0.0020 | 2.00 | – | [1.50, 2.50] |" in table
    assert "- netrep: ahwillia/netrep: set STITCHBENCH_PEER_NETREP" in table
    assert "Ours behind (fastest-call ratio below 1): none." in table


def test_table_names_the_pairs_behind_and_the_median_ratio():
    behind = {**ROW, "measure": "cka_linear", "peer": "GULP lin_cka_dist", "ratio": 0.91, "ratio_median": 0.95}
    table = peers_table({"rows": [ROW, behind], "absent": {}})
    assert "Ours behind (fastest-call ratio below 1): cka_linear (GULP lin_cka_dist, 0.91)." in table
    assert "| 0.91 | 0.95 | [1.50, 2.50] |" in table


def test_the_command_writes_the_page_from_the_file(tmp_path):
    run = tmp_path / "peers.json"
    run.write_text(json.dumps({"run": {"threads": 1, "load_average": [9.5, 9.1, 8.8]}, "rows": [ROW], "absent": {}}))
    assert main(["speed", str(run), "--output", str(tmp_path / "speed.md")]) == 0
    page = (tmp_path / "speed.md").read_text()
    assert page == speed_page(run) and "load average [9.5, 9.1, 8.8]" in page and "| gulp |" in page
    assert "the machine was shared" in page  # 9.5 runnable processes on (by default) one core


def test_speed_page_calls_a_run_shared_only_when_the_load_exceeded_the_cores(tmp_path):
    run = tmp_path / "quiet.json"
    run.write_text(json.dumps({"run": {"cpus": 2, "load_average": [1.08, 1.15, 1.71]}, "rows": [ROW], "absent": {}}))
    assert "load average [1.08, 1.15, 1.71]." in speed_page(run) and "shared" not in speed_page(run)
    run.write_text(json.dumps({"run": {"cpus": 2, "load_average": [6.8, 5.4, 4.55]}, "rows": [ROW], "absent": {}}))
    assert "the machine was shared" in speed_page(run)


def test_committed_speed_page_is_generated_from_the_committed_run():
    """docs/peers.md is exactly what the command makes of reports/peers.json (regenerate both together)."""
    assert (ROOT / "docs" / "peers.md").read_text() == speed_page(ROOT / "reports" / "peers.json")


def test_table_lists_the_field_code_that_computes_another_number():
    table = peers_table({"rows": [ROW], "absent": {}, "not_compared": {"ReSi svcca": "Google's directions rule"}})
    assert "computes another number" in table and "- ReSi svcca: Google's directions rule" in table
