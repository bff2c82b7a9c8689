"""Rebuild or merge reports of finished runs.

- ``python -m reports [DIR]``: rebuild every report of the run in DIR (default reports/out) from its
  results.csv and run.json;
- ``python -m reports merge DIR [DIR ...] --out OUT``: merge the report folders of several shares of
  one grid (pytest-split groups, cluster jobs) into the reports of the whole grid in OUT;
- ``python -m reports confounds DIR [--output PATH]``: the width and depth confounds of the run in DIR
  as markdown (``reports.confounds``; docs/confounds.md is made so);
- ``python -m reports speed FILE [--output PATH]``: the speed page of a peers run (``reports.peers``;
  docs/peers.md is made so from reports/peers.json).
"""
from __future__ import annotations

import argparse
import sys

from runner.atomic import staging_folder, write_text
from reports.confounds import confound_page
from reports.merge import MergeError, merge_runs
from reports.peers import speed_page
from reports.run import RunFolderError, read_run, write_reports


def main(argv: list[str]) -> int:
    if argv[:1] in (["confounds"], ["speed"]):
        what = {"confounds": "the run's report folder (results.csv, verdicts.csv, run.json)",
                "speed": "a peers run (field_peers.json of benchmarks/test_peers_field.py; reports/peers.json)"}
        parser = argparse.ArgumentParser(prog=f"python -m reports {argv[0]}", description=f"the {argv[0]} page")
        parser.add_argument("folder", help=what[argv[0]])
        parser.add_argument("--output", default=None, help="write the page here (default: standard output)")
        options = parser.parse_args(argv[1:])
        page = (confound_page if argv[0] == "confounds" else speed_page)(options.folder)
        if options.output is None:
            sys.stdout.write(page)
            return 0
        paths = [write_text(options.output, page)]
    elif argv[:1] == ["merge"]:
        parser = argparse.ArgumentParser(prog="python -m reports merge", description="merge shares of one grid")
        parser.add_argument("folders", nargs="+", help="report folders of the shares (results.csv, run.json)")
        parser.add_argument("--out", required=True, help="folder for the merged reports")
        options = parser.parse_args(argv[1:])
        try:
            paths = merge_runs(options.folders, options.out).paths
        except (MergeError, OSError) as err:
            parser.exit(2, f"python -m reports merge: {err}\n")
    else:
        parser = argparse.ArgumentParser(prog="python -m reports", description="rebuild the reports of a run")
        parser.add_argument("folder", nargs="?", default="reports/out", help="the run's report folder")
        out_dir = parser.parse_args(argv).folder
        try:
            results, record = read_run(out_dir)
            # the folder's other files (speed.md...) carried into the rebuilt set
            paths = write_reports(results, record, out_dir, staging=staging_folder(out_dir, copy=True)).paths
        except (RunFolderError, OSError) as err:
            parser.exit(2, f"python -m reports: {err}\n")
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
