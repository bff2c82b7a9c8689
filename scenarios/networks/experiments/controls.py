"""Controls that stitching can fool (DESIGN section 6, experiment 7): senders that carry no learned
function (a random initialization, a model trained on shuffled labels, class-clustered noise; Smith et
al. 2025) and a trained one, each against a trained receiver at the same layer. Cases as
``plan.PlannedCase`` makes them (no stitch into a control, no predictions of noise).
"""
from __future__ import annotations

from scenarios import Scenario
from scenarios.networks.plan import ARCH_CHOICES, PlannedCase, layer_shape, layers, networks_generator, trained
from scenarios.networks.recipes import ClusteredNoise, RandomInit, SenderRecipe, Setup, Trained

__all__ = ["CONTROL_SENDERS", "controls"]

#: The senders of ``networks.controls``: a trained model, then the controls that carry no learned function.
CONTROL_SENDERS = ("trained", "random_init", "shuffled_labels", "clustered_noise")


def _control_layers(params: dict) -> list[str]:
    """The ``layers`` parameter (comma-separated; empty: every stitchable layer of ``arch``)."""
    return [name for name in params["layers"].split(",") if name] or layers(params["arch"])


def _check_controls(params: dict) -> None:
    unknown = sorted(set(_control_layers(params)) - set(layers(params["arch"])))
    if unknown:
        raise ValueError(f"layers {unknown} are not stitchable layers of {params['arch']!r}: {layers(params['arch'])}")
    if params["noise_scale"] < 0:
        raise ValueError(f"noise_scale must be >= 0, got {params['noise_scale']}")


def _control_ids(params: dict, sweep) -> list[str]:
    return [f"{sender}/{name}" for sender in CONTROL_SENDERS for name in _control_layers(params)]


@networks_generator("controls", {"arch": "cnn", "layers": "", "noise_scale": 1.0}, {"arch": ARCH_CHOICES},
                    check=_check_controls, case_ids=_control_ids, use_case="training")
def controls(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Controls that stitching can fool: senders that carry no learned function, and a trained one, each
    (X) against the trained receiver M_s (Y) at the same layer, case ``<sender>/<layer>``:

    - ``trained``: M_s+1, trained like M_s (the reference point);
    - ``random_init``: the architecture as initialized from seed s + 1, never trained;
    - ``shuffled_labels``: the architecture trained from seed s + 1 on training labels shuffled by
      seed s + 1 (Zhang et al. 2017): it memorizes, it does not generalize;
    - ``clustered_noise``: class-clustered Gaussian noise shaped like the layer (Smith et al. 2025): per
      class a random mean, per image that mean plus ``noise_scale`` times standard Gaussian noise, on
      the training and test images alike. It is no model: it has no predictions.

    Only the trained sender is also stitched the other way (receiver -> sender): a control that
    classifies at chance is no receiver, and acc(stitched) / acc(control) would divide by chance.

    ``layers``: the layers compared (comma-separated; empty: every stitchable layer).
    """
    p = scenario.params
    receiver = trained(setup, p["arch"], seed)
    models = {"trained": trained(setup, p["arch"], seed + 1),
              "random_init": RandomInit(p["arch"], seed + 1, setup.data),
              "shuffled_labels": Trained(p["arch"], seed + 1, setup.data, setup.schedule, shuffle_labels=seed + 1)}

    def sender(name: str, at: str) -> SenderRecipe:
        if name in models:
            return models[name]
        return ClusteredNoise(setup.data, layer_shape(setup.data, p["arch"], at), seed + 1, p["noise_scale"])

    return [PlannedCase(f"{name}/{at}", sender(name, at), at, receiver, at,
                        stitches="both" if name == "trained" else "forward", meta={"arch": p["arch"], "sender": name})
            for name in CONTROL_SENDERS for at in _control_layers(p)]
