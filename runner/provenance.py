"""What code a run ran, recorded in its ``run.json`` so that reports of several runs are merged only
when they come from the same code (``reports.merge``).

- :func:`sources_digest`: SHA-256 over the path and bytes of every source file of stitchbench's
  packages (``metrics``, ``scenarios`` with its specs, ``runner``, ``reports`` with its templates,
  ``pytest_stitchbench``, and ``benchmarks`` where it lies beside them): the same checkout gives the same
  digest whatever git says, and a changed or uncommitted file changes it;
- :func:`commit`: the git commit of the checkout, "+ uncommitted changes" when its tracked files differ
  from it (None outside a git checkout); recorded for people, the digest decides;
- :func:`code_record`: both, with the versions of the numerical dependencies
  (``runner.environment.dependency_versions``).
"""
from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path

from runner.environment import dependency_versions

__all__ = ["PACKAGES", "code_record", "commit", "sources_digest"]

ROOT = Path(__file__).resolve().parents[1]
#: The folders (beside this package) whose sources make a run's numbers and reports.
PACKAGES = ("metrics", "scenarios", "runner", "reports", "pytest_stitchbench", "benchmarks")
#: The kinds of source file that count (code, specs, report templates).
SUFFIXES = (".py", ".toml", ".j2", ".css", ".js")


@functools.lru_cache(maxsize=1)
def sources_digest(root: Path = ROOT) -> str:
    """SHA-256 (hex) of every source file of :data:`PACKAGES` under ``root``: relative path and bytes."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def commit(root: Path = ROOT) -> str | None:
    """The checkout's git commit (with "+ uncommitted changes" when tracked files differ from it), or None
    where there is no git or no checkout."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()  # fmt: skip

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head} + uncommitted changes" if dirty else head


def code_record() -> dict:
    """The commit, the sources' digest and the numerical dependencies' versions of this process."""
    return {"commit": commit(), "sources": sources_digest(), "dependencies": dependency_versions()}
