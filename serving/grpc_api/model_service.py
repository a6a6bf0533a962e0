"""tensorflow.serving.ModelService over gRPC: model status and config reload."""

from __future__ import annotations

import time

import grpc
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc

from serving.core.server_core import ServerCore
from serving.core.status import model_status_response
from serving.errors import invalid_argument
from serving.grpc_api.calls import handle_call
from serving.monitoring import Metrics

OK_CODE = 0


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus and HandleReloadConfigRequest."""

    def __init__(self, core: ServerCore, metrics: Metrics) -> None:
        self._core = core
        self._metrics = metrics

    def GetModelStatus(self, request, context: grpc.ServicerContext):
        return handle_call(
            context, self._metrics, "GetModelStatus", request.model_spec.name,
            lambda deadline: model_status_response(self._core.manager, request),
        )

    def HandleReloadConfigRequest(self, request, context: grpc.ServicerContext):
        return handle_call(
            context, self._metrics, "HandleReloadConfigRequest", "", lambda deadline: self._reload(request, deadline)
        )

    def _reload(
        self, request: model_management_pb2.ReloadConfigRequest, deadline: float | None
    ) -> model_management_pb2.ReloadConfigResponse:
        """Apply the config; wait for new models no longer than the call's deadline (and the server's maximum)."""
        if request.config.WhichOneof("config") == "custom_model_config":
            raise invalid_argument("ReloadConfig only supports model_config_list; custom_model_config was given")
        self._core.reload(request.config, None if deadline is None else deadline - time.monotonic())
        response = model_management_pb2.ReloadConfigResponse()
        response.status.error_code = OK_CODE
        return response


