"""The pytest plugin behind ``pytest benchmarks/``: every registered measure run on every scenario spec,
the rows collected (across pytest-xdist workers too), judged, compared with the baseline and written as
the reports once, at the end of the session, in the controller process.

One module per job: ``state`` (the run's shared state), ``options`` (the command-line options),
``selection`` (which measures and scenarios, the grid's parametrization), ``rows`` (pytest-xdist: each
worker's share of the machine and its rows), ``progress`` (the generation progress line),
``fixtures`` (what the benchmark modules ask for), ``bank`` (which network bank is read, or rebuilt) and
``session`` (the reports, the baseline and the terminal summary). ``benchmarks/conftest.py`` pins the
CPU kernels and loads this plugin (``pytest_plugins``); the work itself lives in ``runner``,
``scenarios`` and ``reports``: the plugin only selects, collects and calls. The networks stack is
imported only when a networks scenario is selected.
"""

pytest_plugins = [
    "pytest_stitchbench.state",
    "pytest_stitchbench.options",
    "pytest_stitchbench.selection",
    "pytest_stitchbench.rows",
    "pytest_stitchbench.progress",
    "pytest_stitchbench.fixtures",
    "pytest_stitchbench.bank",
    "pytest_stitchbench.session",
]
