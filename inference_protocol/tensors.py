"""The protocol's tensor datatypes and raw encoding, with numpy only (shared by serving/ and client/).

Raw tensors are row-major little-endian values; a ``BYTES`` tensor is each element's length as a 4-byte
little-endian unsigned integer followed by its bytes. The binary tensor data extension (REST) and gRPC's
``raw_input_contents`` / ``raw_output_contents`` both use this layout.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np

BYTES = "BYTES"
LENGTH_PREFIX = struct.Struct("<I")
NUMPY_BY_DATATYPE: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    BYTES: np.dtype(object),
}
DATATYPE_BY_NUMPY: dict[np.dtype, str] = {numpy_dtype: name for name, numpy_dtype in NUMPY_BY_DATATYPE.items()}


class TensorDataError(ValueError):
    """Tensor data that does not fit its datatype or shape; the message names the tensor."""


def numpy_dtype(datatype: str, tensor_name: str) -> np.dtype:
    if datatype not in NUMPY_BY_DATATYPE:
        known = ", ".join(NUMPY_BY_DATATYPE)
        raise TensorDataError(f"invalid datatype '{datatype}' for tensor '{tensor_name}'; expected one of {known}")
    return NUMPY_BY_DATATYPE[datatype]


def datatype_of_array(array: np.ndarray) -> str:
    """The datatype of an array (bytes, str and object arrays are ``BYTES``)."""
    if array.dtype.kind in "OSU":
        return BYTES
    if array.dtype not in DATATYPE_BY_NUMPY:
        raise TensorDataError(f"numpy dtype {array.dtype} has no Open Inference Protocol datatype")
    return DATATYPE_BY_NUMPY[array.dtype]


def element_count(shape: Sequence[int], tensor_name: str) -> int:
    if any(dim < 0 for dim in shape):
        raise TensorDataError(f"tensor '{tensor_name}' has a negative dimension in its shape {list(shape)}")
    return math.prod(shape)


def from_raw(data: bytes, datatype: str, shape: Sequence[int], tensor_name: str) -> np.ndarray:
    """The array that raw bytes hold; TensorDataError when their size does not match the shape."""
    dtype = numpy_dtype(datatype, tensor_name)
    count = element_count(shape, tensor_name)
    if datatype == BYTES:
        return _split_bytes(data, count, tensor_name).reshape(shape)
    expected = count * dtype.itemsize
    if len(data) != expected:
        raise TensorDataError(
            f"tensor '{tensor_name}' has {len(data)} bytes of data but its shape {list(shape)} and datatype "
            f"{datatype} need {expected}"
        )
    return np.frombuffer(data, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)


def _split_bytes(data: bytes, count: int, tensor_name: str) -> np.ndarray:
    items = np.empty(count, dtype=object)
    offset = 0
    for index in range(count):
        if offset + LENGTH_PREFIX.size > len(data):
            raise TensorDataError(f"tensor '{tensor_name}' has fewer BYTES elements than its shape holds ({count})")
        (length,) = LENGTH_PREFIX.unpack_from(data, offset)
        offset += LENGTH_PREFIX.size
        if offset + length > len(data):
            raise TensorDataError(f"tensor '{tensor_name}' element {index} runs past the end of its data")
        items[index] = data[offset : offset + length]
        offset += length
    if offset != len(data):
        raise TensorDataError(f"tensor '{tensor_name}' has {len(data) - offset} bytes after its {count} BYTES elements")
    return items


def to_raw(array: np.ndarray) -> bytes:
    """Raw bytes of an array: length-prefixed elements for strings, little-endian values otherwise."""
    if array.dtype.kind in "OSU":
        return b"".join(LENGTH_PREFIX.pack(len(item)) + item for item in map(as_bytes, array.reshape(-1)))
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def as_bytes(value: object) -> bytes:
    """An element of a BYTES tensor as bytes (text is UTF-8 encoded)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TensorDataError(f"BYTES tensor element {value!r} is not a string")
