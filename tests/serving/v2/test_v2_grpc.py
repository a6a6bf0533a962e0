"""inference.GRPCInferenceService on the shipped models, and v2 calls sharing the batcher and the request gate."""

from __future__ import annotations

import json
import struct
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import tensorflow as tf
from server_process import start_in_process
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from inference_protocol import grpc_predict_v2_pb2 as pb
from inference_protocol import grpc_predict_v2_pb2_grpc as pb_grpc


@pytest.fixture(scope="module")
def stub(shipped_served):
    with grpc.insecure_channel(shipped_served.grpc_target) as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def image_request(model: str, batch: np.ndarray, version: str = "") -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    request.inputs.add(name="images", datatype="UINT8", shape=batch.shape)
    request.raw_input_contents.append(batch.tobytes())
    return request


def outputs_of(response: pb.ModelInferResponse) -> dict[str, tuple[pb.ModelInferResponse.InferOutputTensor, bytes]]:
    return {tensor.name: (tensor, raw) for tensor, raw in zip(response.outputs, response.raw_output_contents)}


def test_health_and_server_metadata(stub):
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready
    assert stub.ModelReady(pb.ModelReadyRequest(name="charlstm")).ready
    assert not stub.ModelReady(pb.ModelReadyRequest(name="charlstm", version="9")).ready
    metadata = stub.ServerMetadata(pb.ServerMetadataRequest())
    assert metadata.name == "keras-serving-lab" and list(metadata.extensions) == ["binary_tensor_data"]


