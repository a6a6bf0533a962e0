"""The classifier on CIFAR-10 batches (deep net) and on a folder of class subfolders (MLP), through the CLI.

Each run trains one epoch on a few dozen images and exports; the tests then call the reloaded SavedModel.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from trainer.cli import main
from trainer.data.cifar10 import CLASSES as CIFAR_CLASSES
from trainer.export import layout
from trainer.vision.classifier_export import serialize_example

TINY_FLAGS = ["--epochs", "1", "--batch-size", "16"]


def _train(root, dataset, data_dir, arch, *flags):
    argv = ["vision", "classifier", "--dataset", dataset, "--data-dir", str(data_dir), "--arch", arch, *TINY_FLAGS]
    argv += ["--export-root", str(root / "saved_models"), "--run-dir", str(root / "run"), *flags]
    assert main(argv) == 0
    export_dir = root / "saved_models" / f"{dataset}_classifier" / "1"
    return tf.saved_model.load(str(export_dir)), json.loads((export_dir / layout.MODEL_JSON).read_text())


@pytest.fixture(scope="module")
def cifar_deep(tmp_path_factory, cifar_writer):
    root = tmp_path_factory.mktemp("cifar_deep")
    return _train(root, "cifar10", cifar_writer(root / "cifar-10-batches-py", per_batch=8), "deep", "--erasing", "0.5",
                  "--label-smoothing", "0.1", "--weight-decay", "0.05")


@pytest.fixture(scope="module")
def folder_mlp(tmp_path_factory, image_folder_writer):
    root = tmp_path_factory.mktemp("folder_mlp")
    return _train(root, "folder", image_folder_writer(root / "pets"), "mlp", "--test-fraction", "0.25")


def _shapes(function):
    specs = {**function.structured_input_signature[1], **function.structured_outputs}
    return {name: spec.shape.as_list() for name, spec in specs.items()}


def test_cifar_deep_export_takes_32x32_rgb_images(cifar_deep):
    loaded, document = cifar_deep
    assert set(loaded.signatures) == {"serving_default", "classify", "features", "metadata"}
    assert _shapes(loaded.signatures["features"]) == {"images": [None, 32, 32, 3], "features": [None, 256]}
    assert document["labels"] == list(CIFAR_CLASSES) and document["data"]["splits"]["test"] == 8
    assert document["features"]["size"] == 256 and document["config"]["arch"] == "deep"
    assert document["config"]["erasing"] == 0.5
    assert document["config"]["label_smoothing"] == 0.1 and document["config"]["weight_decay"] == 0.05


def test_cifar_deep_signatures_agree_and_augmentation_is_off_when_serving(cifar_deep):
    loaded, _ = cifar_deep
    images = np.random.default_rng(1).integers(0, 256, size=(3, 32, 32, 3)).astype(np.uint8)
    first, second = (loaded.signatures["serving_default"](images=tf.constant(images)) for _ in range(2))
    np.testing.assert_array_equal(first["probabilities"], second["probabilities"])
    classified = loaded.signatures["classify"](inputs=tf.constant([serialize_example(image) for image in images]))
    np.testing.assert_allclose(classified["scores"], first["probabilities"], atol=1e-6)


def test_folder_mlp_export_names_the_folder_classes(folder_mlp):
    loaded, document = folder_mlp
    assert document["labels"] == ["cat", "dog", "fox"] and document["image_shape"] == [12, 12, 3]
    assert document["data"]["splits"] == {"train": 13, "validation": 1, "test": 4}
    images = np.zeros((2, 12, 12, 3), np.uint8)
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    assert served["probabilities"].shape == (2, 3) and set(served["classes"].numpy()) <= {b"cat", b"dog", b"fox"}
    assert loaded.signatures["features"](images=tf.constant(images))["features"].shape == (2, 128)
    assert set(document["metrics"]["per_class_accuracy"]) == {"cat", "dog", "fox"}
