"""Compressed request bodies: gzip (TF Serving's REST API and /v2) and deflate (/v2 only, as Triton's clients send it)."""

from __future__ import annotations

import zlib

from serving.errors import invalid_argument

MAX_DECOMPRESSED_BYTES = 100 * 2**20
WBITS_BY_ENCODING = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decompressed(body: bytes, encoding: str) -> bytes:
    """``body`` decompressed as ``encoding`` (gzip or deflate, i.e. zlib), at most 100 MiB; INVALID_ARGUMENT else."""
    decompressor = zlib.decompressobj(wbits=WBITS_BY_ENCODING[encoding])
    try:
        data = decompressor.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as error:
        raise invalid_argument(f"Failed to decompress {encoding} request body: {error}") from None
    if len(data) > MAX_DECOMPRESSED_BYTES:
        raise invalid_argument(f"Decompressed request body exceeds {MAX_DECOMPRESSED_BYTES} bytes")
    return data
