"""The protocol's tensor datatypes (``FP32``, ``UINT8``, ``BYTES``…) beside TensorFlow's DataType and numpy's dtype."""

from __future__ import annotations

import numpy as np
from tensorflow.core.framework import types_pb2

from serving.errors import invalid_argument

BYTES = "BYTES"
DATATYPE_BY_DTYPE: dict[int, str] = {
    types_pb2.DT_BOOL: "BOOL",
    types_pb2.DT_UINT8: "UINT8",
    types_pb2.DT_UINT16: "UINT16",
    types_pb2.DT_UINT32: "UINT32",
    types_pb2.DT_UINT64: "UINT64",
    types_pb2.DT_INT8: "INT8",
    types_pb2.DT_INT16: "INT16",
    types_pb2.DT_INT32: "INT32",
    types_pb2.DT_INT64: "INT64",
    types_pb2.DT_HALF: "FP16",
    types_pb2.DT_FLOAT: "FP32",
    types_pb2.DT_DOUBLE: "FP64",
    types_pb2.DT_STRING: BYTES,
}
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


def datatype_of(dtype: int) -> str:
    """The protocol's name for a TensorFlow DataType; INVALID_ARGUMENT for one it has no name for."""
    if dtype not in DATATYPE_BY_DTYPE:
        raise invalid_argument(f"TensorFlow type {types_pb2.DataType.Name(dtype)} has no Open Inference Protocol datatype")
    return DATATYPE_BY_DTYPE[dtype]


def datatype_of_array(array: np.ndarray) -> str:
    """The protocol's datatype of a model's output array (bytes and str arrays are ``BYTES``)."""
    if array.dtype.kind in "OSU":
        return BYTES
    if array.dtype not in DATATYPE_BY_NUMPY:
        raise invalid_argument(f"Output dtype {array.dtype} has no Open Inference Protocol datatype")
    return DATATYPE_BY_NUMPY[array.dtype]


def numpy_dtype(datatype: str, tensor_name: str) -> np.dtype:
    """The numpy dtype of a request tensor's datatype; INVALID_ARGUMENT naming the tensor for an unknown one."""
    if datatype not in NUMPY_BY_DATATYPE:
        known = ", ".join(NUMPY_BY_DATATYPE)
        raise invalid_argument(f"invalid datatype '{datatype}' for tensor '{tensor_name}'; expected one of {known}")
    return NUMPY_BY_DATATYPE[datatype]
