"""reports.networks: heat maps, sparsity curves and the layer-identification table from a tidy table."""
import itertools

import pandas as pd
import pytest

from reports import networks
from reports.results import scalar_meta


def tidy_table():
    rows = []
    layers = ["l0", "l1", "l2"]
    for metric, seed in itertools.product(["cka_linear", "svcca"], [0, 1]):
        for (i, x), (j, y) in itertools.product(enumerate(layers), repeat=2):
            rows.append({"metric": metric, "family": "networks", "scenario": "networks_layer_pairs_cnn",
                         "case": f"{x}->{y}", "param": None, "seed": seed, "error": "",
                         "value": 1.0 - abs(i - j) / 3 if metric == "cka_linear" else 0.5,
                         "stitch": 1.0 - abs(i - j) / 4, "stitch_reverse": 1.0})
        for step in range(3):
            rows.append({"metric": metric, "family": "networks", "scenario": "networks_progression_imp",
                         "case": f"step={step}", "param": 1 - 0.8 ** step, "seed": seed, "error": "",
                         "value": 1 - 0.1 * step, "stitch": 1.0, "stitch_reverse": 1.0})
    return pd.DataFrame(rows)


def case_meta(case: str) -> dict:
    if "->" in case:
        x, y = case.split("->")
        return {"layer_x": x, "layer_y": y, "index_x": int(x[1]), "index_y": int(y[1]), "pair": "dense",
                "stitch_direct": 0.9}
    return {"layer_x": "conv4", "layer_y": "conv4", "method": "imp", "arch": "cnn", "step": int(case[-1]),
            "stitch_direct": 1.0}


def test_networks_figures_and_table(tmp_path):
    table = tidy_table()
    table["meta"] = [scalar_meta(case_meta(case)) for case in table["case"]]
    joined = networks.with_meta(table)
    assert len(joined) == len(table) and joined["layer_x"].notna().all()
    identification = networks.layer_identification_table(joined)
    assert identification.loc["cka_linear", "networks_layer_pairs_cnn"] == 1.0
    assert identification.loc["svcca", "networks_layer_pairs_cnn"] == pytest.approx(1 / 3)
    paths = networks.write_networks(table, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["networks_layer_identification.md", "networks_layers_networks_layer_pairs_cnn.png",
                     "networks_sparsity.png"]
    assert all(p.stat().st_size > 0 for p in paths)
