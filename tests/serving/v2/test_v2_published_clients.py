"""Our server through the published Open Inference Protocol clients: tritonclient (HTTP and gRPC) and KServe's SDK.

The clients run under their own environment (tests/v2_clients.py) as tests/v2_client_calls.py, which prints
each scenario's outcome as JSON.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from doc_examples import fenced_blocks, with_ports
from server_process import REPO_ROOT

SCRIPT = "tests/v2_client_calls.py"
pytestmark = pytest.mark.timeout(900)  # the first test may wait for .venv-v2clients to be made (~35 s; slow mirrors more)


def client_results(v2_clients, handle, library: str) -> dict:
    completed = subprocess.run(
        [str(v2_clients), SCRIPT, library, f"localhost:{handle.rest_port}", f"localhost:{handle.grpc_port}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def triton(v2_clients, shipped_served) -> dict:
    return client_results(v2_clients, shipped_served, "triton")


@pytest.fixture(scope="module")
def kserve(v2_clients, shipped_served) -> dict:
    return client_results(v2_clients, shipped_served, "kserve")


def check_inference(results: dict) -> None:
    classifier = results["classifier"]
    probabilities = np.array(classifier["probabilities"]["values"])
    assert classifier["probabilities"]["dtype"] == "float32" and probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier["class_ids"]["values"] == probabilities.argmax(axis=1).tolist()
    text = results["lstm"]["text"]
    assert text["dtype"] == "object" and text["shape"] == [2] and all(len(item) == 6 for item in text["values"])
    dqn = results["dqn"]
    assert dqn["q_values"]["shape"] == [2, 2]
    assert dqn["actions"]["values"] == np.array(dqn["q_values"]["values"]).argmax(axis=1).tolist()
    assert dqn["action_meanings"]["dtype"] == "object"


def check_errors(results: dict, invalid, not_found) -> None:
    assert results["unknown_model"] == {"error": "Servable not found for request: Latest(no_such_model)", "status": not_found}
    assert results["bad_datatype"] == {
        "error": "unexpected datatype FP32 for inference input 'images', expecting UINT8", "status": invalid,
    }
    assert results["wrong_shape"]["status"] == invalid
    assert "Expected [-1, 28, 28, 1], got [1, 28, 28]" in results["wrong_shape"]["error"]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_tritonclient(triton, transport):
    results = triton[transport]
    assert (results["live"], results["ready"], results["model_ready"], results["unknown_model_ready"]) == (True, True, True, False)
    assert results["server_metadata"]["name"] == "keras-serving-lab"
    metadata = results["model_metadata"]
    assert metadata["inputs"][0]["datatype"] == "UINT8"
    assert [int(dim) for dim in metadata["inputs"][0]["shape"]] == [-1, 28, 28, 1]
    check_inference(results)
    for algorithm in ("gzip", "deflate"):
        assert results[f"dqn_{algorithm}"] == results["dqn"], algorithm
    invalid, not_found = ("400", "404") if transport == "http" else ("StatusCode.INVALID_ARGUMENT", "StatusCode.NOT_FOUND")
    check_errors(results, invalid, not_found)
    assert results["unknown_version"]["status"] == not_found


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_kserve_sdk(kserve, transport):
    results = kserve[transport]
    assert (results["live"], results["ready"], results["model_ready"], results["unknown_model_ready"]) == (True, True, True, False)
    check_inference(results)
    invalid, not_found = (400, 404) if transport == "rest" else ("INVALID_ARGUMENT", "NOT_FOUND")
    check_errors(results, invalid, not_found)


def test_the_tritonclient_example_in_the_docs_prints_what_they_show(v2_clients, shipped_served):
    blocks = fenced_blocks(Path(REPO_ROOT) / "docs" / "serving.md")
    index = next(index for index, block in enumerate(blocks) if "import tritonclient" in block.text)
    example, shown = blocks[index], blocks[index + 1]
    assert example.marker.startswith("skip:") and shown.language == "text"
    code = with_ports(example.text, shipped_served.grpc_port, shipped_served.rest_port)
    completed = subprocess.run([str(v2_clients), "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout == shown.text
