"""What the client returns, and how TensorFlow Serving's response messages become it.

Both transports hand over the same protos (REST bodies are parsed into them with ``json_format``), so a
model's metadata and status read the same whichever way they came.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2, meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

DEFAULT_SIGNATURE = "serving_default"
INIT_OP_SIGNATURE = "__saved_model_init_op"


@dataclass(frozen=True)
class ModelRef:
    """Which model to call: a name, at most one of version and label, and a signature."""

    name: str
    version: int | None = None
    label: str | None = None
    signature: str = DEFAULT_SIGNATURE


@dataclass(frozen=True)
class SignatureSpec:
    """One signature of a served model: its method name and its inputs and outputs by alias."""

    method_name: str
    inputs: dict[str, tf.TensorSpec]
    outputs: dict[str, tf.TensorSpec]


Classifications = list[list[tuple[str, float]]]
"""For each example of a Classify call, its ``(label, score)`` pairs."""


class VersionStatus(NamedTuple):
    """One version of a model as the server reports it; ``error`` is empty unless it failed."""

    version: int
    state: str
    error: str


class ModelInfo(NamedTuple):
    """One model of ``list_models``: its versions and its version labels."""

    name: str
    versions: list[VersionStatus]
    labels: dict[str, int]


def signatures_from_proto(signature_map: get_model_metadata_pb2.SignatureDefMap) -> dict[str, SignatureSpec]:
    """Every callable signature; TF2's ``__saved_model_init_op`` is left out because it cannot be called."""
    return {
        name: SignatureSpec(
            method_name=signature.method_name,
            inputs=_tensor_specs(signature.inputs),
            outputs=_tensor_specs(signature.outputs),
        )
        for name, signature in sorted(signature_map.signature_def.items())
        if name != INIT_OP_SIGNATURE
    }


def _tensor_specs(infos: dict[str, meta_graph_pb2.TensorInfo]) -> dict[str, tf.TensorSpec]:
    return {
        alias: tf.TensorSpec(tf.TensorShape(info.tensor_shape), tf.dtypes.as_dtype(info.dtype), name=alias)
        for alias, info in sorted(infos.items())
    }


def statuses_from_proto(response: get_model_status_pb2.GetModelStatusResponse) -> list[VersionStatus]:
    """Versions in ascending order, states by name (``AVAILABLE``), errors as ``CODE: message``."""
    return sorted(
        VersionStatus(
            version=status.version,
            state=get_model_status_pb2.ModelVersionStatus.State.Name(status.state),
            error=_error_text(status.status.error_code, status.status.error_message),
        )
        for status in response.model_version_status
    )


def _error_text(code: int, message: str) -> str:
    if code == error_codes_pb2.OK:
        return ""
    return f"{error_codes_pb2.Code.Name(code)}: {message}"
