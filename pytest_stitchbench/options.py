"""The command-line options of ``pytest benchmarks/`` (group "stitchbench"), checked before anything runs."""
from __future__ import annotations

__all__ = ["DEFAULT_BASELINE", "PROFILES"]

PROFILES = ("quick", "full")
DEFAULT_BASELINE = "reports/baseline.json"


def pytest_addoption(parser):
    group = parser.getgroup("stitchbench")
    group.addoption(
        "--profile",
        choices=PROFILES,
        default="quick",
        help="quick (default: minutes on a 2-core CPU) or full (every shape and scenario size; GPU-sized)",
    )
    group.addoption("--metrics", default=None, help="comma-separated measures to run (default: every registered one "
                    "but the opt-in ones); name@calibrated runs a measure's null-calibrated variant")
    group.addoption("--scenarios", default=None, help="comma-separated scenario names to run (default: all)")
    group.addoption("--families", default=None, help="comma-separated scenario families to run (default: all)")
    group.addoption(
        "--specs", default=None, help="comma-separated spec files or folders (default: scenarios/specs/*.toml)"
    )
    group.addoption(
        "--report-dir", default="reports/out", help="where the reports go, relative to the rootdir (reports/out)"
    )
    group.addoption(
        "--baseline",
        default=None,
        metavar="PATH",
        help="compare verdicts and values with this baseline JSON; any changed verdict or value drift fails the run",
    )
    group.addoption(
        "--baseline-tolerance", type=float, default=1e-4, help="absolute value drift allowed by --baseline (1e-4)"
    )
    group.addoption(
        "--update-baseline",
        action="store_true",
        help=f"rewrite the baseline (--baseline PATH, default {DEFAULT_BASELINE}) from this run",
    )
    group.addoption(
        "--recompute",
        action="store_true",
        help="measure every cell again instead of taking the values kept from earlier runs (runner.value_cache)",
    )
    group.addoption(
        "--speed-gate",
        action="store_true",
        help="fail the run when a speed ratio grew past twice the baseline's (for quiet, dedicated hardware)",
    )
    group.addoption(
        "--bank",
        default=None,
        metavar="DIR",
        help="the network bank to read, or with --rebuild-networks to write (default: $STITCHBENCH_BANK, else bank/)",
    )
    group.addoption(
        "--retrain",
        action="store_true",
        help="run benchmarks/test_retrain.py: the first seed of every networks scenario built again from the "
        "seeds and compared with the network bank (reports/out/retrain.md)",
    )
    group.addoption(
        "--rebuild-networks",
        action="store_true",
        help="build every networks recipe from the seeds (no bank; the local cache resumes a build) and write "
        "the network bank from what the run read (serial runs only)",
    )
