"""Independent reference routes for cka_linear_lange, eigenspace_overlap, gulp, ridge_predictivity, imd, rtd.

Nothing here imports ``metrics``; numpy float64, explicit and slow on purpose.
"""
from __future__ import annotations

#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {}
