"""The protocol's tensor datatypes (``FP32``, ``UINT8``, ``BYTES``…) for TensorFlow's DataType and model outputs."""

from __future__ import annotations

import numpy as np
from tensorflow.core.framework import types_pb2

from inference_protocol import tensors
from serving.errors import invalid_argument

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
    types_pb2.DT_STRING: tensors.BYTES,
}


def datatype_of(dtype: int) -> str:
    """The protocol's name for a TensorFlow DataType; INVALID_ARGUMENT for one it has no name for."""
    if dtype not in DATATYPE_BY_DTYPE:
        raise invalid_argument(f"TensorFlow type {types_pb2.DataType.Name(dtype)} has no Open Inference Protocol datatype")
    return DATATYPE_BY_DTYPE[dtype]


def datatype_of_array(array: np.ndarray) -> str:
    """The protocol's datatype of a model's output array (bytes and str arrays are ``BYTES``)."""
    try:
        return tensors.datatype_of_array(array)
    except tensors.TensorDataError as error:
        raise invalid_argument(str(error)) from None
