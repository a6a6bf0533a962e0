"""The REST API's JSON outside of tensors, as TF Serving's ``json_tensor.cc`` and ``http_rest_api_util.cc`` write it.

- JSON values as TF Serving quotes them in error messages, base64 objects and decimals (shared with
  ``json_tensor``);
- classify/regress requests → ``tensorflow_serving.apis.input_pb2.Input`` of ``tf.train.Example``s,
  and their results → ``{"results": ...}``;
- model status and metadata responses → TF Serving's proto JSON; error bodies.
"""

from __future__ import annotations

import base64
import json
import math
from itertools import islice
from typing import Any

import grpc
import numpy as np
from google.protobuf import descriptor, json_format, message
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    regression_pb2,
)

from serving.errors import ServingError, invalid_argument

BASE64_KEY = "b64"
SIGNATURE_DEF_KEY = "signature_def"
INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
FLOAT32 = np.dtype(np.float32)
FLOAT32_MAX = float(np.finfo(np.float32).max)

_JSON_TYPE_NAMES = {dict: "Object", list: "Array", str: "String", int: "Number", float: "Number"}
_BOOL_TOKENS = ("false", "true")
_NON_FINITE_TOKENS = {math.inf: "Infinity", -math.inf: "-Infinity"}


# --- JSON values --------------------------------------------------------------------------------


