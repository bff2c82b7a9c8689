"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every output of a run (results, scorecards, figures, the baseline, per-worker row files under
pytest-xdist, the networks cache and bank, the kept values) is written to a temporary file in the
destination's folder and moved into place with ``os.replace``, which is atomic on POSIX and Windows when
source and target share a file system. The file gets the permissions the umask gives a new file (a cache
shared by several accounts stays readable). A write that must survive a crash (cache entries, which
other processes read on a shared file system) is flushed to disk before the rename (``fsync``).
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "write_bytes", "write_text"]


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed.

    Use it for writers that take a file name (``DataFrame.to_csv``, ``Figure.savefig``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")  # umask permissions
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(target: str | os.PathLike, data: bytes, fsync: bool = False) -> Path:
    """Write ``data`` to ``target`` atomically (flushed to disk first with ``fsync``); returns the path."""
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
    return Path(target)


def write_text(target: str | os.PathLike, text: str, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the target's path."""
    return write_bytes(target, text.encode("utf-8"), fsync)
