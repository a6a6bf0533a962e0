"""Links inside the repository's markdown files lead somewhere, and nothing points outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from server_process import REPO_ROOT

ROOT = Path(REPO_ROOT)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*)$")
EXTERNAL = ("http://", "https://", "mailto:")
OUTSIDE_THE_REPOSITORY = re.compile(r"\.\./shared|/work/shared")


def markdown_files() -> list[Path]:
    """Every markdown file git tracks, or, outside a git checkout, every one under the root but .venv."""
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        return sorted(ROOT / name for name in listed.stdout.split())
    return sorted(path for path in ROOT.rglob("*.md") if ".venv" not in path.parts)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(match.group(1)) for line in path.read_text(encoding="utf-8").splitlines()
            if (match := HEADING.match(line))}


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if target.startswith(EXTERNAL):
            continue
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{path.relative_to(ROOT)}: {target} does not exist")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            problems.append(f"{path.relative_to(ROOT)}: {target} names no heading of {linked.name}")
        elif ROOT not in linked.parents and linked != ROOT:
            problems.append(f"{path.relative_to(ROOT)}: {target} leaves the repository")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(path):
    assert broken_links(path) == []


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_nothing_refers_to_files_outside_the_repository(path):
    found = [line for line in path.read_text(encoding="utf-8").splitlines() if OUTSIDE_THE_REPOSITORY.search(line)]
    assert found == []


def test_the_checks_catch_a_broken_link_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# Title here\n[ok](#title-here) [gone](b.md) [no heading](a.md#nowhere)\n")
    assert broken_links(tmp_path / "a.md") == ["a.md: b.md does not exist", "a.md: a.md#nowhere names no heading of a.md"]
