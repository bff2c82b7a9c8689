"""Networks experiments on subspaces of one trained layer (``subspaces``): principal-component deletion and
the "relevance of relevance" hypotheses on real activations. (The relevant and irrelevant variance of a
model's layer that the pruning progression records is ``recipes.relevance_fields``.)

Both generators take a layer of the trained model M_s (default: the last stitchable one) on the probe set
as X (``conv`` ``pool`` or ``flatten``: one row per image, so that rows keep their labels), and build Y from
it. Their functional references are linear probes fitted on the training images' activations of the same
layer (``recipes.TrainingActivations``) and scored on the probe set, not stitches:

1. ``networks.pc_deletion`` (Ding, Denain & Steinhardt 2021): Y = X with its k top or bottom principal
   components deleted (case ``top=k`` / ``bottom=k``; the components are those of the training
   activations, deleted from both). ``accuracy_difference`` = |acc(probe_Y) - acc(probe_X)|, each probe
   fitted on the training activations with the same deletion (``recipes.DeletionProbe``); ``agreement`` the
   fraction of probe images on which the two probes predict the same class. ``meta`` holds both
   accuracies and the fraction of training variance deleted.
2. ``networks.pruning_denoising``: with P the projector onto the class-discriminant subspace of M_s's
   training activations (``subspaces.relevant_basis``, ``recipes.RelevantBasis``), Y keeps X's relevant part
   X P and replaces its irrelevant part X (I - P): ``h3/scale=f``: f X (I - P) (amplitude); ``h2/other_seed``:
   X' (I - P), X' the same layer of M_s+1 on the same images (structured, but no part of M_s's readout);
   ``h1/noise``: Gaussian noise with the mean and covariance of X (I - P) (seeded), projected onto the
   irrelevant subspace. ``stitch`` = acc(readout on Y Q) / acc(readout on X Q), the readout a linear probe
   fitted on the training activations' relevant coordinates X_train Q (Q the basis, P = Q Q^T). Y Q = X Q
   in every case, so it is 1 up to float rounding; it is computed, not assumed.

A seed s uses models s (and s + 1 for ``h2``); a generator builds the missing recipes of every seed in
parallel processes first (``plan.networks_generator``), as every networks generator does.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from scenarios import Case, Scenario, case_id, rng_for
from scenarios.networks.plan import ARCH_CHOICES, Plan, layer, networks_generator, side_fields, swept, trained
from scenarios.networks.recipes import (Activations, DeletionProbe, ModelRecipe, Record, RelevantBasis, Setup,
                                        TrainingActivations, check_row_convention, probe_labels, probe_matrix)
from scenarios.networks.stitch import stitch_score
from scenarios.networks.subspaces import DELETIONS, delete_components, gaussian_like, linear_probe, split, total_variance

__all__ = ["DENOISING_CONTROLS", "pc_deletion", "pruning_denoising"]


def _model_meta(setup: Setup, model: ModelRecipe, at: str, conv: str, arch: str) -> dict:
    """The meta both generators record of X's model (``plan.side_fields``, keys suffixed ``_x``)."""
    return {"arch": arch, "layer_x": at, "layer_y": at, "model_x": model.describe(), "conv": conv,
            "data": setup.data.name, **side_fields(model, Record(model).fetch(setup)["record"], "x")}


def _check_deletion(p: dict) -> None:
    check_row_convention(p["conv"])
    if p["k"] < 1:
        raise ValueError(f"k (principal components deleted) must be >= 1, got {p['k']}")


def _deletion_ids(p: dict, sweep) -> list[str]:
    return [f"{which}={k}" for which in DELETIONS for k in swept(p, sweep, "k")]


def _deletion_plan(scenario: Scenario, setup: Setup, seed: int) -> Plan:
    p = scenario.params
    model, at = trained(setup, p["arch"], seed), layer(p["arch"], p["layer"])
    train, probe = TrainingActivations(model, at, p["conv"]), Activations(model, at, setup.probe_size)
    deletions = [("top", 0)] + [(which, k) for which in DELETIONS for k in swept(p, scenario.sweep, "k")]
    return {"train": train, "probe": probe, "record": Record(model),
            **{f"{which}={k}": DeletionProbe(train, probe, which, k) for which, k in deletions}}


@networks_generator("pc_deletion", {"arch": "cnn", "layer": "", "k": 1}, {"arch": ARCH_CHOICES},
                    plan=_deletion_plan, check=_check_deletion, case_ids=_deletion_ids, use_case="edits")
