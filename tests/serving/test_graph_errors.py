"""Errors raised inside the graph reach users as the check's own message, with the same status code.

TensorFlow's text around it (``Graph execution error``, the condition, tensor and node names) says nothing
to a client; TF Serving's status code (INVALID_ARGUMENT, HTTP 400) stays.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from model_factory import export_checked_scale
from server_process import prediction_stub, running


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("checked")
    export_checked_scale(str(root / "scale"), 1)
    with running("--model_name=scale", f"--model_base_path={root / 'scale'}", "--enable_profiler=false") as handle:
        yield handle


def test_a_failed_check_answers_its_message_over_grpc(server):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "scale"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([1.0], np.float32)))
    request.inputs["temperature"].CopyFrom(tf.make_tensor_proto(np.array([0.0], np.float32)))
    with prediction_stub(server) as stub, pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "temperature must be positive"


def test_a_failed_check_answers_its_message_over_rest(server):
    body = json.dumps({"instances": [{"x": 1.0, "temperature": -1.0}]}).encode()
    request = urllib.request.Request(f"{server.rest_url}/v1/models/scale:predict", data=body)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert json.load(caught.value) == {"error": "temperature must be positive"}
