"""ReSi's tests on real networks (Klabunde et al., ICLR 2025): groups of models whose difference is
known by construction, the layers of one model, and pairs of models of mixed quality.

- ``networks.groups``: models trained with one factor (``variants.Variant``) at several levels, one
  group per level: label randomization (``label_noise``), shortcut affinity (``shortcut``), Gaussian-noise
  augmentation (``augment``). Case ``a~b`` (levels a <= b) compares the layer of seed s at level a (X)
  with seed s + 1 at level b (Y); ``param`` is the distance of the two levels in the list (0: the same
  group), which the ``separates_groups`` expectation reads. For the ``shortcut`` factor the test images
  that both activations and the agreement read carry the class mark (``variants.ProbeMarks``: a share
  ``probe_marked`` of them, whose marks code their label in a share ``probe_mark_agreement`` and a
  uniformly drawn class in the rest; seeded by ``probe_mark_seed``). The defaults are ReSi's protocol:
  every test image carries the mark of a random class (its ``ColorDot_0`` representation data set), so
  that a model's predictions show how much of the shortcut it learned.
- ``networks.layer_monotonicity``: every layer pair (i < j) of one model M_s (case
  ``<layer_i>-><layer_j>``, ``param`` j - i, meta ``index_x`` / ``index_y``), for
  ``monotone_in_layer_distance``.
- ``networks.mixed_quality``: models of mixed quality (the trained model, early checkpoints, partly
  randomized labels, pruned ones): case ``a~b`` compares model a of seed s with model b of seed s + 1,
  for rank correlation with the accuracy difference and with prediction agreement (ReSi's accuracy and
  output correlation tests).
"""
from __future__ import annotations

from scenarios import Scenario
from scenarios.networks.plan import (ARCH_CHOICES, PlannedCase, layer, layers, networks_generator, skeleton,
                                     trained)
from scenarios.networks.recipes import PRUNING_METHODS, ModelRecipe, Setup, Trained, checkpoint, pruned_at
from scenarios.networks.variants import ProbeMarks, Variant

__all__ = ["FACTORS", "groups", "layer_monotonicity", "mixed_quality", "model_named"]

#: The training factors of ``networks.groups`` (fields of ``variants.Variant``).
FACTORS = ("label_noise", "shortcut", "augment")


def _levels(params: dict) -> list[float]:
    try:
        return [float(level) for level in params["levels"].split(",") if level.strip()]
    except ValueError:
        raise ValueError(f"levels must be comma-separated numbers, got {params['levels']!r}") from None


def _check_groups(params: dict) -> None:
    levels = _levels(params)
    if len(levels) < 2 or len(set(levels)) != len(levels):
        raise ValueError(f"levels must list at least two distinct levels, got {params['levels']!r}")
    for level in levels:
        Variant.seeded(0, **{params["factor"]: level})  # the Variant checks each level's range
    _probe_marks(params)  # ProbeMarks checks its shares


def _probe_marks(params: dict) -> ProbeMarks | None:
    """The marks on the test images of a ``shortcut`` groups scenario (None for the other factors: their
    models never saw a mark)."""
    if params["factor"] != "shortcut":
        return None
    return ProbeMarks(share=params["probe_marked"], agreement=params["probe_mark_agreement"],
                      seed=params["probe_mark_seed"])


def _group_ids(params: dict, sweep) -> list[str]:
    levels = _levels(params)
    return [f"{a:g}~{b:g}" for i, a in enumerate(levels) for b in levels[i:]]


def _grouped(setup: Setup, arch: str, seed: int, factor: str, level: float) -> Trained:
    return Trained(arch, seed, setup.data, setup.schedule, variant=Variant.seeded(seed, **{factor: level}))


@networks_generator("groups",
                    {"arch": "cnn", "layer": "", "factor": "label_noise", "levels": "0,0.25,0.5,0.75,1",
                     "probe_marked": 1.0, "probe_mark_agreement": 0.0, "probe_mark_seed": 0},
                    {"arch": ARCH_CHOICES, "factor": FACTORS}, check=_check_groups, case_ids=_group_ids,
                    use_case="training")
