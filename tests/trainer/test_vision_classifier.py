"""The vision classifier end to end on synthetic data: run dir, export signatures, agreement, resume."""

from __future__ import annotations

import json

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.data.image_datasets import FASHION_MNIST_CLASSES
from trainer.export import layout
from trainer.export.warmup import read_warmup
from trainer.vision.classifier import train_classifier
from trainer.vision.classifier_config import ARCHITECTURES, ClassifierConfig
from trainer.vision.classifier_export import serialize_example
from trainer.vision.networks import NETWORKS

EXPECTED_SIGNATURES = {
    "serving_default": (
        {"images": (tf.uint8, [None, 28, 28, 1])},
        {"probabilities": (tf.float32, [None, 10]), "class_ids": (tf.int64, [None]), "classes": (tf.string, [None])},
    ),
    "classify": (
        {"inputs": (tf.string, [None])},
        {"classes": (tf.string, [None, 10]), "scores": (tf.float32, [None, 10])},
    ),
    "predict_images": ({"images": (tf.float32, [None, 784])}, {"scores": (tf.float32, [None, 10])}),
    "features": ({"images": (tf.uint8, [None, 28, 28, 1])}, {"features": (tf.float32, [None, 128])}),
    "metadata": ({}, {"model_json": (tf.string, [])}),
}


@pytest.fixture(scope="module")
def loaded(tiny_run):
    assert tiny_run.exit_code == 0
    return tf.saved_model.load(str(tiny_run.export_dir))


@pytest.fixture(scope="module")
def test_images():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(5, 28, 28, 1)).astype(np.uint8)


def _described(specs):
    return {name: (spec.dtype, spec.shape.as_list()) for name, spec in specs.items()}


def test_export_has_exactly_the_contract_signatures(loaded):
    assert set(loaded.signatures) == set(EXPECTED_SIGNATURES)
    for name, (inputs, outputs) in EXPECTED_SIGNATURES.items():
        function = loaded.signatures[name]
        assert _described(function.structured_input_signature[1]) == inputs, name
        assert _described(function.structured_outputs) == outputs, name


def test_classify_and_predict_images_agree_with_serving_default(loaded, test_images):
    served = loaded.signatures["serving_default"](images=tf.constant(test_images))
    examples = tf.constant([serialize_example(image) for image in test_images])
    classified = loaded.signatures["classify"](inputs=examples)
    flat = tf.constant(test_images.reshape(5, 784) / 255, tf.float32)
    predicted = loaded.signatures["predict_images"](images=flat)
    np.testing.assert_allclose(classified["scores"], served["probabilities"], atol=1e-6)
    np.testing.assert_allclose(predicted["scores"], served["probabilities"], atol=1e-5)
    names = [name.decode() for name in served["classes"].numpy()]
    assert names == [FASHION_MNIST_CLASSES[index] for index in served["class_ids"].numpy()]
    assert all(list(row) == [n.encode() for n in FASHION_MNIST_CLASSES] for row in classified["classes"].numpy())


