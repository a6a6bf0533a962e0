"""The classifier networks: the `features` layer feeds the classification layer; augmentation acts only in training."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.distribute import dtype_policy_scope
from trainer.vision.networks import CLASSIFICATION_LAYER, NETWORKS, DeepOptions, build_classifier

IMAGE_SHAPE = (12, 12, 3)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(4, *IMAGE_SHAPE)).astype(np.uint8)


def _softmax(logits):
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("arch", sorted(NETWORKS))
def test_probabilities_are_the_classification_layer_applied_to_the_features(arch, images):
    models = build_classifier(arch, IMAGE_SHAPE, num_classes=3, dropout=0.5, deep=DeepOptions(flip=True))
    features = models.features.predict(images, verbose=0)
    kernel, bias = models.network.get_layer(CLASSIFICATION_LAYER).get_weights()
    assert features.shape == (4, models.feature_size) and features.min() >= 0
    np.testing.assert_allclose(models.model.predict(images, verbose=0), _softmax(features @ kernel + bias), atol=1e-5)


def test_deep_augmentation_changes_training_inputs_only(images):
    models = build_classifier("deep", IMAGE_SHAPE, num_classes=3, dropout=0.5, deep=DeepOptions(flip=True))
    augmentation, scaled = models.network.get_layer("augmentation"), images.astype("float32") / 255
    np.testing.assert_array_equal(augmentation(scaled, training=False), scaled)
    assert not np.allclose(augmentation(scaled, training=True), scaled)
    inference = [models.model(images, training=False).numpy() for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])


def test_random_erasing_blanks_a_patch_of_each_training_image_only(images):
    models = build_classifier("deep", IMAGE_SHAPE, num_classes=3, dropout=0.5, deep=DeepOptions(erasing=1.0))
    erasing = models.network.get_layer("augmentation").layers[-1]
    ones = np.ones((8, *IMAGE_SHAPE), "float32")
    np.testing.assert_array_equal(erasing(ones, training=False), ones)
    changed = np.asarray(erasing(ones, training=True)) != 1
    assert changed.reshape(8, -1).any(axis=1).all() and not changed.all()


def test_mixed_precision_keeps_the_softmax_float32(images):
    with dtype_policy_scope("mixed_float16"):
        models = build_classifier("cnn", IMAGE_SHAPE, num_classes=3, dropout=0.5, deep=DeepOptions())
    assert models.network.get_layer("features").compute_dtype == "float16"
    assert models.model(images).dtype == "float32"
