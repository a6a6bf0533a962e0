"""Version lifecycle while serving: new, removed and corrupt versions, labels, reloads and warmup."""

from __future__ import annotations

import os
import shutil
import time

import grpc
import pytest
import tensorflow as tf
from google.protobuf import text_format
from model_factory import export_half_plus, write_warmup
from server_process import start_in_process, write_config
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE
END = get_model_status_pb2.ModelVersionStatus.END


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


class Client:
    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(target)
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def y(self, name: str, x: float = 2.0, **spec) -> float:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = name
        if "version" in spec:
            request.model_spec.version.value = spec["version"]
        if "label" in spec:
            request.model_spec.version_label = spec["label"]
        request.inputs["x"].CopyFrom(tf.make_tensor_proto([x]))
        return self.predictions.Predict(request, 10.0).outputs["y"].float_val[0]

    def states(self, name: str) -> dict[int, int]:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        response = self.models.GetModelStatus(request, 10.0)
        return {status.version: status.state for status in response.model_version_status}

    def status(self, name: str, version: int):
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        request.model_spec.version.value = version
        return self.models.GetModelStatus(request, 10.0).model_version_status[0]


def atomic_export(base: str, version: int, bias: float) -> None:
    """Export beside the base path and rename into place, as our trainers do."""
    staging = export_half_plus(os.path.join(base, ".staging"), version, bias)
    os.rename(staging, os.path.join(base, str(version)))


def test_add_corrupt_and_remove_versions_while_serving(tmp_path):
    base = str(tmp_path / "model")
    export_half_plus(base, 1, bias=2.0)
    server = start_in_process(
        "--model_name=m", f"--model_base_path={base}", "--file_system_poll_wait_seconds=1", "--max_num_load_retries=0"
    )
    client = Client(server.grpc_target)
    try:
        assert client.y("m") == 3.0
        atomic_export(base, 2, bias=3.0)
        wait_for(lambda: client.states("m") == {1: END, 2: AVAILABLE})
        assert client.y("m") == 4.0

        os.makedirs(os.path.join(base, "3"))
        with open(os.path.join(base, "3", "saved_model.pb"), "wb") as handle:
            handle.write(b"not a protobuf")
        wait_for(lambda: client.states("m").get(3) == END)
        failed = client.status("m", 3)
        assert failed.status.error_code != 0 and failed.status.error_message
        assert client.y("m") == 4.0, "a version that fails to load must leave the old one serving"

        shutil.rmtree(os.path.join(base, "3"))
        shutil.rmtree(os.path.join(base, "2"))
        wait_for(lambda: client.states("m").get(1) == AVAILABLE and client.states("m").get(2) == END)
        assert client.y("m") == 3.0
        with pytest.raises(grpc.RpcError) as error:
            client.y("m", version=2)
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
        assert "Specific(m, 2)" in error.value.details()
    finally:
        server.stop()


def test_labels_pick_versions_and_unknown_label_is_invalid(served):
    client = Client(served.grpc_target)
    assert client.y("half_plus_two", label="stable") == 3.0
    assert client.y("half_plus_two", label="canary") == 4.0
    with pytest.raises(grpc.RpcError) as error:
        client.y("half_plus_two", label="nightly")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details() == "Unrecognized servable version label: nightly"


def reload_request(models: dict[str, str], labels: dict[str, int] | None = None):
    config = model_server_config_pb2.ModelServerConfig()
    for name, base in models.items():
        model = config.model_config_list.config.add(name=name, base_path=base, model_platform="tensorflow")
        model.model_version_policy.all.SetInParent()
        for label, version in (labels or {}).items():
            model.version_labels[label] = version
    return model_management_pb2.ReloadConfigRequest(config=config)


def test_reload_config_adds_and_removes_models_and_checks_labels(tmp_path):
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    export_half_plus(first, 1, bias=2.0)
    export_half_plus(second, 1, bias=10.0)
    config = write_config(str(tmp_path / "models.config"), {"first": first})
    server = start_in_process(f"--model_config_file={config}")
    client = Client(server.grpc_target)
    try:
        response = client.models.HandleReloadConfigRequest(reload_request({"second": second}), 30.0)
        assert response.status.error_code == 0
        assert client.y("second") == 11.0
        with pytest.raises(grpc.RpcError) as error:
            client.y("first")
        assert error.value.code() == grpc.StatusCode.NOT_FOUND

        with pytest.raises(grpc.RpcError) as error:
            client.models.HandleReloadConfigRequest(reload_request({"second": second}, {"stable": 5}), 30.0)
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "version 5 of model second" in error.value.details()

        relative = reload_request({"third": "relative/path"})
        with pytest.raises(grpc.RpcError) as error:
            client.models.HandleReloadConfigRequest(relative, 30.0)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "absolute path" in error.value.details()
    finally:
        server.stop()


def test_config_file_polling_picks_up_a_new_model(tmp_path):
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    export_half_plus(first, 1)
    export_half_plus(second, 1, bias=5.0)
    config = write_config(str(tmp_path / "models.config"), {"first": first})
    server = start_in_process(f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1")
    client = Client(server.grpc_target)
    try:
        write_config(config, {"first": first, "second": second})
        wait_for(lambda: AVAILABLE in client.states("second").values() if _known(client, "second") else False)
        assert client.y("second") == 6.0
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("model_config_list { this is not a config")
        time.sleep(2.5)
        assert client.y("second") == 6.0, "a bad config file must keep the config in force"
    finally:
        server.stop()


def _known(client: Client, name: str) -> bool:
    try:
        client.states(name)
        return True
    except grpc.RpcError:
        return False


def predict_x(model: str, x: float) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([x]))
    return request


def test_warmup_runs_and_a_bad_warmup_request_fails_the_load(tmp_path):
    base = str(tmp_path / "model")
    write_warmup(export_half_plus(base, 1), [predict_x("m", 1.0)])
    bad = export_half_plus(base, 2)
    wrong_input = predict_pb2.PredictRequest()
    wrong_input.model_spec.name = "m"
    wrong_input.inputs["not_x"].CopyFrom(tf.make_tensor_proto([1.0]))
    write_warmup(bad, [wrong_input])
    config = write_config(str(tmp_path / "models.config"), {"m": base}, extra="    model_version_policy { specific { versions: 1 } }\n")
    server = start_in_process(f"--model_config_file={config}", "--max_num_load_retries=0")
    client = Client(server.grpc_target)
    try:
        assert client.y("m") == 3.0
        with open(config, encoding="utf-8") as handle:
            text = handle.read().replace("versions: 1 }", "versions: 1 versions: 2 }")
        reload = model_management_pb2.ReloadConfigRequest()
        text_format.Parse(text, reload.config)
        client.models.HandleReloadConfigRequest(reload, 30.0)
        wait_for(lambda: client.states("m").get(2) == END)
        assert "not_x" in client.status("m", 2).status.error_message
        assert client.y("m") == 3.0
    finally:
        server.stop()
