"""The use cases: the questions a researcher brings to the suite ("which measure do I trust to compare a
pruned network with its dense parent?"), one registry that generators declare and the reports read
(stdlib only, like ``scenarios.kinds``, so ``reports`` reads it without loading torch).

Every generator names the use case its scenarios answer (``scenarios.generator(..., use_case=...)``),
and a run records it per scenario (``reports.run.RunRecord.use_cases``). The scorecard opens with one
row per use case: the measures that did best on that use case's verdicts, the ones to avoid, and how sure
the run is (``reports.answers``). A new kind of comparison is one entry here and the generators that
declare it.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNDECLARED", "USE_CASES", "UseCase", "check_use_case", "question"]


@dataclass(frozen=True)
class UseCase:
    """One use case: its ``name`` (what generators declare), the ``question`` a reader asks, in the
    words of the scorecard's first table, and ``detail``: which comparisons it holds."""

    name: str
    question: str
    detail: str


_USE_CASES = (
    UseCase("pruned", "a pruned network against its dense parent",
            "the same model before and after pruning (magnitude, IMP, OBD, structured filters, block and "
            "layer removal), at one or several sparsities"),
    UseCase("seeds", "two training seeds of one architecture",
            "the same layer of models trained alike from different seeds, dense or pruned alike"),
    UseCase("layers", "layers against layers",
            "every layer of a model against every layer of another seed, or of itself"),
    UseCase("checkpoints", "training checkpoints against the trained model",
            "a model after some epochs of its training run against the finished model"),
    UseCase("distilled", "a distilled student against its teacher",
            "a smaller student trained on the teacher's outputs, and the compressed teacher"),
    UseCase("training", "models trained differently",
            "groups of models trained with random labels, shortcuts or augmentation, models of mixed "
            "quality, and senders with no learned function (untrained, shuffled labels, noise)"),
    UseCase("edits", "a trained layer with parts deleted or replaced",
            "principal components deleted, the task-irrelevant subspace rescaled or replaced"),
    UseCase("own", "your own networks",
            "the pairs of layers a factory of yours returns (generator networks.user_models)"),
    UseCase("synthetic", "synthetic properties with a known ground truth",
            "invariances and direction (symmetry), task-irrelevant channels (relevance), estimator bias "
            "and outliers (estimator)"),
)
#: every use case by name, in the order the scorecard lists them
USE_CASES: dict[str, UseCase] = {use_case.name: use_case for use_case in _USE_CASES}
#: the use case of a generator that declares none
UNDECLARED = ""


def check_use_case(name: str, where: str) -> str:
    """``name`` when it is a use case (or :data:`UNDECLARED`); a ValueError naming ``where`` and the
    known use cases otherwise."""
    if name != UNDECLARED and name not in USE_CASES:
        raise ValueError(f"{where}: unknown use case {name!r}; the use cases are {', '.join(USE_CASES)} "
                         f"(scenarios.use_cases)")
    return name


def question(name: str, family: str = "") -> str:
    """The question of use case ``name`` as the reports show it; an undeclared one reads as its family."""
    if name in USE_CASES:
        return USE_CASES[name].question
    return f"other {family} scenarios".replace("  ", " ")
