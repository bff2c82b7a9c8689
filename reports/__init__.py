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
- ``scorecard``: scores and marks per measure and family (failures by design counted apart),
  scorecard.{md,csv,json};
- ``design``: which failures a measure has by its declared design (symmetry, invariances), not empirically;
- ``answers``: which measure for which question (per use case, ``scenarios.use_cases``), the one ranking
  with its bootstrap spread, and the exports (ranking / use cases as CSV and LaTeX, references.bib);
- ``trust``: the trust line (baseline comparison, premises on their edge, network bank, versions);
- ``html``: scorecard.html, one self-contained page rendered from ``templates/`` (jinja2);
- ``ranking``: the ranking figure (figures/ranking.png) and the measures on ReSi's and Ding's tests
  (ranking_tests.md);
- ``disagreements``: rank correlation with every functional reference per family, where the references
  disagree, how the control senders are rated, the most discordant cases;
- ``analysis``: analyses of the results table (layer identification across seeds);
- ``networks``: the networks family's layer heat maps (one colour scale per panel) and layer-identification
  table;
- ``figures``: small multiples of every measure against each sweep (each on its own scale, ``multiples``),
  measure vs stitching scatter, the references against each other (matplotlib, Agg); every figure as PNG
  and PDF with its caption in figures/index.json;
- ``baseline``: the regression baseline (every family, a platform fingerprint) and its comparison;
- ``run``: the run record (run.json) and ``write_reports``; ``merge``: the reports of several shares of
  one grid combined (``python -m reports merge``); ``environment``: the run's versions and the pinned
  CPU kernels; ``scales``, ``atomic``: helpers.
"""
