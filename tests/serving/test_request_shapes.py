"""Request shapes are TensorFlow's call, as in TF Serving's predict_util.cc: no comparison with the SignatureDef.

The model is TF Serving's half_plus_two with its ``[?,1]`` input; TF Serving answers a ``[1]`` or scalar ``x``,
and REST row and columnar lists of scalars. What the graph cannot compute is INVALID_ARGUMENT with TensorFlow's
message (HTTP 400), without graph node names.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from model_factory import export_half_plus_two_batched, export_tiny_classifier
from server_process import prediction_stub, running, write_config
from serving.core import tensors
from serving.errors import ServingError


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    export_half_plus_two_batched(str(root / "half_plus_two"), 1)
    export_tiny_classifier(str(root / "mnist"), 1)
    config = write_config(str(root / "models.config"), {name: str(root / name) for name in ("half_plus_two", "mnist")})
    with running(f"--model_config_file={config}", "--enable_profiler=false") as handle:
        yield handle


@pytest.fixture(scope="module")
def stub(server):
    with prediction_stub(server) as opened:
        yield opened


def predict(stub, model: str, alias: str, value: np.ndarray, signature: str = "") -> predict_pb2.PredictResponse:
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = model, signature
    request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return stub.Predict(request, timeout=30)


def rest(server, model: str, document: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.rest_url}/v1/models/{model}:predict", data=json.dumps(document).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.parametrize(
    "value, shape, values",
    [
        (np.array([2.0], np.float32), [1], [3.0]),
        (np.array(2.0, np.float32), [], [3.0]),
        (np.array([[2.0]], np.float32), [1, 1], [3.0]),
        (np.array([[1.0, 2.0], [5.0, 6.0]], np.float32), [2, 2], [2.5, 3.0, 4.5, 5.0]),
    ],
)
def test_grpc_shapes_that_the_graph_computes_are_answered(stub, value, shape, values):
    output = predict(stub, "half_plus_two", "x", value).outputs["y"]
    assert [dim.size for dim in output.tensor_shape.dim] == shape
    assert list(output.float_val) == values


def test_rest_row_and_columnar_lists_of_scalars(server):
    assert rest(server, "half_plus_two", {"instances": [1.0, 2.0, 5.0]}) == (200, {"predictions": [2.5, 3.0, 4.5]})
    assert rest(server, "half_plus_two", {"inputs": {"x": [1.0, 2.0, 5.0]}}) == (200, {"outputs": [2.5, 3.0, 4.5]})
    assert rest(server, "half_plus_two", {"inputs": [[1.0], [2.0]]}) == (200, {"outputs": [[2.5], [3.0]]})


def test_a_shape_the_graph_cannot_compute_is_invalid_argument_with_tensorflows_message(stub, server):
    with pytest.raises(grpc.RpcError) as caught:
        predict(stub, "mnist", "images", np.zeros((1, 5), np.float32), signature="predict_images")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Matrix size-incompatible: In[0]: [1,5], In[1]: [784,10]" in caught.value.details()
    assert "node" not in caught.value.details()
    status, body = rest(server, "mnist", {"signature_name": "predict_images", "instances": [[0.0] * 5]})
    assert status == 400 and "Matrix size-incompatible" in body["error"] and "node" not in body["error"]


def test_reshapes_the_graph_allows_are_answered_as_by_tensorflow(stub):
    images = np.zeros((1, 28, 28), np.uint8)  # [?,28,28,1] declared; the graph reshapes to [-1,784]
    assert len(predict(stub, "mnist", "images", images).outputs["class_ids"].int64_val) == 1
    with pytest.raises(grpc.RpcError) as caught:
        predict(stub, "mnist", "images", np.zeros((1, 5, 5, 1), np.uint8))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Input to reshape is a tensor with 25 values" in caught.value.details()


def test_dtypes_are_still_checked(stub):
    with pytest.raises(grpc.RpcError) as caught:
        predict(stub, "half_plus_two", "x", np.array([[2.0]], np.float64))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expects arg[0] to be float but double is provided" in caught.value.details()


def test_the_server_answers_after_refusing_bad_shapes(stub):
    for shape in [(0, 1), (3, 0), (1, 1, 1, 1, 1, 1)]:
        predict(stub, "half_plus_two", "x", np.zeros(shape, np.float32))
    assert list(predict(stub, "half_plus_two", "x", np.array([[2.0]], np.float32)).outputs["y"].float_val) == [3.0]


def test_with_batching_requests_of_another_rank_do_not_fail_their_batch(tmp_path):
    base = tmp_path / "half_plus_two"
    export_half_plus_two_batched(str(base), 1)
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 50000 }\n"
                          "pad_variable_length_inputs: true\n")
    values = [np.array([[2.0]], np.float32), np.array([2.0], np.float32), np.array([[2.0], [4.0]], np.float32),
              np.array(2.0, np.float32), np.array([[[2.0]]], np.float32)] * 4
    flags = ("--model_name=half_plus_two", f"--model_base_path={base}", "--enable_profiler=false",
             "--enable_batching", f"--batching_parameters_file={parameters}")
    with running(*flags) as handle, prediction_stub(handle) as stub, ThreadPoolExecutor(len(values)) as pool:
        answers = list(pool.map(lambda value: predict(stub, "half_plus_two", "x", value), values))
    for value, answer in zip(values, answers):
        assert tf.make_ndarray(answer.outputs["y"]).tolist() == (0.5 * value + 2.0).tolist()


def test_a_declared_size_larger_than_the_free_memory_is_refused_before_allocation(monkeypatch):
    proto = tf.make_tensor_proto(np.array([1.0], np.float32))
    proto.tensor_shape.dim[0].size = 100 * 2**20  # 400 MB of float32 from one value on the wire
    monkeypatch.setattr(tensors, "available_memory_bytes", lambda: 200 * 2**20)
    with pytest.raises(ServingError, match=r"tensor parsing error: x \(shape \[104857600\] is too large\)"):
        tensors.to_ndarray(proto, "x")
