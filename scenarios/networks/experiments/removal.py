"""Layer removal (the seed study's toy experiment): a trained model against itself with some of its
stages taken out and the rest briefly fine-tuned.

- ``networks.layer_removal``: for seed s, every stitchable layer of the dense M_s (X) against every
  stitchable layer of M_s with the stages ``remove`` removed and fine-tuned (Y; ``recipes.LayerRemoval``),
  case ``<layer_x>-><layer_y>``. X runs over the removed layers and the kept ones, Y over the kept ones
  only (a removed stage is no layer of Y). Removable are VGG stages whose convolution keeps the number
  of channels (a max-pool of the stage stays; ``conv3`` of ``cnn``, ``conv7`` of ``vgg11``) and residual
  blocks with an identity shortcut (``block1_2``, ``block2_2`` of ``resnet``); ``models.removal_blocker``
  says why another cannot go. ``meta``: ``index_x`` / ``index_y`` (the layers' depths in the dense
  model, so that the kept layers of Y keep their depth), ``removed_x`` (whether X's layer was removed
  from Y's model) and ``removed`` (the removed stages).
"""
from __future__ import annotations

import copy

from scenarios import Scenario
from scenarios.networks.models import remove_stages
from scenarios.networks.plan import ARCH_CHOICES, PlannedCase, layers, networks_generator, skeleton, trained
from scenarios.networks.recipes import LayerRemoval, Setup

__all__ = ["layer_removal", "removed_stages"]


def removed_stages(params: dict) -> tuple[str, ...]:
    """The ``remove`` parameter: comma-separated stage names, in the order given."""
    return tuple(name.strip() for name in params["remove"].split(",") if name.strip())


def _check_removal(params: dict) -> None:
    names = removed_stages(params)
    if not names:
        raise ValueError("remove must name at least one stage (comma-separated)")
    fresh = copy.deepcopy(skeleton(params["arch"]))  # a copy: the shared one stays whole
    remove_stages(fresh, names)  # ValueError naming a stage that cannot go, and why


def _removal_ids(params: dict, sweep) -> list[str]:
    kept = [name for name in layers(params["arch"]) if name not in removed_stages(params)]
    return [f"{x}->{y}" for x in layers(params["arch"]) for y in kept]


@networks_generator("layer_removal", {"arch": "resnet", "remove": "block1_2,block2_2"}, {"arch": ARCH_CHOICES},
                    check=_check_removal, case_ids=_removal_ids, use_case="pruned")
def layer_removal(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Every layer of M_s (X) against every kept layer of M_s with the stages ``remove`` removed and
    fine-tuned with the fine-tuning schedule (Y), case ``<layer_x>-><layer_y>``."""
    p = scenario.params
    names = removed_stages(p)
    dense = trained(setup, p["arch"], seed)
    removed = LayerRemoval(dense, setup.finetune, names)
    every = layers(p["arch"])
    depth = {name: i for i, name in enumerate(every)}
    meta = {"arch": p["arch"], "removed": ",".join(names)}
    return [PlannedCase(f"{x}->{y}", dense, x, removed, y,
                        meta={**meta, "index_x": depth[x], "index_y": depth[y], "removed_x": x in names})
            for x in every for y in every if y not in names]
