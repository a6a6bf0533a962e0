"""Request tensors from the protocol's encodings (raw bytes, flat lists of values), as INVALID_ARGUMENT on failure.

The encoding itself is inference_protocol.tensors, which the client shares; this layer turns its errors into
the serving layer's error type.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference_protocol import tensors
from serving.errors import invalid_argument


def from_raw(data: bytes, datatype: str, shape: Sequence[int], tensor_name: str) -> np.ndarray:
    try:
        return tensors.from_raw(data, datatype, shape, tensor_name)
    except tensors.TensorDataError as error:
        raise invalid_argument(str(error)) from None


def from_values(values: Sequence, datatype: str, shape: Sequence[int], tensor_name: str) -> np.ndarray:
    """The array of a flat list of values; INVALID_ARGUMENT when the count or a value does not fit."""
    try:
        dtype = tensors.numpy_dtype(datatype, tensor_name)
        count = tensors.element_count(shape, tensor_name)
        if len(values) != count:
            raise tensors.TensorDataError(
                f"tensor '{tensor_name}' has {len(values)} elements but its shape {list(shape)} holds {count}"
            )
        if datatype == tensors.BYTES:
            items = np.empty(count, dtype=object)
            items[:] = [tensors.as_bytes(value) for value in values]
            return items.reshape(shape)
        return np.asarray(values, dtype=dtype).reshape(shape)
    except tensors.TensorDataError as error:
        raise invalid_argument(str(error)) from None
    except (TypeError, ValueError, OverflowError) as error:
        raise invalid_argument(f"tensor '{tensor_name}' holds a value that is not {datatype}: {error}") from None
