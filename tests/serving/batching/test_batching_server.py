"""A server with --enable_batching answers exactly as one without it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import tensorflow as tf
from server_process import start_in_process
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def test_batched_results_equal_unbatched(model_root, served, tmp_path):
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 5000 }\nnum_batch_threads { value: 2 }\n")
    batched = start_in_process(
        "--model_name=mnist", f"--model_base_path={model_root}/mnist", "--enable_batching",
        f"--batching_parameters_file={parameters}",
    )
    images = np.random.default_rng(0).integers(0, 256, size=(24, 1, 28, 28, 1), dtype=np.uint8)

    def predict(target: str, image: np.ndarray) -> np.ndarray:
        with grpc.insecure_channel(target) as channel:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "mnist"
            request.inputs["images"].CopyFrom(tf.make_tensor_proto(image))
            response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, 10.0)
            return tf.make_ndarray(response.outputs["probabilities"])

    try:
        with ThreadPoolExecutor(12) as pool:
            with_batching = list(pool.map(lambda image: predict(batched.grpc_target, image), images))
        without = [predict(served.grpc_target, image) for image in images]
    finally:
        batched.stop()
    for left, right in zip(with_batching, without):
        np.testing.assert_allclose(left, right, rtol=1e-6, atol=1e-7)


def test_a_full_batch_forms_even_with_few_grpc_threads(model_root, tmp_path):
    parameters = tmp_path / "batching.config"
    parameters.write_text(
        "max_batch_size { value: 16 }\nbatch_timeout_micros { value: 4000000 }\nnum_batch_threads { value: 1 }\n"
    )
    server = start_in_process(
        "--model_name=mnist", f"--model_base_path={model_root}/mnist", "--enable_batching",
        f"--batching_parameters_file={parameters}", "--grpc_max_threads=2",
    )
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mnist"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.zeros((1, 28, 28, 1), np.uint8)))
    try:
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            started = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(lambda _: stub.Predict(request, 10.0), range(16)))
            elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert len(answers) == 16
    assert elapsed < 3.0, "16 concurrent requests must fill one batch of 16, not wait out the 4 s timeout in pairs"
