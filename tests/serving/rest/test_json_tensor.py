"""The predict JSON codec against TensorFlow Serving's json_tensor.cc behaviour and error texts."""

from __future__ import annotations

import json
import time

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

from serving.core.signature import Signature, TensorInfo
from serving.errors import ServingError
from serving.rest import json_tensor
from serving.rest.json_tensor import (
    parse_json_body,
    predict_inputs_from_json,
    predict_response_json,
    requested_signature_name,
)


def signature(**dtypes: int) -> Signature:
    """A predict signature whose inputs are the given aliases and DataTypes."""
    inputs = {alias: TensorInfo(alias=alias, dtype=dtype, shape=None) for alias, dtype in dtypes.items()}
    return Signature(name="serving_default", method_name="tensorflow/serving/predict", inputs=inputs, outputs={})


def decode(body: str | bytes, served: Signature) -> tuple[dict[str, np.ndarray], bool]:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return predict_inputs_from_json(parse_json_body(raw), served)


def decode_error(body: str | bytes, served: Signature) -> ServingError:
    with pytest.raises(ServingError) as caught:
        decode(body, served)
    return caught.value


X_INT32 = signature(x=types_pb2.DT_INT32)
X_FLOAT = signature(x=types_pb2.DT_FLOAT)
A_INT64_B_STRING = signature(a=types_pb2.DT_INT64, b=types_pb2.DT_STRING)


# --- Parsing the body ---------------------------------------------------------------------------


def test_empty_body_is_a_parse_error():
    error = decode_error(b"", X_INT32)
    assert (error.code, error.message) == (grpc.StatusCode.INVALID_ARGUMENT, "JSON Parse error: The document is empty")


def test_malformed_json_names_the_offset():
    message = decode_error('{"inputs": ', X_INT32).message
    assert message.startswith("JSON Parse error: ") and message.endswith("at offset: 11")


def test_top_level_must_be_an_object():
    assert decode_error("[1]", X_INT32).message == "JSON Value: [\n    1\n] Is not object"


def test_nan_and_infinity_tokens_are_accepted():
    inputs, _ = decode('{"inputs": [NaN, Infinity, -Infinity]}', X_FLOAT)
    assert np.isnan(inputs["x"][0]) and inputs["x"][1:].tolist() == [np.inf, -np.inf]


def nested_inputs(levels: int) -> str:
    """A document whose ``inputs`` is ``levels`` nested lists, so it is ``levels + 1`` deep."""
    return '{"inputs": ' + "[" * levels + "1" + "]" * levels + "}"


def test_nesting_up_to_the_limit_is_accepted():
    inputs, _ = decode(nested_inputs(json_tensor.MAX_NESTING_DEPTH - 1), X_INT32)
    assert inputs["x"].ndim == json_tensor.MAX_NESTING_DEPTH - 1


@pytest.mark.parametrize("levels", [json_tensor.MAX_NESTING_DEPTH, 100_000])
def test_nesting_beyond_the_limit_is_rejected(levels):
    error = decode_error(nested_inputs(levels), X_INT32)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == f"JSON document is nested deeper than {json_tensor.MAX_NESTING_DEPTH} levels"


def test_brackets_and_escaped_quotes_inside_strings_are_not_structure():
    text = '\\"' + "[{" * 100
    inputs, _ = decode('{"inputs": "' + text + '"}', signature(x=types_pb2.DT_STRING))
    assert inputs["x"].item() == b'"' + b"[{" * 100


def test_documents_with_too_many_values_are_rejected(monkeypatch):
    monkeypatch.setattr(json_tensor, "MAX_JSON_VALUES", 5)
    assert decode("{\"inputs\": [1, 2, 3, 4, 5]}", X_INT32)[0]["x"].size == 5
    assert decode_error('{"inputs": [1, 2, 3, 4, 5, 6]}', X_INT32).message == "JSON document holds more than 5 values"


def test_raw_bytes_in_strings_reach_the_tensor_unchanged():
    inputs, _ = decode(b'{"inputs": ["\xff\xfe", "caf\xc3\xa9"]}', signature(x=types_pb2.DT_STRING))
    assert inputs["x"].tolist() == [b"\xff\xfe", "café".encode()]


