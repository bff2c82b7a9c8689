"""Rebuild every report of a finished run from its results.csv and run.json: ``python -m reports [DIR]``."""
from __future__ import annotations

import sys

from reports.run import read_run, write_reports

if __name__ == "__main__":
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "reports/out"
    results, record = read_run(out_dir)
    for path in write_reports(results, record, out_dir).paths:
        print(path)
