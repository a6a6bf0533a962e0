"""The Open Inference Protocol's REST API (``/v2/…``) beside TensorFlow Serving's on the same port.

JSON tensors carry ``name``, ``shape``, ``datatype`` and ``data``; with the binary tensor data extension
the body is the JSON header (``Inference-Header-Content-Length`` bytes) followed by each binary tensor's
bytes in order, sized by its ``binary_data_size`` parameter. An output asked for with the ``binary_data``
parameter (or every output, with the request's ``binary_data_output``) comes back the same way. Every
failure is ``{"error": "…"}`` with the HTTP code of its gRPC status (400 bad request, 404 unknown model or
version, 503 while draining, 504 past the deadline).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import orjson

from serving.errors import ServingError, invalid_argument, not_found
from serving.monitoring import Metrics
from serving.rest.v2_messages import (
    HEADER_LENGTH,
    infer_request_from_json,
    infer_response_body,
    metadata_json,
)
from serving.v2.models import EXTENSIONS, SERVER_NAME, SERVER_VERSION, V2Models

V2_PATH = re.compile(r"/v2(?:/|\?|$)")
MODEL_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?(?:/(ready|infer))?")
JSON = "application/json"
BINARY = "application/octet-stream"
NOT_READY = 400
"""The protocol's answer for "not ready" is any 4xx; Triton answers 400."""


@dataclass(frozen=True)
class V2Reply:
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def is_v2_path(path: str) -> bool:
    return V2_PATH.match(path) is not None


class V2RestApi:
    """Answers ``/v2`` requests: health, server and model metadata, model readiness and inference."""

    def __init__(self, models: V2Models, metrics: Metrics, timeout_seconds: float) -> None:
        self._models = models
        self._metrics = metrics
        self._timeout_seconds = timeout_seconds

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> V2Reply:
        """The reply to one request; every failure becomes ``{"error": ...}`` with its HTTP code."""
        try:
            return self._route(method, path, headers, body)
        except ServingError as error:
            return error_reply(error)

    def _route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> V2Reply:
        if path in ("/v2", "/v2/"):
            _expect(method, "GET", path)
            return _json({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": list(EXTENSIONS)})
        if path == "/v2/health/live":
            _expect(method, "GET", path)
            return _json({"live": True})
        if path == "/v2/health/ready":
            _expect(method, "GET", path)
            ready = self._models.server_ready()
            return _json({"ready": ready}, 200 if ready else NOT_READY)
        match = MODEL_PATH.fullmatch(path)
        if match is None:
            raise not_found(f"Not Found: {method} {path}")
        name, version, action = unquote(match.group(1)), unquote(match.group(2) or ""), match.group(3)
        if action == "infer":
            _expect(method, "POST", path)
            return self._infer(name, version, headers, body)
        _expect(method, "GET", path)
        if action == "ready":
            ready = self._models.model_ready(name, version)
            return _json({"name": name, "ready": ready}, 200 if ready else NOT_READY)
        return V2Reply(200, metadata_json(self._models.model_metadata(name, version)))

    def _infer(self, name: str, version: str, headers: Mapping[str, str], body: bytes) -> V2Reply:
        started = time.perf_counter()
        try:
            request, binary_outputs = infer_request_from_json(name, version, body, headers.get(HEADER_LENGTH))
            result = self._models.infer(request, self._deadline())
        except ServingError as error:
            self._metrics.record_request(name, "infer", "REST", error.code_name, 0.0)
            raise
        self._metrics.record_request(name, "infer", "REST", "OK", (time.perf_counter() - started) * 1e6)
        header, binary = infer_response_body(result, binary_outputs)
        if not binary:
            return V2Reply(200, header)
        return V2Reply(200, header + binary, BINARY, {HEADER_LENGTH: str(len(header))})

    def _deadline(self) -> float | None:
        return time.monotonic() + self._timeout_seconds if self._timeout_seconds > 0 else None


def _expect(method: str, expected: str, path: str) -> None:
    if method != expected:
        raise invalid_argument(f"Method {method} is not allowed on {path}; use {expected}")


def _json(document: dict, status: int = 200) -> V2Reply:
    return V2Reply(status, orjson.dumps(document))


def error_reply(error: ServingError) -> V2Reply:
    return V2Reply(error.http_status, orjson.dumps({"error": error.message}))
