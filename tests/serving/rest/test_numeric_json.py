"""The numeric fast path of REST Predict agrees with the general JSON decoder wherever it answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import types_pb2

from serving.core.signature import Signature, TensorInfo
from serving.errors import ServingError
from serving.rest import json_tensor, numeric_json
from serving.rest.predict_body import PredictBody

EXAMPLES = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
NUMERIC_DTYPES = [types_pb2.DT_UINT8, types_pb2.DT_INT8, types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_FLOAT,
                  types_pb2.DT_DOUBLE, types_pb2.DT_UINT64, types_pb2.DT_BOOL, types_pb2.DT_STRING]


def signature(**dtypes: int) -> Signature:
    inputs = {name: TensorInfo(name, dtype, None) for name, dtype in dtypes.items()}
    return Signature(name="serving_default", method_name="tensorflow/serving/predict", inputs=inputs, outputs={})


def general(body: bytes, sig: Signature):
    return json_tensor.predict_inputs_from_json(json_tensor.parse_json_body(body), sig)


def fast(body: bytes, sig: Signature):
    fields = numeric_json.top_level_fields(body)
    return None if fields is None else numeric_json.predict_inputs(fields, sig)


def assert_same(decoded, expected) -> None:
    arrays, row_format = decoded
    expected_arrays, expected_row_format = expected
    assert row_format == expected_row_format and arrays.keys() == expected_arrays.keys()
    for name, array in arrays.items():
        assert array.dtype == expected_arrays[name].dtype and array.shape == expected_arrays[name].shape
        np.testing.assert_array_equal(array, expected_arrays[name])


def test_a_batch_of_uint8_images_takes_the_fast_path_with_the_general_decoders_result():
    images = np.random.default_rng(0).integers(0, 256, size=(32, 28, 28, 1), dtype=np.uint8)
    sig = signature(image=types_pb2.DT_UINT8)
    for body in ({"inputs": {"image": images.tolist()}}, {"inputs": images.tolist()}, {"instances": images.tolist()},
                 {"signature_name": "serving_default", "instances": images.tolist()}):
        encoded = json.dumps(body).encode()
        decoded = fast(encoded, sig)
        assert decoded is not None
        assert_same(decoded, general(encoded, sig))
        np.testing.assert_array_equal(decoded[0]["image"], images)


@pytest.mark.parametrize("text, dtype", [
    ("[[1, 2], [3], [4, 5, 6]]", types_pb2.DT_INT32),  # ragged, with as many numbers as shape (3, 2) holds
    ("[[1, 2], 3]", types_pb2.DT_INT32),
    ("[[[]]]", types_pb2.DT_INT32),
    ("[]", types_pb2.DT_FLOAT),
    ("[1.5]", types_pb2.DT_INT32),
    ("[1e2]", types_pb2.DT_INT64),
    ("[256]", types_pb2.DT_UINT8),
    ("[-1]", types_pb2.DT_UINT8),
    ("[12345678901234567890]", types_pb2.DT_INT64),
    ("[1e999]", types_pb2.DT_DOUBLE),
    ("[16777217]", types_pb2.DT_FLOAT),
    ("[NaN]", types_pb2.DT_FLOAT),
    ('["1"]', types_pb2.DT_INT32),
    ("[true]", types_pb2.DT_INT32),
    ('[{"b64": "AA=="}]', types_pb2.DT_UINT8),
    ("[1]", types_pb2.DT_BOOL),
    ("[1]", types_pb2.DT_UINT64),
])
def test_what_the_fast_path_leaves_to_the_general_decoder(text, dtype):
    assert numeric_json.numeric_array(text.encode(), dtype) is None


def test_the_shape_comes_from_a_regular_skeleton_only():
    assert numeric_json.regular_shape(b"[[,,],[,,]]") == (2, 3)
    assert numeric_json.regular_shape(b"") == ()
    assert numeric_json.regular_shape(b"[[,],[,],[,]]") == (3, 2)
    assert numeric_json.regular_shape(b"[[,],[],[,,]]") is None
    assert numeric_json.regular_shape(b"[[[,]],[,]]") is None


def test_bodies_the_fast_path_cannot_read_still_get_tf_servings_answer():
    sig = signature(a=types_pb2.DT_FLOAT, b=types_pb2.DT_INT64)
    body = b'{"instances": [{"a": 1.0, "b": 2}, {"a": 3.0, "b": 4}]}'
    assert fast(body, sig) is None
    assert_same(PredictBody(body).inputs(sig), general(body, sig))
    with pytest.raises(ServingError, match="JSON Parse error"):
        PredictBody(b'{"inputs": [1, 2')
    with pytest.raises(ServingError, match="Missing named input: b"):
        PredictBody(b'{"inputs": {"a": [1.0]}}').inputs(sig)
    assert PredictBody(b'{"signature_name": "other", "inputs": {"a": [1.0], "b": [2]}}').signature_name() == "other"
    with pytest.raises(ServingError, match="'signature_name' key must be a string"):
        PredictBody(b'{"signature_name": 3, "inputs": [1.0]}').signature_name()


numbers = st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.floats(allow_nan=False, allow_infinity=False))
nested = st.recursive(numbers, lambda children: st.lists(children, max_size=4), max_leaves=30)
spacing = st.sampled_from([(", ", ": "), (",", ":"), (" ,\n ", " : ")])


@EXAMPLES
@given(st.sampled_from(NUMERIC_DTYPES), nested, st.sampled_from(["inputs", "named", "instances"]), spacing)
def test_wherever_the_fast_path_answers_it_answers_as_the_general_decoder(dtype, value, form, separators):
    sig = signature(x=dtype)
    document = {"inputs": {"x": value}} if form == "named" else {form: value}
    body = json.dumps(document, separators=separators).encode()
    decoded = fast(body, sig)
    if decoded is None:
        return
    assert_same(decoded, general(body, sig))


@EXAMPLES
@given(st.sampled_from([types_pb2.DT_UINT8, types_pb2.DT_INT32, types_pb2.DT_FLOAT]),
       st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4), st.integers(0, 2**32))
def test_regular_arrays_of_any_shape_take_the_fast_path(dtype, shape, seed):
    values = np.random.default_rng(seed).integers(0, 100, size=shape)
    body = json.dumps({"inputs": {"x": values.tolist()}}).encode()
    decoded = fast(body, signature(x=dtype))
    assert decoded is not None
    assert_same(decoded, general(body, signature(x=dtype)))
