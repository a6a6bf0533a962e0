"""``python -m client bench``: the load generator's figures agree with a fake server whose answers are known."""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from client import ServingClient
from client.loadgen import Load, add_bench_command, run_bench, run_load, schedule
from client.loadgen_requests import GrpcSender, RestSender, grpc_request, input_shape, rest_request, synthetic_inputs
from client.messages import ModelRef, SignatureSpec

SLEEP_S = 0.05
FAKE_SIGNATURE = SignatureSpec("tensorflow/serving/predict", {"x": tf.TensorSpec([None, 3], tf.float32, name="x")}, {})


class FakePrediction(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Answers Predict after ``sleep`` seconds; every ``fail_every``-th call fails with UNAVAILABLE."""

    def __init__(self) -> None:
        self.sleep = SLEEP_S
        self.fail_every = 0
        self.calls = itertools.count(1)
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    def Predict(self, request, context):  # noqa: N802 - the gRPC method name
        with self.lock:
            call = next(self.calls)
            self.arrivals.append(time.perf_counter())
        time.sleep(self.sleep)
        if self.fail_every and call % self.fail_every == 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, "fake overload")
        return predict_pb2.PredictResponse()

    def GetModelMetadata(self, request, context):  # noqa: N802 - the gRPC method name
        signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
        signature.inputs["x"].CopyFrom(meta_graph_pb2.TensorInfo(
            name="x:0", dtype=tf.float32.as_datatype_enum, tensor_shape=tf.TensorShape([None, 3]).as_proto()))
        signatures = get_model_metadata_pb2.SignatureDefMap()
        signatures.signature_def["serving_default"].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.metadata["signature_def"].Pack(signatures)
        return response


@pytest.fixture
def fake():
    """A fake PredictionService on a free port, with threads enough for every worker of a test."""
    servicer = FakePrediction()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("localhost:0")
    server.start()
    yield servicer, f"localhost:{port}"
    server.stop(grace=None)


def grpc_sender(target: str, batch: int = 1) -> GrpcSender:
    inputs = synthetic_inputs(FAKE_SIGNATURE, batch, image_size=8)
    return GrpcSender(target, *grpc_request("tfserving", ModelRef("fake"), FAKE_SIGNATURE, inputs), timeout=5.0)


def test_closed_loop_throughput_is_workers_over_latency(fake):
    """Little's law: C workers back to back answer C / latency requests per second; latency is at least the sleep."""
    _, target = fake
    sender = grpc_sender(target)
    report = run_load(sender, Load(concurrency=4, duration_s=1.5, warmup_s=0.3))
    sender.close()
    assert report.errors == {} and report.unsent == 0 and report.warmup_requests > 0
    assert report.requests_per_second == pytest.approx(4 / (report.latency_ms["mean"] / 1000), rel=0.2)
    assert report.requests_per_second <= 4 / SLEEP_S
    assert SLEEP_S * 1000 <= report.latency_ms["p50"] <= SLEEP_S * 1000 * 4  # loose: the cores are shared
    assert report.latency_ms["p50"] <= report.latency_ms["p90"] <= report.latency_ms["p99"] <= report.latency_ms["max"]


def test_failed_calls_are_counted_by_status(fake):
    servicer, target = fake
    servicer.fail_every = 3
    sender = grpc_sender(target)
    report = run_load(sender, Load(concurrency=3, duration_s=1.0))
    sender.close()
    assert set(report.errors) == {"UNAVAILABLE"}
    assert report.answered + report.errors["UNAVAILABLE"] == report.requests
    assert report.errors["UNAVAILABLE"] == pytest.approx(report.requests / 3, abs=3)


def test_open_loop_keeps_its_rate_and_latency_is_the_service_time(fake):
    servicer, target = fake
    sender = grpc_sender(target)
    report = run_load(sender, Load(concurrency=4, duration_s=2.0, warmup_s=0.26, rate=20, schedule="uniform"))
    sender.close()
    assert report.requests == 40 and report.answered == report.requests and report.unsent == 0
    arrivals = servicer.arrivals
    assert len(arrivals) == 46 and (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) == pytest.approx(20, rel=0.15)
    assert SLEEP_S * 1000 <= report.latency_ms["p50"] <= SLEEP_S * 1000 * 4  # loose: the cores are shared


def test_open_loop_counts_waiting_for_a_busy_worker_as_latency(fake):
    """20 answers/s can be given, 40/s are asked: latency grows from the schedule, late sends are unsent."""
    _, target = fake
    sender = grpc_sender(target)
    report = run_load(sender, Load(concurrency=1, duration_s=1.0, rate=40, schedule="uniform", drain_s=0.3))
    sender.close()
    assert report.requests_per_second <= 1 / SLEEP_S * 1.05
    assert report.unsent > 5 and report.latency_ms["p90"] > 6 * SLEEP_S * 1000


def test_poisson_schedule_has_the_asked_rate_and_random_gaps():
    times = schedule(Load(concurrency=1, duration_s=100.0, rate=50, seed=1), start=0.0)
    gaps = np.diff(times)
    assert len(times) == pytest.approx(5000, rel=0.05) and times[-1] < 100.0
    assert gaps.std() == pytest.approx(gaps.mean(), rel=0.1)  # exponential gaps: std equals mean


def test_inputs_are_made_from_the_signature_metadata():
    assert input_shape(tf.TensorSpec([None, None, None, 3], tf.uint8), 4, 224) == [4, 224, 224, 3]
    assert input_shape(tf.TensorSpec([None, 784], tf.float32), 2, 224) == [2, 784]
    assert input_shape(tf.TensorSpec([None, None], tf.int64), 2, 224) == [2, 1]
    assert input_shape(tf.TensorSpec(None, tf.float32), 3, 224) == [3]
    spec = SignatureSpec("", {"tag": tf.TensorSpec([None], tf.string), "pixels": tf.TensorSpec([None, 2, 2, 1], tf.uint8)}, {})
    inputs = synthetic_inputs(spec, 2, 224)
    assert inputs["tag"].tolist() == [b"", b""] and inputs["pixels"].dtype == np.uint8


def test_rest_load_on_a_real_model_and_errors_by_http_status(served):
    inputs = synthetic_inputs(SignatureSpec("", {"images": tf.TensorSpec([None, 28, 28, 1], tf.uint8)}, {}), 2, 28)
    good = RestSender(served.rest_url, *rest_request("tfserving", ModelRef("mnist"), inputs), timeout=10.0)
    missing = RestSender(served.rest_url, *rest_request("tfserving", ModelRef("no_such_model"), inputs), timeout=10.0)
    answered = run_load(good, Load(concurrency=2, duration_s=0.5, batch=2))
    failed = run_load(missing, Load(concurrency=1, duration_s=0.3))
    good.close(), missing.close()
    assert answered.errors == {} and answered.answered > 0
    assert set(failed.errors) == {"HTTP 404 NOT_FOUND"} and failed.answered == 0


def test_the_command_prints_and_writes_the_figures(fake, tmp_path, capsys):
    _, target = fake
    parser = argparse.ArgumentParser()
    add_bench_command(parser.add_subparsers())
    out = tmp_path / "runs" / "bench.json"  # a folder that does not exist yet
    args = parser.parse_args(["bench", "--model", "fake", "--server", target, "--concurrency", "2",
                              "--duration", "0.5", "--warmup", "0.2", "--batch", "3", "--json", str(out)])
    with ServingClient(target, "grpc") as client:
        run_bench(client, args)
    figures = json.loads(out.read_text())
    assert figures["mode"] == "closed" and figures["load"]["batch"] == 3 and figures["errors"] == {}
    assert figures["rows_per_second"] == pytest.approx(3 * figures["requests_per_second"])
    assert set(figures["latency_ms"]) == {"p50", "p90", "p99", "max", "mean"}
    assert "closed loop, 2 workers, batch 3" in capsys.readouterr().out
