"""The models shipped in saved_models/: complete exports, each at most 20 MB, made by a recorded trainer command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from server_process import REPO_ROOT

SHIPPED_ROOT = Path(REPO_ROOT) / "saved_models"
MAX_BYTES = 20 * 1024 * 1024
VERSIONS = sorted(path for path in SHIPPED_ROOT.glob("*/*") if path.is_dir() and path.name.isdigit())


def test_models_are_shipped():
    assert VERSIONS, f"no <model>/<version>/ folder under {SHIPPED_ROOT}"


@pytest.mark.parametrize("version_dir", VERSIONS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_each_version_is_a_small_export_with_its_command(version_dir):
    size = sum(path.stat().st_size for path in version_dir.rglob("*") if path.is_file())
    assert size <= MAX_BYTES, f"{size / 2**20:.1f} MB"
    assert (version_dir / "saved_model.pb").is_file()
    model_json = json.loads((version_dir / "assets.extra" / "model.json").read_text())
    assert (model_json["name"], model_json["version"]) == (version_dir.parent.name, int(version_dir.name))
    assert model_json["command"][:3] == ["python", "-m", "trainer"]
