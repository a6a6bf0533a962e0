"""The Open Inference Protocol (KServe v2) as the client sees it: what v2 lacks, metadata, tensors.

Both v2 transports share this: v2 describes one signature per model (the one it runs by default, which our
server maps to ``serving_default``) and has no version labels, classify, regress or model list, so those
calls answer UNIMPLEMENTED with one line that says so. Input tensors travel raw (binary data), outputs are
asked for raw as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from client.errors import ClientError
from client.messages import DEFAULT_SIGNATURE, ModelRef, SignatureSpec, VersionStatus
from inference_protocol import tensors

PREDICT_METHOD = "tensorflow/serving/predict"
SIGNATURE_PARAMETER = "signature_name"


class TensorMetadata(NamedTuple):
    name: str
    datatype: str
    shape: Sequence[int]


class RawTensor(NamedTuple):
    """One input as v2 sends it: name, datatype, shape and raw bytes."""

    name: str
    datatype: str
    shape: list[int]
    data: bytes


def unsupported(what: str) -> ClientError:
    return ClientError(
        "UNIMPLEMENTED", f"{what}: the Open Inference Protocol (KServe v2) has no equivalent; use --protocol tfserving"
    )


def version_text(ref: ModelRef) -> str:
    """The v2 version of a reference: its number, or empty for the latest; labels do not exist in v2."""
    if ref.label is not None:
        raise unsupported(f"version label {ref.label!r}")
    return "" if ref.version is None else str(ref.version)


def signature_parameter(ref: ModelRef) -> dict[str, str]:
    """The request parameter that picks a signature other than ``serving_default`` (our server's mapping)."""
    return {} if ref.signature == DEFAULT_SIGNATURE else {SIGNATURE_PARAMETER: ref.signature}


def signatures_from_metadata(inputs: Iterable[TensorMetadata], outputs: Iterable[TensorMetadata]) -> dict[str, SignatureSpec]:
    """The one signature v2 metadata describes, as ``serving_default``."""
    return {DEFAULT_SIGNATURE: SignatureSpec(PREDICT_METHOD, _specs(inputs), _specs(outputs))}


def _specs(items: Iterable[TensorMetadata]) -> dict[str, tf.TensorSpec]:
    specs = {}
    for item in items:
        try:
            dtype = tf.string if item.datatype == tensors.BYTES else tf.as_dtype(tensors.numpy_dtype(item.datatype, item.name))
        except tensors.TensorDataError as error:
            raise ClientError("UNKNOWN", f"the server's metadata: {error}") from None
        shape = tf.TensorShape([None if dim < 0 else int(dim) for dim in item.shape])
        specs[item.name] = tf.TensorSpec(shape, dtype, name=item.name)
    return dict(sorted(specs.items()))


def served_version(ref: ModelRef, versions: Sequence[str]) -> int:
    """The version a metadata answer stands for: the one asked for, else the highest listed (v2's latest)."""
    if ref.version is not None:
        return ref.version
    numbers = [int(version) for version in versions if version.isdigit()]
    return max(numbers, default=0)


def statuses(versions: Sequence[str]) -> list[VersionStatus]:
    """v2 lists only the versions that serve, so each is AVAILABLE."""
    return sorted(VersionStatus(int(version), "AVAILABLE", "") for version in versions if version.isdigit())


def raw_inputs(inputs: dict[str, np.ndarray]) -> list[RawTensor]:
    return [
        RawTensor(name, tensors.datatype_of_array(array), list(array.shape), tensors.to_raw(array))
        for name, array in inputs.items()
    ]


def decode_raw(data: bytes, datatype: str, shape: Sequence[int], name: str) -> np.ndarray:
    """An output's raw bytes as an array; a malformed answer is an UNKNOWN error naming the output."""
    try:
        return tensors.from_raw(data, datatype, [int(dim) for dim in shape], name)
    except tensors.TensorDataError as error:
        raise ClientError("UNKNOWN", f"the server's answer: {error}") from None


def served_number(model_version: str) -> int | None:
    return int(model_version) if model_version.isdigit() else None
