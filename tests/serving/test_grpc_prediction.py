"""PredictionService over gRPC: the calls TF Serving's own example clients make, and each API."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)


@pytest.fixture(scope="module")
def stub(served):
    channel = grpc.insecure_channel(served.grpc_target)
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def example(x: float) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})
    )


def test_model_server_test_client_scalar_request_with_output_filter(stub):
    """The request of tensorflow_model_server_test_client.py, sent unchanged."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "default"
    request.inputs["x"].dtype = tf.float32.as_datatype_enum
    request.inputs["x"].float_val.append(2.0)
    request.output_filter.append("y")
    response = stub.Predict(request, 5.0)
    assert list(response.outputs["y"].float_val) == [3.0]
    assert response.model_spec.name == "default"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"


def test_mnist_client_predict_images_reads_float_val(stub):
    """The request of example/mnist_client.py: predict_images, images [1,784], scores in float_val."""
    image = np.random.default_rng(1).random((1, 784), dtype=np.float32)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mnist"
    request.model_spec.signature_name = "predict_images"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(image, shape=[1, image.size]))
    result_future = stub.Predict.future(request, 5.0)
    scores = np.array(result_future.result().outputs["scores"].float_val)
    assert scores.shape == (10,)
    assert scores.sum() == pytest.approx(1.0, rel=1e-5)
    assert not result_future.result().outputs["scores"].tensor_content


def test_predict_returns_every_output_with_dtypes_and_shapes(stub):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mnist"
    images = np.zeros((3, 28, 28, 1), dtype=np.uint8)
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    response = stub.Predict(request, 5.0)
    assert set(response.outputs) == {"probabilities", "class_ids", "classes"}
    assert tf.make_ndarray(response.outputs["probabilities"]).shape == (3, 10)
    assert tf.make_ndarray(response.outputs["class_ids"]).dtype == np.int64
    assert list(response.outputs["classes"].string_val) == [b"class_0"] * 3


def test_version_and_label_choose_the_version(stub):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "half_plus_two"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([2.0]))
    assert list(stub.Predict(request, 5.0).outputs["y"].float_val) == [4.0]
    request.model_spec.version.value = 1
    response = stub.Predict(request, 5.0)
    assert list(response.outputs["y"].float_val) == [3.0]
    assert response.model_spec.version.value == 1
    request.model_spec.version_label = "canary"
    response = stub.Predict(request, 5.0)
    assert list(response.outputs["y"].float_val) == [4.0]
    assert response.model_spec.version.value == 2


def test_classify_regress_and_multi_inference(stub):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "classify_x_to_y"
    request.input.example_list.examples.extend([example(2.0), example(4.0)])
    classes = stub.Classify(request, 5.0).result.classifications
    assert [entry.classes[0].score for entry in classes] == [3.0, 4.0]
    assert classes[0].classes[0].label == ""

    regression = regression_pb2.RegressionRequest()
    regression.model_spec.name = "default"
    regression.model_spec.signature_name = "regress_x_to_y"
    regression.input.example_list_with_context.examples.add()
    regression.input.example_list_with_context.context.CopyFrom(example(6.0))
    response = stub.Regress(regression, 5.0)
    assert [entry.value for entry in response.result.regressions] == [5.0]
    assert response.model_spec.version.value == 1

    multi = inference_pb2.MultiInferenceRequest()
    for signature, method in (("classify_x_to_y", "classify"), ("regress_x_to_y", "regress")):
        task = multi.tasks.add(method_name=f"tensorflow/serving/{method}")
        task.model_spec.name = "default"
        task.model_spec.signature_name = signature
    multi.input.example_list.examples.append(example(2.0))
    results = stub.MultiInference(multi, 5.0).results
    assert results[0].classification_result.classifications[0].classes[0].score == 3.0
    assert results[1].regression_result.regressions[0].value == 3.0


def test_metadata_lists_every_signature(stub):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "default"
    response = stub.GetModelMetadata(request, 5.0)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    assert {"serving_default", "classify_x_to_y", "regress_x_to_y", "__saved_model_init_op"} <= set(
        signature_map.signature_def
    )
    assert response.model_spec.version.value == 1
