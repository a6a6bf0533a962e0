"""A SavedModel whose load takes a set time: its warmup request calls a signature that sleeps in the graph.

Warmup runs inside a version's load, as in TF Serving, so the sleep makes a slow load that costs no CPU.
"""

from __future__ import annotations

import os

import tensorflow as tf
from model_factory import HalfPlus, write_warmup
from tensorflow.python.data.ops import dataset_ops
from tensorflow_serving.apis import predict_pb2

SLEEP_SIGNATURE = "sleep"


def _sleep(microseconds: int) -> tf.Tensor:
    """Zero, after sleeping `microseconds` inside TensorFlow (tf.data's SleepDataset)."""
    one = tf.data.Dataset.range(1)
    sleeping = tf.raw_ops.SleepDataset(
        input_dataset=one._variant_tensor, sleep_microseconds=tf.constant(microseconds, tf.int64),
        output_types=[tf.int64], output_shapes=[[]],
    )
    waited = dataset_ops._VariantDataset(sleeping, one.element_spec).reduce(tf.constant(0, tf.int64), lambda a, b: a)
    return tf.cast(waited, tf.float32)


class Spinner(tf.Module):
    """``y = x`` after `iterations` turns of a loop: CPU work that TensorFlow can cancel between turns."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"), tf.TensorSpec([], tf.int32, name="iterations")])
    def spin(self, x, iterations):
        _, total = tf.while_loop(
            lambda turn, total: turn < iterations, lambda turn, total: (turn + 1, total * 0.5 + 1.0),
            (tf.constant(0), tf.constant(0.0)),
        )
        return {"y": x + 0.0 * total}


def export_spinner(base_path: str, version: int) -> str:
    module = Spinner()
    path = os.path.join(base_path, str(version))
    tf.saved_model.save(module, path, signatures={"serving_default": module.spin})
    return path


def export_slow_loading(base_path: str, version: int, seconds: float, bias: float = 2.0) -> str:
    """Version `version` of half-plus-`bias` whose load sleeps about `seconds` (in its warmup)."""
    module = HalfPlus(bias)
    microseconds = int(seconds * 1e6)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="x")])
    def sleep_then_predict(x):
        return {"y": 0.5 * x + module.bias + _sleep(microseconds)}

    path = os.path.join(base_path, str(version))
    tf.saved_model.save(module, path, signatures={"serving_default": module.predict, SLEEP_SIGNATURE: sleep_then_predict})
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "slow"
    request.model_spec.signature_name = SLEEP_SIGNATURE
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([1.0]))
    write_warmup(path, [request])
    return path
