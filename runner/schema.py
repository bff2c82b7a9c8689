"""The results table's columns: one row per (measure, case, seed), every functional reference a column.

The functional references a case may carry (NaN where one does not apply): the trained stitch X -> Y and
Y -> X (task-loss matching), the least-squares stitch without training scored on held-out inputs
(direct matching), and for two whole models with the same outputs the fraction of test inputs on which
their predictions agree and the absolute difference of their test accuracies (ReSi's functional
measures). ``generator`` names the scenario's generator, so that reports select scenarios by what made
them, never by their names.
"""
from __future__ import annotations

__all__ = ["DISTANCE_REFERENCES", "REFERENCE_COLUMNS", "RESULT_COLUMNS"]

REFERENCE_COLUMNS = ("stitch", "stitch_reverse", "stitch_direct", "stitch_direct_reverse", "agreement",
                     "accuracy_difference")
#: The references read as distances (0: the same function); the others are similarities in [0, 1].
DISTANCE_REFERENCES = ("accuracy_difference",)
RESULT_COLUMNS = ("metric", "family", "scenario", "generator", "case", "param", "seed", "value", *REFERENCE_COLUMNS,
                  "time", "error", "meta")
