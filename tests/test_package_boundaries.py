"""``trainer``, ``serving`` and ``client`` never import each other: the contract travels in the export."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from server_process import REPO_ROOT

PACKAGES = ("trainer", "serving", "client")
SHARED_PACKAGES = ("inference_protocol", "game_wrappers")


def imported_top_level_packages(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_none_of_the_others(package):
    others = set(PACKAGES) - {package}
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(imported_top_level_packages(path) & others)
        for path in sorted((Path(REPO_ROOT) / package).rglob("*.py"))
    }
    assert {path: found for path, found in offenders.items() if found} == {}


@pytest.mark.parametrize("shared", SHARED_PACKAGES)
def test_the_shared_packages_import_none_of_them(shared):
    """Packages that several of them import (the v2 protocol; env wrappers) may import none of the three."""
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(imported_top_level_packages(path) & set(PACKAGES))
        for path in sorted((Path(REPO_ROOT) / shared).rglob("*.py"))
    }
    assert {path: found for path, found in offenders.items() if found} == {}
