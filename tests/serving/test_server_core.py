"""The server's core under slow and failing loads: bounded start-up, health that never waits, parallel loads,
and a stop that joins every thread."""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import pytest
import tensorflow as tf
from model_factory import export_half_plus
from server_process import REPO_ROOT, free_port, start_in_process, write_config
from slow_model import export_slow_loading
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

State = get_model_status_pb2.ModelVersionStatus.State
SLOW_LOAD_SECONDS = 3.0
HEALTH_BOUND_SECONDS = 0.1
LIBRARY_THREAD_PREFIX = "Thread-"
"""Every thread the server starts has a name; unnamed ones are grpcio's own (a grace timer whose event is
already set, a completion-queue poller), which end on their own and may outlive ``stop`` by a moment."""


def run_server_cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "serving", f"--port={free_port()}", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
    )


def corrupt_version(base) -> None:
    version = base / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"not a protobuf")


@pytest.mark.parametrize("poll", ["-1", "0"])
def test_startup_with_a_corrupt_version_and_no_polling_ends_within_a_bound(tmp_path, poll):
    corrupt_version(tmp_path / "broken")
    started = time.monotonic()
    result = run_server_cli(
        f"--model_base_path={tmp_path / 'broken'}", f"--file_system_poll_wait_seconds={poll}",
        "--max_num_load_retries=2", "--load_retry_interval_micros=200000", timeout=60,
    )
    assert time.monotonic() - started < 45
    assert result.returncode == 1
    assert "Failed to start server. Error: 1 servable(s) did not become available" in result.stderr
    assert "(attempt 3)" in result.stderr, "every retry runs, though nothing polls"
    assert "Traceback" not in result.stderr


def test_startup_with_no_version_and_no_polling_fails_with_a_message(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_server_cli(f"--model_base_path={tmp_path / 'empty'}", "--file_system_poll_wait_seconds=-1", timeout=60)
    assert result.returncode == 1
    assert "no versions of model(s) default found" in result.stderr
    assert "--file_system_poll_wait_seconds=-1" in result.stderr
    assert "Traceback" not in result.stderr


def model_status(stub, name: str) -> dict[int, int]:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    return {status.version: status.state for status in stub.GetModelStatus(request, 10.0).model_version_status}


def predict_y(channel: grpc.Channel, name: str, x: float) -> float:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([x]))
    return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, 10.0).outputs["y"].float_val[0]


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_status_and_readiness_answer_at_once_while_a_slow_version_loads(tmp_path):
    base = tmp_path / "m"
    export_half_plus(str(base), 1, bias=2.0)
    server = start_in_process("--model_name=m", f"--model_base_path={base}", "--file_system_poll_wait_seconds=1")
    channel = grpc.insecure_channel(server.grpc_target)
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    readyz = f"{server.rest_url}/readyz"
    try:
        export_slow_loading(str(tmp_path / "staging"), 2, SLOW_LOAD_SECONDS, bias=5.0)
        os.rename(tmp_path / "staging" / "2", base / "2")
        wait_for(lambda: model_status(models, "m").get(2) == State.LOADING)
        loading_since = time.monotonic()
        status_times = [timed(lambda: model_status(models, "m")) for _ in range(5)]
        ready_times = [timed(lambda: urllib.request.urlopen(readyz, timeout=10).read()) for _ in range(5)]
        assert model_status(models, "m")[2] == State.LOADING, "the load ended before the checks did"
        assert time.monotonic() - loading_since < SLOW_LOAD_SECONDS
        assert statistics.median(status_times) < HEALTH_BOUND_SECONDS, status_times
        assert statistics.median(ready_times) < HEALTH_BOUND_SECONDS, ready_times
        assert predict_y(channel, "m", 2.0) == 3.0, "version 1 serves while version 2 loads"
        wait_for(lambda: model_status(models, "m") == {2: State.AVAILABLE, 1: State.END})
        assert predict_y(channel, "m", 2.0) == 6.0
    finally:
        channel.close()
        server.stop()


