"""The disagreement report's sections on constructed networks-like results: correlation with every
reference, where the references disagree (pairwise correlations and the cases), the controls, and the
similarity scale of an unbounded distance."""
import itertools
import math

import numpy as np
import pytest

from reports.disagreements import (
    case_means,
    control_ratings,
    disagreements_markdown,
    discordant_cases,
    reference_case_gaps,
    reference_correlations,
    reference_pair_correlations,
    write_disagreements,
)
from reports.figures import references_figure
from reports.results import results_table
from reports.scales import MeasureScale

SENDERS = {"trained": (0.9, 1.0, 0.9), "random_init": (0.2, 0.3, 0.1), "shuffled_labels": (0.3, 0.5, 0.2),
           "clustered_noise": (0.1, 0.95, 0.1)}  # (measure, trained stitch, direct stitch) per sender
LAYERS = ("conv1", "conv2")
SCALES = {"good": MeasureScale(0.0, 1.0), "far": MeasureScale(0.0, math.inf, higher_is_more_similar=False)}


GENERATORS = {"networks_layer_pairs": "networks.layer_pairs", "networks_controls_cnn": "networks.controls"}


def _row(metric, scenario, case, seed, value, meta=None, **references):
    return {"metric": metric, "family": "networks", "scenario": scenario, "generator": GENERATORS[scenario],
            "case": case, "param": None, "seed": seed, "value": value, "time": 0.0, "error": "", "meta": meta or {},
            **references}


def results():
    rows = []
    for metric, seed in itertools.product(SCALES, range(3)):
        for i in range(6):  # layer pairs: trained stitching rises with i, direct matching falls at i = 5
            stitch, direct = 0.5 + 0.1 * i, 0.5 + 0.1 * i if i < 5 else 0.2
            similar = stitch + 0.001 * seed
            value = similar if metric == "good" else 10.0 * (1.01 - similar)
            rows.append(_row(metric, "networks_layer_pairs", f"l{i}", seed, value, stitch=stitch,
                             stitch_direct=direct, stitch_reverse=stitch))
        for (sender, (measure, stitch, direct)), layer in itertools.product(SENDERS.items(), LAYERS):
            similar = measure + (0.02 if layer == "conv2" else 0.0)
            value = similar if metric == "good" else 10.0 * (1.01 - similar)
            rows.append(_row(metric, "networks_controls_cnn", f"{sender}/{layer}", seed, value,
                             {"sender": sender}, stitch=stitch, stitch_direct=direct))
    return results_table(rows)


def test_every_measure_is_correlated_with_every_recorded_reference():
    table = reference_correlations(results(), SCALES, n_permutations=200).set_index(["metric", "reference"])
    assert set(table.index.get_level_values("reference")) == {"stitch", "stitch_reverse", "stitch_direct"}
    # the distance is oriented: it shrinks as stitching improves, so its correlation is positive
    assert table.loc[("far", "stitch"), "rho"] == pytest.approx(table.loc[("good", "stitch"), "rho"])
    assert table.loc[("good", "stitch"), "rho"] > 0.5 and table.loc[("good", "stitch"), "p_value"] < 0.05
    assert table.loc[("good", "stitch_reverse"), "n"] == 18  # recorded on the layer pairs only


def test_the_references_are_compared_with_each_other_and_their_largest_gaps_listed():
    pairs = reference_pair_correlations(results()).set_index(["first", "second"])
    assert pairs.loc[("stitch", "stitch_reverse"), "rho"] == pytest.approx(1.0)
    assert pairs.loc[("stitch", "stitch_direct"), "rho"] < 1.0
    gaps = reference_case_gaps(results(), top=2)
    direct = gaps[(gaps["first"] == "stitch") & (gaps["second"] == "stitch_direct")]
    top = direct.iloc[0]
    assert top["case"].startswith("clustered_noise/")  # stitching is fooled by the noise, direct matching is not
    assert top["difference"] == pytest.approx(0.85)
    assert direct.iloc[1]["difference"] == pytest.approx(0.85)  # the other layer of the same control
    assert reference_case_gaps(results(), top=3).query("second == 'stitch_direct'").iloc[2]["case"] == "l5"


def test_controls_are_rated_per_sender_by_measures_and_references():
    (scenario, table), = control_ratings(results(), SCALES).items()
    assert scenario == "networks_controls_cnn"
    overall = table.xs("all", axis=1, level="layer")
    assert list(overall.columns.sort_values()) == sorted(SENDERS)
    assert overall.loc["good", "trained"] == pytest.approx(0.91)  # mean of the two layers
    assert overall.loc["reference: stitch", "clustered_noise"] == pytest.approx(0.95)
    assert overall.loc["reference: stitch_direct", "clustered_noise"] == pytest.approx(0.1)
    assert "far (distance)" in overall.index
    assert table.loc["good", ("random_init", "conv2")] == pytest.approx(0.22)


def test_the_markdown_has_every_section_and_stays_narrow(tmp_path):
    path = write_disagreements(results(), SCALES, {"profile": "quick"}, tmp_path)
    text = path.read_text()
    for heading in ("## Rank correlation with each functional reference", "## Where the references disagree",
                    "### Cases where two references differ most", "## Controls", "### networks_controls_cnn",
                    "Per layer", "## Most discordant cases"):
        assert heading in text, heading
    widest = max(line.count("|") - 1 for line in text.splitlines() if line.startswith("|"))
    assert widest <= 12
    controls = text.split("### networks_controls_cnn")[1]
    row = next(line for line in controls.splitlines() if line.startswith("| reference: stitch "))
    assert "0.950" in row


def test_without_controls_or_other_references_the_sections_say_so():
    table = results()
    plain = table[table["scenario"] == "networks_layer_pairs"].assign(stitch_direct=np.nan, stitch_reverse=np.nan)
    correlations = reference_correlations(plain, SCALES, n_permutations=50)
    text = disagreements_markdown(correlations, discordant_cases(case_means(plain, SCALES)), {}, 0.2,
                                  reference_pair_correlations(plain), reference_case_gaps(plain),
                                  control_ratings(plain, SCALES))
    assert "Only one functional reference" in text and "No controls scenario" in text


def test_an_unbounded_distance_is_read_relative_to_its_farthest_value_on_the_family():
    means = case_means(results(), SCALES).set_index(["metric", "scenario", "case"])
    far = means.loc["far"]
    # the farthest value is the clustered noise's 10 (1.01 - 0.1) = 9.1; l5 is 0.1, 0.09, 0.08 over the seeds
    assert far.loc[("networks_layer_pairs", "l5"), "similarity"] == pytest.approx(1 - 0.09 / 9.1)
    assert far["similarity"].min() == pytest.approx(0.0)  # the farthest value of the family reads 0
    assert np.isfinite(means["similarity"]).all()


def test_the_references_figure_compares_the_references_over_the_network_cases(tmp_path):
    figure = references_figure(results(), tmp_path)
    assert figure.path == tmp_path / "references.png" and figure.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "references.pdf").is_file() and "diagonal" in figure.caption
    assert references_figure(results().assign(family="symmetry"), tmp_path / "none") is None
