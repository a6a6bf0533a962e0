"""Warmup: replay ``assets.extra/tf_serving_warmup_requests`` while a version loads, as TF Serving does."""

from __future__ import annotations

import logging
import os

import grpc
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from serving.core.inference import Inference
from serving.core.servable import Servable
from serving.core.tflite_servable import warmup_applies
from serving.errors import ServingError, invalid_argument

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000
log = logging.getLogger(__name__)


def read_warmup_logs(path: str) -> list[prediction_log_pb2.PredictionLog]:
    """Parse the TFRecord of PredictionLog; at most 1000 records."""
    logs = []
    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            if len(logs) == MAX_WARMUP_RECORDS:
                raise invalid_argument(
                    f"Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {path}"
                )
            logs.append(prediction_log_pb2.PredictionLog.FromString(record))
    except tf.errors.OpError as error:
        raise ServingError(grpc.StatusCode.DATA_LOSS, f"Failed to read warmup data at {path}: {error.message}") from None
    return logs


def run_warmup(servable: Servable, inference: Inference, iterations: int = 1) -> int:
    """Replay every warmup record ``iterations`` times; any error fails the load. Returns records read."""
    path = os.path.join(servable.path, WARMUP_FILE)
    if not os.path.exists(path):
        log.info("No warmup data file found at %s", path)
        return 0
    log.info("Starting to read warmup data for model at %s with model-warmup-options", path)
    logs = read_warmup_logs(path)
    for _ in range(max(iterations, 1)):
        for entry in filter(lambda entry: warmup_applies(servable, entry), logs):
            _replay(servable, inference, entry)
    log.info("Finished reading warmup data for model at %s. Number of warmup records read: %d.", path, len(logs))
    return len(logs)


class Warmup:
    """Replays a version's warmup records through the server's inference path, `iterations` times each."""

    def __init__(self, inference: Inference, iterations: int = 1) -> None:
        self._inference = inference
        self._iterations = iterations

    def __call__(self, servable: Servable) -> int:
        return run_warmup(servable, self._inference, self._iterations)


def _replay(servable: Servable, inference: Inference, entry: prediction_log_pb2.PredictionLog) -> None:
    kind = entry.WhichOneof("log_type")
    if kind == "predict_log":
        inference.predict_on(servable, entry.predict_log.request)
    elif kind == "classify_log":
        inference.classify_on(servable, entry.classify_log.request)
    elif kind == "regress_log":
        inference.regress_on(servable, entry.regress_log.request)
    elif kind == "multi_inference_log":
        inference.multi_inference_on(servable, entry.multi_inference_log.request)
    else:
        raise ServingError(grpc.StatusCode.UNIMPLEMENTED, f"Unsupported log_type for warmup: {kind}")
