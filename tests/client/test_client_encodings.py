"""Tensor and tf.Example encodings: the casting rules and the wire forms both transports rely on."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from client import ClientError
from client.examples import example_to_json, to_example
from client.tensors import as_input_array, from_json_value, from_tensor_proto, json_dumps, to_tensor_proto


def spec(dtype: tf.DType) -> tf.TensorSpec:
    return tf.TensorSpec(None, dtype, name="t")


@pytest.mark.parametrize(
    ("value", "dtype", "expected"),
    [
        ([1.5, 2.0], tf.float32, np.array([1.5, 2.0], np.float32)),
        ([1, 2], tf.float32, np.array([1.0, 2.0], np.float32)),
        ([0, 255], tf.uint8, np.array([0, 255], np.uint8)),
        ([True, False], tf.int64, np.array([1, 0], np.int64)),
        (["é", b"\xff"], tf.string, np.array(["é".encode(), b"\xff"], object)),
    ],
)
def test_inputs_are_cast_to_the_signature_dtype(value, dtype, expected):
    array = as_input_array("t", value, spec(dtype))
    assert array.dtype == expected.dtype
    assert array.tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("value", "dtype"), [([0.5], tf.uint8), ([300], tf.uint8), ([-1], tf.uint32), ([1.0], tf.int64), ([3], tf.string)]
)
def test_casts_that_change_values_are_refused(value, dtype):
    with pytest.raises(ClientError, match="'t'"):
        as_input_array("t", value, spec(dtype))


@pytest.mark.parametrize(
    "array",
    [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([[1, 2]], np.uint8), np.array([b"a", b"\x00"], object)],
)
def test_tensor_proto_round_trip(array):
    dtype = tf.string if array.dtype == object else tf.as_dtype(array.dtype)
    decoded = from_tensor_proto(to_tensor_proto(array, spec(dtype)))
    assert decoded.dtype == array.dtype and decoded.tolist() == array.tolist()


def test_typed_fields_of_a_response_are_read_in_full_or_repeated():
    repeated = tf.make_tensor_proto(np.float32(7.0), shape=[2, 2])
    assert list(repeated.float_val) == [7.0]
    assert from_tensor_proto(repeated).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    repeated.float_val[:] = [0.5, 1.5, 2.5, 3.5]
    assert from_tensor_proto(repeated).tolist() == [[0.5, 1.5], [2.5, 3.5]]


def test_json_values_follow_the_declared_dtype():
    assert from_json_value([[1, 2]], spec(tf.uint8)).dtype == np.uint8
    decoded = from_json_value([{"b64": "/wA="}, "text"], spec(tf.string))
    assert decoded.tolist() == [b"\xff\x00", b"text"]
    assert json.loads(json_dumps({"s": [b"\xff\x00"]})) == {"s": [{"b64": "/wA="}]}


def test_example_features_are_typed_as_tf_serving_types_json():
    example = to_example({"f": 2.0, "i": 2, "b": True, "s": "abc", "raw": b"\x00", "many": np.array([1.0, 2.0])})
    features = example.features.feature
    assert features["f"].float_list.value == [2.0]
    assert features["i"].int64_list.value == [2] and features["b"].int64_list.value == [1]
    assert features["s"].bytes_list.value == [b"abc"] and features["raw"].bytes_list.value == [b"\x00"]
    assert list(features["many"].float_list.value) == [1.0, 2.0]
    written = json.loads(json_dumps(example_to_json(example)))
    assert written["f"] == [2.0] and written["i"] == [2] and written["raw"] == [{"b64": "AA=="}]
    assert "2.0" in json_dumps(example_to_json(example)).decode()


def test_examples_with_mixed_or_nested_values_are_refused():
    with pytest.raises(ClientError, match="feature 'x'"):
        to_example({"x": [1.0, "a"]})
    with pytest.raises(ClientError, match="dict or a tf.train.Example"):
        to_example([1.0])
