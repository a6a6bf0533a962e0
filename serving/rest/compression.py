"""Compressed request bodies: gzip (TF Serving's REST API and /v2) and deflate (/v2 only, as Triton's clients send it)."""

from __future__ import annotations

import zlib

from serving.errors import invalid_argument

MAX_DECOMPRESSED_BYTES = 100 * 2**20
WBITS_BY_ENCODING = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
TF_SERVING_ENCODINGS = ("gzip",)
V2_ENCODINGS = ("gzip", "deflate")


def decoded_body(body: bytes, content_encoding: str, accepted: tuple[str, ...]) -> bytes:
    """The request body decompressed when its ``Content-Encoding`` is one of ``accepted``, else as it came."""
    encoding = content_encoding.strip().lower()
    if encoding not in accepted or not body:
        return body
    return decompressed(body, encoding)


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
