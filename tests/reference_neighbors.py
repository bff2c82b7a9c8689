"""Independent reference routes for the kNN family beyond knn_jaccard.

Nothing here imports ``metrics``; numpy float64, explicit and slow on purpose.
"""
from __future__ import annotations

#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {}
