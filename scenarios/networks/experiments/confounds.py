"""The width confound on networks (Groger, Wen & Brbic 2026): untrained networks of growing width whose
sample correspondence is broken, so that nothing is shared and a measure should read its null level at
every width (the estimator family's ``estimator.width_null`` on network activations).

Two independently initialised networks of the same inputs are *not* a null: random ReLU features keep the
input's geometry, so their layers share it and stitching between them is far above chance. What the
confound is about is correspondence: with Y's rows shuffled (``estimator.break_correspondence``), X and Y
are the same kinds of representation of the same images in unrelated orders, and stitching is at chance
whatever the width.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from scenarios import Case, Scenario, rng_for
from scenarios.estimator import break_correspondence, null_case
from scenarios.networks.models import mlp_named
from scenarios.networks.plan import Plan, networks_generator, side_fields, swept
from scenarios.networks.recipes import Activations, RandomInit, Record, Setup, TrainingActivations
from scenarios.networks.subspaces import linear_probe
from scenarios.stitching import Pair

__all__ = ["width_null"]

#: The one hidden layer of ``mlp[width]``: the layer compared.
LAYER = "fc1"


def _check_width(params: dict) -> None:
    if params["width"] < 1 or params["n"] < 2:
        raise ValueError(f"width must be >= 1 and n >= 2, got width {params['width']} and n {params['n']}")


def _width_ids(params: dict, sweep) -> list[str]:
    return [f"width={width}" for width in swept(params, sweep, "width")]


def _models(setup: Setup, seed: int, width: int) -> tuple[RandomInit, RandomInit]:
    """Two untrained one-hidden-layer MLPs of ``width`` units, initialised from seeds s and s + 1."""
    arch = mlp_named([width])
    return RandomInit(arch, seed, setup.data), RandomInit(arch, seed + 1, setup.data)


def _width_plan(scenario: Scenario, setup: Setup, seed: int) -> Plan:
    plan = {}
    for width in swept(scenario.params, scenario.sweep, "width"):
        for side, model in zip("xy", _models(setup, seed, width)):
            plan |= {f"{side}{width}/train": TrainingActivations(model, LAYER, "flatten"),
                     f"{side}{width}/test": Activations(model, LAYER, 0), f"{side}{width}/record": Record(model)}
    return plan


def _representation(setup: Setup, plan: Plan, key: str):
    """Every image's activations (the training images first, then the test images) and their readout: a
    linear probe of the true labels fitted on the training rows (``subspaces.linear_probe``)."""
    train = plan[f"{key}/train"]
    train_rows = train.matrix(setup)
    rows = np.concatenate([train_rows, plan[f"{key}/test"].fetch(setup)["activations"].numpy()])
    return np.ascontiguousarray(rows), linear_probe(train_rows, train.labels()).predict


@networks_generator("width_null", {"width": 64, "n": 256}, plan=_width_plan, check=_check_width,
                    case_ids=_width_ids, use_case="training")
def width_null(scenario: Scenario, setup: Setup, seed: int, plan: Plan) -> Iterator[Case]:
    """Case ``width=w`` for every swept ``width``: X = the hidden layer of an untrained ``mlp[w]``
    initialised from seed s, Y = the same layer of one initialised from seed s + 1 with its rows shuffled
    (``estimator.break_correspondence``), on every image of the data; the measures see the first ``n``
    rows (training images). The references stitch each side into the other's readout, a linear probe of
    the true labels, on all rows (``estimator.null_case``): at chance at every width. ``param`` is w."""
    p = scenario.params
    for width in swept(p, scenario.sweep, "width"):
        (x, readout_x), (y, readout_y) = (_representation(setup, plan, f"{side}{width}") for side in "xy")
        if len(x) < 2 * p["n"]:
            raise ValueError(f"n = {p['n']} needs at least {2 * p['n']} images, the data {setup.data.name!r} has "
                             f"{len(x)}")
        pair = break_correspondence(Pair(x, y, readout_x, readout_y), p["n"], rng_for(scenario.name, seed, str(width)))
        records = {side: plan[f"{side}{width}/record"] for side in "xy"}
        meta = {"arch": mlp_named([width]), "layer_x": LAYER, "layer_y": LAYER, "data": setup.data.name,
                "width": width, "p_over_n": width / p["n"], "model_x": records["x"].model.describe(),
                "model_y": records["y"].model.describe() + " (rows shuffled)"}
        for side, record in records.items():
            meta |= side_fields(record.model, record.fetch(setup)["record"], side)
        yield null_case(scenario, seed, f"width={width}", float(width), pair, p["n"], **meta)
