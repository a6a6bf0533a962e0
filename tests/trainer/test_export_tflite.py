"""`--tflite`: model.tflite beside the SavedModel, answering like it, with TF Serving's signature metadata."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.lite.tools import flatbuffer_utils

from trainer.export.tflite import TFLITE_FILE
from trainer.rl.dqn import train_dqn
from trainer.rl.dqn_config import DQNConfig


def interpreter(path: Path) -> tf.lite.Interpreter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(model_path=str(path))


def tf_serving_signature_defs(path: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    """What TF Serving reads: the `signature_defs_metadata` FlexBuffer map of serialized SignatureDefs."""
    model = flatbuffer_utils.read_model(str(path))
    (entry,) = [entry for entry in model.metadata if entry.name == b"signature_defs_metadata"]
    stored = flexbuffers.GetRoot(bytes(model.buffers[entry.buffer].data)).AsMap
    return {key.AsKey: meta_graph_pb2.SignatureDef.FromString(value.AsStringBytes)
            for key, value in zip(stored.Keys, stored.Values)}


def tflite_answers(path: Path, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    return interpreter(path).get_signature_runner("serving_default")(**inputs)


def test_the_classifier_export_holds_a_tflite_model_that_answers_like_the_saved_model(tiny_run):
    path = tiny_run.export_dir / TFLITE_FILE
    images = np.random.default_rng(3).integers(0, 256, size=(6, 28, 28, 1)).astype(np.uint8)
    expected = tf.saved_model.load(str(tiny_run.export_dir)).signatures["serving_default"](images=tf.constant(images))
    answers = tflite_answers(path, images=images)
    np.testing.assert_allclose(answers["probabilities"], expected["probabilities"].numpy(), atol=1e-5)
    assert answers["class_ids"].tolist() == expected["class_ids"].numpy().tolist()
    assert answers["classes"].tolist() == expected["classes"].numpy().tolist()
    signature = tf_serving_signature_defs(path)["serving_default"]
    assert sorted(signature.inputs) == ["images"]
    assert sorted(signature.outputs) == ["class_ids", "classes", "probabilities"]
    assert signature.method_name == "tensorflow/serving/predict"


def test_the_dqn_export_holds_a_tflite_policy(tmp_path):
    config = DQNConfig(env="CartPole-v1", total_timesteps=200, buffer_size=300, learning_starts=100, batch_size=16,
                       eval_frequency=10**6, eval_episodes=1, video=False, tflite=True,
                       export_root=tmp_path / "saved_models", run_dir=tmp_path / "run")
    export = train_dqn(config, command=["python", "-m", "trainer", "rl", "dqn", "--tflite"]).export
    observations = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    expected = tf.saved_model.load(str(export.path)).signatures["serving_default"](observations=observations)
    answers = tflite_answers(export.path / TFLITE_FILE, observations=observations)
    np.testing.assert_allclose(answers["q_values"], expected["q_values"].numpy(), atol=1e-5)
    assert sorted(tf_serving_signature_defs(export.path / TFLITE_FILE)["serving_default"].outputs) == sorted(expected)


