"""Distillation (DESIGN section 6, experiment 4): a teacher against its distilled student, the same
student trained alone, and the teacher pruned, layer by layer. Cases as ``plan.PlannedCase`` makes them;
a generator's ``seed`` s uses model seed s.
"""
from __future__ import annotations

from scenarios import Scenario
from scenarios.networks.plan import ARCH_CHOICES, PlannedCase, layers, networks_generator, trained
from scenarios.networks.recipes import Distilled, Imp, Setup, StructuredL1

__all__ = ["distillation"]


@networks_generator("distillation", {"arch": "cnn", "student": "cnn_small", "temperature": 4.0, "alpha": 0.9},
                    {"arch": ARCH_CHOICES, "student": ARCH_CHOICES}, use_case="distilled")
def distillation(scenario: Scenario, setup: Setup, seed: int) -> list[PlannedCase]:
    """Experiment 4: teacher M_s (X) against, layer by layer (Y): ``distilled`` (the student
    architecture trained on Hinton et al.'s loss), ``scratch`` (the same student trained on labels
    alone), ``structured`` (the teacher with half its filters removed by L1 norm: the student's widths
    when the student is the half-width preset), ``imp`` (the teacher after ``imp_rounds`` IMP rounds)."""
    p = scenario.params
    teacher = trained(setup, p["arch"], seed)
    students = {
        "distilled": Distilled(teacher, p["student"], seed, p["temperature"], p["alpha"], setup.schedule),
        "scratch": trained(setup, p["student"], seed),
        "structured": StructuredL1(teacher, setup.finetune, 0.5),
        "imp": Imp.rounds(setup, teacher, p["imp_rounds"]),
    }
    return [PlannedCase(f"{kind}/{name}", teacher, name, student, name, meta={"arch": p["arch"], "student": kind})
            for kind, student in students.items() for name in layers(p["arch"])]
