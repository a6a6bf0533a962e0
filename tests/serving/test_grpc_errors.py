"""Every row of TF Serving's gRPC error table, and bad input that must never crash or hang the server."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def channel(served):
    with grpc.insecure_channel(served.grpc_target) as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def predict_request(model: str = "default", signature: str = "", **inputs) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    for alias, value in inputs.items():
        request.inputs[alias].CopyFrom(value if isinstance(value, tensor_pb2.TensorProto) else tf.make_tensor_proto(value))
    return request


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as error:
        call(request, 10.0)
    return error.value


@pytest.mark.parametrize(
    "request_, code, message",
    [
        (predict_pb2.PredictRequest(), INVALID, "Missing ModelSpec"),
        (predict_request(model="", x=[1.0]), INVALID, "ModelSpec has no name specified."),
        (predict_request(model="nope", x=[1.0]), grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"),
        (predict_request(model="../etc", x=[1.0]), grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(../etc)"),
        (predict_request(model="a/b", x=[1.0]), grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(a/b)"),
        (predict_request(signature="nope", x=[1.0]), grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'),
        (predict_request(x=[1.0], z=[2.0]), INVALID, "input size does not match signature: 2!=1 len({x,z}) != len({x}). Sent extra: {z}. Missing but required: {}."),
        (predict_request(z=[1.0]), INVALID, "Signature input alias: x(feed name: x) not found in request"),
        (predict_request(x=np.array([b"a"], dtype=object)), INVALID, "Expects arg[0] to be float but string is provided"),
        (predict_request(x=np.array([1], dtype=np.int32)), INVALID, "Expects arg[0] to be float but int32 is provided"),
    ],
)
def test_predict_error_table(stub, request_, code, message):
    error = rpc_error(stub.Predict, request_)
    assert error.code() == code
    assert error.details().startswith(message)


def test_unknown_version_and_label(stub):
    request = predict_request(x=[1.0])
    request.model_spec.version.value = 99
    error = rpc_error(stub.Predict, request)
    assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "Servable not found for request: Specific(default, 99)")
    request.model_spec.version_label = "nope"
    error = rpc_error(stub.Predict, request)
    assert (error.code(), error.details()) == (INVALID, "Unrecognized servable version label: nope")


def test_output_filter_errors(stub):
    request = predict_request(x=[1.0])
    request.output_filter.append("nope")
    error = rpc_error(stub.Predict, request)
    assert error.code() == INVALID
    assert error.details() == "output tensor alias not found in signature: nope Outputs expected to be in the set {y}."
    request.output_filter[:] = ["y", "y"]
    assert rpc_error(stub.Predict, request).details() == "duplicate output tensor alias: y"


def test_classify_errors(stub):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "nope"
    error = rpc_error(stub.Classify, request)
    assert (error.code(), error.details()) == (INVALID, "No signature was found with the name: nope")
    request.model_spec.signature_name = "classify_x_to_y"
    error = rpc_error(stub.Classify, request)
    assert (error.code(), error.details()) == (INVALID, "Input is empty.")


def test_model_status_and_metadata_errors(channel, stub):
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    error = rpc_error(models.GetModelStatus, request)
    assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "Could not find any versions of model nope")
    request.model_spec.name = "default"
    request.model_spec.version.value = 42
    error = rpc_error(models.GetModelStatus, request)
    assert error.details() == "Could not find version 42 of model default"
    metadata = get_model_metadata_pb2.GetModelMetadataRequest()
    metadata.model_spec.name = "default"
    assert rpc_error(stub.GetModelMetadata, metadata).code() == INVALID
    metadata.metadata_field.append("graph")
    assert "graph" in rpc_error(stub.GetModelMetadata, metadata).details()


def shaped_tensor(shape: list[int], dtype=types_pb2.DT_FLOAT, **values) -> tensor_pb2.TensorProto:
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in shape]
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims), **values)


@pytest.mark.parametrize(
    "tensor, fragment",
    [
        (shaped_tensor([-3], float_val=[1.0]), "negative dimension"),
        (shaped_tensor([2**40, 2**30], float_val=[1.0]), "too large"),
        (shaped_tensor([2], float_val=[1.0, 2.0, 3.0]), "3 values for shape [2]"),
        (shaped_tensor([2], tensor_content=b"\x00" * 7), "tensor_content has 7 bytes"),
    ],
)
def test_malformed_tensors_are_invalid_argument(stub, tensor, fragment):
    error = rpc_error(stub.Predict, predict_request(x=tensor))
    assert error.code() == INVALID
    assert error.details().startswith("tensor parsing error: x")
    assert fragment in error.details()


def test_out_of_range_integers_are_invalid(stub):
    tensor = shaped_tensor([1, 28, 28, 1], dtype=types_pb2.DT_UINT8, int_val=[300])
    error = rpc_error(stub.Predict, predict_request(model="mnist", images=tensor))
    assert error.code() == INVALID and "tensor parsing error: images" in error.details()


def test_nan_is_computed_not_rejected(stub):
    response = stub.Predict(predict_request(x=[float("nan"), float("inf")]), 10.0)
    values = list(response.outputs["y"].float_val)
    assert np.isnan(values[0]) and values[1] == float("inf")


def test_garbage_bytes_instead_of_a_proto_do_not_hurt_the_server(channel, stub):
    raw = channel.unary_unary("/tensorflow.serving.PredictionService/Predict", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as error:
        raw(b"\xff\xff\xff\xff garbage", timeout=10.0)
    assert error.value.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT)
    unknown_fields = predict_request(x=[2.0]).SerializeToString() + b"\xf8\x07\x01"
    response = predict_pb2.PredictResponse.FromString(raw(unknown_fields, timeout=10.0))
    assert list(response.outputs["y"].float_val) == [3.0]
    started = time.monotonic()
    assert list(stub.Predict(predict_request(x=[2.0]), 10.0).outputs["y"].float_val) == [3.0]
    assert time.monotonic() - started < 5.0


def test_messages_are_truncated_like_tf_serving(stub):
    error = rpc_error(stub.Predict, predict_request(model="m" * 3000, x=[1.0]))
    assert error.details().endswith("...TRUNCATED")
    assert len(error.details()) == 1024 + len("...TRUNCATED")
