"""The server's memory returns near its warm size after a large request (it kept the peak before)."""

from __future__ import annotations

import os

import grpc
import numpy as np
import pytest
import tensorflow as tf
from server_process import REPO_ROOT, start_subprocess
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

CLASSIFIER = os.path.join(REPO_ROOT, "saved_models", "fashion_mnist_classifier")
LARGE_ROWS = 3000
ALLOWED_GROWTH_MB = 200
"""Keeping the peak grew RSS by about 600 MB for 3,000 images; returning it leaves tens of MB."""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


def images_request(rows: int) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "classifier"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.zeros((rows, 28, 28, 1), np.uint8)))
    return request


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RSS from /proc")
def test_a_large_request_leaves_the_server_near_its_warm_size():
    server = start_subprocess("--model_name=classifier", f"--model_base_path={CLASSIFIER}")
    try:
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            for _ in range(3):
                stub.Predict(images_request(32), 60.0)
            warm = rss_mb(server.process.pid)
            stub.Predict(images_request(LARGE_ROWS), 120.0)
            grown = rss_mb(server.process.pid) - warm
    finally:
        server.stop()
    assert grown < ALLOWED_GROWTH_MB, f"RSS grew {grown:.0f} MB after one {LARGE_ROWS}-image Predict and stayed"
