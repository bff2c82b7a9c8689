"""stitchbench reports: results table -> verdicts -> scorecard, disagreement report, figures, baseline.

Pure functions over one tidy pandas table (``reports.results``); ``benchmarks/conftest.py`` calls
``reports.run.write_reports`` once per session, and ``python -m reports DIR`` rebuilds every report of
a finished run from its ``results.csv`` and ``run.json``.

- ``results``: the table's columns, measuring a measure on cases (errors isolated), CSV in and out;
- ``stats``: seeded bootstrap intervals and permutation tests of Spearman correlation;
- ``verdicts``: each scenario expectation judged per measure: pass / fail / undecided / error;
- ``scorecard``: scores and marks per measure and family, scorecard.{md,csv,json};
- ``disagreements``: rank correlation with stitching per family, the most discordant cases;
- ``figures``: measure vs sweep curves and measure vs stitching scatter (matplotlib, Agg);
- ``baseline``: the regression baseline and its comparison;
- ``run``: the run record (run.json) and ``write_reports``; ``scales``, ``environment``, ``atomic``: helpers.
"""
