"""The requests a load generator sends: inputs made up from a signature, encoded once, sent raw.

Inputs are synthesised from the metadata any TF Serving endpoint returns (dtype and shape): the batch
dimension becomes ``--batch``, unknown heights and widths of ``[N,H,W,C]`` images an image size, other
unknown dimensions 1. The request is encoded once (a serialised PredictRequest for gRPC, a JSON body for
REST) and every send reuses the bytes without parsing the answer, so the client spends as little CPU as
it can: on a machine it shares with the server, the figures then measure the server, not the client.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from client.errors import CODE_BY_HTTP_STATUS, InputError
from client.grpc_transport import model_spec
from client.messages import ModelRef, SignatureSpec
from client.rest_transport import model_path
from client.tensors import json_dumps, to_tensor_proto

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
IMAGE_CHANNELS = (1, 3, 4)
OK = "OK"
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


class GrpcSender:
    """Sends one serialised PredictRequest over a channel to ``target``; the answer is not parsed."""

    def __init__(self, target: str, ref: ModelRef, spec: SignatureSpec, inputs: dict[str, np.ndarray], timeout: float) -> None:
        request = predict_pb2.PredictRequest(model_spec=model_spec(ref))
        for alias, array in inputs.items():
            request.inputs[alias].CopyFrom(to_tensor_proto(array, spec.inputs[alias]))
        self.payload = request.SerializeToString()
        self.timeout = timeout
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
        self.predict = self.channel.unary_unary(PREDICT_METHOD)

    def __call__(self) -> str:
        try:
            self.predict(self.payload, timeout=self.timeout)
        except grpc.RpcError as error:
            return error.code().name
        return OK

    def close(self) -> None:
        self.channel.close()


class RestSender:
    """POSTs one JSON body to ``:predict``, one keep-alive connection per thread; the answer is read, not parsed."""

    def __init__(self, url: str, ref: ModelRef, inputs: dict[str, np.ndarray], timeout: float) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise InputError(f"the load generator's REST address must look like http://host:port; got {url!r}")
        self.netloc = parts.netloc
        self.path = model_path(ref, ":predict")
        self.body = json_dumps({"signature_name": ref.signature, "inputs": {k: v.tolist() for k, v in inputs.items()}})
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []

    def __call__(self) -> str:
        connection = self._connection()
        try:
            connection.request("POST", self.path, self.body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            self._local.connection = None
            return "DEADLINE_EXCEEDED" if isinstance(error, TimeoutError) else "UNAVAILABLE"
        return OK if response.status == 200 else f"HTTP {response.status} {CODE_BY_HTTP_STATUS.get(response.status, '')}".rstrip()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.netloc, timeout=self.timeout)
            self._local.connection = connection
            self._opened.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._opened:
            connection.close()
