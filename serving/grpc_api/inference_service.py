"""inference.GRPCInferenceService, the Open Inference Protocol over gRPC, beside TensorFlow Serving's services.

Inputs arrive as ``raw_input_contents`` (in the order of ``inputs``) or as typed ``contents``; outputs always
go back as ``raw_output_contents``, as Triton answers. The request parameter ``signature_name`` picks the
signature (default ``serving_default``). Calls pass the server's request gate like every other service.
"""

from __future__ import annotations

import grpc

from inference_protocol import grpc_predict_v2_pb2 as pb
from inference_protocol import grpc_predict_v2_pb2_grpc as pb_grpc
from inference_protocol.tensors import BYTES, to_raw
from serving.errors import invalid_argument
from serving.grpc_api.calls import handle_call
from serving.monitoring import Metrics
from serving.v2.models import (
    EXTENSIONS,
    SERVER_NAME,
    SERVER_VERSION,
    SIGNATURE_PARAMETER,
    InferRequest,
    InferResult,
    Tensor,
    V2Models,
)
from serving.v2.tensor_codec import from_raw, from_values

CONTENTS_FIELD_BY_DATATYPE = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    BYTES: "bytes_contents",
}


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer on our models."""

    def __init__(self, models: V2Models, metrics: Metrics) -> None:
        self._models = models
        self._metrics = metrics

    def ServerLive(self, request: pb.ServerLiveRequest, context: grpc.ServicerContext) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: pb.ServerReadyRequest, context: grpc.ServicerContext) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self._models.server_ready())

    def ModelReady(self, request: pb.ModelReadyRequest, context: grpc.ServicerContext) -> pb.ModelReadyResponse:
        return pb.ModelReadyResponse(ready=self._models.model_ready(request.name, request.version))

    def ServerMetadata(self, request, context: grpc.ServicerContext) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION, extensions=EXTENSIONS)

    def ModelMetadata(self, request: pb.ModelMetadataRequest, context: grpc.ServicerContext) -> pb.ModelMetadataResponse:
        return handle_call(
            context, self._metrics, "ModelMetadata", request.name,
            lambda deadline: metadata_response(self._models, request),
        )

    def ModelInfer(self, request: pb.ModelInferRequest, context: grpc.ServicerContext) -> pb.ModelInferResponse:
        return handle_call(
            context, self._metrics, "ModelInfer", request.model_name,
            lambda deadline: infer_response(self._models.infer(infer_request(request), deadline)),
        )


def metadata_response(models: V2Models, request: pb.ModelMetadataRequest) -> pb.ModelMetadataResponse:
    metadata = models.model_metadata(request.name, request.version)
    response = pb.ModelMetadataResponse(name=metadata.name, versions=metadata.versions, platform=metadata.platform)
    for tensors, into in ((metadata.inputs, response.inputs), (metadata.outputs, response.outputs)):
        for tensor in tensors:
            into.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
    return response


def infer_request(request: pb.ModelInferRequest) -> InferRequest:
    """The decoded request; INVALID_ARGUMENT when raw contents and inputs do not pair up."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise invalid_argument(
            f"the request has {len(raw)} raw_input_contents for {len(request.inputs)} inputs; give one per input"
        )
    inputs = [_input(tensor, raw[index] if raw else None) for index, tensor in enumerate(request.inputs)]
    signature = request.parameters.get(SIGNATURE_PARAMETER)
    return InferRequest(
        model_name=request.model_name,
        model_version=request.model_version,
        inputs=inputs,
        outputs=[output.name for output in request.outputs] or None,
        signature_name=signature.string_param if signature is not None else "",
        request_id=request.id,
    )


def _input(tensor: pb.ModelInferRequest.InferInputTensor, raw: bytes | None) -> Tensor:
    shape = tuple(tensor.shape)
    if raw is not None:
        array = from_raw(raw, tensor.datatype, shape, tensor.name)
    else:
        field = CONTENTS_FIELD_BY_DATATYPE.get(tensor.datatype)
        if field is None:
            raise invalid_argument(
                f"input '{tensor.name}' of datatype '{tensor.datatype}' must come as raw_input_contents"
            )
        array = from_values(list(getattr(tensor.contents, field)), tensor.datatype, shape, tensor.name)
    return Tensor(tensor.name, tensor.datatype, shape, array)


def infer_response(result: InferResult) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name=result.model_name, model_version=result.model_version, id=result.request_id)
    for output in result.outputs:
        response.outputs.add(name=output.name, datatype=output.datatype, shape=output.shape)
        response.raw_output_contents.append(to_raw(output.array))
    return response
