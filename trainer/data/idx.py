"""Reader for the IDX format of MNIST, Fashion-MNIST and their Debian packages (optionally gzipped).

Layout (yann.lecun.com/exdb/mnist): two zero bytes, a type code, the number of dimensions, one big-endian
uint32 per dimension, then the data in row-major order, big-endian.
"""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np

from trainer.errors import TrainerError

_DTYPE_BY_CODE = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (`.gz` or raw) into a native-endian array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            content = stream.read()
    except (OSError, EOFError) as error:
        raise TrainerError(f"cannot read IDX file {path}: {error}") from error
    return parse_idx(content, str(path))


def parse_idx(content: bytes, source: str) -> np.ndarray:
    """Decode the bytes of an IDX file; source names the file in error messages."""
    if len(content) < 4 or content[:2] != b"\0\0" or content[2] not in _DTYPE_BY_CODE:
        raise TrainerError(f"{source} is not an IDX file: it does not start with 00 00 <type code> <ndim>")
    dtype, ndim = _DTYPE_BY_CODE[content[2]], content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise TrainerError(f"{source} is truncated: its header promises {ndim} dimensions")
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    expected = math.prod(shape) * dtype.itemsize
    if len(content) - header_size != expected:
        raise TrainerError(
            f"{source} holds {len(content) - header_size} data bytes, but its header shape {shape} needs {expected}"
        )
    data = np.frombuffer(content, dtype=dtype, offset=header_size, count=math.prod(shape))
    return data.reshape(shape).astype(dtype.newbyteorder("="))
