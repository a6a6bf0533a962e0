"""Tensor encodings: numpy ⇄ TensorProto (gRPC) and numpy ⇄ TF Serving's JSON values (REST).

Inputs are first cast to the dtype the signature declares, so both transports send the same tensor
whatever Python or numpy type the caller used. Requests carry numbers in ``tensor_content`` (one
bytes copy, no per-element work); responses are read from whichever field the server filled.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from client.errors import invalid_argument

TYPED_FIELD_BY_DTYPE: dict[int, str] = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
    types_pb2.DT_BOOL: "bool_val",
}
"""Numeric dtypes whose typed repeated field numpy reads directly (TF Serving's default encoding)."""

B64_KEY = "b64"


def as_input_array(alias: str, value: Any, spec: tf.TensorSpec) -> np.ndarray:
    """``value`` as an array of the signature's dtype; strings become bytes (UTF-8).

    Casts that keep the kind (float64 → float32) or turn integers into floats are made silently, and
    integer casts too when every value fits; anything else (floats into an integer input) is an
    INVALID_ARGUMENT that names the input, because it would change the values.
    """
    if spec.dtype == tf.string:
        return _as_bytes_array(alias, value)
    array = np.asarray(value)
    target = np.dtype(spec.dtype.as_numpy_dtype)
    if array.dtype == target:
        return array
    if np.can_cast(array.dtype, target, "same_kind") or _fits_integer(array, target):
        return array.astype(target)
    raise invalid_argument(f"input '{alias}' has dtype {array.dtype}; the signature expects {spec.dtype.name}")


def _fits_integer(array: np.ndarray, target: np.dtype) -> bool:
    if array.dtype.kind not in "biu" or target.kind not in "iu":
        return False
    return bool(np.array_equal(array.astype(target), array))


def _as_bytes_array(alias: str, value: Any) -> np.ndarray:
    array = np.array(value, dtype=object)
    flat = array.reshape(-1)
    for index, item in enumerate(flat):
        if isinstance(item, str):
            flat[index] = item.encode("utf-8")
        elif not isinstance(item, bytes):
            raise invalid_argument(f"input '{alias}' is a string input; got {type(item).__name__} {item!r}")
    return array


def to_tensor_proto(array: np.ndarray, spec: tf.TensorSpec) -> tensor_pb2.TensorProto:
    """A request tensor: strings in ``string_val``, numbers in ``tensor_content``."""
    shape = tf.TensorShape(array.shape).as_proto()
    proto = tensor_pb2.TensorProto(dtype=spec.dtype.as_datatype_enum, tensor_shape=shape)
    if spec.dtype == tf.string:
        proto.string_val.extend(array.reshape(-1).tolist())
    else:
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
    return proto


def from_tensor_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """A response tensor; full typed fields go straight into numpy, anything else via ``tf.make_ndarray``."""
    field = TYPED_FIELD_BY_DTYPE.get(proto.dtype)
    shape = [dim.size for dim in proto.tensor_shape.dim]
    if field is not None and not proto.tensor_content:
        values = getattr(proto, field)
        if len(values) == math.prod(shape):
            return np.asarray(values, dtype=tf.dtypes.as_dtype(proto.dtype).as_numpy_dtype).reshape(shape)
    return tf.make_ndarray(proto)


def json_dumps(document: Any) -> bytes:
    """JSON text for TF Serving: bytes as ``{"b64": ...}``; NaN and Infinity as bare tokens, which it accepts."""
    return json.dumps(document, default=_b64_object, separators=(",", ":")).encode("utf-8")


def _b64_object(value: Any) -> dict[str, str]:
    if isinstance(value, bytes):
        return {B64_KEY: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def from_json_value(value: Any, spec: tf.TensorSpec) -> np.ndarray:
    """An output as the signature declares it: uint8 images as uint8, strings as bytes (``b64`` decoded)."""
    if spec.dtype == tf.string:
        return np.array(_decode_strings(value), dtype=object)
    return np.asarray(value, dtype=spec.dtype.as_numpy_dtype)


def _decode_strings(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_strings(item) for item in value]
    if isinstance(value, dict):
        return base64.b64decode(value[B64_KEY])
    return value.encode("utf-8")
