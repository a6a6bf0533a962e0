"""The vision GANs end to end on synthetic data: training, sample grids, export signatures, sampling, quality."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.errors import TrainerError
from trainer.vision.gan import GANResult, train_gan
from trainer.vision.gan_config import ARCHITECTURES, GANConfig
from trainer.vision.gan_networks import build_networks

LATENT_DIM = 8
WIDTH = 8
GRID_COLUMNS = 3
QUALITY_SAMPLES = 40
IMAGES = (tf.uint8, [None, 28, 28, 1])


def _expected_signatures(arch: str) -> dict:
    labels = {"labels": (tf.int64, [None])} if arch == "cgan" else {}
    return {
        "serving_default": ({"z": (tf.float32, [None, LATENT_DIM]), **labels}, {"images": IMAGES}),
        "sample": ({"seeds": (tf.int64, [None]), **labels}, {"images": IMAGES}),
        "metadata": ({}, {"model_json": (tf.string, [])}),
    }


class _RowClassifier(tf.Module):
    """A stand-in classifier export for the synthetic data (conftest: class k is a bright band on rows 2+2k):
    features are the 28 row brightnesses, and the class is the brightest band."""

    def _rows(self, images: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.cast(images, tf.float32) / 255.0, axis=[2, 3])

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")])
    def features(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"features": self._rows(images)}

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")])
    def classify(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        bands = tf.reduce_mean(tf.reshape(self._rows(images)[:, 2:22], [-1, 10, 2]), axis=-1)
        return {"probabilities": tf.nn.softmax(10.0 * bands)}


def _fake_classifier(directory: Path) -> Path:
    module = _RowClassifier()
    signatures = {"features": module.features, "serving_default": module.classify}
    tf.saved_model.save(module, str(directory / "1"), signatures=signatures)
    return directory


def _config(root: Path, data_dir: Path, arch: str, **overrides) -> GANConfig:
    values = dict(
        data_dir=data_dir, arch=arch, latent_dim=LATENT_DIM, width=WIDTH, epochs=1, batch_size=32, limit_train=64,
        grid_columns=GRID_COLUMNS, quality_samples=0, export_root=root / "saved_models", run_dir=root / arch,
    )
    return GANConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def runs() -> dict[str, GANResult]:
    """Results shared by the tests of this module, so each tiny GAN trains once."""
    return {}


@pytest.fixture
def trained(runs, dataset_dir_writer, tmp_path_factory) -> dict[str, GANResult]:
    """Each architecture trained for one epoch (2 steps) on synthetic images, measured and exported."""
    if not runs:
        root = tmp_path_factory.mktemp("tiny_gans")
        data_dir = dataset_dir_writer(root / "data")
        classifier = _fake_classifier(root / "classifier")
        for arch in ARCHITECTURES:
            config = _config(root, data_dir, arch, quality_classifier=classifier, quality_samples=QUALITY_SAMPLES)
            runs[arch] = train_gan(config, command=["python", "-m", "trainer", "vision", "gan", "--arch", arch])
    return runs


def _loaded(result: GANResult):
    return tf.saved_model.load(str(result.export.path))


def _specs(structure: dict) -> dict:
    return {name: (spec.dtype, spec.shape.as_list()) for name, spec in structure.items()}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_export_has_the_contract_signatures(trained, arch):
    loaded = _loaded(trained[arch])
    assert set(loaded.signatures) == set(_expected_signatures(arch))
    for name, (inputs, outputs) in _expected_signatures(arch).items():
        signature = loaded.signatures[name]
        assert _specs(signature.structured_input_signature[1]) == inputs, name
        assert _specs(signature.structured_outputs) == outputs, name
    assert trained[arch].export.path.name == "1" and trained[arch].export.path.parent.name == f"fashion_mnist_{arch}"


@pytest.mark.parametrize("arch", ["dcgan", "cgan"])
def test_sample_is_deterministic_per_seed_and_matches_serving_default(trained, arch):
    loaded = _loaded(trained[arch])
    labels = {"labels": tf.constant([4, 4, 7], tf.int64)} if arch == "cgan" else {}
    first = loaded.signatures["sample"](seeds=tf.constant([5, 5, 6], tf.int64), **labels)["images"].numpy()
    again = loaded.signatures["sample"](seeds=tf.constant([5, 5, 6], tf.int64), **labels)["images"].numpy()
    assert first.dtype == np.uint8 and first.shape == (3, 28, 28, 1)
    assert np.array_equal(first, again) and np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], first[2])
    z = tf.stack([tf.random.stateless_normal([LATENT_DIM], seed=tf.constant([seed, 0], tf.int64)) for seed in (5, 5, 6)])
    assert np.array_equal(loaded.signatures["serving_default"](z=z, **labels)["images"].numpy(), first)


def test_cgan_images_depend_on_the_label(trained):
    sample = _loaded(trained["cgan"]).signatures["sample"]
    images = sample(seeds=tf.constant([1, 1], tf.int64), labels=tf.constant([0, 9], tf.int64))["images"].numpy()
    assert not np.array_equal(images[0], images[1])


@pytest.mark.parametrize("num_classes", [10, None])
def test_cgan_discriminator_judges_every_pixel_of_the_image(num_classes):
    """Its logit must change with each pixel, so the label can constrain the whole image, not one patch."""
    _, discriminator = build_networks("cgan", (28, 28, 1), LATENT_DIM, WIDTH, num_classes=num_classes)
    images = tf.Variable(tf.random.stateless_uniform([4, 28, 28, 1], seed=[1, 2], minval=-1.0, maxval=1.0))
    labels = [tf.constant([0, 3, 7, 9], tf.int64)] if num_classes else []
    with tf.GradientTape() as tape:
        logits = discriminator([images, *labels] if labels else images, training=False)
    pixel_influence = tf.abs(tape.gradient(logits, images)).numpy()[..., 0]
    assert (pixel_influence > 0).all(), f"{(pixel_influence == 0).sum()} pixel gradients are zero"


def test_cgan_discriminator_adds_the_projection_of_its_features_onto_the_label_embedding():
    """Miyato & Koyama's projection: logit = dense(features) + embedding(label) . features, so the label weighs
    the whole-image features, not only the label planes beside the pixels."""
    _, discriminator = build_networks("cgan", (28, 28, 1), LATENT_DIM, WIDTH, num_classes=10)
    images = tf.random.stateless_uniform([4, 28, 28, 1], seed=[3, 4], minval=-1.0, maxval=1.0)
    labels = tf.constant([0, 3, 7, 9], tf.int64)
    unconditional = discriminator.get_layer("unconditional_logit")
    features = keras.Model(discriminator.inputs, unconditional.input)([images, labels], training=False)
    label_vectors = tf.gather(discriminator.get_layer("label_projection").embeddings, labels)
    expected = unconditional(features) + tf.reduce_sum(label_vectors * features, axis=1, keepdims=True)
    logits = discriminator([images, labels], training=False)
    np.testing.assert_allclose(logits.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad_labels", [[10, 0], [-1, 0], [0]])
def test_cgan_refuses_labels_out_of_range_or_miscounted(trained, bad_labels):
    sample = _loaded(trained["cgan"]).signatures["sample"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must lie in 0..9|one label per image"):
        sample(seeds=tf.constant([1, 2], tf.int64), labels=tf.constant(bad_labels, tf.int64))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_sample_grid_png_is_written_per_epoch(trained, arch):
    grid = cv2.imread(str(trained[arch].run_dir / "samples" / "epoch_001.png"), cv2.IMREAD_GRAYSCALE)
    rows = 10 if arch == "cgan" else GRID_COLUMNS
    assert grid.shape == (2 + rows * 30, 2 + GRID_COLUMNS * 30)  # 28-pixel images with 2-pixel gaps


def test_model_json_records_labels_and_sample_quality(trained):
    document = json.loads((trained["cgan"].export.path / "assets.extra" / "model.json").read_text())
    assert document["family"] == "gan" and len(document["labels"]) == 10
    assert document["inputs"]["sample"]["labels"]["labels"] == document["labels"]
    quality = document["metrics"]["sample_quality"]
    assert quality["samples"] == QUALITY_SAMPLES and quality["classifier"]["measure"] == "FD-classifier-v1"
    assert quality["frechet_distance"] >= 0 and 0 <= quality["real_floor"] < quality["frechet_distance"]
    assert 0 <= quality["label_accuracy"] <= 1 and quality["real_label_accuracy"] > 0.9
    assert "labels" not in json.loads((trained["dcgan"].export.path / "assets.extra" / "model.json").read_text())


def test_training_logs_both_losses(trained):
    assert trained["fc"].epochs_run == [0]
    assert {"final_d_loss", "final_g_loss"} <= set(trained["fc"].metrics)


@pytest.mark.parametrize("flag", [{"arch": "wgan"}, {"latent_dim": 0}, {"batch_size": 1}, {"limit_train": 10}])
def test_bad_flags_are_refused(tmp_path, flag):
    with pytest.raises(TrainerError, match="--"):
        _config(tmp_path, tmp_path, **{"arch": "dcgan", **flag})


class _Crash(Exception):
    pass


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        raise _Crash()


def test_interrupted_training_resumes_from_the_backup(tmp_path, dataset_dir_writer):
    config = _config(tmp_path, dataset_dir_writer(tmp_path / "data"), "cgan", epochs=2)
    with pytest.raises(_Crash):
        train_gan(config, callbacks=[_CrashAfterFirstEpoch()])
    assert (tmp_path / "cgan" / "backup").is_dir() and not (tmp_path / "saved_models").exists()
    result = train_gan(config)
    assert result.epochs_run == [1] and result.export.version == 1
    assert sorted(path.name for path in (tmp_path / "cgan" / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
