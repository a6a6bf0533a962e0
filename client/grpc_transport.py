"""The gRPC transport: TensorFlow Serving's PredictionService and ModelService stubs on one channel.

One channel reaches every replica: gRPC's ``round_robin`` load-balancing policy keeps a subchannel per
address and sends each call to the next ready one, skipping replicas it cannot reach. A single address is
left to gRPC's DNS resolver, so a name with several addresses (a Kubernetes headless service) is balanced,
and its addresses followed as they change; a list of addresses is resolved here once into gRPC's
``ipv4:``/``ipv6:`` target of several addresses.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
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
from client.transport import Served

UNLIMITED = -1
SIGNATURE_DEF_FIELD = "signature_def"
RETRYABLE = ("UNAVAILABLE", "CANCELLED")
ROUND_ROBIN_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


class GrpcTransport:
    """Calls over one channel to the replicas at ``addresses`` (``host:port`` each); every call has a deadline."""

    def __init__(self, addresses: Sequence[str], max_message_bytes: int | None, retry: RetryPolicy) -> None:
        self._channel = open_channel(addresses, channel_options(max_message_bytes, retry))
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def predict(
        self,
        ref: ModelRef,
        inputs: dict[str, np.ndarray],
        signature: SignatureSpec,
        output_names: list[str],
        timeout: float,
    ) -> Served:
        request = predict_pb2.PredictRequest(model_spec=model_spec(ref), output_filter=output_names)
        for alias, array in inputs.items():
            request.inputs[alias].CopyFrom(to_tensor_proto(array, signature.inputs[alias]))
        response = _call(self._predictions.Predict, request, timeout)
        outputs = {alias: from_tensor_proto(response.outputs[alias]) for alias in output_names}
        return _served_version(response.model_spec), outputs

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

    def metadata(self, ref: ModelRef, timeout: float) -> tuple[int, dict[str, SignatureSpec]]:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=model_spec(ref, with_signature=False), metadata_field=[SIGNATURE_DEF_FIELD]
        )
        response = _call(self._predictions.GetModelMetadata, request, timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
        return response.model_spec.version.value, signatures_from_proto(signature_map)

    def status(self, ref: ModelRef, timeout: float) -> list[VersionStatus]:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(ref, with_signature=False))
        return statuses_from_proto(_call(self._models.GetModelStatus, request, timeout))

    def list_models(self, timeout: float) -> list[ModelInfo]:
        raise ClientError(
            "UNIMPLEMENTED",
            "listing models needs REST (our server's GET /v1/models; TF Serving's gRPC API has no such call): "
            "use --rest http://HOST:8501",
        )

    def close(self) -> None:
        self._channel.close()


def open_channel(addresses: Sequence[str], options: list[tuple[str, Any]]) -> grpc.Channel:
    """An insecure channel balancing ``addresses`` round robin (see the module docstring)."""
    return grpc.insecure_channel(grpc_target(addresses), options=options)


def grpc_target(addresses: Sequence[str]) -> str:
    """gRPC's target for the replicas: one address as given, several as one ``ipv4:``/``ipv6:`` list."""
    if len(addresses) == 1:
        return addresses[0]
    resolved = [_resolve(address) for address in addresses]
    families = {family for family, _ in resolved}
    if len(families) > 1:
        raise ClientError("INVALID_ARGUMENT", f"mixing IPv4 and IPv6 servers is not supported: {', '.join(addresses)}")
    scheme = "ipv4" if families == {socket.AF_INET} else "ipv6"
    return f"{scheme}:{','.join(endpoint for _, endpoint in resolved)}"


def _resolve(address: str) -> tuple[int, str]:
    """``host:port`` as an address family and ``ip:port`` (``[ip]:port`` for IPv6), IPv4 preferred."""
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        raise ClientError("INVALID_ARGUMENT", f"a gRPC server address looks like host:port; got {address!r}")
    try:
        found = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
    except OSError as error:
        raise ClientError("UNAVAILABLE", f"cannot resolve {host!r}: {error.strerror or error}") from None
    family, _, _, _, sockaddr = min(found, key=lambda entry: entry[0] != socket.AF_INET)
    ip = sockaddr[0] if family == socket.AF_INET else f"[{sockaddr[0]}]"
    return family, f"{ip}:{port}"


def channel_options(max_message_bytes: int | None, retry: RetryPolicy) -> list[tuple[str, Any]]:
    """Round robin over the replicas, no 4 MB receive cap unless asked for, and reconnects as quick as our
    retries, so a retry can succeed."""
    limit = UNLIMITED if max_message_bytes is None else max_message_bytes
    backoff_ms = int(retry.initial_backoff * 1000)
    return [
        ("grpc.service_config", ROUND_ROBIN_CONFIG),
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


def _served_version(spec: model_pb2.ModelSpec) -> int | None:
    return spec.version.value if spec.HasField("version") else None


def _example_input(examples: list[tf.train.Example]) -> input_pb2.Input:
    return input_pb2.Input(example_list=input_pb2.ExampleList(examples=examples))


def _call(method: grpc.UnaryUnaryMultiCallable, request: Message, timeout: float) -> Any:
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as error:
        raise client_error(error) from None


def client_error(error: grpc.RpcError) -> ClientError:
    """The ClientError of a failed call. UNAVAILABLE (a replica down or draining) and CANCELLED (this client never
    cancels, so the server did: a replica shutting down ends its calls in flight) may be retried elsewhere."""
    code = error.code().name
    return ClientError(code, error.details() or code, HTTP_STATUS_BY_CODE.get(code), retryable=code in RETRYABLE)
