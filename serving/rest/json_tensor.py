"""JSON ⇄ numpy for the REST predict API, reproducing TensorFlow Serving's ``util/json_tensor.cc``.

Requests are decoded with orjson (Python's ``json`` for what orjson refuses: NaN and Infinity literals, raw
non-UTF-8 bytes, integers beyond 64 bits, and malformed documents, whose errors it words) and become numpy
arrays in a few bulk calls. Only when the
bulk path meets something unusual (a ragged list, a wrong type, a base64 object) does a per-value
walk run, in TF Serving's order, so the first error reported is the one TF Serving reports, in its
words. Numbers in responses are written the way TF Serving's ``WriteDecimal`` writes them.
"""

from __future__ import annotations

import json
import math
import re
from itertools import chain
from typing import Any

import grpc
import numpy as np
import orjson
from tensorflow.core.framework import types_pb2

from serving.core.signature import Signature
from serving.core.tensors import NUMPY_BY_DTYPE
from serving.errors import ServingError, invalid_argument
from serving.rest.json_messages import (
    array_tokens,
    decode_base64_object,
    dtype_name,
    format_error,
    is_base64_object,
    is_lossless_decimal,
    json_string_bytes,
    lossy_decimal_error,
    type_error,
    value_text,
)

MAX_NESTING_DEPTH = 64
MAX_JSON_VALUES = 100_000_000
BYTES_SUFFIX = "_bytes"

NUMPY_DTYPES: dict[int, np.dtype] = {
    dtype: numpy_dtype for dtype, numpy_dtype in NUMPY_BY_DTYPE.items() if dtype != types_pb2.DT_HALF
}
"""The dtypes the JSON API converts; half floats are refused, as TF Serving's REST API refuses them."""

_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[list(b"[{")] = 1
_DEPTH_STEP[list(b"]}")] = -1
_DEPTH_CHUNK = 1 << 20


# --- Request document -------------------------------------------------------------------------


def parse_json_body(body: bytes) -> dict:
    """The request's top-level JSON object; malformed, too deep or too large documents are INVALID_ARGUMENT.

    Raw non-UTF-8 bytes inside strings survive (as TF Serving's rapidjson keeps them) and come back
    out of ``json_string_bytes`` unchanged.
    """
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    _check_document_bounds(body)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = _parse_with_python_json(body)
    if not isinstance(doc, dict):
        raise format_error(doc, "Is not object")
    return doc


def _parse_with_python_json(body: bytes) -> Any:
    """What orjson refuses, parsed as TF Serving's rapidjson would, or its error in TF Serving's words."""
    try:
        return json.loads(body.decode("utf-8", "surrogateescape"))
    except json.JSONDecodeError as error:
        raise invalid_argument(f"JSON Parse error: {error.msg} at offset: {error.pos}") from None
    except ValueError as error:  # an integer literal beyond Python's digit limit
        raise invalid_argument(f"JSON Parse error: {error}") from None


def _check_document_bounds(body: bytes) -> None:
    """Rejects documents nested deeper than MAX_NESTING_DEPTH or holding more than MAX_JSON_VALUES values.

    Runs before ``json.loads`` so that neither its recursion nor its allocations are the sender's to
    choose. String literals are cut out first (their brackets and commas are text); UTF-8 multi-byte
    sequences hold no ASCII bytes, so scanning bytes is exact. Values are counted by their commas.
    """
    skeleton = _JSON_STRING.sub(b"", body)
    if skeleton.count(b",") >= MAX_JSON_VALUES:
        raise invalid_argument(f"JSON document holds more than {MAX_JSON_VALUES} values")
    if _max_depth(skeleton.translate(None, _NOT_BRACKETS)) > MAX_NESTING_DEPTH:
        raise invalid_argument(f"JSON document is nested deeper than {MAX_NESTING_DEPTH} levels")


def _max_depth(brackets: bytes) -> int:
    """The deepest nesting reached by a sequence of brackets, summed in bounded chunks."""
    steps = _DEPTH_STEP[np.frombuffer(brackets, dtype=np.uint8)]
    depth = deepest = 0
    for start in range(0, len(steps), _DEPTH_CHUNK):
        levels = depth + np.cumsum(steps[start : start + _DEPTH_CHUNK], dtype=np.int64)
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest


