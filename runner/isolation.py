"""What a run does about user code (factories, generators, measures) that fails, exits or hangs: its
failure becomes the error of its own cells, and the run goes on.

- :data:`USER_FAULTS`: what a call into user code may raise and the run survives: any ``Exception`` and
  ``SystemExit`` (a training script reused as a factory that parses its command line at import and
  calls ``sys.exit``). ``KeyboardInterrupt`` is not among them: a real Ctrl-C stops the run, which then
  writes what it has.
- :func:`describe`: the one-line message of such a fault (``SystemExit`` says which exit code).
- :func:`time_limit`: a wall-clock limit on a block, by ``SIGALRM`` (``signal.setitimer``) in the main
  thread of the process, so that it leaves no thread or process behind and costs two system calls per
  block, never a process spawn. When the time is up, :class:`TimeLimitExceeded` (an ``Exception``, so
  the caller records it like any other fault) is raised where the block's Python code is; a block stuck
  inside one long call of compiled code (a BLAS routine, a blocking read) is stopped when that call
  returns to Python. Off the main thread (where no signal can be delivered), on a platform without
  ``setitimer`` (Windows), and for a limit of 0 or None, the block runs without a limit. An enclosing
  limit that ends sooner is left in charge; an enclosing one that ends later is restored after the block.
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["USER_FAULTS", "TimeLimitExceeded", "describe", "time_limit"]

#: What user code may raise and the run survives (the fault is the error of its own cells).
USER_FAULTS = (Exception, SystemExit)


class TimeLimitExceeded(Exception):
    """A block ran past its :func:`time_limit`."""


def describe(fault: BaseException) -> str:
    """``"Type: message"`` of a fault; for ``SystemExit``, the exit code it asked for."""
    if isinstance(fault, SystemExit):
        return f"SystemExit: the code called sys.exit({fault.code!r}) (a script's argument parsing at import?)"
    return f"{type(fault).__name__}: {fault}"


@contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` ("``what``: still running after N s ...") in the block when it
    runs longer than ``seconds`` (see the module docstring for where no limit applies)."""
    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():  # fmt: skip
        yield
        return
    enclosing, interval = signal.getitimer(signal.ITIMER_REAL)
    if enclosing and enclosing <= seconds:  # an enclosing limit ends first: it stays in charge
        yield
        return

    def expired(signum, frame):
        raise TimeLimitExceeded(f"{what}: still running after {seconds:g} s, its time limit (stopped; the run went on)")

    previous = signal.signal(signal.SIGALRM, expired)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if enclosing:  # the enclosing limit, less the time this block took (a moment at least)
            signal.setitimer(signal.ITIMER_REAL, max(enclosing - (time.monotonic() - started), 1e-3), interval)