def pc_deletion(scenario: Scenario, setup: Setup, seed: int, plan: Plan) -> Iterator[Case]:
    """Principal-component deletion on a trained layer (Ding et al. 2021): X = ``layer`` of M_s on the probe
    set, Y = X with its ``k`` top (case ``top=k``) or bottom (``bottom=k``) principal components deleted,
    for each swept ``k``; the references compare linear probes refitted after the deletion (module
    docstring). ``param`` is k."""
    p = scenario.params
    train, x = plan["train"].matrix(setup), probe_matrix(setup, plan["probe"], p["conv"])
    base = plan["top=0"].fetch(setup)
    meta = _model_meta(setup, plan["train"].model, plan["train"].layer, p["conv"], p["arch"])
    total = total_variance(train)
    for which in DELETIONS:
        for k in swept(p, scenario.sweep, "k"):
            train_y, y = delete_components(train, x, k, which)
            probe = plan[f"{which}={k}"].fetch(setup)
            yield Case(
                family=scenario.family, scenario=scenario.name, case=f"{which}={k}", seed=seed, x=x, y=y,
                param=float(k), accuracy_difference=abs(probe["accuracy"] - base["accuracy"]),
                agreement=float(np.mean(probe["predictions"].numpy() == base["predictions"].numpy())),
                meta={**meta, "model_y": f"{meta['model_x']} minus its {which} {k} principal components",
                      "which": which, "k": k, "deleted_variance": 1 - total_variance(train_y) / total,
                      "probe_accuracy_x": base["accuracy"], "probe_accuracy_y": probe["accuracy"]},
            )


def _check_denoising(p: dict) -> None:
    check_row_convention(p["conv"])
    if p["scale"] < 0:
        raise ValueError(f"scale (of the irrelevant part) must be >= 0, got {p['scale']}")


#: The cases of ``networks.pruning_denoising`` after the ``h3/scale=f`` sweep.
DENOISING_CONTROLS = ("h2/other_seed", "h1/noise")


def _denoising_ids(p: dict, sweep) -> list[str]:
    return [f"h3/{case_id('scale', f)}" for f in swept(p, sweep, "scale")] + list(DENOISING_CONTROLS)


def _denoising_plan(scenario: Scenario, setup: Setup, seed: int) -> Plan:
    p = scenario.params
    model, other = (trained(setup, p["arch"], s) for s in (seed, seed + 1))
    at = layer(p["arch"], p["layer"])
    train = TrainingActivations(model, at, p["conv"])
    return {"train": train, "basis": RelevantBasis(train), "x": Activations(model, at, setup.probe_size),
            "other": Activations(other, at, setup.probe_size), "record": Record(model)}


@networks_generator("pruning_denoising", {"arch": "cnn", "layer": "", "scale": 1.0}, {"arch": ARCH_CHOICES},
                    plan=_denoising_plan, check=_check_denoising, case_ids=_denoising_ids,
                    use_case="edits")
def pruning_denoising(scenario: Scenario, setup: Setup, seed: int, plan: Plan) -> Iterator[Case]:
    """The relevance-of-relevance hypotheses on ``layer`` of M_s (module docstring): Y keeps X's relevant
    part X P and replaces its irrelevant part (cases ``h3/scale=f`` for each swept ``scale``,
    ``h2/other_seed``, ``h1/noise``); ``stitch`` is the accuracy of the readout of the relevant part on Y above
    chance, relative to its accuracy on X above chance (``stitch.stitch_score``: clipped to [0, 1], None
    when the readout is within ``stitch.CHANCE_MARGIN`` of chance on X). ``param`` is f for the h3 cases."""
    p = scenario.params
    basis, conv = plan["basis"].matrix(setup), p["conv"]
    x = probe_matrix(setup, plan["x"], conv)
    relevant, irrelevant = split(x, basis)
    labels = probe_labels(plan["x"], len(x))
    num_classes = plan["x"].source.data.load().num_classes
    readout = linear_probe(plan["train"].matrix(setup) @ basis, plan["train"].labels())
    accuracy_x = float(np.mean(readout.predict(x @ basis) == labels))
    noise = gaussian_like(irrelevant, rng_for(scenario.name, seed, "noise"))
    parts = {f"h3/{case_id('scale', f)}": (f, f * irrelevant) for f in swept(p, scenario.sweep, "scale")}
    parts |= {"h2/other_seed": (None, split(probe_matrix(setup, plan["other"], conv), basis)[1]),
              "h1/noise": (None, split(noise, basis)[1])}
    meta = _model_meta(setup, plan["x"].source, plan["x"].layer, conv, p["arch"])
    meta |= {"relevant_rank": int(basis.shape[1]), "relevant_variance_x": total_variance(relevant),
             "irrelevant_variance_x": total_variance(irrelevant), "readout_accuracy_x": accuracy_x}
    for case, (scale, replaced) in parts.items():
        y = relevant + replaced
        accuracy_y = float(np.mean(readout.predict(y @ basis) == labels))
        yield Case(
            family=scenario.family, scenario=scenario.name, case=case, seed=seed, x=x, y=y, param=scale,
            stitch=stitch_score(accuracy_y, accuracy_x, num_classes),
            meta={**meta, "hypothesis": case.split("/")[0], "model_y": f"{meta['model_x']}: {case}",
                  "irrelevant_variance_y": total_variance(replaced), "readout_accuracy_y": accuracy_y},
        )