def test_signature_name_is_optional():
    assert requested_signature_name({"instances": [1]}) == ""
    assert requested_signature_name({"signature_name": "predict_images"}) == "predict_images"


def test_signature_name_must_be_a_string():
    with pytest.raises(ServingError) as caught:
        requested_signature_name({"signature_name": 5})
    assert caught.value.message == (
        'JSON Value: {\n    "signature_name": 5\n} not formatted correctly. '
        "'signature_name' key must be a string value."
    )


# --- Row and columnar formats -------------------------------------------------------------------


def test_row_format_stacks_instances():
    inputs, row_format = decode('{"instances": [[1, 2], [3, 4], [5, 6]]}', X_INT32)
    assert row_format is True
    assert inputs["x"].dtype == np.int32 and inputs["x"].tolist() == [[1, 2], [3, 4], [5, 6]]


def test_columnar_format_takes_a_plain_value_or_a_named_object_for_one_input():
    plain, row_format = decode('{"inputs": [[1, 2]]}', X_INT32)
    named, _ = decode('{"inputs": {"x": [[1, 2]], "ignored": "extra keys are ignored"}}', X_INT32)
    assert row_format is False
    assert plain["x"].tolist() == named["x"].tolist() == [[1, 2]]


def test_columnar_scalar_is_a_zero_dimensional_tensor():
    inputs, _ = decode('{"inputs": 7}', X_INT32)
    assert inputs["x"].shape == () and inputs["x"].item() == 7


def test_base64_object_is_a_value_not_a_named_object():
    strings = signature(x=types_pb2.DT_STRING)
    columnar, _ = decode('{"inputs": {"b64": "aGVsbG8="}}', strings)
    rows, _ = decode('{"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ"}, "raw"]}', strings)
    assert columnar["x"].item() == b"hello"
    assert rows["x"].tolist() == [b"hello", b"world", b"raw"]


def test_row_format_with_several_inputs_takes_objects():
    inputs, _ = decode('{"instances": [{"a": [1], "b": "foo"}, {"a": [2], "b": "bar"}]}', A_INT64_B_STRING)
    assert inputs["a"].dtype == np.int64 and inputs["a"].tolist() == [[1], [2]]
    assert inputs["b"].dtype == object and inputs["b"].tolist() == [b"foo", b"bar"]


def test_columnar_format_with_several_inputs_takes_an_object():
    inputs, row_format = decode('{"inputs": {"a": [[1, 2]], "b": ["foo", "bar"], "c": 0}}', A_INT64_B_STRING)
    assert row_format is False
    assert inputs["a"].shape == (1, 2) and inputs["b"].tolist() == [b"foo", b"bar"]


@pytest.mark.parametrize(
    ("body", "served", "message"),
    [
        ('{"signature_name": "s"}', X_INT32, "Missing 'inputs' or 'instances' key"),
        ('{"inputs": {"a": 1}}', A_INT64_B_STRING, "Missing named input: b in 'inputs' object."),
        (
            '{"inputs": [1, 2]}',
            A_INT64_B_STRING,
            "inputs is a plain value/list, but expecting an object as multiple input tensors "
            "required as per tensorinfo_map",
        ),
        (
            '{"instances": [1, 2]}',
            A_INT64_B_STRING,
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map",
        ),
        (
            '{"instances": [{"a": 1, "b": "s"}, {"a": 2, "c": "t"}]}',
            A_INT64_B_STRING,
            "Failed to process element: 1 key: c of 'instances' list. "
            "Error: INVALID_ARGUMENT: JSON object: does not have named input: c",
        ),
        (
            '{"instances": [{"a": 1, "b": "s"}, {"a": 2}]}',
            A_INT64_B_STRING,
            "Failed to process element: 1 of 'instances' list. "
            'JSON object: {\n    "a": 2\n} keys must be equal to: a,b',
        ),
        (
            '{"instances": [{"a": 1, "b": "s"}, [1, 20]]}',
            A_INT64_B_STRING,
            "Expecting object but got list at item 1 of input list",
        ),
        ('{"instances": [[1], {"x": [2]}]}', X_INT32, "Expecting value/list but got object at item 1 of input list"),
        (
            '{"instances": [1], "inputs": [1]}',
            X_INT32,
            'JSON Value: {\n    "instances": [\n        1\n    ],\n    "inputs": [\n        1\n    ]\n} '
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ",
        ),
        ('{"instances": []}', X_INT32, 'JSON Value: {\n    "instances": []\n} No values in \'instances\' array'),
        ('{"instances": 5}', X_INT32, 'JSON Value: {\n    "instances": 5\n} Excepting \'instances\' to be an list/array'),
    ],
)
def test_request_layout_errors(body, served, message):
    error = decode_error(body, served)
    assert (error.code, error.message) == (grpc.StatusCode.INVALID_ARGUMENT, message)


