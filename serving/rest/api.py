"""The REST API's handlers: one method per route kind, each returning an HTTP status and a JSON body.

The order of checks is TensorFlow Serving's: parse the body, look the model up, find the signature,
then convert the inputs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2, model_pb2

from serving.core.inference import Inference, metadata_response
from serving.core.server_core import ServerCore
from serving.core.status import model_status_response
from serving.errors import ServingError, invalid_argument
from serving.monitoring import Metrics
from serving.rest import json_messages, json_tensor
from serving.rest.predict_body import PredictBody
from serving.rest.routes import Route


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


class RestApi:
    """Answers routed REST requests; every failure becomes ``{"error": ...}`` with TF Serving's code."""

    def __init__(self, inference: Inference, core: ServerCore, metrics: Metrics, timeout_seconds: float) -> None:
        self._inference = inference
        self._core = core
        self._metrics = metrics
        self._timeout_seconds = timeout_seconds

    def handle(self, route: Route, body: bytes) -> Reply:
        started = time.perf_counter()
        api = route.kind if route.kind in ("predict", "classify", "regress") else ""
        try:
            reply = Reply(200, getattr(self, f"_{route.kind}")(route, body))
        except ServingError as error:
            self._metrics.record_request(route.model_name, api, "REST", error.code_name, 0.0)
            return error_reply(error)
        self._metrics.record_request(route.model_name, api, "REST", "OK", (time.perf_counter() - started) * 1e6)
        return reply

    def _deadline(self) -> float | None:
        return time.monotonic() + self._timeout_seconds if self._timeout_seconds > 0 else None

    def _servable(self, route: Route):
        return self._core.serving_map.servable(route.model_name, version=route.version, label=route.label)

    def _predict(self, route: Route, body: bytes) -> bytes:
        request = PredictBody(body)
        signature_name = request.signature_name()
        servable = self._servable(route)
        signature = servable.find_signature(signature_name or "serving_default")
        if signature is None:
            raise invalid_argument(
                f'Serving signature name: "{signature_name or "serving_default"}" not found in signature def'
            )
        if not signature.inputs and request.document().get("inputs") == {}:  # extension: input-less `metadata` signature
            inputs, row_format = {}, False
        else:
            inputs, row_format = request.inputs(signature)
        outputs = self._inference.predict_arrays(servable, signature, inputs, deadline=self._deadline())
        if not inputs:
            outputs = {name: np.asarray(value) for name, value in outputs.items()}
        return json_tensor.predict_response_json(outputs, row_format)

    def _classify(self, route: Route, body: bytes) -> bytes:
        servable, signature, examples = self._task_request(route, body, "classify")
        result = self._inference.classify_input(servable, signature, examples, self._deadline())
        return json_messages.classify_response_json(result)

    def _regress(self, route: Route, body: bytes) -> bytes:
        servable, signature, examples = self._task_request(route, body, "regress")
        result = self._inference.regress_input(servable, signature, examples, self._deadline())
        return json_messages.regress_response_json(result)

    def _task_request(self, route: Route, body: bytes, method: str):
        document = json_tensor.parse_json_body(body)
        signature_name = json_tensor.requested_signature_name(document)
        servable = self._servable(route)
        signature = self._inference.task_signature(servable, signature_name)
        return servable, signature, json_messages.input_from_json(document, method)

    def _status(self, route: Route, body: bytes) -> bytes:
        return json_messages.status_json(self._status_response(route.model_name, route.version))

    def _status_response(self, name: str, version: int | None) -> get_model_status_pb2.GetModelStatusResponse:
        spec = model_pb2.ModelSpec(name=name)
        if version is not None:
            spec.version.value = version
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        return model_status_response(self._core.manager, request)

    def _metadata(self, route: Route, body: bytes) -> bytes:
        return json_messages.metadata_json(metadata_response(self._servable(route)))

    def _list(self, route: Route, body: bytes) -> bytes:
        """Our extension (TF Serving issue #795): every model with its versions, states and labels."""
        models = []
        for name in self._core.manager.model_names():
            try:
                status = self._status_response(name, None)
            except ServingError:
                status = get_model_status_pb2.GetModelStatusResponse()
            versions = json_format.MessageToDict(status, preserving_proto_field_name=True).get("model_version_status", [])
            models.append({"name": name, "model_version_status": versions, "labels": self._core.serving_map.labels(name)})
        return json.dumps({"models": models}, indent=2).encode()


def error_reply(error: ServingError) -> Reply:
    return Reply(error.http_status, json_messages.error_json(error.message))
