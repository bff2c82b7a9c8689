"""The expectation kinds: one registry that the spec validator, the verdicts, their labels and the
rankings all read (stdlib only, like ``scenarios.types``, so ``reports`` reads it without loading torch).

A :class:`Kind` declares everything the suite needs of it: the keys a spec may and must give
(``accepts``, ``requires``, each a field of :class:`scenarios.types.Expectation`), what the verdict's
estimate and interval are about (``statistic``), how its premise is judged on the functional reference
(``premise``: the kind whose rule judges the reference, "" for none, :data:`DERIVED` when the run derives
the kind from the reference), whether its statistic ranks measures as a test (``ranks``: +1 higher is
better, -1 lower is better, 0 not ranked; ``ranked_references`` restricts it to some references), and
its readable label. The rules that judge each kind live in ``reports.verdicts``, which checks at import
that every kind here has one (``tests/test_kinds.py`` checks that every part is complete).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

from scenarios.types import Expectation

__all__ = ["DERIVED", "EXPECTATION_KINDS", "KINDS", "Kind", "label"]

#: ``Kind.premise`` of a kind the run derives from what the reference did (``follows_reference``).
DERIVED = "derived"
_COMMON = ("reason", "reference")


@dataclass(frozen=True)
class Kind:
    """One expectation kind (module docstring)."""

    name: str
    summary: str
    accepts: tuple[str, ...]
    requires: tuple[str, ...] = ()
    statistic: str = ""
    premise: str = ""
    ranks: int = 0
    ranked_references: tuple[str, ...] | None = None
    label: Callable[[Expectation], str] | None = None

    def __post_init__(self):
        names = {field.name for field in fields(Expectation)}
        unknown = sorted(set(self.accepts) - names)
        if unknown or not set(self.requires) <= set(self.accepts):
            raise ValueError(f"kind {self.name!r}: accepts {unknown or list(self.accepts)}, requires "
                             f"{list(self.requires)}: every key must be an Expectation field it accepts")
        if self.ranks not in (-1, 0, 1):
            raise ValueError(f"kind {self.name!r}: ranks must be -1, 0 or +1, got {self.ranks}")

    def ranks_for(self, reference: str) -> int:
        """The ranking direction of a verdict of this kind judged against ``reference`` (0: no test)."""
        if self.ranked_references is not None and reference not in self.ranked_references:
            return 0
        return self.ranks


_KINDS = (
    Kind("invariant", "the value is the same in every case, within the tolerance (relative to the measure's unit)",
         _COMMON + ("tolerance",), statistic="spread", premise="invariant"),
    Kind("sensitive", "the value differs between the cases by more than the tolerance",
         _COMMON + ("tolerance",), statistic="spread", premise="sensitive"),
    Kind("equals", "the value equals the target (absolute units) in every case, within the tolerance",
         _COMMON + ("tolerance", "target"), ("target",), statistic="value - target",
         label=lambda e: f"equals({e.target:g})" if e.target is not None else "equals"),
    Kind("ordering", "the case `higher` is more similar than the case `lower`",
         _COMMON + ("higher", "lower"), ("higher", "lower"), statistic="difference / width",
         premise="ordering", label=lambda e: f"ordering({e.higher} > {e.lower})"),
    Kind("monotone", "the value moves with the sweep in `direction` (Spearman, permutation test)",
         _COMMON + ("direction",), ("direction",), statistic="spearman with sweep", premise="monotone",
         label=lambda e: f"monotone({'+' if e.direction > 0 else '-'})"),
    Kind("tracks_stitching", "the value rank-correlates with the reference across the cases",
         _COMMON, statistic="spearman with reference", premise="sensitive", ranks=1,
         ranked_references=("accuracy_difference", "agreement")),
    Kind("follows_reference", "whatever the reference did across the cases (flat, two ordered, varying), the "
         "value does too: invariant, ordering or tracks_stitching, decided in the run",
         _COMMON + ("tolerance",), premise=DERIVED),
    Kind("separates_groups", "pairs from the same group of models are rated more similar than pairs across "
         "groups: AUPRC above chance by the tolerance (ReSi)", _COMMON + ("tolerance",), statistic="auprc",
         premise="separates_groups", ranks=1),
    Kind("monotone_in_layer_distance", "within one model, similarity falls as layer distance grows: violation "
         "rate over ordered layer triples at most the tolerance (ReSi)", _COMMON + ("tolerance",),
         statistic="violation rate", premise="monotone_in_layer_distance", ranks=-1),
)
KINDS: dict[str, Kind] = {kind.name: kind for kind in _KINDS}
EXPECTATION_KINDS = tuple(KINDS)


def label(expectation: Expectation) -> str:
    """The readable label of an expectation ("ordering(a > b)", "monotone(-)", "invariant"...)."""
    kind = KINDS.get(expectation.kind)
    return kind.label(expectation) if kind is not None and kind.label is not None else expectation.kind
