"""``ServingClient(protocol="v2")`` and ``--protocol v2``: the Open Inference Protocol over gRPC and REST."""

from __future__ import annotations

import json

import numpy as np
import pytest

from client import ServingClient
from client.cli import main
from client.errors import ClientError

CLASSIFIER, LSTM, DQN = "fashion_mnist_classifier", "charlstm", "cartpole_dqn"


def target(handle, transport: str) -> str:
    return handle.grpc_target if transport == "grpc" else handle.rest_url


@pytest.fixture(scope="module", params=["grpc", "rest"])
def v2_client(request, shipped_served):
    with ServingClient(target(shipped_served, request.param), request.param, timeout=30, protocol="v2") as opened:
        yield opened


@pytest.fixture(scope="module")
def tfserving_client(shipped_served):
    with ServingClient(shipped_served.grpc_target, "grpc", timeout=30) as opened:
        yield opened


def images(count: int) -> np.ndarray:
    return (np.arange(count * 784) % 253).astype(np.uint8).reshape(count, 28, 28, 1)


def test_predict_agrees_with_tf_servings_api(v2_client, tfserving_client):
    batch = images(3)
    v2 = v2_client.predict(CLASSIFIER, batch)
    v1 = tfserving_client.predict(CLASSIFIER, batch)
    assert sorted(v2) == sorted(v1) == ["class_ids", "classes", "probabilities"]
    np.testing.assert_allclose(v2["probabilities"], v1["probabilities"], rtol=1e-6)
    assert v2["class_ids"].dtype == np.int64 and v2["classes"].tolist() == v1["classes"].tolist()


def test_strings_in_and_out_with_an_output_filter(v2_client):
    inputs = {"prompt": ["Hi", "Oh"], "length": [4, 4], "seed": [1, 1], "temperature": [0.5, 0.5]}
    outputs = v2_client.predict(LSTM, inputs, output_filter=["text"])
    assert list(outputs) == ["text"] and outputs["text"].shape == (2,)
    assert all(isinstance(item, bytes) and len(item) == 4 for item in outputs["text"])


def test_metadata_and_status(v2_client):
    signatures = v2_client.metadata(DQN)
    assert list(signatures) == ["serving_default"]
    spec = signatures["serving_default"]
    assert spec.inputs["observations"].shape.as_list() == [None, 4] and spec.inputs["observations"].dtype.name == "float32"
    assert spec.outputs["action_meanings"].dtype.name == "string"
    assert [(status.version, status.state) for status in v2_client.status(DQN)] == [(1, "AVAILABLE")]


@pytest.mark.parametrize(
    "call, what",
    [
        (lambda c: c.classify(CLASSIFIER, [{"x": 1.0}]), "classify"),
        (lambda c: c.regress(CLASSIFIER, [{"x": 1.0}]), "regress"),
        (lambda c: c.list_models(), "listing models"),
        (lambda c: c.predict(DQN, np.zeros((1, 4)), label="stable"), "version label 'stable'"),
        (lambda c: c.predict(LSTM, {"text": ["a"]}, signature="score"), 'signature "score" of model "charlstm"'),
    ],
    ids=["classify", "regress", "list", "label", "other-signature"],
)
def test_what_v2_lacks_is_unimplemented_with_one_clear_message(v2_client, call, what):
    with pytest.raises(ClientError) as refused:
        call(v2_client)
    assert refused.value.code == "UNIMPLEMENTED"
    assert refused.value.message.startswith(what) and "Open Inference Protocol" in refused.value.message


def test_server_errors_keep_their_codes(v2_client):
    with pytest.raises(ClientError) as missing:
        v2_client.predict("no_such_model", np.zeros((1, 4)))
    assert missing.value.code == "NOT_FOUND"
    with pytest.raises(ClientError) as missing_version:
        v2_client.predict(DQN, np.zeros((1, 4)), version=9)
    assert missing_version.value.code == "NOT_FOUND" and "Specific(cartpole_dqn, 9)" in missing_version.value.message


def test_an_unknown_protocol_is_refused():
    with pytest.raises(ClientError, match="protocol must be one of tfserving, v2"):
        ServingClient("localhost:1", protocol="v3")


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_cli_predict_metadata_and_bench_over_v2(capsys, shipped_served, transport, tmp_path):
    where = ["--server", shipped_served.grpc_target] if transport == "grpc" else ["--rest", shipped_served.rest_url]
    code = main(["predict", "--protocol", "v2", *where, "--model", DQN, "--input", "observations=[[0, 0, 0.1, 0]]"])
    out = capsys.readouterr().out
    assert code == 0 and "q_values float32 [1, 2]" in out
    assert main(["metadata", "--protocol", "v2", *where, "--model", CLASSIFIER]) == 0
    assert "images           uint8" in capsys.readouterr().out
    figures = tmp_path / "bench.json"
    argv = ["bench", "--protocol", "v2", *where, "--model", CLASSIFIER, "--duration", "0.5", "--warmup", "0.2", "--json", str(figures)]
    assert main(argv) == 0
    report = json.loads(figures.read_text())
    assert report["answered"] > 0 and report["errors"] == {}


@pytest.mark.parametrize("command", [["list"], ["contract", "--model", CLASSIFIER], ["status", "--model", "no_such_model"]])
def test_cli_errors_over_v2_are_one_line(capsys, shipped_served, command):
    code = main([command[0], "--protocol", "v2", "--server", shipped_served.grpc_target, *command[1:]])
    err = capsys.readouterr().err.strip().splitlines()
    expected = "error: NOT_FOUND: " if command[0] == "status" else "error: UNIMPLEMENTED: "
    assert code == 1 and len(err) == 1 and err[0].startswith(expected)


def test_rest_answers_in_json_or_binary_data_decode_alike():
    """A server may answer JSON data where binary was asked for (the extension is optional)."""
    import email.message

    from client.http_replicas import HttpAnswer
    from client.v2_rest_transport import infer_outputs

    header = json.dumps({"model_name": "m", "outputs": [
        {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["hé", ""]},
        {"name": "q", "datatype": "FP32", "shape": [1, 2], "parameters": {"binary_data_size": 8}},
    ]}).encode()
    headers = email.message.Message()
    headers["Inference-Header-Content-Length"] = str(len(header))
    body = header + np.array([[0.5, -1.0]], "<f4").tobytes()
    _, outputs = infer_outputs(HttpAnswer(200, body, headers))
    assert outputs["text"].tolist() == ["hé".encode(), b""]
    assert outputs["q"].dtype == np.float32 and outputs["q"].tolist() == [[0.5, -1.0]]
    with pytest.raises(ClientError, match="has 4 bytes of data but its shape"):
        infer_outputs(HttpAnswer(200, body[:-4], headers))
