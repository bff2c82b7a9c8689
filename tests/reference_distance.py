"""Independent reference routes for distance_correlation, rsm_norm_difference, magnitude/concentricity/uniformity differences.

Nothing here imports ``metrics``; numpy float64, explicit and slow on purpose.
"""
from __future__ import annotations

#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {}