def groups(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """ReSi's grouping tests: ``layer`` (default: the last stitchable one) of ``arch`` trained from seed
    s at level a of ``factor`` (X) against seed s + 1 at level b (Y), for every a <= b of ``levels``
    (case ``a~b``; ``param`` = how many levels apart, 0 within a group); for ``shortcut``, on marked test
    images (see the module)."""
    p = scenario.params
    at, levels, marks = layer(p["arch"], p["layer"]), _levels(p), _probe_marks(p)
    return [PlannedCase(f"{a:g}~{b:g}", _grouped(setup, p["arch"], seed, p["factor"], a), at,
                        _grouped(setup, p["arch"], seed + 1, p["factor"], b), at, param=float(j - i), marks=marks,
                        meta={"arch": p["arch"], "factor": p["factor"], "group_x": a, "group_y": b})
            for i, a in enumerate(levels) for j, b in enumerate(levels) if j >= i]


def _check_monotonicity(params: dict) -> None:
    if len(layers(params["arch"])) < 3:
        raise ValueError(f"{params['arch']!r} has fewer than 3 stitchable layers: no layer triple to test")


@networks_generator("layer_monotonicity", {"arch": "cnn"}, {"arch": ARCH_CHOICES}, check=_check_monotonicity,
                    use_case="layers")
def layer_monotonicity(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """ReSi's layer monotonicity: every layer pair i < j of M_s (X = layer i, Y = layer j of the same
    model), case ``<layer_i>-><layer_j>``, ``param`` j - i."""
    p = scenario.params
    model, names = trained(setup, p["arch"], seed), layers(p["arch"])
    return [PlannedCase(f"{a}->{b}", model, a, model, b, param=float(j - i),
                        meta={"arch": p["arch"], "index_x": i, "index_y": j})
            for i, a in enumerate(names) for j, b in enumerate(names) if j > i]


def _parse(name: str) -> tuple[str, float | None]:
    """A model name of ``networks.mixed_quality`` -> (kind, number); ValueError for an unknown one."""
    if name == "trained":
        return name, None
    kind, _, value = name.partition("=")
    choices = ["trained", "epoch", *FACTORS, *PRUNING_METHODS]
    if kind not in choices[1:]:
        raise ValueError(f"model {name!r}: unknown kind {kind!r}; choose one of {choices}")
    try:
        return kind, float(value)
    except ValueError:
        raise ValueError(f"model {name!r}: expected {kind}=<number>") from None


def model_named(setup: Setup, arch: str, seed: int, name: str) -> ModelRecipe:
    """A model of ``networks.mixed_quality`` by name: ``trained``; ``epoch=<e>`` (the trained run's
    checkpoint after e epochs); ``label_noise=<q>``, ``shortcut=<p>``, ``augment=<s>`` (a training
    variant); ``<pruning method>=<step>`` (``recipes.PRUNING_METHODS``, e.g. ``imp=3``)."""
    base = trained(setup, arch, seed)
    kind, number = _parse(name)
    if kind == "trained":
        return base
    if kind == "epoch":
        return checkpoint(base, int(number))
    if kind in FACTORS:
        return _grouped(setup, arch, seed, kind, number)
    return pruned_at(setup, base, kind, int(number))


def _names(params: dict) -> list[str]:
    return [name.strip() for name in params["models"].split(",") if name.strip()]


def _check_mixed(params: dict) -> None:
    names = _names(params)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"models must list at least two distinct models, got {params['models']!r}")
    for name in names:
        kind, number = _parse(name)
        if kind == "epoch" and not 1 <= number <= params["epochs"]:
            raise ValueError(f"model {name!r}: the epoch must be in [1, {params['epochs']}]")
        if kind in FACTORS:
            Variant.seeded(0, **{kind: number})
        if kind in PRUNING_METHODS:
            PRUNING_METHODS[kind][1](skeleton(params["arch"]), int(number))


def _mixed_ids(params: dict, sweep) -> list[str]:
    names = _names(params)
    return [f"{a}~{b}" for i, a in enumerate(names) for b in names[i:]]


@networks_generator("mixed_quality",
                    {"arch": "cnn", "layer": "", "models": "trained,epoch=1,epoch=2,label_noise=0.5,imp=3"},
                    {"arch": ARCH_CHOICES}, check=_check_mixed, case_ids=_mixed_ids, use_case="training")
def mixed_quality(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """ReSi's accuracy and output correlation: model a of seed s (X) against model b of seed s + 1 (Y)
    at ``layer``, for every a <= b of ``models`` (:func:`model_named`), case ``a~b``."""
    p = scenario.params
    at, names = layer(p["arch"], p["layer"]), _names(p)
    models = {s: {name: model_named(setup, p["arch"], s, name) for name in names} for s in (seed, seed + 1)}
    return [PlannedCase(f"{a}~{b}", models[seed][a], at, models[seed + 1][b], at,
                        meta={"arch": p["arch"], "name_x": a, "name_y": b})
            for i, a in enumerate(names) for b in names[i:]]
