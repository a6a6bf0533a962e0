"""Deadlines bound the model run itself: once a call's deadline passes, TensorFlow cancels the run."""

from __future__ import annotations

import json
import resource
import time
import urllib.error
import urllib.request

import grpc
import pytest
import tensorflow as tf
from server_process import start_in_process
from slow_model import export_spinner
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from inference_protocol import grpc_predict_v2_pb2 as pb
from inference_protocol import grpc_predict_v2_pb2_grpc as pb_grpc
from serving.core.servable import run_timeout_ms

LONG_RUN_ITERATIONS = 20_000_000
"""Far more turns than a deadline of a second allows (about a minute of one core)."""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_spent_in(seconds: float) -> float:
    started = cpu_seconds()
    time.sleep(seconds)
    return cpu_seconds() - started


@pytest.fixture(scope="module")
def spinner(tmp_path_factory):
    base = tmp_path_factory.mktemp("deadlines") / "spin"
    export_spinner(str(base), 1)
    server = start_in_process("--model_name=spin", f"--model_base_path={base}", "--rest_api_timeout_in_ms=800")
    yield server
    server.stop()


def spin_request(iterations: int) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "spin"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([1.0]))
    request.inputs["iterations"].CopyFrom(tf.make_tensor_proto(iterations, dtype=tf.int32))
    return request


def test_a_grpc_deadline_cancels_the_run_and_the_server_goes_idle(spinner):
    with grpc.insecure_channel(spinner.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        assert stub.Predict(spin_request(10), 10.0).outputs["y"].float_val[0] == 1.0
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as expired:
            stub.Predict(spin_request(LONG_RUN_ITERATIONS), 0.8)
        assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        time.sleep(max(0.0, started + 1.0 - time.monotonic()))
        assert cpu_spent_in(1.5) < 0.5, "the model kept running after the deadline"


def test_the_rest_timeout_cancels_the_run(spinner):
    body = json.dumps({"inputs": {"x": [1.0], "iterations": LONG_RUN_ITERATIONS}}).encode()
    started = time.monotonic()
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(urllib.request.Request(f"{spinner.rest_url}/v1/models/spin:predict", body), timeout=60)
    assert time.monotonic() - started < 5.0
    assert expired.value.code == 504
    assert "Deadline exceeded" in json.loads(expired.value.read())["error"]
    assert cpu_spent_in(1.5) < 0.5, "the model kept running after the REST timeout"


@pytest.mark.parametrize("remaining", [0.0, 0.001, 0.8, 2.0, 30.0, 3600.0])
def test_run_timeouts_are_few_steps_at_most_a_quarter_past_the_deadline(remaining):
    timeout = run_timeout_ms(remaining)
    assert remaining * 1000 <= timeout <= max(remaining * 1000 * 1.25 + 1, 2)


def v2_spin_request(iterations: int) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="spin")
    request.inputs.add(name="x", datatype="FP32", shape=[1]).contents.fp32_contents.append(1.0)
    request.inputs.add(name="iterations", datatype="INT32", shape=[]).contents.int_contents.append(iterations)
    return request


def test_a_v2_grpc_deadline_cancels_the_run(spinner):
    with grpc.insecure_channel(spinner.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ModelInfer(v2_spin_request(10), 10.0).outputs[0].name == "y"
        with pytest.raises(grpc.RpcError) as expired:
            stub.ModelInfer(v2_spin_request(LONG_RUN_ITERATIONS), 0.8)
        assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert cpu_spent_in(1.5) < 0.5, "the model kept running after the deadline"


def test_the_rest_timeout_cancels_a_v2_run(spinner):
    document = {
        "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]},
            {"name": "iterations", "datatype": "INT32", "shape": [], "data": LONG_RUN_ITERATIONS},
        ]
    }
    request = urllib.request.Request(f"{spinner.rest_url}/v2/models/spin/infer", json.dumps(document).encode())
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(request, timeout=60)
    assert expired.value.code == 504
    assert "Deadline exceeded" in json.loads(expired.value.read())["error"]
