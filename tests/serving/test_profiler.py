"""``--enable_profiler`` (on by default, as in TF Serving): TensorFlow's ProfilerService on the gRPC port."""

from __future__ import annotations

import threading

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from model_factory import export_half_plus
from serving.core.source import POLL_SPAN
from server_process import ServerHandle, prediction_stub, running

PROFILE_METHOD = "/tensorflow.ProfilerService/Profile"


@pytest.fixture(scope="module")
def base_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("profiled")
    export_half_plus(str(root / "default"), 1)
    return str(root / "default")


def keep_predicting(handle: ServerHandle, stop: threading.Event) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "default"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([1.0, 2.0]))
    with prediction_stub(handle) as stub:
        while not stop.is_set():
            stub.Predict(request, timeout=10)


def test_a_trace_taken_through_the_grpc_port_records_the_served_model(base_path, tmp_path):
    stop = threading.Event()
    with running("--model_name=default", f"--model_base_path={base_path}") as handle:
        traffic = threading.Thread(target=keep_predicting, args=(handle, stop))
        traffic.start()
        try:
            tf.profiler.experimental.client.trace(f"grpc://{handle.grpc_target}", str(tmp_path), 1000)
        finally:
            stop.set()
            traffic.join()
    traces = list((tmp_path / "plugins" / "profile").glob("*/*.xplane.pb"))
    assert len(traces) == 1 and traces[0].stat().st_size > 0
    assert b"PartitionedCall" in traces[0].read_bytes()  # an op of the served graph ran while tracing


def test_without_the_profiler_the_service_is_unimplemented(base_path):
    with running("--model_name=default", f"--model_base_path={base_path}", "--enable_profiler=false") as handle:
        with grpc.insecure_channel(handle.grpc_target) as channel, pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary(PROFILE_METHOD)(b"", timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_an_idle_servers_trace_shows_its_version_polls(base_path, tmp_path):
    with running("--model_name=default", f"--model_base_path={base_path}") as handle:
        tf.profiler.experimental.client.trace(f"grpc://{handle.grpc_target}", str(tmp_path), 2500)
    (trace,) = (tmp_path / "plugins" / "profile").glob("*/*.xplane.pb")
    assert POLL_SPAN.encode() in trace.read_bytes()
