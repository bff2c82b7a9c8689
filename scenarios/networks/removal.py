"""Layer removal (the seed study's toy experiment): a trained model against itself with some of its
stages taken out and the rest briefly fine-tuned.

- ``networks.layer_removal``: for seed s, every stitchable layer of the dense M_s (X) against every
  stitchable layer of M_s with the stages ``remove`` removed and fine-tuned (Y; ``zoo.LayerRemoval``),
  case ``<layer_x>-><layer_y>``. X runs over the removed layers and the kept ones, Y over the kept ones
  only (a removed stage is no layer of Y). Removable are VGG stages whose convolution keeps the number
  of channels (a max-pool of the stage stays; ``conv3`` of ``cnn``, ``conv7`` of ``vgg11``) and residual
  blocks with an identity shortcut (``block1_2``, ``block2_2`` of ``resnet``); ``models.removal_blocker``
  says why another cannot go. ``meta``: ``index_x`` / ``index_y`` (the layers' depths in the dense
  model, so that the kept layers of Y keep their depth), ``removed_x`` (whether X's layer was removed
  from Y's model) and ``removed`` (the removed stages).
"""
from __future__ import annotations

import torch

from scenarios import Scenario
from scenarios.networks import zoo
from scenarios.networks.experiments import ARCH_CHOICES, Pair, _layers, _networks_generator, _trained
from scenarios.networks.models import build, config_for, remove_stages
from scenarios.networks.zoo import Setup

__all__ = ["layer_removal", "removed_stages"]


def removed_stages(params: dict) -> tuple[str, ...]:
    """The ``remove`` parameter: comma-separated stage names, in the order given."""
    return tuple(name.strip() for name in params["remove"].split(",") if name.strip())


def _check_removal(params: dict) -> None:
    names = removed_stages(params)
    if not names:
        raise ValueError("remove must name at least one stage (comma-separated)")
    with torch.device("meta"):
        skeleton = build(config_for(params["arch"], (3, 32, 32), 10))  # a fresh one: the shared one stays whole
    remove_stages(skeleton, names)  # ValueError naming a stage that cannot go, and why


def _removal_ids(params: dict, sweep) -> list[str]:
    kept = [layer for layer in _layers(params["arch"]) if layer not in removed_stages(params)]
    return [f"{x}->{y}" for x in _layers(params["arch"]) for y in kept]


@_networks_generator("layer_removal", {"arch": "resnet", "remove": "block1_2,block2_2"}, {"arch": ARCH_CHOICES},
                     check=_check_removal, case_ids=_removal_ids)
def layer_removal(scenario: Scenario, setup: Setup, seed: int) -> list[Pair]:
    """Every layer of M_s (X) against every kept layer of M_s with the stages ``remove`` removed and
    fine-tuned with the fine-tuning schedule (Y), case ``<layer_x>-><layer_y>``."""
    p = scenario.params
    names = removed_stages(p)
    dense = _trained(setup, p["arch"], seed)
    removed = zoo.LayerRemoval(dense, setup.finetune, names)
    layers = _layers(p["arch"])
    depth = {layer: i for i, layer in enumerate(layers)}
    meta = {"arch": p["arch"], "removed": ",".join(names)}
    return [Pair(f"{x}->{y}", dense, x, removed, y,
                 meta={**meta, "index_x": depth[x], "index_y": depth[y], "removed_x": x in names})
            for x in layers for y in layers if y not in names]
