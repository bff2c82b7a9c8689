"""The documentation: the generated pages are what the registrations, the specs and the committed
baseline give (``python -m pytest_stitchbench.docs_pages docs`` rewrites them), the MkDocs site builds
with ``--strict`` (no broken link, no page left out of the navigation), and README stays a front page
that links every page."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_the_generated_pages_are_up_to_date(tmp_path):
    # in a subprocess: importing the plugin's package here would keep pytester's in-process runs from
    # rewriting its asserts (tests/test_runner_terminal.py reads their output)
    result = subprocess.run([sys.executable, "-m", "pytest_stitchbench.docs_pages", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    written = [Path(line) for line in result.stdout.splitlines()]
    stale = [str(path.relative_to(tmp_path)) for path in written
             if not (DOCS / path.relative_to(tmp_path)).is_file()
             or (DOCS / path.relative_to(tmp_path)).read_text(encoding="utf-8") != path.read_text(encoding="utf-8")]
    assert not stale, f"regenerate with `python -m pytest_stitchbench.docs_pages docs`: {stale}"
    generated = {path.relative_to(tmp_path) for path in written}
    left = [str(p.relative_to(DOCS)) for p in (DOCS / "measures").glob("*.md") if p.relative_to(DOCS) not in generated]
    assert not left, f"pages of measures no longer registered: {left}"


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="the dev extra installs mkdocs-material")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], capture_output=True, text=True, cwd=ROOT,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "measures" / "cka_linear" / "index.html").is_file()
    shutil.rmtree(tmp_path / "site")


def test_readme_is_a_front_page_that_links_every_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    linked = set(re.findall(r"\]\((docs/[^)#]+)", text))
    pages = {f"docs/{p.relative_to(DOCS)}" for p in DOCS.glob("*.md")} | {"docs/measures/index.md"}
    assert pages - {"docs/index.md"} <= linked, sorted(pages - linked - {"docs/index.md"})
    assert all((ROOT / link).exists() for link in linked), [link for link in linked if not (ROOT / link).exists()]



def test_the_generated_pages_do_not_depend_on_where_the_checkout_is():
    # a page that names this checkout's absolute path is stale in every other clone
    for page in [DOCS / "scenarios.md", DOCS / "results.md", *(DOCS / "measures").glob("*.md")]:
        assert str(ROOT) not in page.read_text(encoding="utf-8"), page
