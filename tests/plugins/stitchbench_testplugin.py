"""A third-party measure plugin for the test suite, found through the ``stitchbench.metrics`` entry point
of the ``stitchbench_testplugin-0.1.dist-info`` folder beside it (tests/conftest.py puts this folder on
sys.path). The contract tests run it like every built-in measure."""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist

from metrics import register


@register(
    "test_plugin_distance_cosine",
    symmetric=True,
    invariances={"orthogonal", "isotropic_scaling", "translation"},
    bounds=(0.0, 1.0),
    reference="stitchbench test suite (cosine of the pairwise-distance vectors)",
    backend="numpy",
)
def distance_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """Cosine similarity of the vectors of pairwise Euclidean distances ||x_i - x_j||, i < j.

    Distances do not change under rotations and translations, and the cosine ignores a common scale;
    distances are nonnegative, so the value lies in [0, 1].
    """
    dx, dy = pdist(x), pdist(y)
    return float(dx @ dy / (np.linalg.norm(dx) * np.linalg.norm(dy)))
