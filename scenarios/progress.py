"""Progress of long work (generating scenarios, training networks), reported to one listener.

Code that does long work calls :func:`note` with a short line ("training cnn/seed=0: epoch 3/8"); the
runner (``benchmarks/conftest.py``) installs a listener that shows it on pytest's terminal reporter.
With no listener installed, notes go nowhere, so library use and tests stay quiet.
"""
from __future__ import annotations

from typing import Callable

__all__ = ["note", "set_listener"]

_listener: Callable[[str], None] | None = None


def set_listener(listener: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Install ``listener(line)`` (None: silence) and return the previous one."""
    global _listener
    previous, _listener = _listener, listener
    return previous


def note(line: str) -> None:
    """Report one line of progress to the installed listener, if any."""
    if _listener is not None:
        _listener(line)
