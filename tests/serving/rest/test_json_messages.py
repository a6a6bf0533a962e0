"""Classify/regress, status, metadata and error JSON against TensorFlow Serving's texts and golden files."""

from __future__ import annotations

import json
import math

import grpc
import pytest
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    regression_pb2,
)

from serving.errors import ServingError
from serving.rest.json_messages import (
    classify_response_json,
    error_json,
    input_from_json,
    metadata_json,
    regress_response_json,
    status_json,
)


def feature_values(example, name: str) -> tuple[str, list]:
    """A feature's kind (``bytes_list``, ``float_list``, ``int64_list`` or None) and its values."""
    feature = example.features.feature[name]
    kind = feature.WhichOneof("kind")
    return kind, list(getattr(feature, kind).value) if kind else []


# --- Classify and regress requests ------------------------------------------------------------


def test_examples_become_an_example_list_with_typed_features():
    doc = {
        "examples": [
            {"names": ["foo", "bar"], "ratings": [8.0, 9.5], "age": 20, "flags": [1, True, False]},
            {"image": {"b64": "aGVsbG8="}, "ratings": [math.nan, -math.inf], "empty": []},
        ]
    }
    request_input = input_from_json(doc, "classify")
    assert request_input.WhichOneof("kind") == "example_list"
    first, second = request_input.example_list.examples
    assert feature_values(first, "names") == ("bytes_list", [b"foo", b"bar"])
    assert feature_values(first, "ratings") == ("float_list", [8.0, 9.5])
    assert feature_values(first, "age") == ("int64_list", [20])
    assert feature_values(first, "flags") == ("int64_list", [1, 1, 0])
    assert feature_values(second, "image") == ("bytes_list", [b"hello"])
    kind, ratings = feature_values(second, "ratings")
    assert kind == "float_list" and math.isnan(ratings[0]) and ratings[1] == -math.inf
    assert "empty" in second.features.feature and feature_values(second, "empty") == (None, [])


def test_context_makes_an_example_list_with_context():
    request_input = input_from_json({"context": {"query": "pizza"}, "examples": [{"rank": 1}]}, "regress")
    assert request_input.WhichOneof("kind") == "example_list_with_context"
    with_context = request_input.example_list_with_context
    assert feature_values(with_context.context, "query") == ("bytes_list", [b"pizza"])
    assert feature_values(with_context.examples[0], "rank") == ("int64_list", [1])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"x": 1}, 'JSON Value: {\n    "x": 1\n} When method is regress, key \'examples\' is expected and was not found'),
        (
            {"examples": {"a": 1}},
            'JSON Value: {\n    "examples": {\n        "a": 1\n    }\n} Expecting \'examples\' value to be an list/array',
        ),
        ({"examples": []}, 'JSON Value: {\n    "examples": []\n} \'examples\' value is an empty array'),
        ({"examples": [[{"a": 1}]]}, "Example must be JSON object but got JSON Array"),
        ({"context": [{"a": 1}], "examples": [{"a": 1}]}, "Example must be JSON object but got JSON Array"),
        ({"examples": [{"names": [10, None]}]}, "Feature: names has element with unexpected JSON type: Null"),
        ({"examples": [{"names": [[10], 20]}]}, "Feature: names has element with unexpected JSON type: Array"),
        ({"examples": [{"names": [10, {"test": 10}]}]}, "Feature: names has element with unexpected JSON type: Object"),
        ({"examples": [{"names": [10, 10.0]}]}, "Unexpected element type in feature: names expecting type: int64"),
        ({"examples": [{"names": ["a", True]}]}, "Unexpected element type in feature: names expecting type: bytes"),
        (
            {"examples": [{"names": [20, 18446744073709551603]}]},
            "Feature: names has uint64 element. Only int64 is supported.",
        ),
        ({"examples": [{"names": 1e39}]}, "Cannot convert JSON value: 1e+39 to float without loss of precision."),
        ({"examples": [{"names": {"b64": "a!k="}}]}, 'Unable to base64 decode JSON Value: "a!k="'),
    ],
)
def test_malformed_examples_are_rejected(doc, message):
    with pytest.raises(ServingError) as caught:
        input_from_json(doc, "regress")
    assert (caught.value.code, caught.value.message) == (grpc.StatusCode.INVALID_ARGUMENT, message)


def test_missing_examples_names_the_method():
    with pytest.raises(ServingError) as caught:
        input_from_json({}, "classify")
    assert caught.value.message == "JSON Value: {} When method is classify, key 'examples' is expected and was not found"


