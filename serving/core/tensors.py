"""TensorProto <-> numpy conversion without going through TensorFlow's slow Python helpers.

Requests arrive as TensorProto (typed repeated fields such as ``float_val``, or raw
``tensor_content``); responses fill the typed fields by default, as TensorFlow Serving's
``Tensor::AsProtoField`` does, because its example clients read ``float_val`` directly.
"""

from __future__ import annotations

import math
import os

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from serving.errors import invalid_argument

MAX_TENSOR_BYTES = 2**31 - 1
LARGE_TENSOR_BYTES = 64 * 2**20  # above this, a request tensor is checked against the available memory
MAX_SHAPE_BYTES = 2**63
"""A shape whose dimensions (the zeros left out) multiply past this many bytes is refused, even when a zero dimension
makes it empty: TensorFlow refuses shapes past int64 elements, numpy past this many bytes."""

NUMPY_BY_DTYPE: dict[int, np.dtype] = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_HALF: np.dtype(np.float16),
    types_pb2.DT_INT8: np.dtype(np.int8),
    types_pb2.DT_INT16: np.dtype(np.int16),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_UINT8: np.dtype(np.uint8),
    types_pb2.DT_UINT16: np.dtype(np.uint16),
    types_pb2.DT_UINT32: np.dtype(np.uint32),
    types_pb2.DT_UINT64: np.dtype(np.uint64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
    types_pb2.DT_STRING: np.dtype(object),
}

DTYPE_BY_NUMPY: dict[np.dtype, int] = {
    numpy_dtype: dtype for dtype, numpy_dtype in NUMPY_BY_DTYPE.items()
}

VALUE_FIELD_BY_DTYPE: dict[int, str] = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_HALF: "half_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_STRING: "string_val",
}


def dtype_name(dtype: int) -> str:
    """TensorFlow's short name of a DataType enum value, e.g. ``float`` or ``string``."""
    return types_pb2.DataType.Name(dtype).removeprefix("DT_").lower()


def fits_in_memory(size_bytes: int) -> bool:
    """Whether a tensor of ``size_bytes`` may be allocated: under protobuf's 2 GB and, when large, under the
    memory the machine has available (a request declares its shape before its values, and a short value
    list is repeated to fill it, so a few bytes on the wire can ask for gigabytes)."""
    if size_bytes > MAX_TENSOR_BYTES:
        return False
    return size_bytes <= LARGE_TENSOR_BYTES or size_bytes <= available_memory_bytes()


def available_memory_bytes() -> int:
    """MemAvailable of /proc/meminfo (memory the kernel can give without swapping); free pages elsewhere."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def shape_of(proto: tensor_pb2.TensorProto, alias: str) -> tuple[int, ...]:
    if proto.tensor_shape.unknown_rank:
        raise invalid_argument(f"tensor parsing error: {alias} (unknown rank)")
    shape = tuple(dim.size for dim in proto.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise invalid_argument(f"tensor parsing error: {alias} (negative dimension in shape {list(shape)})")
    return shape


def to_ndarray(proto: tensor_pb2.TensorProto, alias: str) -> np.ndarray:
    """Decode one request tensor; INVALID_ARGUMENT ``tensor parsing error: <alias>`` when it is malformed."""
    numpy_dtype = NUMPY_BY_DTYPE.get(proto.dtype)
    if numpy_dtype is None:
        raise invalid_argument(f"tensor parsing error: {alias} (unsupported dtype {proto.dtype})")
    shape = shape_of(proto, alias)
    count = math.prod(shape)
    itemsize = max(numpy_dtype.itemsize, 1)
    if math.prod(size for size in shape if size) * itemsize >= MAX_SHAPE_BYTES or not fits_in_memory(count * itemsize):
        raise invalid_argument(f"tensor parsing error: {alias} (shape {list(shape)} is too large)")
    if proto.tensor_content and proto.dtype != types_pb2.DT_STRING:
        return _from_content(proto.tensor_content, numpy_dtype, shape, alias)
    return _from_values(proto, numpy_dtype, shape, count, alias)


def _from_content(content: bytes, numpy_dtype: np.dtype, shape: tuple[int, ...], alias: str) -> np.ndarray:
    expected = math.prod(shape) * numpy_dtype.itemsize
    if len(content) != expected:
        raise invalid_argument(
            f"tensor parsing error: {alias} (tensor_content has {len(content)} bytes, shape {list(shape)} needs {expected})"
        )
    return np.frombuffer(content, dtype=numpy_dtype).reshape(shape)


def _from_values(
    proto: tensor_pb2.TensorProto, numpy_dtype: np.dtype, shape: tuple[int, ...], count: int, alias: str
) -> np.ndarray:
    """Typed values; like TensorFlow, fewer values than elements repeat the last one (none: zeros)."""
    values = getattr(proto, VALUE_FIELD_BY_DTYPE[proto.dtype])
    if len(values) > count:
        raise invalid_argument(
            f"tensor parsing error: {alias} ({len(values)} values for shape {list(shape)} of {count} elements)"
        )
    if proto.dtype == types_pb2.DT_STRING:
        flat = np.empty(len(values), dtype=object)
        flat[:] = list(values)
    elif proto.dtype == types_pb2.DT_HALF:
        flat = np.asarray(values, dtype=np.uint16).view(np.float16)
    else:
        flat = _checked_numbers(values, numpy_dtype, alias)
    if len(flat) == count:
        return flat.reshape(shape)
    filler = flat[-1] if len(flat) else (b"" if proto.dtype == types_pb2.DT_STRING else 0)
    padded = np.full(count, filler, dtype=numpy_dtype)
    padded[: len(flat)] = flat
    return padded.reshape(shape)


def _checked_numbers(values, numpy_dtype: np.dtype, alias: str) -> np.ndarray:
    """Typed values as ``numpy_dtype``; integers outside the dtype's range are an error, not a wrap."""
    if numpy_dtype.kind not in "iu" or numpy_dtype.itemsize >= 8:
        return np.asarray(values, dtype=numpy_dtype)
    wide = np.asarray(values, dtype=np.int64)
    limits = np.iinfo(numpy_dtype)
    if wide.size and (wide.min() < limits.min or wide.max() > limits.max):
        raise invalid_argument(f"tensor parsing error: {alias} (values outside the range of {numpy_dtype.name})")
    return wide.astype(numpy_dtype)


def to_tensor_proto(array: np.ndarray, as_tensor_content: bool = False) -> tensor_pb2.TensorProto:
    """Encode one response tensor in the typed field (default) or in ``tensor_content``."""
    array = np.asarray(array)
    dtype = _dtype_of(array)
    proto = tensor_pb2.TensorProto(
        dtype=dtype,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape]
        ),
    )
    if dtype == types_pb2.DT_STRING:
        proto.string_val.extend(_as_bytes(value) for value in array.ravel())
    elif as_tensor_content:
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
    elif dtype == types_pb2.DT_HALF:
        proto.half_val.extend(array.ravel().view(np.uint16).tolist())
    else:
        getattr(proto, VALUE_FIELD_BY_DTYPE[dtype]).extend(array.ravel().tolist())
    return proto


def _dtype_of(array: np.ndarray) -> int:
    if array.dtype.kind in "OSU":
        return types_pb2.DT_STRING
    dtype = DTYPE_BY_NUMPY.get(array.dtype)
    if dtype is None:
        raise invalid_argument(f"cannot encode output of numpy dtype {array.dtype}")
    return dtype


def _as_bytes(value: object) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