# --- Nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"inputs": [[1, 2], [3]]}', "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
        ('{"inputs": [[1, 2], 3]}', "JSON Value: 3 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
        ('{"inputs": [[1, 2], [3, [4]]]}', "Encountered list at unexpected level: 2 expected < 2"),
        ('{"inputs": [[1.5, "a"], [3]]}', 'JSON Value: "a" Type: String is not of expected type: float'),
        (
            '{"instances": [[1, 2], [3]]}',
            "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 2 but got: 1",
        ),
        (
            '{"instances": [[1, 2], [[3, 4]]]}',
            "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting shape [2] but got: [1,2]",
        ),
        (
            '{"instances": [[1, 2], [3, "x"]]}',
            "Failed to process element: 1 of 'instances' list. "
            'Error: INVALID_ARGUMENT: JSON Value: "x" Type: String is not of expected type: float',
        ),
    ],
)
def test_ragged_or_mistyped_lists_give_the_first_error_in_tf_serving_order(body, message):
    assert decode_error(body, X_FLOAT).message == message


def test_named_instance_errors_name_the_key():
    error = decode_error('{"instances": [{"a": [1], "b": "s"}, {"a": [1, 2], "b": "t"}]}', A_INT64_B_STRING)
    assert error.message == (
        "Failed to process element: 1 key: a of 'instances' list. "
        "Error: INVALID_ARGUMENT: Expecting tensor size: 1 but got: 2"
    )


