"""Tensors to and from the protocol's encodings: raw little-endian bytes, and flat lists of values.

Raw ``BYTES`` tensors are each element's length as a 4-byte little-endian unsigned integer followed by its
bytes (the binary tensor data extension and gRPC's ``raw_input_contents`` both use this layout); every other
datatype is the row-major array of its little-endian values.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np

from serving.errors import invalid_argument
from serving.v2.datatypes import BYTES, numpy_dtype

LENGTH_PREFIX = struct.Struct("<I")


def element_count(shape: Sequence[int], tensor_name: str) -> int:
    """The number of elements a shape holds; INVALID_ARGUMENT for a negative dimension."""
    if any(dim < 0 for dim in shape):
        raise invalid_argument(f"tensor '{tensor_name}' has a negative dimension in its shape {list(shape)}")
    return math.prod(shape)


def from_raw(data: bytes, datatype: str, shape: Sequence[int], tensor_name: str) -> np.ndarray:
    """The array that raw bytes hold; INVALID_ARGUMENT when their size does not match the shape."""
    dtype = numpy_dtype(datatype, tensor_name)
    count = element_count(shape, tensor_name)
    if datatype == BYTES:
        return _split_bytes(data, count, tensor_name).reshape(shape)
    expected = count * dtype.itemsize
    if len(data) != expected:
        raise invalid_argument(
            f"tensor '{tensor_name}' has {len(data)} bytes of data but its shape {list(shape)} and datatype "
            f"{datatype} need {expected}"
        )
    return np.frombuffer(data, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)


def _split_bytes(data: bytes, count: int, tensor_name: str) -> np.ndarray:
    items = np.empty(count, dtype=object)
    offset = 0
    for index in range(count):
        if offset + LENGTH_PREFIX.size > len(data):
            raise invalid_argument(f"tensor '{tensor_name}' has fewer BYTES elements than its shape holds ({count})")
        (length,) = LENGTH_PREFIX.unpack_from(data, offset)
        offset += LENGTH_PREFIX.size
        if offset + length > len(data):
            raise invalid_argument(f"tensor '{tensor_name}' element {index} runs past the end of its data")
        items[index] = data[offset : offset + length]
        offset += length
    if offset != len(data):
        raise invalid_argument(f"tensor '{tensor_name}' has {len(data) - offset} bytes after its {count} BYTES elements")
    return items


def to_raw(array: np.ndarray) -> bytes:
    """Raw bytes of an array: length-prefixed elements for strings, little-endian values otherwise."""
    if array.dtype.kind in "OSU":
        return b"".join(LENGTH_PREFIX.pack(len(item)) + item for item in map(as_bytes, array.reshape(-1)))
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def from_values(values: Sequence, datatype: str, shape: Sequence[int], tensor_name: str) -> np.ndarray:
    """The array of a flat list of values; INVALID_ARGUMENT when the count or a value does not fit."""
    dtype = numpy_dtype(datatype, tensor_name)
    count = element_count(shape, tensor_name)
    if len(values) != count:
        raise invalid_argument(
            f"tensor '{tensor_name}' has {len(values)} elements but its shape {list(shape)} holds {count}"
        )
    if datatype == BYTES:
        items = np.empty(count, dtype=object)
        items[:] = [as_bytes(value) for value in values]
        return items.reshape(shape)
    try:
        return np.asarray(values, dtype=dtype).reshape(shape)
    except (TypeError, ValueError, OverflowError) as error:
        raise invalid_argument(f"tensor '{tensor_name}' holds a value that is not {datatype}: {error}") from None


def as_bytes(value: object) -> bytes:
    """An element of a BYTES tensor as bytes (text is UTF-8 encoded)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise invalid_argument(f"BYTES tensor element {value!r} is not a string")
