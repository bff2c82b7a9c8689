"""The field's code against ours: the table of ``benchmarks/test_peers_field.py``'s run, and the docs' speed
page made from a committed run.

The benchmark writes ``field_peers.json`` (``{"run": {...}, "rows": [...], "absent": {...}}``) and
``field_peers.md`` under ``--report-dir``. The committed run is ``reports/peers.json`` (a copy of such a
file) and ``docs/peers.md`` is made from it, never typed::

    pytest benchmarks/test_peers_field.py --report-dir reports/out
    cp reports/out/field_peers.json reports/peers.json
    python -m reports speed reports/peers.json --output docs/peers.md
"""
from __future__ import annotations

import json
from pathlib import Path

COMMAND = "python -m reports speed reports/peers.json --output docs/peers.md"


def peers_table(data: dict) -> str:
    """Markdown: per shape, the pairs where ours is behind, then every (measure, peer) with both fastest CPU
    times, the ratio peer / ours of the fastest and of the median calls, the spread of the per-round
    ratios, the wall-time ratio, the value and the peer's difference; the absent peers."""
    rows, absent = data.get("rows", []), data.get("absent", {})
    lines = ["ratio = peer / ours in CPU time, fastest call of each (above 1: ours is faster); median ratio = "
             "the same of the median calls; spread = [lowest, highest] of the per-round ratios; wall-time ratio "
             "beside it.", ""]
    for shape in sorted({tuple(row["shape"]) for row in rows}):
        at_shape = sorted((r for r in rows if tuple(r["shape"]) == shape), key=lambda r: (r["measure"], r["peer"]))
        behind = [f"{r['measure']} ({r['peer']}, {r['ratio']:.2f})" for r in at_shape if r["ratio"] < 1]
        lines += [f"### n={shape[0]}, p1={shape[1]}, p2={shape[2]}", "",
                  f"Ours behind (fastest-call ratio below 1): {', '.join(behind) if behind else 'none'}.", "",
                  "| measure | peer | version | ours s | peer s | ratio | median ratio | spread | wall ratio | value "
                  "| difference |",
                  "|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|"]
        for row in at_shape:
            median = f"{row['ratio_median']:.2f}" if "ratio_median" in row else "–"
            lines.append(f"| {row['measure']} | {row['peer']} | {row['version']} | {row['ours_s']:.4f} | "
                         f"{row['peer_s']:.4f} | {row['ratio']:.2f} | {median} | [{row['ratio_low']:.2f}, "
                         f"{row['ratio_high']:.2f}] | {row['ratio_wall']:.2f} | {row['value']:.6g} | "
                         f"{row['difference']:.1e} |")
        lines.append("")
    if absent:
        lines += ["### Absent peers", ""] + [f"- {peer}: {why}" for peer, why in sorted(absent.items())] + [""]
    not_compared = data.get("not_compared", {})
    if not_compared:
        lines += ["### The field's code that computes another number (not timed)", ""]
        lines += [f"- {peer}: {why}" for peer, why in sorted(not_compared.items())] + [""]
    return "\n".join(lines)


def speed_page(path: str | Path) -> str:
    """docs/peers.md: how the committed run was made, under which conditions, and its table."""
    data = json.loads(Path(path).read_text())
    run = data.get("run", {})
    load = run.get("load_average")
    conditions = ", ".join(f"{key} {value}" for key, value in run.items() if key != "load_average")
    shared = bool(load) and max(load) > run.get("cpus", 1)  # more runnable processes than cores at some point
    return "\n".join([
        "# Speed against the field's code", "",
        f"Generated from the committed run by `{COMMAND}`; do not edit by hand. The run: {conditions}"
        + (f"; load average {load}" if load else "")
        + (" (above the CPU count, the machine was shared and every time is noisy)" if shared else "") + ".", "",
        "Each peer computes the same value as ours (the benchmark asserts it before timing), is called on the raw "
        "inputs with the preprocessing its function leaves to the caller, and alternates with ours in one process "
        "on one thread (`benchmarks/test_peers_field.py`).", "",
        "To run it: POT is a dependency, dcor and rsatoolbox come with `pip install -e \".[peers]\"`; the other "
        "peers are local checkouts named by environment variables (absent ones are skipped and listed at the "
        "end): `STITCHBENCH_PEER_GULP=path/to/GULP STITCHBENCH_PEER_RESI=path/to/resi "
        "STITCHBENCH_PEER_NETREP=path/to/netrep STITCHBENCH_PEER_PLATONIC=path/to/platonic-rep pytest "
        "benchmarks/test_peers_field.py --report-dir reports/out` (serially: under xdist it is skipped), then "
        "`cp reports/out/field_peers.json reports/peers.json` and the command above. `--profile full` adds the "
        "linear-algebra measures at n = 10000, p = 1024 (the committed run has it when that shape is below).", "",
        peers_table(data),
    ])