def value_text(value: Any) -> str:
    """A JSON value as TF Serving quotes it in errors: pretty-printed, floats as ``WriteDecimal`` writes them."""
    if isinstance(value, float):
        dtype = np.float32 if abs(value) <= FLOAT32_MAX else np.float64
        return decimal_tokens(np.array([value], dtype=dtype))[0]
    text = json.dumps(value, indent=4, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_type_name(value: Any) -> str:
    """rapidjson's name for the type of a JSON value (``Null``, ``True``, ``Number``...)."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    return _JSON_TYPE_NAMES[type(value)]


def dtype_name(dtype: int) -> str:
    """TensorFlow's DataTypeString: ``DT_FLOAT`` → ``float``, ``DT_HALF`` → ``half``."""
    return types_pb2.DataType.Name(dtype).removeprefix("DT_").lower()


def format_error(value: Any, problem: str) -> ServingError:
    return invalid_argument(f"JSON Value: {value_text(value)} {problem}")


def type_error(value: Any, dtype: int) -> ServingError:
    return invalid_argument(
        f"JSON Value: {value_text(value)} Type: {json_type_name(value)} is not of expected type: {dtype_name(dtype)}"
    )


def lossy_decimal_error(value: int | float, target: str) -> ServingError:
    return invalid_argument(f"Cannot convert JSON value: {value_text(value)} to {target} without loss of precision.")


def is_json_double(value: int | float) -> bool:
    """Whether rapidjson holds this number as a double: it has a fraction or exponent, or overflows 64 bits."""
    return isinstance(value, float) or not INT64_MIN <= value <= UINT64_MAX


def is_lossless_decimal(value: int | float, dtype: np.dtype) -> bool:
    """rapidjson-side IsLosslessDecimal: integers must fit the mantissa, doubles the exponent range."""
    info = np.finfo(dtype)
    if not is_json_double(value):
        return abs(value) < 2 ** (info.nmant + 1)
    return not float(info.max) < abs(value) < math.inf


def is_base64_object(value: Any) -> bool:
    """``{"b64": "<string>"}`` and nothing else."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(BASE64_KEY), str)


def decode_base64_object(value: Any) -> bytes:
    if not is_base64_object(value):
        raise format_error(value, "not formatted correctly for base64 data")
    text = value[BASE64_KEY]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise invalid_argument(f"Unable to base64 decode JSON Value: {value_text(text)}") from None


def json_string_bytes(text: str) -> bytes:
    """The bytes a JSON string stands for, raw non-UTF-8 bytes of the body (kept by surrogateescape) included."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise format_error(text, "holds an unpaired UTF-16 surrogate") from None


def decimal_tokens(values: np.ndarray) -> list[str]:
    """float32/float64 values as TF Serving's WriteDecimal writes them.

    Six significant digits (``%.6g``, absl's StrCat) when that reads back as the same value, else
    max_digits10 (9 for float32, 17 for float64); ``.0`` added to whole numbers not in exponent form;
    non-finite values as the bare tokens ``NaN``, ``Infinity`` and ``-Infinity``.
    """
    flat = values.ravel()
    numbers = flat.tolist()
    tokens = list(map("%.6g".__mod__, numbers))
    finite = np.isfinite(flat)
    full_precision = "%.9g" if flat.dtype == np.float32 else "%.17g"
    for index in np.flatnonzero(finite & (np.array(tokens, dtype=flat.dtype) != flat)).tolist():
        tokens[index] = full_precision % numbers[index]
    tokens = [token if "." in token or "e" in token else token + ".0" for token in tokens]
    for index in np.flatnonzero(~finite).tolist():
        tokens[index] = _NON_FINITE_TOKENS.get(numbers[index], "NaN")
    return tokens


def array_tokens(array: np.ndarray, as_base64: bool) -> list[str]:
    """Every element of ``array`` as a JSON token, in C order; strings as ``{"b64": ...}`` when ``as_base64``."""
    kind = array.dtype.kind
    values = array.ravel().tolist()
    if kind == "b":
        return list(map(_BOOL_TOKENS.__getitem__, values))
    if kind in "iu":
        return list(map(str, values))
    if kind == "f" and array.dtype.itemsize in (4, 8):
        return decimal_tokens(array)
    if kind in "OS":
        return [_base64_token(value) if as_base64 else _text_token(value) for value in values]
    raise invalid_argument(f"Failed to write JSON value for tensor type: {array.dtype}")


def _text_token(value: bytes) -> str:
    """A string output as JSON text; bytes that are not UTF-8 cannot be, so they go out as base64."""
    try:
        return json.dumps(value.decode("utf-8"), ensure_ascii=False)
    except UnicodeDecodeError:
        return _base64_token(value)


def _base64_token(value: bytes) -> str:
    return '{"b64": "' + base64.b64encode(value).decode("ascii") + '"}'


def error_json(message: str) -> bytes:
    """``{"error": message}``, pretty-printed as TF Serving's MakeJsonFromStatus writes it."""
    return json.dumps({"error": message}, indent=4, ensure_ascii=False).encode("utf-8", "backslashreplace")


# --- Classify and regress ---------------------------------------------------------------------


def input_from_json(doc: dict, method: str) -> input_pb2.Input:
    """``examples`` (and the optional ``context``) as an ExampleList, or ExampleListWithContext."""
    request_input = input_pb2.Input()
    has_context = "context" in doc
    if has_context:
        _fill_example(request_input.example_list_with_context.context, doc["context"])
    examples = _examples_value(doc, method)
    target = request_input.example_list_with_context if has_context else request_input.example_list
    for value in examples:
        _fill_example(target.examples.add(), value)
    return request_input


def _examples_value(doc: dict, method: str) -> list:
    if "examples" not in doc:
        raise format_error(doc, f"When method is {method}, key 'examples' is expected and was not found")
    examples = doc["examples"]
    if not isinstance(examples, list):
        raise format_error(doc, "Expecting 'examples' value to be an list/array")
    if not examples:
        raise format_error(doc, "'examples' value is an empty array")
    return examples


def _fill_example(example: example_pb2.Example, value: Any) -> None:
    if not isinstance(value, dict):
        raise invalid_argument(f"Example must be JSON object but got JSON {json_type_name(value)}")
    for name, content in value.items():
        _fill_feature(example.features.feature[name], name, content)


def _fill_feature(feature: feature_pb2.Feature, name: str, content: Any) -> None:
    """A value or list of values as one feature, whose kind the first value sets (AddValueToFeature)."""
    kind = None
    values = []
    for value in content if isinstance(content, list) else [content]:
        value_kind = _feature_kind(name, value)
        if kind not in (None, value_kind):
            raise invalid_argument(f"Unexpected element type in feature: {name} expecting type: {kind}")
        kind = value_kind
        values.append(_feature_item(name, value, kind))
    if kind is not None:
        getattr(feature, f"{kind}_list").value.extend(values)


def _feature_kind(name: str, value: Any) -> str:
    """``bytes``, ``float`` or ``int64``: strings and base64 objects, doubles, integers and booleans."""
    if isinstance(value, str) or is_base64_object(value):
        return "bytes"
    if isinstance(value, (int, float)):
        return "float" if not isinstance(value, bool) and is_json_double(value) else "int64"
    raise invalid_argument(f"Feature: {name} has element with unexpected JSON type: {json_type_name(value)}")


def _feature_item(name: str, value: Any, kind: str) -> bytes | float | int:
    if kind == "bytes":
        return json_string_bytes(value) if isinstance(value, str) else decode_base64_object(value)
    if kind == "float":
        if not is_lossless_decimal(value, FLOAT32):
            raise lossy_decimal_error(value, "float")
        return float(value)
    if value > INT64_MAX:
        raise invalid_argument(f"Feature: {name} has uint64 element. Only int64 is supported.")
    return int(value)


def classify_response_json(result: classification_pb2.ClassificationResult) -> bytes:
    """``{"results": [[["label", score], ...], ...]}``, one list of classes per example."""
    if not result.classifications:
        raise invalid_argument("Cannot convert empty ClassificationResults to JSON")
    classes = [item for classifications in result.classifications for item in classifications.classes]
    scores = decimal_tokens(np.array([item.score for item in classes], dtype=np.float32))
    pairs = iter(f"[{json.dumps(item.label, ensure_ascii=False)}, {score}]" for item, score in zip(classes, scores))
    rows = ["[" + ", ".join(islice(pairs, len(c.classes))) + "]" for c in result.classifications]
    return ('{"results": [' + ", ".join(rows) + "]}").encode("utf-8")


def regress_response_json(result: regression_pb2.RegressionResult) -> bytes:
    """``{"results": [value, ...]}``, one value per example."""
    if not result.regressions:
        raise invalid_argument("Cannot convert empty RegressionResults to JSON")
    values = decimal_tokens(np.array([item.value for item in result.regressions], dtype=np.float32))
    return ('{"results": [' + ", ".join(values) + "]}").encode("utf-8")


# --- Status and metadata ----------------------------------------------------------------------


def status_json(response: get_model_status_pb2.GetModelStatusResponse) -> bytes:
    """The status response as proto3 JSON with its json_names, int64 as strings, enums by name, defaults printed."""
    return _dump(_proto_dict(response, use_proto_names=False))


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> bytes:
    """``{"model_spec": ..., "metadata": {"signature_def": <SignatureDefMap>}}`` with proto field names.

    TF Serving unpacks the ``Any`` and prints the SignatureDefMap itself, hence the doubled
    ``signature_def`` key.
    """
    if SIGNATURE_DEF_KEY not in response.metadata:
        raise ServingError(
            grpc.StatusCode.INTERNAL,
            "Failed to find 'signature_def' key in the GetModelMetadataResponse metadata map.",
        )
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata[SIGNATURE_DEF_KEY].Unpack(signature_defs):
        raise ServingError(grpc.StatusCode.INTERNAL, "Failed to unpack 'Any' object to 'SignatureDefMap'.")
    return _dump(
        {
            "model_spec": _proto_dict(response.model_spec, use_proto_names=True),
            "metadata": {SIGNATURE_DEF_KEY: _proto_dict(signature_defs, use_proto_names=True)},
        }
    )


def _dump(document: dict) -> bytes:
    """Indented by one space, as protobuf's C++ printer with ``add_whitespace`` writes it."""
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _proto_dict(proto: message.Message, use_proto_names: bool) -> dict:
    fields = json_format.MessageToDict(
        proto, always_print_fields_with_no_presence=True, preserving_proto_field_name=use_proto_names
    )
    return _cpp_field_order(fields, proto.DESCRIPTOR, use_proto_names)


def _cpp_field_order(fields: dict, message_type: descriptor.Descriptor, use_proto_names: bool) -> dict:
    """``fields`` in the order of protobuf's C++ printer: plain fields by number, then oneof members.

    MessageToDict keeps field-number order; TF Serving's golden files (from the C++ printer) put
    oneof members such as TensorInfo.name and ModelSpec.version after the other fields.
    """
    ordered = sorted(message_type.fields, key=lambda field: (field.containing_oneof is not None, field.number))
    result = {}
    for field in ordered:
        key = field.name if use_proto_names else field.json_name
        if key in fields:
            result[key] = _ordered_value(fields[key], field, use_proto_names)
    result.update((key, value) for key, value in fields.items() if key not in result)
    return result


def _ordered_value(value: Any, field: descriptor.FieldDescriptor, use_proto_names: bool) -> Any:
    """A field's JSON value with any messages inside it put in C++ order; well-known types pass through."""
    message_type = field.message_type
    if message_type is None:
        return value
    if message_type.GetOptions().map_entry:
        value_field = message_type.fields_by_name["value"]
        return {key: _ordered_value(item, value_field, use_proto_names) for key, item in value.items()}
    if isinstance(value, list):
        return [_ordered_message(item, message_type, use_proto_names) for item in value]
    return _ordered_message(value, message_type, use_proto_names)


def _ordered_message(value: Any, message_type: descriptor.Descriptor, use_proto_names: bool) -> Any:
    return _cpp_field_order(value, message_type, use_proto_names) if isinstance(value, dict) else value
