"""A model against itself along a progression (DESIGN section 6, experiment 3): pruned step by step, or
stopped early in its training. Cases as ``plan.PlannedCase`` makes them (the stitching references, both
ways); a generator's ``seed`` s uses model seed s.

- ``networks.pruning_progression``: M_s vs M_s pruned by one method, swept over steps (param: sparsity).
- ``networks.training_progression``: the checkpoints of M_s's training run vs M_s (param: epoch).
"""
from __future__ import annotations

from scenarios import Scenario
from scenarios.networks.plan import ARCH_CHOICES, PlannedCase, layer, networks_generator, skeleton, swept, trained
from scenarios.networks.recipes import PRUNING_METHODS, Setup, checkpoint, pruned_at

__all__ = ["METHOD_CHOICES", "pruning_progression", "training_progression"]

#: The pruning progression methods ``networks.pruning_progression`` takes (``recipes.PRUNING_METHODS``).
METHOD_CHOICES = tuple(PRUNING_METHODS)


def _check_progression(params: dict) -> None:
    PRUNING_METHODS[params["method"]][1](skeleton(params["arch"]), params["step"])


@networks_generator("pruning_progression", {"arch": "cnn", "layer": "", "method": "imp", "step": 1},
                    {"arch": ARCH_CHOICES, "method": METHOD_CHOICES}, check=_check_progression,
                    use_case="pruned")
def pruning_progression(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Experiment 3: M_s against M_s pruned by ``method`` at each swept ``step`` (case ``step=k``;
    ``param`` is the sparsity reached: the fraction of prunable weights, or of parameters, removed).
    Weight methods reach sparsity 1 - 0.8^step (IMP by rounds, the others at once), structured L1
    removes that fraction of the filters, CKA-guided removal removes ``step`` blocks. Each case also
    records how much task-relevant and irrelevant variance each layer holds (``PlannedCase.relevance``;
    the pruning-as-denoising report, ``reports.denoising``)."""
    p = scenario.params
    name = layer(p["arch"], p["layer"])
    base = trained(setup, p["arch"], seed)
    relevance = "" if p["conv"] == "positions" else p["conv"]  # the relevant subspace needs one row per image
    return [PlannedCase(f"step={step}", base, name, pruned_at(setup, base, p["method"], step), name,
                        param_is_sparsity=True, relevance=relevance,
                        meta={"arch": p["arch"], "method": p["method"], "step": step})
            for step in swept(p, scenario.sweep, "step")]


@networks_generator("training_progression", {"arch": "cnn", "layer": "", "epoch": 1}, {"arch": ARCH_CHOICES},
                    use_case="checkpoints")
def training_progression(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Experiment 3 over training time: the checkpoint of M_s's training run after each swept ``epoch`` (X)
    against the trained M_s (Y), case ``epoch=e``, ``param`` e (the last epoch is M_s itself). The trained
    model is Y so that every stitch X -> Y of a seed is relative to the same accuracy, acc(M_s)."""
    p = scenario.params
    name = layer(p["arch"], p["layer"])
    final = trained(setup, p["arch"], seed)
    return [PlannedCase(f"epoch={epoch}", checkpoint(final, int(epoch)), name, final, name, param=float(epoch),
                        meta={"arch": p["arch"], "epoch": int(epoch)})
            for epoch in swept(p, scenario.sweep, "epoch")]
