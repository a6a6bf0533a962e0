"""SIGTERM drains: readiness fails at once, new calls are refused, calls in flight on both APIs finish, exit 0;
a second signal exits at once."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest
import tensorflow as tf
from server_process import start_subprocess
from slow_model import SLEEP_SIGNATURE, export_slow_loading
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

CALL_SECONDS = 3.0


@pytest.fixture(scope="module")
def slow_base(tmp_path_factory) -> str:
    base = tmp_path_factory.mktemp("drain") / "slow"
    export_slow_loading(str(base), 1, CALL_SECONDS)
    return str(base)


def grpc_predict(target: str, signature: str = "") -> float:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "slow"
    request.model_spec.signature_name = signature
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([2.0]))
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.Predict(request, 30.0).outputs["y"].float_val[0]


def rest_predict(url: str, signature: str = "") -> tuple[int, dict]:
    body = json.dumps({"signature_name": signature, "instances": [2.0]}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/v1/models/slow:predict", body), timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def readiness(url: str) -> int:
    try:
        return urllib.request.urlopen(f"{url}/readyz", timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


class InFlight:
    """Runs one call in a thread and keeps its result or error."""

    def __init__(self, call) -> None:
        self.result: object = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(call,))
        self._thread.start()

    def _run(self, call) -> None:
        try:
            self.result = call()
        except Exception as error:  # noqa: BLE001 - the test inspects it
            self.error = error

    def join(self) -> None:
        self._thread.join(60)


def test_sigterm_refuses_new_calls_and_lets_calls_in_flight_finish(slow_base):
    server = start_subprocess("--model_name=slow", f"--model_base_path={slow_base}", "--shutdown_grace_seconds=20")
    try:
        assert readiness(server.rest_url) == 200
        in_flight = [
            InFlight(lambda: grpc_predict(server.grpc_target, SLEEP_SIGNATURE)),
            InFlight(lambda: rest_predict(server.rest_url, SLEEP_SIGNATURE)),
        ]
        time.sleep(1.0)
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while readiness(server.rest_url) != 503 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert readiness(server.rest_url) == 503
        with pytest.raises(grpc.RpcError) as refused:
            grpc_predict(server.grpc_target)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE and "shutting down" in refused.value.details()
        status, body = rest_predict(server.rest_url)
        assert status == 503 and "shutting down" in body["error"]
        for call in in_flight:
            call.join()
        assert [call.error for call in in_flight] == [None, None]
        assert in_flight[0].result == 3.0
        assert in_flight[1].result == (200, {"predictions": [3.0]})
        assert server.process.wait(timeout=30) == 0
        output = server.process.stdout.read()
        assert "Draining" in output and "Traceback" not in output
    finally:
        server.stop()


def test_a_second_signal_exits_at_once(slow_base):
    server = start_subprocess("--model_name=slow", f"--model_base_path={slow_base}", "--shutdown_grace_seconds=60")
    try:
        call = InFlight(lambda: grpc_predict(server.grpc_target, SLEEP_SIGNATURE))
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=10) == 130
        assert time.monotonic() - started < CALL_SECONDS
        call.join()
        assert isinstance(call.error, grpc.RpcError)
        assert "exiting without waiting" in server.process.stdout.read()
    finally:
        server.stop()