def requested_signature_name(doc: dict) -> str:
    """The optional ``signature_name``; ``""`` when absent."""
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise format_error(doc, "not formatted correctly. 'signature_name' key must be a string value.")
    return name


# --- JSON value → array ------------------------------------------------------------------------


def json_to_array(value: Any, dtype: int) -> np.ndarray:
    """A JSON scalar or nested list as an array of the DataType ``dtype``; the nesting gives the shape."""
    np_dtype = NUMPY_DTYPES.get(dtype)
    if np_dtype is None:
        raise ServingError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"Conversion of JSON Value: {value_text(_first_leaf(value))} to type: {dtype_name(dtype)}",
        )
    shape = _dense_shape(value)
    leaves = _regular_leaves(value, shape)
    array = None if leaves is None else _bulk_array(leaves, dtype, np_dtype)
    if array is None:
        leaves = []
        _walk(value, 0, shape, dtype, leaves)
        array = np.array(leaves, dtype=np_dtype)
    return array.reshape(shape)


def _first_leaf(value: Any) -> Any:
    while isinstance(value, list) and value:
        value = value[0]
    return value


def _dense_shape(value: Any) -> tuple[int, ...]:
    """The shape read down the first elements, as TF Serving's GetDenseTensorShape reads it."""
    dims = []
    while isinstance(value, list):
        dims.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(dims)


def _regular_leaves(value: Any, shape: tuple[int, ...]) -> list | None:
    """The leaves in order when every level is a list of exactly ``shape``'s size, else None."""
    level = [value]
    for size in shape:
        if set(map(type, level)) != {list} or set(map(len, level)) != {size}:
            return None
        level = list(chain.from_iterable(level))
    return level


def _bulk_array(leaves: list, dtype: int, np_dtype: np.dtype) -> np.ndarray | None:
    """Leaves of the expected Python types as a flat array; None sends them through the per-value checks."""
    types = set(map(type, leaves))
    if dtype == types_pb2.DT_STRING:
        return _bulk_strings(leaves) if types <= {str} else None
    if dtype == types_pb2.DT_BOOL:
        return np.array(leaves, dtype=np_dtype) if types <= {bool} else None
    if np_dtype.kind == "f":
        return _bulk_decimals(leaves, int in types, np_dtype) if types <= {int, float} else None
    return _bulk_integers(leaves, np_dtype) if types <= {int} else None


def _bulk_strings(leaves: list[str]) -> np.ndarray | None:
    try:
        return np.array([text.encode("utf-8", "surrogateescape") for text in leaves], dtype=object)
    except UnicodeEncodeError:
        return None


def _bulk_decimals(leaves: list, has_integers: bool, np_dtype: np.dtype) -> np.ndarray | None:
    try:
        values = np.array(leaves, dtype=np.float64)
    except OverflowError:
        return None
    return values.astype(np_dtype) if decimals_fit(values, has_integers, np_dtype) else None


def decimals_fit(values: np.ndarray, has_integers: bool, np_dtype: np.dtype) -> bool:
    """Whether float64 ``values`` fit ``np_dtype`` without an error: integers only up to where it is exact."""
    info = np.finfo(np_dtype)
    limit = min(float(info.max), 2.0 ** (info.nmant + 1) - 1) if has_integers else float(info.max)
    magnitudes = np.abs(values[np.isfinite(values)])
    return not (magnitudes.size and magnitudes.max() > limit)


def _bulk_integers(leaves: list[int], np_dtype: np.dtype) -> np.ndarray | None:
    try:
        values = np.array(leaves, dtype=np.uint64 if np_dtype == np.uint64 else np.int64)
    except OverflowError:
        return None
    return values.astype(np_dtype) if integers_fit(values, np_dtype) else None


def integers_fit(values: np.ndarray, np_dtype: np.dtype) -> bool:
    """Whether every integer in ``values`` lies in the range of the integer dtype ``np_dtype``."""
    info = np.iinfo(np_dtype)
    return not (values.size and (values.min() < info.min or values.max() > info.max))


