"""The requests a load generator sends: inputs made up from a signature, encoded once, sent raw.

Inputs are synthesised from the metadata any TF Serving endpoint returns (dtype and shape): the batch
dimension becomes ``--batch``, unknown heights and widths of ``[N,H,W,C]`` images an image size, other
unknown dimensions 1. The request is encoded once (a serialised PredictRequest or v2 ModelInferRequest for
gRPC, a JSON body or a v2 binary-data body for REST) and every send reuses the bytes without parsing the answer, so the client spends as little CPU as
it can: on a machine it shares with the server, the figures then measure the server, not the client.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Sequence

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from client.errors import CODE_BY_HTTP_STATUS, ClientError
from client.grpc_transport import channel_options, client_error, model_spec, open_channel
from client.messages import ModelRef, SignatureSpec
from client.http_replicas import rest_address
from client.rest_transport import model_path
from client.retry import RetryPolicy
from client.tensors import json_dumps, to_tensor_proto
from client.transport import RoundRobin, split_servers
from client.v2_grpc_transport import infer_request
from client.v2_rest_transport import infer_body
from client.v2_rest_transport import model_path as v2_model_path

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
IMAGE_CHANNELS = (1, 3, 4)
OK = "OK"
NO_RETRIES = RetryPolicy(retries=0)
Send = Callable[[], str]
"""One request, sent and answered: the answer's status, ``OK``, a gRPC code name or ``HTTP <status>``."""


def synthetic_inputs(spec: SignatureSpec, batch: int, image_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """One made-up value per input of the signature: random pixels and floats, zero integers, empty strings."""
    rng = np.random.default_rng(seed)
    return {alias: _values(tensor, input_shape(tensor, batch, image_size), rng) for alias, tensor in spec.inputs.items()}


def input_shape(tensor: tf.TensorSpec, batch: int, image_size: int) -> list[int]:
    """The shape sent for one input: the batch first, images at ``image_size``, other unknown dimensions 1."""
    if tensor.shape.rank is None:
        return [batch]
    dims = tensor.shape.as_list()
    if not dims:
        return []
    image = len(dims) == 4 and dims[3] in IMAGE_CHANNELS
    rest = [size if size is not None else (image_size if image and axis in (1, 2) else 1)
            for axis, size in enumerate(dims[1:], start=1)]
    return [batch if dims[0] is None else dims[0], *rest]


def _values(tensor: tf.TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
    if tensor.dtype == tf.string:
        return np.full(shape, b"", dtype=object)
    if tensor.dtype == tf.uint8:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    if tensor.dtype.is_floating:
        return rng.random(shape).astype(tensor.dtype.as_numpy_dtype)
    return np.zeros(shape, dtype=tensor.dtype.as_numpy_dtype)


def grpc_request(protocol: str, ref: ModelRef, spec: SignatureSpec, inputs: dict[str, np.ndarray]) -> tuple[str, bytes]:
    """The gRPC method and serialised request: TF Serving's Predict, or v2's ModelInfer with raw inputs."""
    if protocol == "v2":
        return INFER_METHOD, infer_request(ref, inputs, []).SerializeToString()
    request = predict_pb2.PredictRequest(model_spec=model_spec(ref))
    for alias, array in inputs.items():
        request.inputs[alias].CopyFrom(to_tensor_proto(array, spec.inputs[alias]))
    return PREDICT_METHOD, request.SerializeToString()


def rest_request(protocol: str, ref: ModelRef, inputs: dict[str, np.ndarray]) -> tuple[str, bytes, dict[str, str]]:
    """The path, body and headers: TF Serving's JSON ``:predict``, or v2's ``/infer`` with binary tensor data."""
    if protocol == "v2":
        return (v2_model_path(ref, "/infer"), *infer_body(ref, inputs, []))
    body = json_dumps({"signature_name": ref.signature, "inputs": {k: v.tolist() for k, v in inputs.items()}})
    return model_path(ref, ":predict"), body, {"Content-Type": "application/json"}


class GrpcSender:
    """Sends one serialised request to ``method`` over a round-robin channel to the replicas; the answer is not
    parsed. An UNAVAILABLE answer is retried by ``retry`` (on the next ready replica) within the timeout.
    """

    def __init__(
        self, servers: str | Sequence[str], method: str, payload: bytes, timeout: float, retry: RetryPolicy = NO_RETRIES,
    ) -> None:
        self.payload = payload
        self.timeout, self.retry = timeout, retry
        self.channel = open_channel(split_servers(servers), channel_options(None, retry))
        self.predict = self.channel.unary_unary(method)

    def __call__(self) -> str:
        return _status_of(lambda: self.retry.call(self._attempt, self.timeout))

    def _attempt(self, seconds: float) -> None:
        try:
            self.predict(self.payload, timeout=seconds)
        except grpc.RpcError as error:
            raise client_error(error) from None

    def close(self) -> None:
        self.channel.close()


class RestSender:
    """POSTs one body to ``path`` of the replicas in turn, one keep-alive connection per thread and replica; the
    answer is read, not parsed. Refused or dropped connections and 503s are retried by ``retry``."""

    def __init__(
        self, urls: str | Sequence[str], path: str, body: bytes, headers: dict[str, str], timeout: float,
        retry: RetryPolicy = NO_RETRIES,
    ) -> None:
        self.replicas = RoundRobin([rest_address(url)[1] for url in split_servers(urls)])
        self.path, self.body, self.headers = path, body, headers
        self.timeout, self.retry = timeout, retry
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def __call__(self) -> str:
        return _status_of(lambda: self.retry.call(self._attempt, self.timeout))

    def _attempt(self, seconds: float) -> None:
        netloc = self.replicas.pick()
        connection = self._connection(netloc, seconds)
        try:
            connection.request("POST", self.path, self.body, self.headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            self._local.connections.pop(netloc, None)
            if isinstance(error, TimeoutError):
                raise ClientError("DEADLINE_EXCEEDED", str(error)) from None
            self.replicas.mark_down(netloc)
            raise ClientError("UNAVAILABLE", str(error), retryable=True) from None
        if response.status != 200:
            if response.status == 503:
                self.replicas.mark_down(netloc)
            code = f"HTTP {response.status} {CODE_BY_HTTP_STATUS.get(response.status, '')}".rstrip()
            raise ClientError(code, code, response.status, retryable=response.status == 503)

    def _connection(self, netloc: str, seconds: float) -> http.client.HTTPConnection:
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        connection = self._local.connections.get(netloc)
        if connection is None:
            connection = self._local.connections[netloc] = http.client.HTTPConnection(netloc)
            with self._lock:
                self._opened.append(connection)
        connection.timeout = seconds
        if connection.sock is not None:
            connection.sock.settimeout(seconds)
        return connection

    def close(self) -> None:
        for connection in self._opened:
            connection.close()


def _status_of(send: Callable[[], None]) -> str:
    """``OK``, or the code of the error the request ended with after its retries."""
    try:
        send()
    except ClientError as error:
        return error.code
    return OK
