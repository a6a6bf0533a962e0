"""The Open Inference Protocol's REST API on the shipped models: health, metadata, JSON and binary infer, errors."""

from __future__ import annotations

import http.client
import json
import struct

import numpy as np
import pytest

CLASSIFIER = "/v2/models/fashion_mnist_classifier"
HEADER_LENGTH = "Inference-Header-Content-Length"


def call(handle, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    connection = http.client.HTTPConnection("localhost", handle.rest_port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(handle, path: str) -> tuple[int, dict]:
    status, _, body = call(handle, "GET", path)
    return status, json.loads(body)


def infer(handle, path: str, document: dict, binary: bytes = b"", headers: dict | None = None) -> tuple[int, dict, bytes]:
    header = json.dumps(document).encode()
    extra = {HEADER_LENGTH: str(len(header))} if binary else {}
    status, reply_headers, body = call(handle, "POST", path + "/infer", header + binary, {**extra, **(headers or {})})
    if HEADER_LENGTH in reply_headers:
        length = int(reply_headers[HEADER_LENGTH])
        return status, json.loads(body[:length]), body[length:]
    return status, json.loads(body), b""


def images(count: int) -> np.ndarray:
    return (np.arange(count * 784, dtype=np.int64) % 251).astype(np.uint8).reshape(count, 28, 28, 1)


def image_input(batch: np.ndarray) -> dict:
    return {"name": "images", "datatype": "UINT8", "shape": list(batch.shape), "parameters": {"binary_data_size": batch.size}}


def test_server_health_and_metadata(shipped_served):
    assert get_json(shipped_served, "/v2/health/live") == (200, {"live": True})
    assert get_json(shipped_served, "/v2/health/ready") == (200, {"ready": True})
    status, metadata = get_json(shipped_served, "/v2")
    assert status == 200 and metadata["name"] == "keras-serving-lab" and "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_lists_the_default_signature_with_v2_datatypes(shipped_served):
    status, metadata = get_json(shipped_served, CLASSIFIER)
    assert status == 200
    assert metadata["inputs"] == [{"name": "images", "datatype": "UINT8", "shape": [-1, 28, 28, 1]}]
    assert {"name": "classes", "datatype": "BYTES", "shape": [-1]} in metadata["outputs"]
    assert {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]} in metadata["outputs"]
    status, lstm = get_json(shipped_served, "/v2/models/charlstm/versions/2")
    assert status == 200 and lstm["versions"] == ["2"]
    assert {"name": "prompt", "datatype": "BYTES", "shape": [-1]} in lstm["inputs"]


def test_model_readiness(shipped_served):
    assert call(shipped_served, "GET", "/v2/models/cartpole_dqn/ready")[0] == 200
    assert call(shipped_served, "GET", "/v2/models/cartpole_dqn/versions/1/ready")[0] == 200
    assert call(shipped_served, "GET", "/v2/models/cartpole_dqn/versions/5/ready")[0] == 400
    assert call(shipped_served, "GET", "/v2/models/no_such_model/ready")[0] == 400


def test_classifier_binary_images_in_and_binary_outputs_agree_with_the_v1_api(shipped_served):
    batch = images(3)
    document = {
        "inputs": [image_input(batch)],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}, {"name": "class_ids"}],
    }
    status, header, binary = infer(shipped_served, CLASSIFIER, document, batch.tobytes())
    assert status == 200, header
    probabilities_out, class_ids_out = header["outputs"]
    assert probabilities_out["parameters"]["binary_data_size"] == len(binary) == 3 * 10 * 4
    probabilities = np.frombuffer(binary, "<f4").reshape(3, 10)
    assert class_ids_out["data"] == probabilities.argmax(axis=1).tolist()
    v1 = call(shipped_served, "POST", "/v1/models/fashion_mnist_classifier:predict", json.dumps({"instances": batch.tolist()}).encode())
    expected = np.array([row["probabilities"] for row in json.loads(v1[2])["predictions"]], np.float32)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)


def test_every_output_binary_with_binary_data_output(shipped_served):
    batch = images(1)
    document = {"inputs": [image_input(batch)], "parameters": {"binary_data_output": True}}
    status, header, binary = infer(shipped_served, CLASSIFIER, document, batch.tobytes())
    assert status == 200
    assert [output["name"] for output in header["outputs"]] == ["class_ids", "classes", "probabilities"]
    sizes = [output["parameters"]["binary_data_size"] for output in header["outputs"]]
    assert sum(sizes) == len(binary)
    (class_id,) = np.frombuffer(binary[: sizes[0]], "<i8")
    (length,) = struct.unpack_from("<I", binary, sizes[0])
    assert length == sizes[1] - 4 and binary[sizes[0] + 4 : sizes[0] + sizes[1]]
    assert 0 <= class_id < 10