class LoadIntervals(logging.Handler):
    """When each version's load began and ended, from the manager's log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.began: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        name = message.split("name: ")[-1].split(" ")[0]
        if message.startswith("Loading servable version"):
            self.began[name] = record.created
        elif message.startswith("Successfully loaded servable version"):
            self.ended[name] = record.created

    def overlapped(self, names: list[str]) -> bool:
        return max(self.began[name] for name in names) < min(self.ended[name] for name in names)


@pytest.fixture
def load_intervals():
    handler = LoadIntervals()
    logger = logging.getLogger("serving.core.manager")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_two_slow_models_load_in_parallel_at_startup(tmp_path, load_intervals):
    bases = {name: str(tmp_path / name) for name in ("slow_a", "slow_b")}
    for base in bases.values():
        export_slow_loading(base, 1, SLOW_LOAD_SECONDS)
    server = start_in_process(f"--model_config_file={write_config(str(tmp_path / 'models.config'), bases)}")
    server.stop()
    assert load_intervals.overlapped(list(bases)), (load_intervals.began, load_intervals.ended)


def test_models_added_by_reload_load_in_parallel_with_num_load_threads(tmp_path, load_intervals):
    export_half_plus(str(tmp_path / "first"), 1)
    config = write_config(str(tmp_path / "models.config"), {"first": str(tmp_path / "first")})
    server = start_in_process(f"--model_config_file={config}", "--num_load_threads=2")
    channel = grpc.insecure_channel(server.grpc_target)
    try:
        request = model_management_pb2.ReloadConfigRequest()
        for name in ("first", "slow_a", "slow_b"):
            if name != "first":
                export_slow_loading(str(tmp_path / name), 1, SLOW_LOAD_SECONDS)
            request.config.model_config_list.config.add(name=name, base_path=str(tmp_path / name), model_platform="tensorflow")
        model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest(request, 60.0)
        assert load_intervals.overlapped(["slow_a", "slow_b"]), (load_intervals.began, load_intervals.ended)
        assert predict_y(channel, "slow_b", 2.0) == 3.0
    finally:
        channel.close()
        server.stop()


def test_reload_of_a_model_without_versions_ends_at_the_deadline_and_the_others_keep_serving(tmp_path):
    export_half_plus(str(tmp_path / "first"), 1)
    (tmp_path / "empty").mkdir()
    config = write_config(str(tmp_path / "models.config"), {"first": str(tmp_path / "first")})
    server = start_in_process(f"--model_config_file={config}")
    channel = grpc.insecure_channel(server.grpc_target)
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    try:
        request = model_management_pb2.ReloadConfigRequest()
        for name in ("first", "empty"):
            request.config.model_config_list.config.add(name=name, base_path=str(tmp_path / name), model_platform="tensorflow")
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as error:
            models.HandleReloadConfigRequest(request, 2.0)
        assert error.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN)
        assert time.monotonic() - started < 5.0
        assert predict_y(channel, "first", 2.0) == 3.0
        del request.config.model_config_list.config[1]
        assert models.HandleReloadConfigRequest(request, 10.0).status.error_code == 0, "the reload lock was kept"
        assert predict_y(channel, "first", 2.0) == 3.0
    finally:
        channel.close()
        server.stop()


def test_stop_joins_every_thread_the_server_started(tmp_path):
    base = tmp_path / "m"
    export_half_plus(str(base), 1)
    config = write_config(str(tmp_path / "models.config"), {"m": str(base)})
    before = set(threading.enumerate())
    server = start_in_process(
        f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1",
        "--file_system_poll_wait_seconds=1", "--enable_batching",
    )
    channel = grpc.insecure_channel(server.grpc_target)
    assert predict_y(channel, "m", 2.0) == 3.0
    channel.close()
    assert urllib.request.urlopen(f"{server.rest_url}/v1/models/m", timeout=10).status == 200
    server.stop()
    left = [thread for thread in threading.enumerate() if thread not in before and thread.is_alive()]
    assert [thread.name for thread in left if not thread.name.startswith(LIBRARY_THREAD_PREFIX)] == []
    for thread in left:
        thread.join(2.0)
    assert [thread.name for thread in left if thread.is_alive()] == []
