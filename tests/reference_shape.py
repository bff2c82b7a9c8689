"""Independent reference routes for the shape metrics and unit matching.

Nothing here imports ``metrics``; numpy float64, explicit and slow on purpose.
"""
from __future__ import annotations

#: Reference routes by measure name, merged into ``reference.REFERENCES``.
REFERENCES: dict = {}
