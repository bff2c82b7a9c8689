"""The data that flows from scenarios to the runner: Scenario (a spec), Case (one generated pair), and
Expectation (what the functional reference says a trustworthy measure should do across the cases).

This is the light schema module: it imports nothing beyond the standard library and the results table's
columns (``runner.schema``), so that ``reports`` can read the expectation type without loading torch,
the networks stack or the generator registry."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.schema import REFERENCE_COLUMNS


@dataclass(frozen=True)
class Expectation:
    """One testable statement about a measure's values over the cases of a scenario.

    kind:
        ``invariant``: the value is the same in every case (within ``tolerance``, relative to the
            measure's bound range), as the functional reference is;
        ``sensitive``: the value differs between cases (the representations really differ);
        ``monotone``: the value moves with the sweep parameter in ``direction`` (+1 / -1);
        ``ordering``: the value of case ``higher`` exceeds that of case ``lower``;
        ``equals``: the value equals ``target`` (within ``tolerance``) in every case;
        ``tracks_stitching``: the value rank-correlates positively with the reference;
        ``follows_reference``: derived in the run from what the reference did across the cases (flat:
            ``invariant``; two cases ordered: ``ordering``; otherwise: tracks it), within ``tolerance``;
        ``separates_groups``: pairs of models from the same group (``param`` 0) are rated more similar
            than pairs from different groups (``param`` > 0): AUPRC above chance by ``tolerance``;
        ``monotone_in_layer_distance``: within one model, similarity falls as layer distance grows:
            the violation rate over ordered layer triples is at most ``tolerance``.
    reference: the functional reference (one of :data:`REFERENCE_COLUMNS`) the expectation is judged
        against: every expectation is first checked on the reference itself (its premise).
    reason: the functional ground truth behind it, shown in the reports.
    """

    kind: str
    reason: str = ""
    tolerance: float = 1e-6
    direction: int = 0
    higher: str | None = None
    lower: str | None = None
    target: float | None = None
    reference: str = "stitch"


@dataclass(frozen=True)
class Sweep:
    """One swept parameter: the scenario yields one case per value (per seed)."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Case:
    """One pair of representations with its functional reference.

    ``stitch`` is the relative stitching score X -> Y (X's representation, mapped by a stitching layer,
    read out by Y's readout), ``stitch_reverse`` the score Y -> X; 1 means no loss of function (a trained
    network stitch, acc(stitched) / acc(B), can slightly exceed 1).
    ``stitch_direct`` / ``stitch_direct_reverse`` are the direct-matching (least-squares, untrained)
    stitches; ``agreement`` and ``accuracy_difference`` compare two whole models' predictions (see
    :data:`REFERENCE_COLUMNS`); each is None where it does not apply.
    ``case`` is a readable id unique within (scenario, seed), e.g. ``"noise_channels=16"``.
    ``aggregate`` set (``"max"`` or ``"mean"``, as ``metrics.Metric.over_layers`` takes it): X and Y are
    stacks [L, n, p] of layers and a measure's value is that aggregate over every pair of layers
    (``estimator.depth_null``: the maximum over layer pairs); None: X and Y are [n, p].
    ``error`` set: the generator could not make this case (X and Y are None; a layer pair of a user's
    model that failed): every measure gets an error row with this message, and the scenario's other
    cases are measured as usual.
    ``meta`` holds what the generator records of the case; two keys state what the case asks of a
    measure's design, and the reports read them (``reports.design``): ``invariance`` (Y is X under a
    transformation that this invariance of ``metrics.INVARIANCES`` contains) and ``reverse`` (the id of
    the case that is this one with X and Y swapped).
    """

    family: str
    scenario: str
    case: str
    seed: int
    x: Any
    y: Any
    param: float | None = None
    stitch: float | None = None
    stitch_reverse: float | None = None
    stitch_direct: float | None = None
    stitch_direct_reverse: float | None = None
    agreement: float | None = None
    accuracy_difference: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    aggregate: str | None = None
    error: str = ""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario spec (one ``[[scenario]]`` entry of a TOML file under scenarios/specs/).

    ``params`` holds every generator parameter (defaults filled in); ``source`` is the spec file and
    ``profile`` the profile (``quick`` or ``full``) it was resolved for.
    """

    name: str
    family: str
    generator: str
    params: dict[str, Any]
    seeds: tuple[int, ...]
    expectations: tuple[Expectation, ...]
    sweep: Sweep | None = None
    description: str = ""
    source: str = ""
    profile: str = "quick"
