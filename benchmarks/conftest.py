"""pytest glue for `pytest benchmarks/`: run options shared by the speed and scenario benchmarks."""
from __future__ import annotations

PROFILES = ("quick", "full")


def pytest_addoption(parser):
    group = parser.getgroup("stitchbench")
    group.addoption(
        "--profile",
        choices=PROFILES,
        default="quick",
        help="quick (default: minutes on a 2-core CPU) or full (every shape and scenario size; GPU-sized)",
    )
