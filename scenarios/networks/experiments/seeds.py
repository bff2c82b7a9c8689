"""Two seeds of one architecture compared layer by layer (DESIGN section 6, experiments 1, 2, 5, 6).

Every case pairs one layer of one model (X) with one layer of another (Y): activations on the probe set
(test split), brought to float64 [n, p] by the ``conv`` convention recorded in ``meta``, with the
functional references of ``plan.PlannedCase`` (the trained and direct stitches both ways, the two whole
models' prediction agreement and accuracy difference). A generator's ``seed`` s uses model seeds s and
s + 1.

1. ``networks.seed_pairs``: same layer of two seeds, dense-dense and pruned-pruned (IMP).
2. ``networks.pruning_identity``: sim(M_s, prune(M_s)) vs sim(prune(M_s+1), M_s) (cases ``same_seed``,
   ``other_seed``).
5. Layer identification (Kornblith et al. 2019): ``reports.analysis.layer_identification`` over the cases of 6.
6. ``networks.layer_pairs``: every layer pair of two seeds (dense or pruned): measure vs stitching.
"""
from __future__ import annotations

from scenarios import Scenario
from scenarios.networks.plan import ARCH_CHOICES, PlannedCase, layer, layers, networks_generator, trained
from scenarios.networks.recipes import Imp, Setup

__all__ = ["seed_pairs", "pruning_identity", "layer_pairs"]


def _check_pairs(params: dict) -> None:
    unknown = set(params["pairs"].split(",")) - {"dense", "pruned"}
    if unknown:
        raise ValueError(f"pairs must be a comma-separated subset of 'dense,pruned'; unknown: {sorted(unknown)}")


@networks_generator("seed_pairs", {"arch": "cnn", "pairs": "dense,pruned"}, {"arch": ARCH_CHOICES},
                    check=_check_pairs, use_case="seeds")
def seed_pairs(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Experiment 1: each layer of seeds s and s + 1, both dense (``dense/<layer>``) and both pruned by
    ``imp_rounds`` IMP rounds (``pruned/<layer>``)."""
    p = scenario.params
    models = {"dense": [trained(setup, p["arch"], s) for s in (seed, seed + 1)]}
    models["pruned"] = [Imp.rounds(setup, m, p["imp_rounds"]) for m in models["dense"]]
    return [PlannedCase(f"{pair}/{name}", models[pair][0], name, models[pair][1], name,
                        meta={"arch": p["arch"], "pair": pair})
            for pair in p["pairs"].split(",") for name in layers(p["arch"])]


def _identity_ids(params: dict, sweep) -> list[str]:
    return ["same_seed", "other_seed"]


@networks_generator("pruning_identity", {"arch": "cnn", "layer": ""}, {"arch": ARCH_CHOICES},
                    case_ids=_identity_ids, use_case="pruned")
def pruning_identity(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Experiment 2, "pruning keeps identity": ``same_seed`` = (M_s, IMP(M_s)), ``other_seed`` =
    (IMP(M_s+1), M_s), at ``layer`` (default: the last stitchable one)."""
    p = scenario.params
    name = layer(p["arch"], p["layer"])
    dense = [trained(setup, p["arch"], s) for s in (seed, seed + 1)]
    pruned = [Imp.rounds(setup, m, p["imp_rounds"]) for m in dense]
    meta = {"arch": p["arch"]}
    return [PlannedCase("same_seed", dense[0], name, pruned[0], name, meta=meta),
            PlannedCase("other_seed", pruned[1], name, dense[0], name, meta=meta)]


@networks_generator("layer_pairs", {"arch": "cnn", "pair": "dense"},
                    {"arch": ARCH_CHOICES, "pair": ("dense", "pruned")}, use_case="layers")
def layer_pairs(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Experiments 5 and 6: every (layer of seed s, layer of seed s + 1), case ``<layer_x>-><layer_y>``,
    both models dense or both pruned by ``imp_rounds`` IMP rounds; ``meta`` holds the layer indices."""
    p = scenario.params
    a, b = (trained(setup, p["arch"], s) for s in (seed, seed + 1))
    if p["pair"] == "pruned":
        a, b = Imp.rounds(setup, a, p["imp_rounds"]), Imp.rounds(setup, b, p["imp_rounds"])
    names = layers(p["arch"])
    return [PlannedCase(f"{layer_x}->{layer_y}", a, layer_x, b, layer_y,
                        meta={"arch": p["arch"], "pair": p["pair"], "index_x": i, "index_y": j})
            for i, layer_x in enumerate(names) for j, layer_y in enumerate(names)]
