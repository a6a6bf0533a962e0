"""The v2 REST transport: ``/v2/models/…`` with the binary tensor data extension, so images travel as raw bytes.

The JSON header (its length in ``Inference-Header-Content-Length``) names each input with its
``binary_data_size``, and asks each output back as binary data; the raw tensors follow it in order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import tensorflow as tf

from client.errors import ClientError
from client.http_replicas import HttpAnswer, HttpReplicas
from client.messages import Classifications, ModelInfo, ModelRef, SignatureSpec, VersionStatus
from client.rest_transport import http_error
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
from inference_protocol.tensors import BYTES, NUMPY_BY_DATATYPE, as_bytes

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_SIZE = "binary_data_size"


class V2RestTransport:
    """Calls to the replicas at ``urls`` (``http://host:port`` each)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._http = HttpReplicas(urls)

    def predict(
        self, ref: ModelRef, inputs: dict[str, np.ndarray], signature: SignatureSpec, output_names: list[str],
        timeout: float,
    ) -> Served:
        body, headers = infer_body(ref, inputs, output_names)
        answer = self._checked(self._http.exchange("POST", model_path(ref, "/infer"), body, timeout, headers))
        document, outputs = infer_outputs(answer)
        return served_number(str(document.get("model_version", ""))), {name: outputs[name] for name in output_names}

    def classify(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> Classifications:
        raise unsupported("classify")

    def regress(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> np.ndarray:
        raise unsupported("regress")

    def metadata(self, ref: ModelRef, timeout: float) -> tuple[int, dict[str, SignatureSpec]]:
        answer = self._metadata(ref, timeout)
        try:
            signatures = signatures_from_metadata(_tensors(answer["inputs"]), _tensors(answer["outputs"]))
            return served_version(ref, [str(version) for version in answer["versions"]]), signatures
        except (KeyError, TypeError, ValueError):
            raise ClientError("UNKNOWN", "the server's v2 metadata has no versions, inputs or outputs") from None

    def status(self, ref: ModelRef, timeout: float) -> list[VersionStatus]:
        return statuses([str(version) for version in self._metadata(ref, timeout).get("versions", [])])

    def list_models(self, timeout: float) -> list[ModelInfo]:
        raise unsupported("listing models")

    def close(self) -> None:
        self._http.close()

    def _metadata(self, ref: ModelRef, timeout: float) -> dict[str, Any]:
        answer = self._checked(self._http.exchange("GET", model_path(ref, ""), None, timeout))
        try:
            return json.loads(answer.body)
        except ValueError:
            raise ClientError("UNKNOWN", "the server's v2 metadata is not JSON") from None

    @staticmethod
    def _checked(answer: HttpAnswer) -> HttpAnswer:
        if answer.status != 200:
            raise http_error(answer.status, answer.body)
        return answer


def model_path(ref: ModelRef, suffix: str) -> str:
    """``/v2/models/<name>[/versions/<v>]<suffix>``, the name URL-escaped."""
    version = version_text(ref)
    return f"/v2/models/{quote(ref.name, safe='')}" + (f"/versions/{version}" if version else "") + suffix


def infer_body(ref: ModelRef, inputs: dict[str, np.ndarray], output_names: list[str]) -> tuple[bytes, dict[str, str]]:
    """The request body (JSON header, then the raw inputs) and its headers; every output is asked for as binary
    data (no ``output_names``: all of them)."""
    raw = raw_inputs(inputs)
    document: dict[str, Any] = {
        "inputs": [
            {"name": t.name, "datatype": t.datatype, "shape": t.shape, "parameters": {BINARY_SIZE: len(t.data)}}
            for t in raw
        ],
        "outputs": [{"name": name, "parameters": {"binary_data": True}} for name in output_names],
        "parameters": {"binary_data_output": True, **signature_parameter(ref)},
    }
    header = json.dumps(document).encode()
    headers = {HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}
    return header + b"".join(tensor.data for tensor in raw), headers


def infer_outputs(answer: HttpAnswer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The answer's JSON header and its outputs by name, read from binary data or from JSON ``data``."""
    length = int(answer.headers.get(HEADER_LENGTH) or len(answer.body))
    try:
        document = json.loads(answer.body[:length])
        described = document["outputs"]
    except (ValueError, KeyError, TypeError):
        raise ClientError("UNKNOWN", "the server's v2 infer answer has no JSON outputs") from None
    outputs, offset = {}, length
    for output in described:
        size = output.get("parameters", {}).get(BINARY_SIZE)
        if size is None:
            outputs[output["name"]] = _from_json(output)
            continue
        outputs[output["name"]] = decode_raw(answer.body[offset : offset + size], output["datatype"], output["shape"], output["name"])
        offset += size
    return document, outputs


def _from_json(output: dict[str, Any]) -> np.ndarray:
    values = np.asarray(output.get("data", []), dtype=object if output["datatype"] == BYTES else None).reshape(-1)
    if output["datatype"] == BYTES:
        return np.array([as_bytes(value) for value in values], dtype=object).reshape(output["shape"])
    return values.astype(NUMPY_BY_DATATYPE[output["datatype"]]).reshape(output["shape"])


def _tensors(items: list[dict[str, Any]]) -> list[TensorMetadata]:
    return [TensorMetadata(item["name"], item["datatype"], item["shape"]) for item in items]