# --- Classify and regress results -------------------------------------------------------------


def test_classification_result_is_label_score_pairs_per_example():
    result = classification_pb2.ClassificationResult()
    first = result.classifications.add()
    first.classes.add(label="car", score=0.2)
    first.classes.add(label="bike", score=0.7)
    result.classifications.add().classes.add(score=3.0)
    assert classify_response_json(result) == b'{"results": [[["car", 0.2], ["bike", 0.7]], [["", 3.0]]]}'


def test_regression_result_is_one_value_per_example():
    result = regression_pb2.RegressionResult()
    for value in (3.5, 4.0, math.inf, math.nan):
        result.regressions.add(value=value)
    assert regress_response_json(result) == b'{"results": [3.5, 4.0, Infinity, NaN]}'


def test_empty_results_are_rejected():
    with pytest.raises(ServingError, match="Cannot convert empty ClassificationResults to JSON"):
        classify_response_json(classification_pb2.ClassificationResult())
    with pytest.raises(ServingError, match="Cannot convert empty RegressionResults to JSON"):
        regress_response_json(regression_pb2.RegressionResult())


# --- Status, metadata and errors --------------------------------------------------------------


def test_status_prints_defaults_enums_by_name_and_int64_as_strings():
    response = get_model_status_pb2.GetModelStatusResponse()
    status = response.model_version_status.add(version=1, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    status.status.SetInParent()
    assert status_json(response).decode() == (
        '{\n "model_version_status": [\n  {\n   "version": "1",\n   "state": "AVAILABLE",\n'
        '   "status": {\n    "error_code": "OK",\n    "error_message": ""\n   }\n  }\n ]\n}\n'
    )


def metadata_response() -> get_model_metadata_pb2.GetModelMetadataResponse:
    """Metadata of a half_plus_two-like model at version 123, as GetModelMetadata builds it."""
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    signature_def = signature_defs.signature_def["serving_default"]
    signature_def.method_name = "tensorflow/serving/predict"
    for tensors, alias in ((signature_def.inputs, "x"), (signature_def.outputs, "y")):
        tensors[alias].name = f"{alias}:0"
        tensors[alias].dtype = types_pb2.DT_FLOAT
        tensors[alias].tensor_shape.dim.add(size=-1)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = "half_plus_two"
    response.model_spec.version.value = 123
    response.metadata["signature_def"].Pack(signature_defs)
    return response


def test_metadata_matches_tf_serving_golden_layout():
    document = json.loads(metadata_json(metadata_response()))
    assert list(document) == ["model_spec", "metadata"]
    assert list(document["model_spec"].items()) == [("name", "half_plus_two"), ("signature_name", ""), ("version", "123")]
    signature_def = document["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert list(signature_def) == ["inputs", "outputs", "method_name", "defaults"]
    assert signature_def["defaults"] == {}
    assert signature_def["inputs"]["x"] == {
        "dtype": "DT_FLOAT",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
        "name": "x:0",
    }
    assert list(signature_def["inputs"]["x"]) == ["dtype", "tensor_shape", "name"]


def test_metadata_is_indented_by_one_space():
    assert metadata_json(metadata_response()).startswith(b'{\n "model_spec": {\n  "name": "half_plus_two",\n')


def test_metadata_without_signature_defs_is_internal():
    response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=model_pb2.ModelSpec(name="m"))
    with pytest.raises(ServingError) as missing:
        metadata_json(response)
    response.metadata["signature_def"].Pack(model_pb2.ModelSpec(name="not a SignatureDefMap"))
    with pytest.raises(ServingError) as mistyped:
        metadata_json(response)
    assert (missing.value.code, missing.value.message) == (
        grpc.StatusCode.INTERNAL,
        "Failed to find 'signature_def' key in the GetModelMetadataResponse metadata map.",
    )
    assert (mistyped.value.code, mistyped.value.message) == (
        grpc.StatusCode.INTERNAL,
        "Failed to unpack 'Any' object to 'SignatureDefMap'.",
    )


def test_error_body_is_a_pretty_printed_object():
    assert error_json('Servable not found for request: Latest(half)') == (
        b'{\n    "error": "Servable not found for request: Latest(half)"\n}'
    )
    assert json.loads(error_json('quote " and caf\u00e9\n')) == {"error": 'quote " and caf\u00e9\n'}