# --- Data types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "values", "expected_dtype"),
    [
        (types_pb2.DT_FLOAT, "[1, 2.5, 16777215]", np.float32),
        (types_pb2.DT_DOUBLE, "[1, 0.1, 9007199254740991]", np.float64),
        (types_pb2.DT_INT8, "[-128, 127]", np.int8),
        (types_pb2.DT_INT16, "[-32768, 32767]", np.int16),
        (types_pb2.DT_INT32, "[-2147483648, 2147483647]", np.int32),
        (types_pb2.DT_INT64, "[-9223372036854775808, 9223372036854775807]", np.int64),
        (types_pb2.DT_UINT8, "[0, 255]", np.uint8),
        (types_pb2.DT_UINT16, "[0, 65535]", np.uint16),
        (types_pb2.DT_UINT32, "[0, 4294967295]", np.uint32),
        (types_pb2.DT_UINT64, "[0, 18446744073709551615]", np.uint64),
        (types_pb2.DT_BOOL, "[true, false]", np.bool_),
    ],
)
def test_numbers_and_booleans_become_arrays_of_the_signature_dtype(dtype, values, expected_dtype):
    inputs, _ = decode('{"inputs": ' + values + "}", signature(x=dtype))
    assert inputs["x"].dtype == expected_dtype
    assert inputs["x"].tolist() == json.loads(values)


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        (types_pb2.DT_INT32, "1.0", "JSON Value: 1.0 Type: Number is not of expected type: int32"),
        (types_pb2.DT_INT32, "2147483648", "JSON Value: 2147483648 Type: Number is not of expected type: int32"),
        (types_pb2.DT_INT64, "true", "JSON Value: true Type: True is not of expected type: int64"),
        (
            types_pb2.DT_INT64,
            "9223372036854775808",
            "JSON Value: 9223372036854775808 Type: Number is not of expected type: int64",
        ),
        (types_pb2.DT_UINT8, "300", "JSON Value: 300 Type: Number is not of expected type: uint8"),
        (types_pb2.DT_UINT8, "-1", "JSON Value: -1 Type: Number is not of expected type: uint8"),
        (types_pb2.DT_FLOAT, "false", "JSON Value: false Type: False is not of expected type: float"),
        (types_pb2.DT_FLOAT, '"1"', 'JSON Value: "1" Type: String is not of expected type: float'),
        (types_pb2.DT_FLOAT, "null", "JSON Value: null Type: Null is not of expected type: float"),
        (
            types_pb2.DT_FLOAT,
            '{"b64": "aGk="}',
            'JSON Value: {\n    "b64": "aGk="\n} Type: Object is not of expected type: float',
        ),
        (
            types_pb2.DT_FLOAT,
            '{"a": {"b": 1}}',
            'JSON Value: {\n    "a": {\n        "b": 1\n    }\n} Type: Object is not of expected type: float',
        ),
        (types_pb2.DT_FLOAT, "16777217", "Cannot convert JSON value: 16777217 to float without loss of precision."),
        (types_pb2.DT_FLOAT, "1e39", "Cannot convert JSON value: 1e+39 to float without loss of precision."),
        (
            types_pb2.DT_DOUBLE,
            "9007199254740993",
            "Cannot convert JSON value: 9007199254740993 to double without loss of precision.",
        ),
        (types_pb2.DT_BOOL, "1", "JSON Value: 1 Type: Number is not of expected type: bool"),
        (types_pb2.DT_STRING, "1", "JSON Value: 1 Type: Number is not of expected type: string"),
        (
            types_pb2.DT_STRING,
            '{"b64": "aGk=", "x": 1}',
            'JSON Value: {\n    "b64": "aGk=",\n    "x": 1\n} not formatted correctly for base64 data',
        ),
        (types_pb2.DT_STRING, '{"b64": "a!k="}', 'Unable to base64 decode JSON Value: "a!k="'),
    ],
)
def test_values_the_dtype_cannot_hold_are_rejected(dtype, value, message):
    error = decode_error('{"inputs": [' + value + "]}", signature(x=dtype))
    assert (error.code, error.message) == (grpc.StatusCode.INVALID_ARGUMENT, message)


@pytest.mark.parametrize(
    ("dtype", "name"),
    [(types_pb2.DT_HALF, "half"), (types_pb2.DT_BFLOAT16, "bfloat16"), (types_pb2.DT_COMPLEX64, "complex64")],
)
def test_dtypes_json_cannot_carry_are_unimplemented(dtype, name):
    columnar = decode_error('{"inputs": [[0.5]]}', signature(x=dtype))
    row = decode_error('{"instances": [0.5]}', signature(x=dtype))
    assert (columnar.code, columnar.message) == (
        grpc.StatusCode.UNIMPLEMENTED,
        f"Conversion of JSON Value: 0.5 to type: {name}",
    )
    assert (row.code, row.message) == (
        grpc.StatusCode.UNIMPLEMENTED,
        "Failed to process element: 0 of 'instances' list. "
        f"Error: UNIMPLEMENTED: Conversion of JSON Value: 0.5 to type: {name}",
    )


