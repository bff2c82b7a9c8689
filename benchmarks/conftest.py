"""pytest glue for ``pytest benchmarks/``: the CPU kernels pinned before numpy and torch load their
libraries (``runner.environment.pin_cpu_kernels``), then the stitchbench pytest plugin
(``pytest_stitchbench``: options, selection, the grid, xdist rows, progress, fixtures and the reports)."""
from runner.environment import pin_cpu_kernels

pin_cpu_kernels()

pytest_plugins = ["pytest_stitchbench"]
