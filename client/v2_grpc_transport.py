"""The v2 gRPC transport: inference.GRPCInferenceService (Triton, KServe, our server) on a round-robin channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import numpy as np
import tensorflow as tf

from client.grpc_transport import channel_options, client_error, open_channel
from client.messages import Classifications, ModelInfo, ModelRef, SignatureSpec, VersionStatus
from client.retry import RetryPolicy
from client.transport import Served
from client.v2_messages import (
    TensorMetadata,
    decode_raw,
    raw_inputs,
    served_number,
    served_version,
    signature_parameter,
    signatures_from_metadata,
    statuses,
    unsupported,
    version_text,
)
from inference_protocol import grpc_predict_v2_pb2 as pb
from inference_protocol import grpc_predict_v2_pb2_grpc as pb_grpc


class V2GrpcTransport:
    """ModelInfer with raw inputs and outputs, ModelMetadata; every call has a deadline."""

    def __init__(self, addresses: Sequence[str], max_message_bytes: int | None, retry: RetryPolicy) -> None:
        self._channel = open_channel(addresses, channel_options(max_message_bytes, retry))
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)

    def predict(
        self, ref: ModelRef, inputs: dict[str, np.ndarray], signature: SignatureSpec, output_names: list[str],
        timeout: float,
    ) -> Served:
        response = _call(self._stub.ModelInfer, infer_request(ref, inputs, output_names), timeout)
        outputs = {
            tensor.name: decode_raw(raw, tensor.datatype, tensor.shape, tensor.name)
            for tensor, raw in zip(response.outputs, response.raw_output_contents)
        }
        return served_number(response.model_version), {name: outputs[name] for name in output_names}

    def classify(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> Classifications:
        raise unsupported("classify")

    def regress(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> np.ndarray:
        raise unsupported("regress")

    def metadata(self, ref: ModelRef, timeout: float) -> tuple[int, dict[str, SignatureSpec]]:
        answer = self._metadata(ref, timeout)
        signatures = signatures_from_metadata(_tensors(answer.inputs), _tensors(answer.outputs))
        return served_version(ref, list(answer.versions)), signatures

    def status(self, ref: ModelRef, timeout: float) -> list[VersionStatus]:
        return statuses(list(self._metadata(ref, timeout).versions))

    def list_models(self, timeout: float) -> list[ModelInfo]:
        raise unsupported("listing models")

    def close(self) -> None:
        self._channel.close()

    def _metadata(self, ref: ModelRef, timeout: float) -> pb.ModelMetadataResponse:
        request = pb.ModelMetadataRequest(name=ref.name, version=version_text(ref))
        return _call(self._stub.ModelMetadata, request, timeout)


def infer_request(ref: ModelRef, inputs: dict[str, np.ndarray], output_names: list[str]) -> pb.ModelInferRequest:
    """A ModelInferRequest with raw inputs, the outputs asked for, and the signature parameter when needed."""
    request = pb.ModelInferRequest(model_name=ref.name, model_version=version_text(ref))
    for name, value in signature_parameter(ref).items():
        request.parameters[name].string_param = value
    for tensor in raw_inputs(inputs):
        request.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        request.raw_input_contents.append(tensor.data)
    for name in output_names:
        request.outputs.add(name=name)
    return request


def _tensors(items) -> list[TensorMetadata]:
    return [TensorMetadata(item.name, item.datatype, list(item.shape)) for item in items]


def _call(method: grpc.UnaryUnaryMultiCallable, request: Any, timeout: float) -> Any:
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as error:
        raise client_error(error) from None
