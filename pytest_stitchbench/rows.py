"""pytest-xdist: each worker takes its share of the machine and leaves its rows in a file of a folder the
controller made (atomic writes); the controller merges them at the end. The results table is put in a
canonical order, so the reports are those of a serial run (the same verdicts and scores; values to
rounding, since a worker's BLAS sums in another order on its share of the cores)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import scenarios.resources
from pytest_stitchbench.state import Run, is_worker, run_of, under_root
from runner.atomic import write_text

__all__ = ["merged_rows"]

_ROWS_DIR = "stitchbench_rows_dir"  # workerinput key: where xdist workers leave their rows


def pytest_configure(config):
    """xdist worker: find the rows' folder, and limit this process to its share of the cores and, where
    there are GPUs, one GPU."""
    if not is_worker(config):
        return
    run = run_of(config)
    run.rows_dir = Path(config.workerinput[_ROWS_DIR]) if _ROWS_DIR in config.workerinput else None
    import torch

    share = scenarios.resources.worker_share(
        config.workerinput["workerid"], int(config.workerinput["workercount"]), os.cpu_count() or 1,
        torch.cuda.device_count(),
    )
    scenarios.resources.apply(share)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: give every worker the folder for its rows (made once per run)."""
    run = run_of(node.config)
    if run.rows_dir is None:
        report_dir = under_root(node.config, node.config.getoption("--report-dir"))
        report_dir.mkdir(parents=True, exist_ok=True)
        run.rows_dir = Path(tempfile.mkdtemp(prefix=".rows-", dir=report_dir))
    node.workerinput[_ROWS_DIR] = str(run.rows_dir)


def pytest_sessionfinish(session, exitstatus):
    """xdist worker: leave this worker's rows for the controller."""
    config = session.config
    run = run_of(config)
    if is_worker(config) and run.rows_dir is not None:
        write_text(run.rows_dir / f"{config.workerinput['workerid']}.json", json.dumps(run.rows, default=float))


def worker_reports(run: Run, report_dir: Path) -> None:
    """xdist controller: the benchmark reports the workers wrote (``Run.report_folder``) moved into the
    run's staging folder, and into its terminal summary."""
    folder = None if run.rows_dir is None else run.rows_dir / "reports"
    if folder is None or not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        run.benchmark_reports.append((report_dir / path.name, path.read_text(encoding="utf-8")))
        os.replace(path, run.staged(report_dir) / path.name)


def merged_rows(run: Run) -> list[dict]:
    """The controller's rows and every worker's, the workers' folder removed."""
    rows = list(run.rows)
    if run.rows_dir is not None and run.rows_dir.exists():
        for path in sorted(run.rows_dir.glob("*.json")):
            rows += json.loads(path.read_text(encoding="utf-8"))
        shutil.rmtree(run.rows_dir, ignore_errors=True)
    return rows
