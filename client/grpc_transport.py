"""The gRPC transport: TensorFlow Serving's PredictionService and ModelService stubs on one channel."""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf.message import Message
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from client.errors import HTTP_STATUS_BY_CODE, ClientError
from client.messages import (
    Classifications,
    ModelInfo,
    ModelRef,
    SignatureSpec,
    VersionStatus,
    signatures_from_proto,
    statuses_from_proto,
)
from client.retry import RetryPolicy
from client.tensors import from_tensor_proto, to_tensor_proto

UNLIMITED = -1
SIGNATURE_DEF_FIELD = "signature_def"


class GrpcTransport:
    """Calls over one channel to ``target`` (``host:port``); every call carries a deadline."""

    def __init__(self, target: str, max_message_bytes: int | None, retry: RetryPolicy) -> None:
        self._channel = grpc.insecure_channel(target, options=channel_options(max_message_bytes, retry))
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def predict(
        self,
        ref: ModelRef,
        inputs: dict[str, np.ndarray],
        signature: SignatureSpec,
        output_names: list[str],
        timeout: float,
    ) -> dict[str, np.ndarray]:
        request = predict_pb2.PredictRequest(model_spec=model_spec(ref), output_filter=output_names)
        for alias, array in inputs.items():
            request.inputs[alias].CopyFrom(to_tensor_proto(array, signature.inputs[alias]))
        response = _call(self._predictions.Predict, request, timeout)
        return {alias: from_tensor_proto(response.outputs[alias]) for alias in output_names}

    def classify(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> Classifications:
        request = classification_pb2.ClassificationRequest(model_spec=model_spec(ref), input=_example_input(examples))
        response = _call(self._predictions.Classify, request, timeout)
        return [
            [(entry.label, entry.score) for entry in classification.classes]
            for classification in response.result.classifications
        ]

    def regress(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> np.ndarray:
        request = regression_pb2.RegressionRequest(model_spec=model_spec(ref), input=_example_input(examples))
        response = _call(self._predictions.Regress, request, timeout)
        return np.array([regression.value for regression in response.result.regressions], dtype=np.float32)

    def metadata(self, ref: ModelRef, timeout: float) -> dict[str, SignatureSpec]:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=model_spec(ref, with_signature=False), metadata_field=[SIGNATURE_DEF_FIELD]
        )
        response = _call(self._predictions.GetModelMetadata, request, timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
        return signatures_from_proto(signature_map)

    def status(self, ref: ModelRef, timeout: float) -> list[VersionStatus]:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(ref, with_signature=False))
        return statuses_from_proto(_call(self._models.GetModelStatus, request, timeout))

    def list_models(self, timeout: float) -> list[ModelInfo]:
        raise ClientError(
            "UNIMPLEMENTED",
            "listing models is our server's REST extension (GET /v1/models); TF Serving's gRPC API has no such "
            "call: use the REST transport",
        )

    def close(self) -> None:
        self._channel.close()


def channel_options(max_message_bytes: int | None, retry: RetryPolicy) -> list[tuple[str, int]]:
    """No 4 MB receive cap unless asked for, and reconnects as quick as our retries, so a retry can succeed."""
    limit = UNLIMITED if max_message_bytes is None else max_message_bytes
    backoff_ms = int(retry.initial_backoff * 1000)
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.initial_reconnect_backoff_ms", backoff_ms),
        ("grpc.min_reconnect_backoff_ms", backoff_ms),
        ("grpc.max_reconnect_backoff_ms", int(retry.max_backoff * 1000)),
    ]


def model_spec(ref: ModelRef, with_signature: bool = True) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=ref.name, signature_name=ref.signature if with_signature else "")
    if ref.version is not None:
        spec.version.value = ref.version
    elif ref.label is not None:
        spec.version_label = ref.label
    return spec


def _example_input(examples: list[tf.train.Example]) -> input_pb2.Input:
    return input_pb2.Input(example_list=input_pb2.ExampleList(examples=examples))


def _call(method: grpc.UnaryUnaryMultiCallable, request: Message, timeout: float) -> Any:
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as error:
        raise _client_error(error) from None


def _client_error(error: grpc.RpcError) -> ClientError:
    code = error.code().name
    return ClientError(code, error.details() or code, HTTP_STATUS_BY_CODE.get(code), retryable=code == "UNAVAILABLE")
