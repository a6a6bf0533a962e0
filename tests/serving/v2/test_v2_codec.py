"""The protocol's tensor encodings: raw bytes and value lists, both ways, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from serving.errors import ServingError
from inference_protocol.tensors import to_raw
from serving.v2.tensor_codec import from_raw, from_values


@pytest.mark.parametrize(
    "array, datatype",
    [
        (np.arange(6, dtype=np.float32).reshape(2, 3), "FP32"),
        (np.array([[1, 255]], np.uint8), "UINT8"),
        (np.array([-(2**40), 7], np.int64), "INT64"),
        (np.array([True, False]), "BOOL"),
        (np.array([b"", b"\xff\x00", "h\u00e9".encode()], dtype=object), "BYTES"),
    ],
)
def test_raw_round_trip(array, datatype):
    decoded = from_raw(to_raw(array), datatype, array.shape, "t")
    assert decoded.shape == array.shape and decoded.tolist() == array.tolist()


def test_bytes_are_length_prefixed_little_endian():
    assert to_raw(np.array([b"ab", b""], dtype=object)) == b"\x02\x00\x00\x00ab\x00\x00\x00\x00"


@pytest.mark.parametrize(
    "data, datatype, shape, message",
    [
        (b"\x00" * 7, "FP32", (2,), "has 7 bytes of data but its shape [2] and datatype FP32 need 8"),
        (b"\x05\x00\x00\x00ab", "BYTES", (1,), "element 0 runs past the end of its data"),
        (b"\x01\x00\x00\x00a", "BYTES", (2,), "fewer BYTES elements than its shape holds (2)"),
        (b"\x01\x00\x00\x00ab", "BYTES", (1,), "1 bytes after its 1 BYTES elements"),
        (b"", "FP32", (-1,), "negative dimension"),
        (b"", "COMPLEX", (0,), "invalid datatype 'COMPLEX'"),
    ],
)
def test_raw_errors_name_the_tensor_and_the_problem(data, datatype, shape, message):
    with pytest.raises(ServingError) as error:
        from_raw(data, datatype, shape, "t")
    assert message in error.value.message and "'t'" in error.value.message


def test_values_and_their_errors():
    assert from_values(["a", b"b"], "BYTES", (2,), "t").tolist() == [b"a", b"b"]
    assert from_values([1, 2, 3, 4], "INT32", (2, 2), "t").dtype == np.int32
    with pytest.raises(ServingError, match="holds a value that is not INT32"):
        from_values(["x"], "INT32", (1,), "t")
    with pytest.raises(ServingError, match="is not a string"):
        from_values([3], "BYTES", (1,), "t")
