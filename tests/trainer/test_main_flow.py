"""The main job's flow at tiny scale, through the real command lines: train → samples → serve → evaluate.

The model trained by the shared ``tiny_run`` is served by ``python -m serving`` and the whole test split,
written as PNGs by ``python -m trainer vision samples``, is classified by ``python -m client evaluate``
over gRPC and REST. Both must reproduce the test accuracy the trainer recorded in model.json: the
export, the server and the client agree on every pixel and every class.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from server_process import REPO_ROOT, start_subprocess

ACCURACY = re.compile(r"^(grpc|rest): (\d+) images, accuracy ([0-9.]+),")


def run_cli(*argv: str) -> str:
    completed = subprocess.run([sys.executable, "-m", *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def recorded_metrics(tiny_run) -> dict:
    return json.loads((tiny_run.export_dir / "assets.extra" / "model.json").read_text())["metrics"]


@pytest.fixture(scope="module")
def test_split_pngs(tiny_run, recorded_metrics, tmp_path_factory):
    """Every image of the test split the trainer evaluated on, as PNGs with labels.csv."""
    out = tmp_path_factory.mktemp("main_flow") / "test_images"
    run_cli("trainer", "vision", "samples", "--data-dir", str(tiny_run.data_dir), "--split", "test",
            "--count", str(recorded_metrics["test_examples"]), "--out", str(out))
    return out


@pytest.fixture(scope="module")
def served_tiny(tiny_run):
    handle = start_subprocess("--model_name=tiny", f"--model_base_path={tiny_run.export_dir.parent}")
    yield handle
    handle.stop()


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_served_accuracy_matches_the_trainers(recorded_metrics, test_split_pngs, served_tiny, transport):
    where = ["--server", served_tiny.grpc_target] if transport == "grpc" else ["--rest", served_tiny.rest_url]
    out = run_cli("client", "evaluate", "--model", "tiny", "--images", str(test_split_pngs), *where)
    match = ACCURACY.match(out.strip())
    assert match, out
    assert int(match.group(2)) == recorded_metrics["test_examples"]
    assert float(match.group(3)) == pytest.approx(recorded_metrics["test_accuracy"], abs=1e-4)
