"""stitchbench scenarios: declarative cases with a known ground truth and a functional reference."""
from scenarios.types import Case, Expectation, Scenario, Sweep

__all__ = ["Case", "Expectation", "Scenario", "Sweep"]