def _walk(value: Any, level: int, shape: tuple[int, ...], dtype: int, leaves: list) -> None:
    """Converts leaves one by one in TF Serving's order (FillTensorProto), raising its first error."""
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise format_error(value, f"found at incorrect level: {level + 1} in the JSON DOM. Expected at level: {rank}")
        leaves.append(_leaf_value(value, dtype))
        return
    if level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} expected size: {shape[level]}"
        )
    for item in value:
        _walk(item, level + 1, shape, dtype, leaves)


def _leaf_value(value: Any, dtype: int) -> Any:
    """One JSON scalar as a Python value of ``dtype`` (AddValueToTensor), ints also checked against its range."""
    if dtype == types_pb2.DT_STRING:
        if isinstance(value, str):
            return json_string_bytes(value)
        if isinstance(value, dict):
            return decode_base64_object(value)
    elif dtype == types_pb2.DT_BOOL:
        if isinstance(value, bool):
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        np_dtype = NUMPY_DTYPES[dtype]
        if np_dtype.kind == "f":
            if not is_lossless_decimal(value, np_dtype):
                raise lossy_decimal_error(value, dtype_name(dtype))
            return value
        info = np.iinfo(np_dtype)
        if isinstance(value, int) and info.min <= value <= info.max:
            return value
    raise type_error(value, dtype)


# --- Predict request ---------------------------------------------------------------------------


def predict_inputs_from_json(doc: dict, signature: Signature) -> tuple[dict[str, np.ndarray], bool]:
    """The signature's inputs from ``instances`` (row format, True) or ``inputs`` (columnar, False)."""
    if not signature.inputs:
        raise invalid_argument(f"Failed to get input map for signature: {signature.name or 'DEFAULT'}")
    if "instances" in doc:
        if "inputs" in doc:
            raise format_error(doc, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ")
        return _row_inputs(doc, signature), True
    if "inputs" in doc:
        return _columnar_inputs(doc["inputs"], signature), False
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def _is_named_object(value: Any) -> bool:
    """An object of named inputs, as opposed to a ``{"b64": ...}`` value."""
    return isinstance(value, dict) and not is_base64_object(value)


def _columnar_inputs(inputs: Any, signature: Signature) -> dict[str, np.ndarray]:
    names = sorted(signature.inputs)
    if not _is_named_object(inputs):
        if len(names) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input tensors "
                "required as per tensorinfo_map"
            )
        return {names[0]: json_to_array(inputs, signature.inputs[names[0]].dtype)}
    arrays = {}
    for name in names:
        if name not in inputs:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = json_to_array(inputs[name], signature.inputs[name].dtype)
    return arrays


def _row_inputs(doc: dict, signature: Signature) -> dict[str, np.ndarray]:
    """Row format: each input stacked over the instances, converted as one batch when it is well formed."""
    instances = doc["instances"]
    if not isinstance(instances, list):
        raise format_error(doc, "Excepting 'instances' to be an list/array")
    if not instances:
        raise format_error(doc, "No values in 'instances' array")
    columns = _instance_columns(instances, signature)
    if columns is not None:
        try:
            return {name: json_to_array(column, signature.inputs[name].dtype) for name, column in columns.items()}
        except ServingError:
            pass  # the instance-by-instance pass below words the error as TF Serving does
    return _stacked_instances(instances, signature)


def _instance_columns(instances: list, signature: Signature) -> dict[str, list] | None:
    """Each input's values across the instances, or None when the instances are not uniformly shaped objects."""
    names = sorted(signature.inputs)
    if not _is_named_object(instances[0]):
        return {names[0]: instances} if len(names) == 1 else None
    if all(isinstance(instance, dict) and instance.keys() == set(names) for instance in instances):
        return {name: [instance[name] for instance in instances] for name in names}
    return None


