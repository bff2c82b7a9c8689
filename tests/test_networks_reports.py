"""reports.networks and reports.analysis: heat maps, sparsity curves and layer identification from a
tidy table; and ``reports`` importing no torch, no networks stack and no generator."""
import itertools
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from reports import networks
from reports.analysis import layer_identification
from runner.cells import scalar_meta
from reports.scales import MeasureScale


def tidy_table():
    rows = []
    layers = ["l0", "l1", "l2"]
    for metric, seed in itertools.product(["cka_linear", "svcca"], [0, 1]):
        for (i, x), (j, y) in itertools.product(enumerate(layers), repeat=2):
            rows.append({"metric": metric, "family": "networks", "scenario": "networks_layer_pairs_cnn",
                         "case": f"{x}->{y}", "param": None, "seed": seed, "error": "",
                         "value": 1.0 - abs(i - j) / 3 if metric == "cka_linear" else 0.5,
                         "stitch": 1.0 - abs(i - j) / 4, "stitch_reverse": 1.0, "stitch_direct": 0.9})
        for step in range(3):
            rows.append({"metric": metric, "family": "networks", "scenario": "networks_progression_imp",
                         "case": f"step={step}", "param": 1 - 0.8 ** step, "seed": seed, "error": "",
                         "value": 1 - 0.1 * step, "stitch": 1.0, "stitch_reverse": 1.0, "stitch_direct": 1.0})
    return pd.DataFrame(rows)


def case_meta(case: str) -> dict:
    if "->" in case:
        x, y = case.split("->")
        return {"layer_x": x, "layer_y": y, "index_x": int(x[1]), "index_y": int(y[1]), "pair": "dense"}
    return {"layer_x": "conv4", "layer_y": "conv4", "method": "imp", "arch": "cnn", "step": int(case[-1])}


def test_networks_figures_and_table(tmp_path):
    table = tidy_table()
    table["meta"] = [scalar_meta(case_meta(case)) for case in table["case"]]
    joined = networks.with_meta(table)
    assert len(joined) == len(table) and joined["layer_x"].notna().all()
    identification = networks.layer_identification_table(joined)
    assert identification.loc["cka_linear", "networks_layer_pairs_cnn"] == 1.0
    assert identification.loc["svcca", "networks_layer_pairs_cnn"] == pytest.approx(1 / 3)
    figures, tables = networks.write_networks(table, tmp_path)
    assert [t.name for t in tables] == ["networks_layer_identification.md"]
    assert [f.path.name for f in figures] == ["networks_layers_networks_layer_pairs_cnn.png"]
    assert figures[0].path.with_suffix(".pdf").is_file() and "stitch" in figures[0].caption
    assert all(p.stat().st_size > 0 for p in [*tables, figures[0].path])


def test_layer_identification():
    rows = []
    for metric, best in [("good", lambda i, j: i == j), ("bad", lambda i, j: j == 0),
                         ("distance", lambda i, j: i != j)]:
        for i in range(3):
            for j in range(3):
                rows.append({"metric": metric, "scenario": "s", "seed": 0, "layer_x": f"l{i}", "layer_y": f"l{j}",
                             "value": float(best(i, j)), "stitch": 1.0 if j >= i else 0.5,
                             "stitch_direct": 1.0 if j == 2 else 0.0})
    table = layer_identification(pd.DataFrame(rows), lower_is_similar=frozenset({"distance"}))
    accuracy = table.set_index("metric")["accuracy"]
    assert accuracy["good"] == 1.0 and accuracy["distance"] == 1.0
    assert accuracy["bad"] == pytest.approx(1 / 3)
    # stitching ties at the top: l0 -> {l0, l1, l2}: 1/3, l1 -> {l1, l2}: 1/2, l2 -> {l2}: 1
    assert accuracy["stitching"] == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)
    assert accuracy["stitching (direct)"] == pytest.approx(1 / 3)  # always picks l2
    unread = layer_identification(pd.DataFrame(rows))  # without the orientation the distance picks the others
    assert unread.set_index("metric").loc["distance", "accuracy"] == 0.0


def test_the_identification_table_reads_distances_from_the_scales():
    table = tidy_table().assign(metric=lambda t: t["metric"].replace({"svcca": "far"}))
    far = table["metric"] == "far"
    table.loc[far, "value"] = 1.0 - table.loc[far & table["case"].str.contains("->"), "value"]
    table["meta"] = [scalar_meta(case_meta(case)) for case in table["case"]]
    rows = table["case"].str.contains("->")
    table.loc[far & rows, "value"] = [abs(int(c[1]) - int(c[-1])) for c in table.loc[far & rows, "case"]]
    scales = {"cka_linear": MeasureScale(0.0, 1.0), "far": MeasureScale(0.0, float("inf"), False)}
    identification = networks.layer_identification_table(networks.with_meta(table), scales)
    assert identification.loc["far", "networks_layer_pairs_cnn"] == 1.0


def test_importing_reports_loads_no_torch_no_networks_and_registers_no_generator(tmp_path):
    """``import reports`` (every module) and ``python -m reports DIR`` stay clear of the heavy stack."""
    script = textwrap.dedent(f"""
        import pkgutil, runpy, sys
        import reports
        from reports.results import results_table
        from reports.run import RunRecord, write_reports
        from reports.scales import MeasureScale
        for module in pkgutil.iter_modules(reports.__path__):
            if module.name != "__main__":
                __import__(f"reports.{{module.name}}")
        rows = [dict(metric="m", family="f", scenario="s", case=f"c{{i}}", param=i, seed=s, value=0.1 * i,
                     stitch=1.0, time=0.0, error="", meta="{{}}") for i in range(3) for s in range(3)]
        results = results_table(rows)
        write_reports(results, RunRecord({{}}, {{"m": MeasureScale(0.0, 1.0)}}, {{}}), {str(tmp_path)!r})
        sys.argv = ["reports", {str(tmp_path)!r}]
        try:
            runpy.run_module("reports", run_name="__main__")
        except SystemExit as done:
            assert not done.code, done.code
        import scenarios._registry as registry
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "scenarios.networks")))
        assert not loaded, loaded
        assert not registry._REGISTRY, sorted(registry._REGISTRY)
        print("clean")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("clean")
