"""ServingClient over gRPC and REST: every method, the same numpy answers, version and label choice."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from contract_model import CONTRACT, CONTRACT_MODEL, target_of

from client import ClientError, ServingClient, VersionStatus
from client.messages import ModelRef
from client.rest_transport import no_input_error

IMAGES = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28, 1), dtype=np.uint8)



def x_example(x: float) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})
    )


def assert_same_arrays(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> None:
    assert left.keys() == right.keys()
    for name in left:
        assert left[name].dtype == right[name].dtype, name
        np.testing.assert_array_equal(left[name], right[name], err_msg=name)


def test_predict_half_plus_two_keeps_dtype_and_shape(client):
    outputs = client.predict("default", {"x": [[1.0, 2.0], [3.0, 4.0]]})
    assert outputs["y"].dtype == np.float32
    np.testing.assert_array_equal(outputs["y"], [[2.5, 3.0], [3.5, 4.0]])


def test_predict_takes_one_array_for_a_one_input_signature(client):
    np.testing.assert_array_equal(client.predict("default", np.array([2.0]))["y"], [3.0])


def test_predict_image_classifier_returns_uint8_model_outputs_as_numpy(client):
    outputs = client.predict("mnist", IMAGES)
    assert outputs["probabilities"].shape == (3, 10) and outputs["probabilities"].dtype == np.float32
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert outputs["class_ids"].dtype == np.int64
    np.testing.assert_array_equal(outputs["class_ids"], outputs["probabilities"].argmax(axis=1))
    assert outputs["classes"].tolist() == [f"class_{index}".encode() for index in outputs["class_ids"]]


def test_predict_named_signature_and_output_filter(client):
    outputs = client.predict("mnist", IMAGES.reshape(3, 784) / 255.0, signature="predict_images")
    assert outputs["scores"].shape == (3, 10)
    assert set(client.predict("mnist", IMAGES, output_filter=["class_ids"])) == {"class_ids"}


def test_predict_mixed_dtypes_with_bytes_and_text(client):
    outputs = client.predict(
        "two_inputs", {"a": [[1, 2], [3, 4.5]], "b": np.array([10, 20]), "tag": ["héllo", b"\xff\x00"]}
    )
    np.testing.assert_array_equal(outputs["total"], np.array([13.0, 27.5], np.float32))
    assert outputs["tag_bytes"].tolist() == ["héllo".encode(), b"\xff\x00"]
    assert outputs["tag_length"].dtype == np.int32
    np.testing.assert_array_equal(outputs["tag_length"], [6, 2])


def test_both_transports_give_the_same_arrays(both):
    calls = [
        ("default", {"x": np.linspace(-3, 3, 7, dtype=np.float32)}, None),
        ("mnist", {"images": IMAGES}, None),
        ("mnist", {"images": IMAGES.reshape(3, 784).astype(np.float32) / 255}, "predict_images"),
        ("two_inputs", {"a": [[0.1, 0.2]], "b": [7], "tag": [b"\x00\x01"]}, None),
    ]
    for model, inputs, signature in calls:
        assert_same_arrays(both["grpc"].predict(model, inputs, signature), both["rest"].predict(model, inputs, signature))


def test_both_transports_give_the_same_results_for_every_other_method(both):
    examples = [{"x": 0.1}, x_example(7.0)]
    grpc_client, rest_client = both["grpc"], both["rest"]
    classify_args = ("half_plus_two", examples, "classify_x_to_y")
    assert grpc_client.classify(*classify_args) == rest_client.classify(*classify_args)
    regress_args = ("half_plus_two", examples, "regress_x_to_y")
    np.testing.assert_array_equal(grpc_client.regress(*regress_args), rest_client.regress(*regress_args))
    for model in ("default", "half_plus_two", "mnist", "two_inputs"):
        assert grpc_client.metadata(model) == rest_client.metadata(model)
        assert grpc_client.status(model) == rest_client.status(model)


@pytest.mark.parametrize(
    ("version", "label", "expected"),
    [(None, None, 4.0), (1, None, 3.0), (2, None, 4.0), (None, "stable", 3.0), (None, "canary", 4.0)],
)
def test_version_and_label_choose_the_version(client, version, label, expected):
    outputs = client.predict("half_plus_two", {"x": [2.0]}, version=version, label=label)
    np.testing.assert_array_equal(outputs["y"], [expected])


def test_classify_dicts_and_examples(client):
    results = client.classify("half_plus_two", [{"x": 1.0}, x_example(2.0)], signature="classify_x_to_y", version=1)
    assert results == [[("", 2.5)], [("", 3.0)]]


def test_regress_returns_float32(client):
    values = client.regress("half_plus_two", [{"x": 1.0}, {"x": 2.0}], signature="regress_x_to_y", label="canary")
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, [3.5, 4.0])


def test_metadata_lists_signatures_with_dtypes_and_shapes(client):
    signatures = client.metadata("mnist")
    assert set(signatures) == {"serving_default", "predict_images"}
    images = signatures["serving_default"].inputs["images"]
    assert images.dtype == tf.uint8 and images.shape.as_list() == [None, 28, 28, 1]
    assert signatures["serving_default"].outputs["classes"].dtype == tf.string
    assert signatures["predict_images"].outputs["scores"].dtype == tf.float32
    assert set(client.metadata("two_inputs", version=7)["serving_default"].inputs) == {"a", "b", "tag"}


def test_status_lists_versions(client):
    assert client.status("half_plus_two") == [VersionStatus(1, "AVAILABLE", ""), VersionStatus(2, "AVAILABLE", "")]
    assert client.status("two_inputs", version=7) == [VersionStatus(7, "AVAILABLE", "")]


def test_list_models_is_rest_only(client):
    if client.transport == "grpc":
        with pytest.raises(ClientError) as raised:
            client.list_models()
        assert raised.value.code == "UNIMPLEMENTED" and "REST" in raised.value.message
        return
    models = {model.name: model for model in client.list_models()}
    assert set(models) == {"default", "half_plus_two", "mnist", "two_inputs"}
    assert models["half_plus_two"].labels == {"stable": 1, "canary": 2}
    assert [status.version for status in models["half_plus_two"].versions] == [1, 2]


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_contract_reads_the_metadata_signature_over_both_apis(contract_served, transport):
    """Over REST through our server's extension: :predict of a signature without inputs, with "inputs": {}."""
    with ServingClient(target_of(contract_served, transport), transport) as opened:
        assert opened.contract(CONTRACT_MODEL) == CONTRACT
        assert opened.contract(CONTRACT_MODEL, version=1) == CONTRACT


def test_a_rest_server_without_the_extension_gets_one_line_that_says_to_use_grpc():
    tf_serving_answer = ClientError("INVALID_ARGUMENT", "Failed to get input map for signature: metadata", 400)
    error = no_input_error(ModelRef("m", signature="metadata"), tf_serving_answer)
    assert error.code == "UNIMPLEMENTED" and "\n" not in error.message
    assert error.message.endswith("use gRPC, --server HOST:8500")


def test_contract_of_a_model_without_metadata_signature(client):
    with pytest.raises(ClientError) as raised:
        client.contract("mnist")
    assert raised.value.code == "FAILED_PRECONDITION"
    assert '"metadata"' in raised.value.message and "serving_default" in raised.value.message


def test_closed_client_refuses_calls(served):
    opened = ServingClient(served.grpc_target)
    with opened:
        opened.status("default")
    with pytest.raises(ClientError, match="closed"):
        opened.status("default")
