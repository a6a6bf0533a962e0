"""The REST API over HTTP: every endpoint, both formats, b64, errors, CORS, metrics and our extras."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import math

import pytest


def call(served, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("localhost", served.rest_port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def post(served, path: str, document) -> tuple[int, dict]:
    status, headers, body = call(served, "POST", path, json.dumps(document))
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


def test_predict_row_and_columnar_formats(served):
    assert post(served, "/v1/models/default:predict", {"instances": [1.0, 2.0, 5.0]}) == (200, {"predictions": [2.5, 3.0, 4.5]})
    assert post(served, "/v1/models/default:predict", {"inputs": [3.0, 4.0]}) == (200, {"outputs": [3.5, 4.0]})


def test_versions_and_labels_in_the_url(served):
    assert post(served, "/v1/models/half_plus_two/versions/1:predict", {"instances": [2.0]})[1] == {"predictions": [3.0]}
    assert post(served, "/v1/models/half_plus_two/labels/canary:predict", {"instances": [2.0]})[1] == {"predictions": [4.0]}
    assert post(served, "/v1/models/half_plus_two:predict", {"instances": [2.0]})[1] == {"predictions": [4.0]}


def test_several_inputs_and_outputs_with_b64(served):
    tag = base64.b64encode(b"\xff\x00raw").decode()
    status, document = post(
        served,
        "/v1/models/two_inputs:predict",
        {"instances": [{"a": [1.0, 2.0], "b": 3, "tag": {"b64": tag}}, {"a": [0.5, 0.5], "b": -1, "tag": "hi"}]},
    )
    assert status == 200
    first, second = document["predictions"]
    assert first == {"total": 6.0, "tag_bytes": {"b64": tag}, "tag_length": 5}
    assert second["total"] == 0.0 and second["tag_length"] == 2
    status, document = post(
        served, "/v1/models/two_inputs:predict", {"inputs": {"a": [[1.0, 1.0]], "b": [1], "tag": ["x"], "ignored": 1}}
    )
    assert status == 200
    assert document["outputs"] == {"total": [3.0], "tag_bytes": [{"b64": "eA=="}], "tag_length": [1]}


def test_uint8_images_and_string_outputs(served):
    image = [[[0]] * 28] * 28
    status, document = post(served, "/v1/models/mnist:predict", {"instances": [image, image]})
    assert status == 200
    assert [row["classes"] for row in document["predictions"]] == ["class_0", "class_0"]
    assert math.isclose(sum(document["predictions"][0]["probabilities"]), 1.0, rel_tol=1e-5)


def test_classify_and_regress_use_the_results_key(served):
    examples = {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}, {"x": 4.0}]}
    assert post(served, "/v1/models/default:classify", examples) == (200, {"results": [[["", 3.0]], [["", 4.0]]]})
    regress = {"signature_name": "regress_x_to_y", "context": {"x": 6.0}, "examples": [{}]}
    assert post(served, "/v1/models/default:regress", regress) == (200, {"results": [5.0]})


def test_status_metadata_and_model_list(served):
    status, _, body = call(served, "GET", "/v1/models/half_plus_two")
    versions = json.loads(body)["model_version_status"]
    assert status == 200
    assert [(entry["version"], entry["state"]) for entry in versions] == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
    assert versions[0]["status"] == {"error_code": "OK", "error_message": ""}
    status, _, body = call(served, "GET", "/v1/models/default/versions/1/metadata")
    metadata = json.loads(body)
    assert status == 200
    assert metadata["model_spec"]["version"] == "1"
    assert "serving_default" in metadata["metadata"]["signature_def"]["signature_def"]
    status, _, body = call(served, "GET", "/v1/models")
    listing = {model["name"]: model for model in json.loads(body)["models"]}
    assert set(listing) == {"default", "half_plus_two", "mnist", "two_inputs"}
    assert listing["half_plus_two"]["labels"] == {"stable": 1, "canary": 2}


@pytest.mark.parametrize(
    "method, path, body, code, message",
    [
        ("POST", "/v1/models/nope:predict", '{"instances": [1.0]}', 404, "Servable not found for request: Latest(nope)"),
        ("POST", "/v1/models/../etc:predict", '{"instances": [1.0]}', 400, "Malformed request: POST /v1/models/../etc:predict"),
        ("POST", "/v1/models/..%2Fetc:predict", '{"instances": [1.0]}', 404, "Servable not found for request: Latest(../etc)"),
        ("POST", "/v1/models/default/versions/9:predict", '{"instances": [1.0]}', 404, "Servable not found for request: Specific(default, 9)"),
        ("POST", "/v1/models/half_plus_two/labels/nope:predict", '{"instances": [1.0]}', 400, "Unrecognized servable version label: nope"),
        ("POST", "/v1/models/default:predict", '{"signature_name": "nope", "instances": [1.0]}', 400, 'Serving signature name: "nope" not found in signature def'),
        ("POST", "/v1/models/default:predict", '{"instances": [1.0]', 400, "JSON Parse error"),
        ("POST", "/v1/models/default:predict", "", 400, "JSON Parse error: The document is empty"),
        ("POST", "/v1/models/default:predict", '{"foo": 1}', 400, "Missing 'inputs' or 'instances' key"),
        ("POST", "/v1/models/default:predict", '{"instances": ["a"]}', 400, "is not of expected type: float"),
        ("POST", "/v1/models/two_inputs:predict", '{"inputs": {"a": [[1.0, 1.0]], "b": [1.5], "tag": ["x"]}}', 400, "1.5"),
        ("POST", "/v1/models/two_inputs:predict", '{"inputs": {"a": [[1.0]], "b": [1], "tag": [{"b64": "%%%"}]}}', 400, "Unable to base64 decode"),
        ("POST", "/v1/models/default:PREDICT", "{}", 400, "Malformed request: POST /v1/models/default:PREDICT"),
        ("GET", "/v1/models/default:predict", None, 400, "Malformed request: GET /v1/models/default:predict"),
        ("POST", "/v1/models/default/metadata", "{}", 400, "Malformed request"),
        ("PUT", "/v1/models/default", "{}", 400, "Malformed request: PUT /v1/models/default"),
        ("GET", "/v1/models/default/versions/99999999999999999999", None, 400, "Failed to convert version"),
        ("GET", "/v1/models/nope", None, 404, "Could not find any versions of model nope"),
        ("POST", "/v1/models/default:classify", '{"examples": []}', 400, ""),
        ("POST", "/v1/models/default:classify", '{"instances": [1]}', 400, "When method is classify, key 'examples' is expected and was not found"),
    ],
)
def test_error_table(served, method, path, body, code, message):
    status, headers, raw = call(served, method, path, body)
    assert status == code
    assert headers["Content-Type"] == "application/json"
    assert json.loads(raw)["error"].startswith(message) or message in json.loads(raw)["error"]


def test_nan_and_infinity_round_trip(served):
    status, _, body = call(served, "POST", "/v1/models/default:predict", '{"instances": [NaN, Infinity, -Infinity]}')
    assert status == 200
    assert body.replace(b" ", b"").replace(b"\n", b"") == b'{"predictions":[NaN,Infinity,-Infinity]}'


def test_gzip_request_bodies(served):
    body = gzip.compress(b'{"instances": [2.0]}')
    status, _, raw = call(served, "POST", "/v1/models/default:predict", body, {"Content-Encoding": "gzip"})
    assert (status, json.loads(raw)) == (200, {"predictions": [3.0]})
    status, _, raw = call(served, "POST", "/v1/models/default:predict", b"not gzip", {"Content-Encoding": "gzip"})
    assert status == 400 and "gzip" in json.loads(raw)["error"]


def test_cors_headers_and_preflight(served):
    status, headers, _ = call(served, "GET", "/v1/models/default")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert call(served, "OPTIONS", "/v1/models/default:predict", headers={"Origin": "https://app.example"})[0] == 200
    status, _, raw = call(served, "OPTIONS", "/v1/models/default:predict")
    assert status == 400 and json.loads(raw)["error"] == "Origin header is missing in CORS preflight"


def test_non_api_paths_readiness_and_prometheus(served):
    status, headers, _ = call(served, "GET", "/nope")
    assert status == 404 and headers["Content-Type"] == "text/html"
    assert call(served, "GET", "/readyz")[0] == 200
    post(served, "/v1/models/default:predict", {"instances": [1.0]})
    status, headers, raw = call(served, "GET", "/monitoring/prometheus/metrics")
    text = raw.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert '# TYPE :tensorflow:serving:request_count counter' in text
    assert ':tensorflow:serving:request_count{model_name="default",status="OK"}' in text
    assert ':tensorflow:serving:request_latency_bucket{model_name="default",API="predict",entrypoint="REST",le="+Inf"}' in text
    assert ':tensorflow:serving:request_count{model_name="nope",status="NOT_FOUND"}' in text
