"""tensorflow.serving.PredictionService over gRPC."""

from __future__ import annotations

import grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from serving.core.inference import Inference
from serving.grpc_api.calls import handle_call
from serving.monitoring import Metrics


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict, Classify, Regress, MultiInference and GetModelMetadata."""

    def __init__(self, inference: Inference, metrics: Metrics) -> None:
        self._inference = inference
        self._metrics = metrics

    def Predict(self, request, context: grpc.ServicerContext):
        return handle_call(
            context, self._metrics, "Predict", request.model_spec.name,
            lambda deadline: self._inference.predict(request, deadline),
        )

    def Classify(self, request, context: grpc.ServicerContext):
        return handle_call(
            context, self._metrics, "Classify", request.model_spec.name,
            lambda deadline: self._inference.classify(request, deadline),
        )

    def Regress(self, request, context: grpc.ServicerContext):
        return handle_call(
            context, self._metrics, "Regress", request.model_spec.name,
            lambda deadline: self._inference.regress(request, deadline),
        )

    def MultiInference(self, request, context: grpc.ServicerContext):
        model_name = request.tasks[0].model_spec.name if request.tasks else ""
        return handle_call(
            context, self._metrics, "MultiInference", model_name,
            lambda deadline: self._inference.multi_inference(request, deadline),
        )

    def GetModelMetadata(self, request, context: grpc.ServicerContext):
        return handle_call(
            context, self._metrics, "GetModelMetadata", request.model_spec.name,
            lambda deadline: self._inference.metadata(request),
        )