def test_char_lstm_strings_in_and_out_as_json_and_binary(shipped_served):
    document = {
        "inputs": [
            {"name": "prompt", "datatype": "BYTES", "shape": [2], "data": ["The ", "A"]},
            {"name": "length", "datatype": "INT32", "shape": [2], "data": [5, 5]},
            {"name": "seed", "datatype": "INT64", "shape": [2], "data": [1, 2]},
            {"name": "temperature", "datatype": "FP32", "shape": [2], "data": [0.5, 0.5]},
        ]
    }
    status, header, _ = infer(shipped_served, "/v2/models/charlstm", document)
    assert status == 200, header
    (text,) = header["outputs"]
    assert text["datatype"] == "BYTES" and text["shape"] == [2]
    assert all(isinstance(item, str) and item for item in text["data"])
    document["outputs"] = [{"name": "text", "parameters": {"binary_data": True}}]
    status, header, binary = infer(shipped_served, "/v2/models/charlstm", document)
    first_length = struct.unpack_from("<I", binary)[0]
    assert binary[4 : 4 + first_length].decode() == text["data"][0]


def test_dqn_policy_with_nested_json_data_and_the_request_id(shipped_served):
    document = {"id": "step-7", "inputs": [{"name": "observations", "datatype": "FP32", "shape": [2, 4], "data": [[0, 0, 0.1, 0], [0, 0, -0.1, 0]]}]}
    status, header, _ = infer(shipped_served, "/v2/models/cartpole_dqn", document)
    assert status == 200 and header["id"] == "step-7" and header["model_version"] == "1"
    outputs = {output["name"]: output for output in header["outputs"]}
    assert outputs["q_values"]["shape"] == [2, 2] and len(outputs["q_values"]["data"]) == 4
    assert outputs["actions"]["datatype"] == "INT64" and set(outputs["actions"]["data"]) <= {0, 1}


def test_signature_name_parameter_picks_another_signature(shipped_served):
    document = {
        "parameters": {"signature_name": "predict_images"},
        "inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 784], "data": [0.0] * 784}],
    }
    status, header, _ = infer(shipped_served, CLASSIFIER, document)
    assert status == 200 and header["outputs"][0]["name"] == "scores"
    document["parameters"]["signature_name"] = "nope"
    status, header, _ = infer(shipped_served, CLASSIFIER, document)
    assert status == 400 and "nope" in header["error"]


BAD_INFERS = [
    pytest.param(
        {"inputs": [{"name": "images", "datatype": "FP99", "shape": [1], "data": [1]}]}, 400, "invalid datatype 'FP99'",
        id="unknown-datatype",
    ),
    pytest.param(
        {"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": [0.0] * 784}]}, 400,
        "unexpected datatype FP32 for inference input 'images', expecting UINT8", id="wrong-datatype",
    ),
    pytest.param(
        {"inputs": [{"name": "images", "datatype": "UINT8", "shape": [1, 28, 28], "data": [0] * 784}]}, 400,
        "Expected [-1, 28, 28, 1], got [1, 28, 28]", id="wrong-shape",
    ),
    pytest.param(
        {"inputs": [{"name": "images", "datatype": "UINT8", "shape": [1, 28, 28, 1], "data": [0] * 5}]}, 400,
        "has 5 elements but its shape [1, 28, 28, 1] holds 784", id="too-few-values",
    ),
    pytest.param(
        {"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1], "data": [0]}]}, 400,
        "unexpected inference input 'pixels'", id="unknown-input",
    ),
    pytest.param(
        {"inputs": [{"name": "images", "datatype": "UINT8", "shape": [1, 28, 28, 1], "data": [0] * 784}], "outputs": [{"name": "logits"}]},
        400, "output tensor alias not found in signature: logits", id="unknown-output",
    ),
    pytest.param({"inputs": "images"}, 400, "'inputs' list", id="inputs-not-a-list"),
]


@pytest.mark.parametrize("document, status, message", BAD_INFERS)
def test_bad_requests_answer_the_protocols_errors(shipped_served, document, status, message):
    got_status, header, _ = infer(shipped_served, CLASSIFIER, document)
    assert (got_status, set(header)) == (status, {"error"})
    assert message in header["error"]


def test_unknown_models_and_versions(shipped_served):
    document = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]}
    status, header, _ = infer(shipped_served, "/v2/models/no_such_model", document)
    assert status == 404 and "no_such_model" in header["error"]
    status, header, _ = infer(shipped_served, CLASSIFIER + "/versions/99", document)
    assert status == 404 and "Specific(fashion_mnist_classifier, 99)" in header["error"]
    assert get_json(shipped_served, CLASSIFIER + "/versions/latest")[0] == 400
    assert get_json(shipped_served, "/v2/models/no_such_model")[0] == 404
    assert get_json(shipped_served, "/v2/repository/index")[0] == 404


