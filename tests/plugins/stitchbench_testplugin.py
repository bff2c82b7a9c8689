"""A third-party measure plugin for the test suite, found through the ``stitchbench.metrics`` entry point
of the ``stitchbench_testplugin-0.1.dist-info`` folder beside it (tests/conftest.py puts this folder on
sys.path). The contract tests run it like every built-in measure, and tests/test_metrics_reference.py
compares it with the independent route it declares (optional for a plugin, required of a built-in)."""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist

from metrics import register


def _reference_distance_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """Independent route: the distances ||x_i - x_j|| by a loop over the pairs i < j (no scipy), then
    their cosine."""
    pairs = [(i, j) for i in range(len(x)) for j in range(i + 1, len(x))]
    dx, dy = (np.array([np.linalg.norm(a[i] - a[j]) for i, j in pairs]) for a in (x, y))
    return float(dx @ dy / np.sqrt((dx @ dx) * (dy @ dy)))


@register(
    "test_plugin_distance_cosine",
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    reference="stitchbench test suite (cosine of the pairwise-distance vectors)",
    backend="numpy",
    reference_route=_reference_distance_cosine,
)
def distance_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """Cosine similarity of the vectors of pairwise Euclidean distances ||x_i - x_j||, i < j.

    Distances do not change under rotations and translations, and the cosine ignores a common scale;
    distances are nonnegative, so the value lies in [0, 1].
    """
    dx, dy = pdist(x), pdist(y)
    return float(dx @ dy / (np.linalg.norm(dx) * np.linalg.norm(dy)))
