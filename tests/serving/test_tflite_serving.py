"""``--prefer_tflite_model``: a version's model.tflite served through TF Lite's interpreter, as TF Serving does.

The TF Lite half_plus_two is converted here from the ``[?,1]`` SavedModel. With the SignatureDefs that TF
Serving reads from the model's ``signature_defs_metadata`` it answers under the SavedModel's aliases; without
them, under TF Serving's generated signature (tensor names without ``:0``).
"""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2

from model_factory import export_half_plus, half_plus_two_tflite, write_warmup
from server_process import prediction_stub, running, write_config
from serving.core.tflite_servable import load_tflite_servable
from serving.errors import ServingError
from trainer.export.tflite import with_serving_signature_defs


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """``with_sigdef`` (model.tflite with signature metadata), ``plain`` (the converter's output only) and
    ``saved_model_only`` (no model.tflite). The SavedModel in each version is a half_plus_three, so the
    answers tell which of the two files was served; its warmup file also calls a signature (``regress_x_to_y``)
    that only the SavedModel has, as our exports' warmup calls ``metadata``."""
    root = tmp_path_factory.mktemp("tflite")
    content = half_plus_two_tflite()
    for name, tflite in (("with_sigdef", with_serving_signature_defs(content)), ("plain", content), ("saved_model_only", None)):
        path = export_half_plus(str(root / name), 123, bias=3.0)
        if tflite is not None:
            (root / name / "123" / "model.tflite").write_bytes(tflite)
        if name != "plain":  # its generated signature names x serving_default_x
            write_warmup(path, [warmup_request("", "x"), warmup_request("regress_x_to_y", "inputs")])
    return root


def warmup_request(signature: str, alias: str) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = signature
    value = [[1.0]] if alias == "x" else [example_with_x(1.0)]
    request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return request


def example_with_x(x: float) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})).SerializeToString()


def serve(models, *flags):
    names = ("with_sigdef", "plain", "saved_model_only")
    config = write_config(str(models / "models.config"), {name: str(models / name) for name in names})
    return running(f"--model_config_file={config}", "--enable_profiler=false", "--max_num_load_retries=0", *flags)


@pytest.fixture(scope="module")
def server(models):
    with serve(models, "--prefer_tflite_model=true", "--num_tflite_pools=2") as handle:
        yield handle


@pytest.fixture(scope="module")
def stub(server):
    with prediction_stub(server) as opened:
        yield opened


def predict(stub, model: str, value, alias: str = "x") -> dict:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs[alias].CopyFrom(tf.make_tensor_proto(np.asarray(value, np.float32)))
    response = stub.Predict(request, timeout=30)
    assert response.model_spec.version.value == 123
    return {alias: tf.make_ndarray(tensor).tolist() for alias, tensor in response.outputs.items()}


def signature_defs(stub, model: str) -> dict:
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = model
    packed: any_pb2.Any = stub.GetModelMetadata(request, timeout=30).metadata["signature_def"]
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    packed.Unpack(signature_map)
    return signature_map.signature_def


def test_the_tflite_model_answers_any_batch_size_over_grpc(stub):
    assert predict(stub, "with_sigdef", [2.0]) == {"y": [3.0]}
    assert predict(stub, "with_sigdef", [[1.0], [2.0], [5.0]]) == {"y": [[2.5], [3.0], [4.5]]}


def test_rest_predict_reads_the_tflite_signature(server):
    body = json.dumps({"instances": [[1.0], [2.0], [5.0]]}).encode()
    request = urllib.request.Request(f"{server.rest_url}/v1/models/with_sigdef:predict", data=body)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response) == {"predictions": [[2.5], [3.0], [4.5]]}


def test_metadata_gives_the_signature_defs_of_the_tflite_model(stub):
    signature = signature_defs(stub, "with_sigdef")["serving_default"]
    assert sorted(signature.inputs) == ["x"] and sorted(signature.outputs) == ["y"]
    assert signature.inputs["x"].name == "serving_default_x:0" and signature.outputs["y"].name == "PartitionedCall:0"
    assert [dim.size for dim in signature.inputs["x"].tensor_shape.dim] == [-1, 1]


def test_a_model_without_signature_defs_gets_tf_servings_generated_signature(stub):
    signature = signature_defs(stub, "plain")["serving_default"]
    assert sorted(signature.inputs) == ["serving_default_x"] and sorted(signature.outputs) == ["PartitionedCall"]
    assert signature.method_name == "tensorflow/serving/predict"
    assert predict(stub, "plain", [[4.0]], alias="serving_default_x") == {"PartitionedCall": [[4.0]]}


def test_a_version_without_model_tflite_is_served_from_its_saved_model(stub):
    assert predict(stub, "saved_model_only", [[2.0]]) == {"y": [[4.0]]}


def test_without_the_flag_the_saved_model_is_served(models):
    with serve(models) as handle, prediction_stub(handle) as stub:
        assert predict(stub, "with_sigdef", [[2.0]]) == {"y": [[4.0]]}


def test_concurrent_calls_share_the_interpreter_pool(stub):
    from concurrent.futures import ThreadPoolExecutor

    batches = [[[float(i)]] * (i % 4 + 1) for i in range(24)]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda batch: predict(stub, "with_sigdef", batch)["y"], batches))
    assert answers == [[[0.5 * row[0] + 2.0] for row in batch] for batch in batches]


@pytest.mark.parametrize("content", [b"not a flatbuffer", b"\x00" * 64])
def test_a_corrupt_model_tflite_is_a_load_error(tmp_path, content):
    version = tmp_path / "1"
    version.mkdir()
    (version / "model.tflite").write_bytes(content)
    with pytest.raises(ServingError) as caught:
        load_tflite_servable("broken", 1, str(version))
    assert caught.value.code_name == "INVALID_ARGUMENT" and "model.tflite" in caught.value.message