@pytest.mark.parametrize(
    "header_length, binary_size, message",
    [
        ("abc", 784, "Inference-Header-Content-Length must be a non-negative integer, got 'abc'"),
        ("99999", 784, "Inference-Header-Content-Length is 99999 but the request body has only"),
        (None, 700, "has 700 bytes of data but its shape [1, 28, 28, 1] and datatype UINT8 need 784"),
        (None, 900, "does not fit the 784 bytes of binary data left"),
        (None, -1, "does not fit"),
    ],
)
def test_malformed_binary_requests(shipped_served, header_length, binary_size, message):
    batch = images(1)
    document = {"inputs": [{**image_input(batch), "parameters": {"binary_data_size": binary_size}}]}
    header = json.dumps(document).encode()
    headers = {HEADER_LENGTH: header_length or str(len(header))}
    status, _, body = call(shipped_served, "POST", CLASSIFIER + "/infer", header + batch.tobytes(), headers)
    assert status == 400 and message in json.loads(body)["error"]


def test_binary_data_sized_for_another_shape_and_leftover_bytes(shipped_served):
    batch = images(2)
    document = {"inputs": [{**image_input(batch), "shape": [1, 28, 28, 1]}]}
    status, header, _ = infer(shipped_served, CLASSIFIER, document, batch.tobytes())
    assert status == 400 and "has 1568 bytes of data but its shape [1, 28, 28, 1] and datatype UINT8 need 784" in header["error"]
    document = {"inputs": [image_input(images(1))]}
    status, header, _ = infer(shipped_served, CLASSIFIER, document, batch.tobytes())
    assert status == 400 and "784 bytes of binary data that no input claims" in header["error"]


def test_malformed_json_and_wrong_methods(shipped_served):
    status, _, body = call(shipped_served, "POST", CLASSIFIER + "/infer", b"{not json")
    assert status == 400 and "failed to parse the request JSON" in json.loads(body)["error"]
    status, _, body = call(shipped_served, "GET", CLASSIFIER + "/infer")
    assert status == 400 and "use POST" in json.loads(body)["error"]
    status, _, body = call(shipped_served, "POST", "/v2/health/ready")
    assert status == 400 and "use GET" in json.loads(body)["error"]


def test_v1_routes_are_unchanged_beside_v2(shipped_served):
    status, _, body = call(shipped_served, "GET", "/v1/models/cartpole_dqn")
    assert status == 200 and json.loads(body)["model_version_status"][0]["state"] == "AVAILABLE"
    assert call(shipped_served, "GET", "/v3/models")[0] == 404


def test_v2_calls_are_counted_in_the_same_metrics(served):
    """``served`` exports Prometheus metrics; its ``default`` model takes ``x`` of unknown rank."""
    document = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "data": [1.0, 2.0, 5.0]}]}
    status, header, _ = infer(served, "/v2/models/default", document)
    assert status == 200 and header["outputs"][0]["data"] == [2.5, 3.0, 4.5]
    assert infer(served, "/v2/models/default", {"inputs": []})[0] == 400
    text = call(served, "GET", "/monitoring/prometheus/metrics")[2].decode()
    assert ':tensorflow:serving:request_latency_bucket{model_name="default",API="infer",entrypoint="REST",le="+Inf"}' in text
    assert ':tensorflow:serving:request_count{model_name="default",status="INVALID_ARGUMENT"}' in text


def test_compressed_bodies_gzip_and_deflate(shipped_served):
    import gzip
    import zlib

    document = json.dumps({"inputs": [{"name": "observations", "datatype": "FP32", "shape": [1, 4], "data": [0, 0, 0, 0]}]}).encode()
    plain = call(shipped_served, "POST", "/v2/models/cartpole_dqn/infer", document)
    for encoding, packed in (("gzip", gzip.compress(document)), ("deflate", zlib.compress(document))):
        answer = call(shipped_served, "POST", "/v2/models/cartpole_dqn/infer", packed, {"Content-Encoding": encoding})
        assert (answer[0], answer[2]) == (plain[0], plain[2]), encoding
    status, _, body = call(shipped_served, "POST", "/v2/models/cartpole_dqn/infer", b"not zlib", {"Content-Encoding": "deflate"})
    assert status == 400 and "Failed to decompress deflate request body" in json.loads(body)["error"]


def test_data_nested_deeper_than_pythons_recursion_answers_400(shipped_served):
    data = b"[" * 1000 + b"0" + b"]" * 1000
    body = b'{"inputs": [{"name": "observations", "datatype": "FP32", "shape": [1, 4], "data": ' + data + b"}]}"
    status, _, answer = call(shipped_served, "POST", "/v2/models/cartpole_dqn/infer", body)
    assert status == 400, answer
    assert "has 1 elements but its shape [1, 4] holds 4" in json.loads(answer)["error"]
