"""What a served signature looks like to the front ends: input and output aliases with dtypes and shapes.

Built once per loaded version from the SavedModel's SignatureDef protos, so request handling never
touches TensorFlow's Python objects to learn names or dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from tensorflow.core.protobuf import meta_graph_pb2

DEFAULT_SIGNATURE = "serving_default"
INIT_OP_SIGNATURE = "__saved_model_init_op"


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of a signature: its alias, DataType enum value and shape (None: unknown)."""

    alias: str
    dtype: int
    shape: tuple[int | None, ...] | None

    @property
    def has_variable_batch(self) -> bool:
        return bool(self.shape) and self.shape[0] is None


@dataclass(frozen=True)
class Signature:
    """A named signature with its method name and its inputs and outputs by alias."""

    name: str
    method_name: str
    inputs: Mapping[str, TensorInfo]
    outputs: Mapping[str, TensorInfo]


def tensor_info_from_proto(alias: str, proto: meta_graph_pb2.TensorInfo) -> TensorInfo:
    if proto.tensor_shape.unknown_rank:
        shape = None
    else:
        shape = tuple(None if dim.size < 0 else dim.size for dim in proto.tensor_shape.dim)
    return TensorInfo(alias=alias, dtype=proto.dtype, shape=shape)


def signature_from_proto(name: str, proto: meta_graph_pb2.SignatureDef) -> Signature:
    return Signature(
        name=name,
        method_name=proto.method_name,
        inputs={alias: tensor_info_from_proto(alias, info) for alias, info in proto.inputs.items()},
        outputs={alias: tensor_info_from_proto(alias, info) for alias, info in proto.outputs.items()},
    )