def _stacked_instances(instances: list, signature: Signature) -> dict[str, np.ndarray]:
    """Row-format inputs built one instance at a time, as TF Serving's FillTensorMapFromInstancesList does."""
    names = sorted(signature.inputs)
    keyed = _is_named_object(instances[0])
    if not keyed and len(names) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map"
        )
    rows: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for index, instance in enumerate(instances):
        if _is_named_object(instance) != keyed:
            expected, got = ("object", "list") if keyed else ("value/list", "object")
            raise invalid_argument(f"Expecting {expected} but got {got} at item {index} of input list")
        for name, value in instance.items() if keyed else [(names[0], instance)]:
            where = f"{index} key: {name}" if keyed else str(index)
            try:
                array = _instance_array(value, name, signature, rows.get(name))
            except ServingError as error:
                raise ServingError(
                    error.code,
                    f"Failed to process element: {where} of 'instances' list. Error: {error.code_name}: {error.message}",
                ) from None
            rows[name].append(array)
        if keyed and instance.keys() != set(names):
            raise invalid_argument(
                f"Failed to process element: {index} of 'instances' list. JSON object: {value_text(instance)} "
                f"keys must be equal to: {','.join(names)}"
            )
    return {name: np.stack(arrays) for name, arrays in rows.items()}


def _instance_array(value: Any, name: str, signature: Signature, earlier: list[np.ndarray] | None) -> np.ndarray:
    """One instance's value of input ``name``, held to the size and shape of the first instance."""
    if name not in signature.inputs:
        raise invalid_argument(f"JSON object: does not have named input: {name}")
    array = json_to_array(value, signature.inputs[name].dtype)
    if earlier:
        if earlier[0].size != array.size:
            raise invalid_argument(f"Expecting tensor size: {earlier[0].size} but got: {array.size}")
        if earlier[0].shape != array.shape:
            raise invalid_argument(f"Expecting shape {_shape_text(earlier[0].shape)} but got: {_shape_text(array.shape)}")
    return array


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(map(str, shape)) + "]"


# --- Predict response --------------------------------------------------------------------------


def predict_response_json(outputs: dict[str, np.ndarray], row_format: bool) -> bytes:
    """``{"predictions": [...]}`` for a row-format request, ``{"outputs": ...}`` for a columnar one."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    keys = {name: json.dumps(name, ensure_ascii=False) for name in names}
    if row_format:
        batch_size = _batch_size(outputs, names)
        rows = {name: _nested_json(outputs[name], name, kept_dims=1) for name in names}
        if len(names) == 1:
            predictions = rows[names[0]]
        else:
            predictions = [
                "{" + ", ".join(f"{keys[name]}: {rows[name][item]}" for name in names) + "}" for item in range(batch_size)
            ]
        text = '{"predictions": [' + ", ".join(predictions) + "]}"
    else:
        columns = {name: _nested_json(outputs[name], name, kept_dims=0)[0] for name in names}
        if len(names) == 1:
            text = '{"outputs": ' + columns[names[0]] + "}"
        else:
            text = '{"outputs": {' + ", ".join(f"{keys[name]}: {columns[name]}" for name in names) + "}}"
    return text.encode("utf-8")


def _batch_size(outputs: dict[str, np.ndarray], names: list[str]) -> int:
    """The dim 0 every output shares, which row format needs to split outputs into predictions."""
    batch_size = None
    for name in names:
        shape = outputs[name].shape
        if not shape:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        if batch_size is not None and shape[0] != batch_size:
            raise invalid_argument(f"Tensor name: {name} has inconsistent batch size: {shape[0]} expecting: {batch_size}")
        batch_size = shape[0]
    return batch_size


def _nested_json(array: np.ndarray, name: str, kept_dims: int) -> list[str]:
    """JSON texts of the sub-arrays below ``array``'s first ``kept_dims`` dimensions, in C order."""
    texts = array_tokens(array, as_base64=name.endswith(BYTES_SUFFIX))
    shape = array.shape
    for level in range(len(shape) - 1, kept_dims - 1, -1):
        size = shape[level]
        texts = ["[" + ", ".join(texts[i * size : (i + 1) * size]) + "]" for i in range(math.prod(shape[:level]))]
    return texts
