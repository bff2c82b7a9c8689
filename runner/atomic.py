"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every output of a run (results, scorecards, figures, the baseline, per-worker row files under
pytest-xdist, the networks cache and bank, the kept values) is written to a temporary file in the
destination's folder and moved into place with ``os.replace``, which is atomic on POSIX and Windows when
source and target share a file system. The file gets the permissions the umask gives a new file (a cache
shared by several accounts stays readable). A write that must survive a crash (cache entries, which
other processes read on a shared file system) is flushed to disk before the rename (``fsync``).

A set of files that belong together (a run's report folder) is written into a staging folder beside
its destination (:func:`staging_folder`) and put in the destination's place whole
(:func:`publish_folder`), so that a failed or interrupted run never leaves the files of two runs side
by side. A folder is only ever replaced when it is one such set (it holds :data:`SET_MARKER`) or
empty: a folder of other files named by mistake is refused (:func:`replaceable_problem`), never swept
away.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["SET_MARKER", "atomic_path", "discard_folder", "publish_folder", "replaceable_problem", "staging_folder",
           "writable_problem", "write_bytes", "write_text"]

#: The file that marks a folder as a set written by :func:`publish_folder` (a run's reports).
SET_MARKER = ".stitchbench-reports"
#: Files that mark a report folder of a run from before the marker existed.
_EARLIER_SET_FILES = ("run.json", "results.csv")


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


def writable_problem(folder: str | os.PathLike) -> str | None:
    """Why files cannot be written into ``folder`` (made when missing), or None when they can: a file is
    created and removed there, so a read-only file system, a full disk and missing permissions all show."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return f"cannot write into {folder}: {err.strerror or err}"
    return None


def replaceable_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` may not be replaced by :func:`publish_folder`, or None: it is missing, empty, or a
    set written before (it holds :data:`SET_MARKER`, or an earlier run's ``run.json`` / ``results.csv``)."""
    folder = Path(folder)
    if not folder.exists():
        return None
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    entries = {entry.name for entry in folder.iterdir()}
    if not entries or SET_MARKER in entries or entries & set(_EARLIER_SET_FILES):
        return None
    return (f"{folder} holds files that are not a stitchbench report ({', '.join(sorted(entries)[:3])}...): the "
            f"reports replace their folder whole; name a new or empty folder")


def staging_folder(target: str | os.PathLike, copy: bool = False) -> Path:
    """A new folder beside ``target`` to write its next set into (with ``copy``, holding a copy of
    ``target``'s files, for a set that rewrites some of them)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    if copy and target.is_dir():
        shutil.copytree(target, staging)
    else:
        staging.mkdir()
    (staging / SET_MARKER).touch()
    return staging


def discard_folder(staging: str | os.PathLike) -> None:
    """Remove a staging folder that will not be published."""
    shutil.rmtree(staging, ignore_errors=True)


def publish_folder(staging: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put ``staging`` (from :func:`staging_folder`) in ``target``'s place: the old folder is renamed
    aside, the new one renamed in, and the old one removed, so that a reader finds the whole old set or
    the whole new one (for a moment, neither). When another run publishes into ``target`` at the same
    time, the last rename wins, whole. Returns ``target``.

    Raises:
        FileExistsError: ``target`` is not replaceable (:func:`replaceable_problem`).
    """
    staging, target = Path(staging), Path(target)
    problem = replaceable_problem(target)
    if problem:
        raise FileExistsError(problem)
    aside = []
    for attempt in range(10):  # another run may publish between our two renames: move its set aside too
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:12]}")
        try:
            os.rename(target, old)
            aside.append(old)
        except FileNotFoundError:
            pass
        try:
            os.rename(staging, target)
            break
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == 9:
                if aside and not target.exists():  # the old set back in place: nothing is lost
                    os.rename(aside.pop(), target)
                raise
    for old in aside:
        shutil.rmtree(old, ignore_errors=True)
    return target
