"""stitchbench reports: results table -> verdicts -> scorecard, disagreement report, figures, baseline."""
