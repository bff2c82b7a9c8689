"""stitchbench reports: results table -> verdicts -> scorecard, disagreement report, figures, baseline.

Pure functions over one tidy pandas table (``reports.results``); ``benchmarks/conftest.py`` calls
``reports.run.write_reports`` once per session, and ``python -m reports DIR`` rebuilds every report of
a finished run from its ``results.csv`` and ``run.json``. From ``scenarios`` the reports import only
the light schema module ``scenarios.types`` (the expectation type, the results-table columns), so
importing ``reports`` loads neither torch nor the networks stack, and registers no generator.

- ``results``: the table (every functional reference a column), measuring a measure on cases (errors
  isolated), CSV in and out; ``value_cache``: the values kept between runs, by measure fingerprint and
  case digest;
- ``stats``: seeded bootstrap intervals and permutation tests of Spearman correlation;
- ``verdicts``: each expectation judged first on its functional reference (the premise), then per
  measure: pass / fail / undecided / error / premise failed; ``follows_reference`` derived in the run;
- ``scorecard``: scores and marks per measure and family, scorecard.{md,csv,json};
- ``html``: scorecard.html, one self-contained page rendered from ``templates/`` (jinja2);
- ``ranking``: each measure's rank per family and its median rank (figures/ranking.png);
- ``disagreements``: rank correlation with every functional reference per family, where the references
  disagree, how the control senders are rated, the most discordant cases;
- ``analysis``: analyses of the results table (layer identification across seeds);
- ``networks``: the networks family's heat maps, sparsity curves and layer-identification table;
- ``figures``: measure vs sweep curves, measure vs stitching scatter, the references against each other
  (matplotlib, Agg);
- ``baseline``: the regression baseline (every family, a platform fingerprint) and its comparison;
- ``run``: the run record (run.json) and ``write_reports``; ``merge``: the reports of several shares of
  one grid combined (``python -m reports merge``); ``environment``: the run's versions and the pinned
  CPU kernels; ``scales``, ``atomic``: helpers.
"""
