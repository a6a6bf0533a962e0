"""The generator quality measures: Fréchet distance, the classifier-export feature extractor and GAN-test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from trainer.data.image_datasets import LabelledImages
from trainer.errors import TrainerError
from trainer.vision.quality import (
    balanced_labels,
    classifier_reference,
    frechet_distance,
    generator_quality,
    load_feature_extractor,
    load_label_classifier,
    real_floor,
)

NUM_CLASSES = 4
BAND_ROWS = 7  # class k is a bright band on rows 7k..7k+6 of a 28x28 image


class _BandClassifier(tf.Module):
    """A stand-in classifier export: features are the mean brightness of the four 7-row bands, and the class
    is the brightest band."""

    def _bands(self, images: tf.Tensor) -> tf.Tensor:
        rows = tf.reduce_mean(tf.cast(images, tf.float32) / 255.0, axis=[2, 3])
        return tf.reduce_mean(tf.reshape(rows, [-1, NUM_CLASSES, BAND_ROWS]), axis=-1)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")])
    def features(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"features": self._bands(images)}

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")])
    def classify(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": tf.nn.softmax(20.0 * self._bands(images))}


def _band_images(labels: np.ndarray, seed: int) -> np.ndarray:
    images = np.random.default_rng(seed).integers(0, 60, size=(len(labels), 28, 28, 1)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, BAND_ROWS * label : BAND_ROWS * (label + 1)] = 255
    return images


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    module = _BandClassifier()
    export_dir = tmp_path_factory.mktemp("quality") / "band_classifier" / "3"
    signatures = {"features": module.features, "serving_default": module.classify}
    tf.saved_model.save(module, str(export_dir), signatures=signatures)
    return export_dir


def _gaussian(count: int, mean: np.ndarray, std: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, std, size=(count, len(mean)))


def test_identical_sets_are_at_distance_zero():
    features = _gaussian(500, np.zeros(5), np.ones(5), seed=0)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_distance_matches_the_closed_form_for_diagonal_gaussians():
    mean_a, std_a = np.array([0.0, 1.0, -2.0]), np.array([1.0, 2.0, 0.5])
    mean_b, std_b = np.array([1.0, 1.0, 0.0]), np.array([1.0, 1.0, 1.5])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((std_a - std_b) ** 2)  # 5 + 2 = 7
    measured = frechet_distance(_gaussian(40_000, mean_a, std_a, 1), _gaussian(40_000, mean_b, std_b, 2))
    assert measured == pytest.approx(expected, rel=0.03)


def test_distance_is_symmetric():
    features_a = _gaussian(300, np.zeros(4), np.ones(4), seed=3)
    features_b = _gaussian(300, np.ones(4), np.full(4, 2.0), seed=4) @ np.triu(np.ones((4, 4)))
    assert frechet_distance(features_a, features_b) == pytest.approx(frechet_distance(features_b, features_a))


def test_distance_grows_with_the_shift():
    features = _gaussian(1000, np.zeros(3), np.ones(3), seed=5)
    distances = [frechet_distance(features, features + shift) for shift in (0.5, 1.0, 2.0)]
    assert distances == sorted(distances) and distances[0] > 0


def test_feature_extractor_runs_the_features_signature_in_batches(classifier_dir, monkeypatch):
    monkeypatch.setattr("trainer.vision.quality.BATCH_SIZE", 3)
    extract = load_feature_extractor(classifier_dir)
    labels = np.array([0, 1, 2, 3, 1, 2, 0])
    features = extract(_band_images(labels, seed=0))
    assert features.shape == (7, NUM_CLASSES) and features.dtype == np.float32
    assert np.array_equal(np.argmax(features, axis=1), labels)


def test_an_export_without_a_features_signature_is_refused(tmp_path):
    module = _BandClassifier()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"serving_default": module.classify})
    with pytest.raises(TrainerError, match="has no 'features' signature"):
        load_feature_extractor(tmp_path / "1")


def test_a_folder_without_a_saved_model_is_refused(tmp_path):
    with pytest.raises(TrainerError, match="no saved_model.pb"):
        load_feature_extractor(tmp_path)


def test_classifier_reference_names_the_measure_after_the_export(classifier_dir):
    reference = classifier_reference(classifier_dir)
    assert reference["version"] == 3 and reference["measure"] == "FD-band_classifier-v3"
    assert "FID" not in reference["measure"]


def test_generator_quality_measures_distance_and_label_accuracy(classifier_dir):
    real = LabelledImages(_band_images(balanced_labels(40, NUM_CLASSES), seed=1), balanced_labels(40, NUM_CLASSES))
    requested = []

    def faithful(seeds: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        requested.append(labels)
        return _band_images(labels, seed=int(seeds[0]) + 7)

    figures = generator_quality(faithful, real, load_feature_extractor(classifier_dir), samples=32,
                                num_classes=NUM_CLASSES, classify=load_label_classifier(classifier_dir))
    assert figures["samples"] == 32 and np.bincount(requested[0]).tolist() == [8] * NUM_CLASSES
    assert figures["label_accuracy"] == 1.0 and figures["label_accuracy/2"] == 1.0
    assert 0.25 < figures["mean_confidence"] <= 1.0

    def always_zero(seeds: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        return _band_images(np.zeros(len(seeds), np.int64), seed=8)

    collapsed = generator_quality(always_zero, real, load_feature_extractor(classifier_dir), samples=32,
                                  num_classes=NUM_CLASSES, classify=load_label_classifier(classifier_dir))
    assert collapsed["label_accuracy"] == pytest.approx(0.25)
    assert collapsed["frechet_distance"] > figures["frechet_distance"]


def test_unconditional_quality_and_the_real_floor(classifier_dir):
    extract = load_feature_extractor(classifier_dir)
    labels = balanced_labels(40, NUM_CLASSES)
    train, test = (LabelledImages(_band_images(labels, seed), labels) for seed in (2, 3))
    figures = generator_quality(lambda seeds, labels: _band_images(seeds % NUM_CLASSES, 9), test, extract, samples=100)
    assert set(figures) == {"frechet_distance", "samples"} and figures["samples"] == 40
    assert 0 <= real_floor(train, test, extract, samples=40) < 0.01