def test_image_batch_decodes_in_bulk():
    """A 32×28×28×1 uint8 batch must not be walked value by value in Python: measured side by side with
    that per-value path (the one kept for TF Serving's error messages), it must take a fraction of it."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(32, 28, 28, 1))
    doc = parse_json_body(json.dumps({"instances": pixels.tolist()}).encode())
    served = signature(images=types_pb2.DT_UINT8)
    inputs, _ = predict_inputs_from_json(doc, served)
    assert inputs["images"].dtype == np.uint8 and np.array_equal(inputs["images"], pixels)
    bulk, per_value = fastest_of_each(
        lambda: predict_inputs_from_json(doc, served),
        lambda: json_tensor._walk(doc["instances"], 0, pixels.shape, types_pb2.DT_UINT8, []),
    )
    assert bulk < 0.3 * per_value, f"bulk decode {bulk * 1e3:.1f} ms vs per-value walk {per_value * 1e3:.1f} ms"


def fastest_of_each(*calls, repeats: int = 9) -> list[float]:
    """The shortest of `repeats` timings of each call, in seconds, the calls taking turns so that a busy
    machine slows them alike."""
    timings: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for call, times in zip(calls, timings):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
    return [min(times) for times in timings]


# --- Responses ----------------------------------------------------------------------------------


def test_one_output_in_row_format_is_a_list_per_instance():
    outputs = {"y": np.array([3.5, 4.0, 5.5], dtype=np.float32)}
    assert predict_response_json(outputs, row_format=True) == b'{"predictions": [3.5, 4.0, 5.5]}'


def test_one_output_in_columnar_format_is_a_bare_value():
    vector = {"y": np.array([3.5, 4.0], dtype=np.float32)}
    assert predict_response_json(vector, row_format=False) == b'{"outputs": [3.5, 4.0]}'
    assert predict_response_json({"y": np.array(7, dtype=np.int32)}, row_format=False) == b'{"outputs": 7}'


def test_several_outputs_in_row_format_are_objects_per_instance():
    outputs = {"labels": np.array([[1, 2], [3, 4]], dtype=np.int64), "flags": np.array([True, False])}
    assert predict_response_json(outputs, row_format=True) == (
        b'{"predictions": [{"flags": true, "labels": [1, 2]}, {"flags": false, "labels": [3, 4]}]}'
    )


def test_several_outputs_in_columnar_format_are_an_object():
    outputs = {"labels": np.array([[1, 2], [3, 4]], dtype=np.int64), "flags": np.array([True, False])}
    assert predict_response_json(outputs, row_format=False) == (
        b'{"outputs": {"flags": [true, false], "labels": [[1, 2], [3, 4]]}}'
    )


def test_nested_and_empty_dimensions_keep_their_shape():
    cube = np.arange(8, dtype=np.int32).reshape(2, 2, 2)
    assert predict_response_json({"y": cube}, row_format=True) == b'{"predictions": [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]}'
    assert predict_response_json({"y": np.zeros((2, 0))}, row_format=True) == b'{"predictions": [[], []]}'


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (0.1, "0.1"),
        (1 / 3, "0.333333343"),
        (3.0, "3.0"),
        (999999.0, "999999.0"),
        (555557.5, "555557.5"),
        (9e6, "9e+06"),
        (3e-5, "3e-05"),
        (-0.0, "-0.0"),
        (np.nan, "NaN"),
        (np.inf, "Infinity"),
        (-np.inf, "-Infinity"),
    ],
)
def test_float32_is_written_as_tf_serving_writes_it(value, token):
    written = predict_response_json({"y": np.array([value], dtype=np.float32)}, row_format=False)
    assert written == b'{"outputs": [' + token.encode() + b"]}"


@pytest.mark.parametrize(("value", "token"), [(0.1, "0.1"), (1 / 3, "0.33333333333333331"), (1e300, "1e+300")])
def test_float64_keeps_its_precision(value, token):
    written = predict_response_json({"y": np.array([value], dtype=np.float64)}, row_format=False)
    assert written == b'{"outputs": [' + token.encode() + b"]}"


def test_strings_are_text_except_bytes_outputs_and_non_utf8():
    outputs = {
        "text": np.array(["café".encode(), b"\xff"], dtype=object),
        "image_bytes": np.array([b"hello", b"world"], dtype=object),
    }
    assert json.loads(predict_response_json(outputs, row_format=False)) == {
        "outputs": {
            "image_bytes": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
            "text": ["café", {"b64": "/w=="}],
        }
    }


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "Cannot convert empty tensor map to JSON"),
        ({"y": np.array(1.0, dtype=np.float32)}, "Tensor name: y has no shape information "),
        (
            {"a": np.zeros((2, 1)), "b": np.zeros((3,))},
            "Tensor name: b has inconsistent batch size: 3 expecting: 2",
        ),
        ({"y": np.zeros((2,), dtype=np.complex64)}, "Failed to write JSON value for tensor type: complex64"),
    ],
)
def test_outputs_row_format_cannot_write_are_rejected(outputs, message):
    with pytest.raises(ServingError) as caught:
        predict_response_json(outputs, row_format=True)
    assert (caught.value.code, caught.value.message) == (grpc.StatusCode.INVALID_ARGUMENT, message)
