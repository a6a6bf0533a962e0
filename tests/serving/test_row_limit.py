"""--max_rows_per_request refuses larger requests before they run, over both APIs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from model_factory import export_tiny_classifier
from server_process import start_in_process
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    base = tmp_path_factory.mktemp("capped") / "mnist"
    export_tiny_classifier(str(base), 1)
    server = start_in_process("--model_name=mnist", f"--model_base_path={base}", "--max_rows_per_request=8")
    yield server
    server.stop()


def grpc_predict(server, rows: int) -> predict_pb2.PredictResponse:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mnist"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.zeros((rows, 28, 28, 1), np.uint8)))
    with grpc.insecure_channel(server.grpc_target) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, 30.0)


def test_requests_up_to_the_cap_run_and_larger_ones_are_refused_over_grpc(capped):
    assert len(grpc_predict(capped, 8).outputs["class_ids"].int64_val) == 8
    with pytest.raises(grpc.RpcError) as refused:
        grpc_predict(capped, 9)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "9 rows" in refused.value.details() and "--max_rows_per_request" in refused.value.details()


def test_larger_requests_are_refused_over_rest(capped):
    body = json.dumps({"instances": np.zeros((9, 28, 28, 1), np.uint8).tolist()}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(f"{capped.rest_url}/v1/models/mnist:predict", body), timeout=30)
    assert refused.value.code == 400
    assert "--max_rows_per_request" in json.loads(refused.value.read())["error"]