def test_model_metadata(stub):
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="cartpole_dqn"))
    assert (metadata.name, list(metadata.versions), metadata.platform) == ("cartpole_dqn", ["1"], "tensorflow_savedmodel")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("observations", "FP32", [-1, 4])]
    with pytest.raises(grpc.RpcError) as missing:
        stub.ModelMetadata(pb.ModelMetadataRequest(name="cartpole_dqn", version="3"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_classifier_raw_images(stub):
    batch = np.full((2, 28, 28, 1), 200, np.uint8)
    request = image_request("fashion_mnist_classifier", batch)
    request.outputs.add(name="probabilities")
    request.outputs.add(name="classes")
    response = stub.ModelInfer(request)
    assert response.model_version == "7"
    outputs = outputs_of(response)
    assert list(outputs) == ["probabilities", "classes"]
    tensor, raw = outputs["probabilities"]
    assert (tensor.datatype, list(tensor.shape)) == ("FP32", [2, 10])
    np.testing.assert_allclose(np.frombuffer(raw, "<f4").reshape(2, 10).sum(axis=1), [1.0, 1.0], rtol=1e-5)
    tensor, raw = outputs["classes"]
    assert tensor.datatype == "BYTES"
    (length,) = struct.unpack_from("<I", raw)
    assert raw[4 : 4 + length]


def test_char_lstm_bytes_and_dqn_typed_contents(stub):
    request = pb.ModelInferRequest(model_name="charlstm")
    request.inputs.add(name="prompt", datatype="BYTES", shape=[1]).contents.bytes_contents.append(b"Hello")
    request.inputs.add(name="length", datatype="INT32", shape=[1]).contents.int_contents.append(4)
    request.inputs.add(name="seed", datatype="INT64", shape=[1]).contents.int64_contents.append(3)
    request.inputs.add(name="temperature", datatype="FP32", shape=[1]).contents.fp32_contents.append(0.7)
    tensor, raw = outputs_of(stub.ModelInfer(request))["text"]
    (length,) = struct.unpack_from("<I", raw)
    assert tensor.datatype == "BYTES" and len(raw) == 4 + length and length > 0
    request = pb.ModelInferRequest(model_name="cartpole_dqn")
    request.inputs.add(name="observations", datatype="FP32", shape=[1, 4]).contents.fp32_contents.extend([0, 0, 0.2, 0])
    request.outputs.add(name="actions")
    tensor, raw = outputs_of(stub.ModelInfer(request))["actions"]
    assert tensor.datatype == "INT64" and np.frombuffer(raw, "<i8").tolist()[0] in (0, 1)


def bad_request(change) -> pb.ModelInferRequest:
    request = image_request("fashion_mnist_classifier", np.zeros((1, 28, 28, 1), np.uint8))
    change(request)
    return request


@pytest.mark.parametrize(
    "change, code, message",
    [
        (lambda r: setattr(r, "model_name", "nope"), grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"),
        (lambda r: setattr(r, "model_version", "4"), grpc.StatusCode.NOT_FOUND, "Specific(fashion_mnist_classifier, 4)"),
        (lambda r: setattr(r.inputs[0], "datatype", "UINT128"), grpc.StatusCode.INVALID_ARGUMENT, "invalid datatype 'UINT128'"),
        (lambda r: setattr(r.inputs[0], "datatype", "INT8"), grpc.StatusCode.INVALID_ARGUMENT, "unexpected datatype INT8"),
        (lambda r: r.inputs[0].shape.__setitem__(0, 2), grpc.StatusCode.INVALID_ARGUMENT, "need 1568"),
        (lambda r: r.raw_input_contents.append(b"x"), grpc.StatusCode.INVALID_ARGUMENT, "2 raw_input_contents for 1 inputs"),
        (lambda r: r.outputs.add(name="logits"), grpc.StatusCode.INVALID_ARGUMENT, "output tensor alias not found"),
    ],
    ids=["unknown-model", "unknown-version", "unknown-datatype", "wrong-datatype", "wrong-shape", "extra-raw", "unknown-output"],
)
def test_errors_carry_the_status_and_name_the_problem(stub, change, code, message):
    with pytest.raises(grpc.RpcError) as failed:
        stub.ModelInfer(bad_request(change))
    assert failed.value.code() == code
    assert message in failed.value.details()


def test_a_shape_that_disagrees_with_the_signature(stub):
    request = image_request("fashion_mnist_classifier", np.zeros((1, 28, 28, 1), np.uint8))
    del request.inputs[0].shape[:]
    request.inputs[0].shape.extend([1, 784, 1, 1])
    with pytest.raises(grpc.RpcError) as failed:
        stub.ModelInfer(request)
    assert "Expected [-1, 28, 28, 1], got [1, 784, 1, 1]" in failed.value.details()


def test_v1_and_v2_requests_form_one_batch(model_root, tmp_path):
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 3 }\nbatch_timeout_micros { value: 4000000 }\nnum_batch_threads { value: 1 }\n")
    server = start_in_process(
        "--model_name=mnist", f"--model_base_path={model_root}/mnist", "--enable_batching",
        f"--batching_parameters_file={parameters}",
    )
    image = np.zeros((1, 28, 28, 1), np.uint8)
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "mnist"
    predict.inputs["images"].CopyFrom(tf.make_tensor_proto(image))
    header = json.dumps({"inputs": [{"name": "images", "datatype": "UINT8", "shape": [1, 28, 28, 1], "parameters": {"binary_data_size": 784}}]}).encode()
    rest = urllib.request.Request(
        f"{server.rest_url}/v2/models/mnist/infer", header + image.tobytes(),
        {"Inference-Header-Content-Length": str(len(header))},
    )
    try:
        with grpc.insecure_channel(server.grpc_target) as channel:
            calls = [
                lambda: prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(predict, 10.0),
                lambda: pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(image_request("mnist", image), 10.0),
                lambda: urllib.request.urlopen(rest, timeout=10).status,
            ]
            started = time.monotonic()
            with ThreadPoolExecutor(3) as pool:
                answers = list(pool.map(lambda call: call(), calls))
            elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert answers[2] == 200
    assert elapsed < 3.0, "a TF Serving Predict and two v2 infers must fill one batch of 3, not wait out the 4 s timeout"


def test_draining_refuses_v2_calls_on_both_apis(model_root):
    server = start_in_process("--model_name=mnist", f"--model_base_path={model_root}/mnist")
    try:
        server.running.gate.drain(0.0)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.rest_url}/v2/health/ready", timeout=10)
        assert refused.value.code == 503 and "shutting down" in json.loads(refused.value.read())["error"]
        with grpc.insecure_channel(server.grpc_target) as channel:
            with pytest.raises(grpc.RpcError) as unavailable:
                pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(image_request("mnist", np.zeros((1, 28, 28, 1), np.uint8)), 10.0)
        assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


def test_calls_without_a_deadline_run_on_both_services(shipped_served, stub):
    """gRPC reports an infinite future as ~10^19 s left; that must not become a run timeout TensorFlow refuses."""
    observations = np.zeros((1, 4), np.float32)
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "cartpole_dqn"
    predict.inputs["observations"].CopyFrom(tf.make_tensor_proto(observations))
    with grpc.insecure_channel(shipped_served.grpc_target) as channel:
        assert "actions" in prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(predict).outputs
    request = pb.ModelInferRequest(model_name="cartpole_dqn")
    request.inputs.add(name="observations", datatype="FP32", shape=[1, 4])
    request.raw_input_contents.append(observations.tobytes())
    assert len(stub.ModelInfer(request).outputs) == 3
