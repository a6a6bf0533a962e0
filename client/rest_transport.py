"""The REST transport: TensorFlow Serving's ``/v1/models`` API over keep-alive HTTP/1.1 (client.http_replicas).

Tensors go out in the columnar ``inputs`` format and
come back decoded by the output dtypes of the signature, since JSON itself cannot tell uint8 from
float or bytes from text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from client.errors import CODE_BY_HTTP_STATUS, ClientError
from client.examples import example_to_json
from client.messages import (
    Classifications,
    ModelInfo,
    ModelRef,
    SignatureSpec,
    VersionStatus,
    signatures_from_proto,
    statuses_from_proto,
)
from client.tensors import from_json_value, json_dumps
from client.http_replicas import HttpReplicas
from client.transport import Served

MAX_ERROR_CHARS = 300


class RestTransport:
    """Calls to the replicas at ``urls`` (``http://host:port`` each; ``host:port`` means http)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._http = HttpReplicas(urls)

    def predict(
        self,
        ref: ModelRef,
        inputs: dict[str, np.ndarray],
        signature: SignatureSpec,
        output_names: list[str],
        timeout: float,
    ) -> Served:
        """REST answers do not say which version served them: the version is None."""
        body = {"signature_name": ref.signature, "inputs": {alias: array.tolist() for alias, array in inputs.items()}}
        try:
            outputs = self._request("POST", model_path(ref, ":predict"), body, timeout, "outputs")
        except ClientError as error:
            raise no_input_error(ref, error) if not inputs else error from None
        if len(signature.outputs) == 1:
            outputs = {next(iter(signature.outputs)): outputs}
        return None, {alias: from_json_value(outputs[alias], signature.outputs[alias]) for alias in output_names}

    def classify(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> Classifications:
        """Scores are float32 on the server; they are rounded to float32 here so both transports agree."""
        body = _examples_body(ref, examples)
        results = self._request("POST", model_path(ref, ":classify"), body, timeout, "results")
        return [[(label, float(np.float32(score))) for label, score in classes] for classes in results]

    def regress(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> np.ndarray:
        body = _examples_body(ref, examples)
        results = self._request("POST", model_path(ref, ":regress"), body, timeout, "results")
        return np.asarray(results, dtype=np.float32)

    def metadata(self, ref: ModelRef, timeout: float) -> tuple[int, dict[str, SignatureSpec]]:
        answer = self._request("GET", model_path(ref, "/metadata"), None, timeout)
        try:
            version = int(answer["model_spec"]["version"])
            signature_map = json_format.ParseDict(
                answer["metadata"].get("signature_def", {}), get_model_metadata_pb2.SignatureDefMap(),
                ignore_unknown_fields=True,
            )
        except (KeyError, TypeError, ValueError, json_format.ParseError):
            raise ClientError("UNKNOWN", "the server's metadata answer has no model_spec version or signatures") from None
        return version, signatures_from_proto(signature_map)

    def status(self, ref: ModelRef, timeout: float) -> list[VersionStatus]:
        return _statuses(self._request("GET", model_path(ref, ""), None, timeout, "model_version_status"))

    def list_models(self, timeout: float) -> list[ModelInfo]:
        """Our server's ``GET /v1/models``; real TF Serving answers 400 ``Missing model name in request.``."""
        models = self._request("GET", "/v1/models", None, timeout, "models")
        return [
            ModelInfo(model["name"], _statuses(model.get("model_version_status", [])), model.get("labels", {}))
            for model in models
        ]

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, body: Any, timeout: float, key: str | None = None) -> Any:
        """``key`` of the JSON object the next replica answers (all of it without a key); else a ClientError."""
        data = None if body is None else json_dumps(body)
        answer = self._http.exchange(method, path, data, timeout)
        if answer.status != 200:
            raise http_error(answer.status, answer.body)
        try:
            document = json.loads(answer.body)
            return document if key is None else document[key]
        except (ValueError, KeyError, TypeError):
            raise ClientError("UNKNOWN", f"{method} {path}: the server's answer has no JSON '{key}'") from None


def no_input_error(ref: ModelRef, error: ClientError) -> ClientError:
    """TF Serving's REST API cannot run a signature without inputs; our server can (an extension)."""
    if error.code != "INVALID_ARGUMENT" or "Failed to get input map" not in error.message:
        return error
    return ClientError(
        "UNIMPLEMENTED",
        f'this server\'s REST API cannot call signature "{ref.signature}", which takes no inputs (TF Serving '
        "cannot; our server can): use gRPC, --server HOST:8500",
    )


def model_path(ref: ModelRef, suffix: str) -> str:
    """``/v1/models/<name>[/versions/<v>|/labels/<l>]<suffix>``, names URL-escaped."""
    path = f"/v1/models/{quote(ref.name, safe='')}"
    if ref.version is not None:
        path += f"/versions/{ref.version}"
    elif ref.label is not None:
        path += f"/labels/{quote(ref.label, safe='')}"
    return path + suffix


def _examples_body(ref: ModelRef, examples: list[tf.train.Example]) -> dict[str, Any]:
    return {"signature_name": ref.signature, "examples": [example_to_json(example) for example in examples]}


def _statuses(version_statuses: list[Any]) -> list[VersionStatus]:
    response = json_format.ParseDict(
        {"model_version_status": version_statuses},
        get_model_status_pb2.GetModelStatusResponse(),
        ignore_unknown_fields=True,
    )
    return statuses_from_proto(response)


def http_error(status: int, payload: bytes) -> ClientError:
    """TF Serving's ``{"error": message}``, or the start of any other body (a proxy's HTML page)."""
    text = payload.decode("utf-8", errors="replace")
    try:
        message = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        message = " ".join(text.split())[:MAX_ERROR_CHARS] or f"HTTP {status}"
    return ClientError(CODE_BY_HTTP_STATUS.get(status, "UNKNOWN"), message, status, retryable=status == 503)
