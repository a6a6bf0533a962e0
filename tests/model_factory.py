"""Tiny SavedModels for the tests, written with plain TensorFlow so the tests need no trainer."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


class HalfPlus(tf.Module):
    """``y = 0.5 x + bias``, with classify/regress signatures over tf.Examples holding ``x``."""

    def __init__(self, bias: float) -> None:
        super().__init__()
        self.bias = tf.Variable(bias, dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="x")])
    def predict(self, x):
        return {"y": 0.5 * x + self.bias}

    def _parse(self, serialized):
        features = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        return 0.5 * features["x"] + self.bias

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(self, inputs):
        return {"scores": self._parse(inputs)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, inputs):
        return {"outputs": self._parse(inputs)}


def export_half_plus(base_path: str, version: int, bias: float = 2.0) -> str:
    """Write version ``version`` of a half-plus-``bias`` model under ``base_path``."""
    module = HalfPlus(bias)
    path = os.path.join(base_path, str(version))
    tf.saved_model.save(
        module,
        path,
        signatures={
            "serving_default": module.predict,
            "classify_x_to_y": module.classify,
            "regress_x_to_y": module.regress,
        },
    )
    return path


class HalfPlusTwoBatched(tf.Module):
    """TF Serving's half_plus_two: ``y = 0.5 x + 2`` with input ``x`` declared float ``[?,1]``."""

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def predict(self, x):
        return {"y": 0.5 * x + 2.0}


def export_half_plus_two_batched(base_path: str, version: int) -> str:
    """A half_plus_two whose serving signature declares ``x`` as ``[?,1]``, like TF Serving's test model."""
    module = HalfPlusTwoBatched()
    path = os.path.join(base_path, str(version))
    tf.saved_model.save(module, path, signatures={"serving_default": module.predict})
    return path


def half_plus_two_tflite() -> bytes:
    """half_plus_two converted by TensorFlow Lite's converter (its ``[?,1]`` input, no signature metadata)."""
    module = HalfPlusTwoBatched()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.predict.get_concrete_function()], module)
    return converter.convert()


class CheckedScale(tf.Module):
    """``y = x / temperature`` behind an in-graph check, as the char-LSTM's generation checks its inputs."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"),
                                  tf.TensorSpec([None], tf.float32, name="temperature")])
    def serve(self, x, temperature):
        with tf.control_dependencies([tf.debugging.assert_positive(temperature, message="temperature must be positive")]):
            return {"y": x / temperature}


def export_checked_scale(base_path: str, version: int) -> str:
    module = CheckedScale()
    path = os.path.join(base_path, str(version))
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


class TinyClassifier(tf.Module):
    """A fixed linear softmax over 784 pixels, with MNIST-tutorial and uint8-image signatures."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weights = tf.Variable(rng.normal(size=(784, 10)).astype(np.float32) * 0.05)
        self.class_names = tf.constant([f"class_{index}" for index in range(10)])

    def _scores(self, flat):
        return tf.nn.softmax(tf.matmul(flat, self.weights))

    @tf.function(input_signature=[tf.TensorSpec([None, 784], tf.float32, name="images")])
    def predict_images(self, images):
        return {"scores": self._scores(images)}

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")])
    def serve(self, images):
        flat = tf.reshape(tf.cast(images, tf.float32) / 255.0, [-1, 784])
        probabilities = self._scores(flat)
        class_ids = tf.argmax(probabilities, axis=1)
        return {"probabilities": probabilities, "class_ids": class_ids, "classes": tf.gather(self.class_names, class_ids)}


def export_tiny_classifier(base_path: str, version: int, seed: int = 0) -> str:
    module = TinyClassifier(seed)
    path = os.path.join(base_path, str(version))
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve, "predict_images": module.predict_images})
    return path


class TwoInputs(tf.Module):
    """Several inputs and outputs of mixed dtypes, for the REST formats."""

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.float32, name="a"),
            tf.TensorSpec([None], tf.int64, name="b"),
            tf.TensorSpec([None], tf.string, name="tag"),
        ]
    )
    def serve(self, a, b, tag):
        return {
            "total": tf.reduce_sum(a, axis=1) + tf.cast(b, tf.float32),
            "tag_bytes": tag,
            "tag_length": tf.strings.length(tag),
        }


def export_two_inputs(base_path: str, version: int) -> str:
    module = TwoInputs()
    path = os.path.join(base_path, str(version))
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


def write_warmup(version_path: str, requests: list[predict_pb2.PredictRequest]) -> str:
    """A TFRecord of PredictionLog holding ``requests``, where TF Serving looks for it."""
    path = os.path.join(version_path, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path