def test_classify_rejects_an_image_of_the_wrong_size(loaded):
    example = serialize_example(np.zeros(100, np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="must hold 784 raw uint8 pixel bytes"):
        loaded.signatures["classify"](inputs=tf.constant([example]))


def test_model_json_describes_the_run(tiny_run, loaded):
    document = json.loads((tiny_run.export_dir / layout.MODEL_JSON).read_text())
    assert loaded.signatures["metadata"]()["model_json"].numpy().decode() == json.dumps(document, indent=2) + "\n"
    assert document["family"] == "image_classifier" and document["name"] == "tiny"
    assert document["command"] == ["python", "-m", "trainer", *tiny_run.argv]
    assert document["data"]["splits"] == {"train": 230, "validation": 26, "test": 64}
    assert document["labels"] == list(FASHION_MNIST_CLASSES)
    metrics = document["metrics"]
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["test_examples"] == 64
    assert set(metrics["per_class_accuracy"]) == set(FASHION_MNIST_CLASSES)
    encoding = document["inputs"]["classify"]["inputs"]["example_features"]["image"]
    assert encoding["kind"] == "bytes_list" and encoding["length"] == 784
    assert document["features"] == {"signature": "features", "layer": "features", "size": 128}
    assert document["training"] == {"strategy": "default", "replicas": 1, "devices": [], "dtype_policy": "mixed_bfloat16"}


def _graph_dtypes(function) -> set[int]:
    """Every dtype a node of function's graph, or of a function it calls, computes in or declares."""
    graph = function.graph.as_graph_def()
    nodes = [*graph.node, *(node for library_function in graph.library.function for node in library_function.node_def)]
    return {value.type for node in nodes for value in node.attr.values() if value.type}


def test_export_of_a_mixed_precision_run_computes_in_float32(loaded):
    for name in ("serving_default", "classify", "features", "predict_images"):
        dtypes = _graph_dtypes(loaded.signatures[name])
        assert tf.float32.as_datatype_enum in dtypes and tf.bfloat16.as_datatype_enum not in dtypes, name


def test_features_signature_gives_one_relu_vector_per_image(loaded, test_images):
    features = loaded.signatures["features"](images=tf.constant(test_images))["features"].numpy()
    assert features.shape == (5, 128) and features.dtype == np.float32 and features.min() >= 0
    assert len(np.unique(features.round(4), axis=0)) == 5


def test_warmup_requests_parse_and_cover_every_signature(tiny_run):
    logs = read_warmup(tiny_run.export_dir / layout.WARMUP_FILE)
    kinds = {}
    for log in logs:
        kind = log.WhichOneof("log_type")
        kinds[getattr(log, kind).request.model_spec.signature_name] = kind
    assert kinds == {
        "serving_default": "predict_log",
        "classify": "classify_log",
        "predict_images": "predict_log",
        "features": "predict_log",
        "metadata": "predict_log",
    }
    classify = next(log.classify_log.request for log in logs if log.HasField("classify_log"))
    image = classify.input.example_list.examples[0].features.feature["image"].bytes_list.value[0]
    assert len(image) == 784


def test_run_dir_holds_config_logs_checkpoint_and_confusion_matrix(tiny_run):
    saved = json.loads((tiny_run.run_dir / "config.json").read_text())
    assert saved["config"]["epochs"] == 1 and saved["command"][-1] == "tiny"
    picture = cv2.imread(str(tiny_run.run_dir / "confusion_matrix.png"))
    assert picture is not None and picture.shape[0] > 10 * 40 and picture.shape[1] > 10 * 40
    assert (tiny_run.run_dir / "checkpoints" / "best.keras").is_file()
    assert not (tiny_run.run_dir / "backup").exists()


def test_tensorboard_scalars_are_written(tiny_run):
    pytest.importorskip("tensorboard")
    assert list((tiny_run.run_dir / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((tiny_run.run_dir / "tensorboard" / "validation").glob("events.out.tfevents.*"))


class _Crash(Exception):
    pass


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise _Crash


def test_interrupted_training_resumes_from_the_backup(tmp_path, tiny_run):
    config = ClassifierConfig(
        data_dir=tiny_run.data_dir,
        epochs=2,
        batch_size=64,
        limit_train=128,
        model_name="resumed",
        export_root=tmp_path / "saved_models",
        run_dir=tmp_path / "run",
    )
    with pytest.raises(_Crash):
        train_classifier(config, callbacks=[_CrashAfterFirstEpoch()])
    assert (tmp_path / "run" / "backup").is_dir() and not (tmp_path / "saved_models" / "resumed").exists()
    result = train_classifier(config)
    assert result.epochs_run == [1]
    assert result.export.version == 1 and not (tmp_path / "run" / "backup").exists()


def test_every_architecture_flag_has_a_network():
    assert set(ARCHITECTURES) == set(NETWORKS)


@pytest.mark.parametrize(("arch", "epochs", "dropout"), [("mlp", 30, 0.5), ("cnn", 30, 0.5), ("deep", 36, 0.25)])
def test_epochs_and_dropout_default_per_architecture(arch, epochs, dropout):
    config = ClassifierConfig(arch=arch)
    assert (config.epochs, config.dropout) == (epochs, dropout)
    assert ClassifierConfig(arch=arch, epochs=3, dropout=0.1).dropout == 0.1


def test_early_stopping_waits_for_the_cosine_schedule_by_default():
    assert ClassifierConfig(arch="cnn").patience == 30 and ClassifierConfig(arch="cnn", epochs=12).patience == 12
    assert ClassifierConfig(lr_schedule="plateau").patience == 5 and ClassifierConfig(patience=3).patience == 3
