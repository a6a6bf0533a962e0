"""The vision VAE end to end on synthetic data: pictures, export signatures, sampling, ELBO, resume, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from figure_checks import tensorboard_image_tags
from trainer.errors import TrainerError
from trainer.export import layout
from trainer.vision.vae import VAEResult, train_vae
from trainer.vision.vae_config import VAEConfig
from trainer.vision.vae_pictures import manifold_latents, project_2d

LATENT_DIM = 2
EXPECTED_SIGNATURES = {
    "serving_default": ({"z": (tf.float32, [None, LATENT_DIM])}, {"images": (tf.uint8, [None, 28, 28, 1])}),
    "encode": (
        {"images": (tf.uint8, [None, 28, 28, 1])},
        {"z_mean": (tf.float32, [None, LATENT_DIM]), "z_log_var": (tf.float32, [None, LATENT_DIM])},
    ),
    "reconstruct": ({"images": (tf.uint8, [None, 28, 28, 1])}, {"images": (tf.uint8, [None, 28, 28, 1])}),
    "sample": ({"seeds": (tf.int64, [None])}, {"images": (tf.uint8, [None, 28, 28, 1])}),
    "metadata": ({}, {"model_json": (tf.string, [])}),
}
QUALITY_SAMPLES = 32


class _PoolingFeatures(tf.Module):
    """A stand-in classifier export: 16 features, the mean brightness of each 7x7 patch."""

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")])
    def features(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        pooled = tf.nn.avg_pool2d(tf.cast(images, tf.float32) / 255.0, ksize=7, strides=7, padding="VALID")
        return {"features": tf.reshape(pooled, [-1, 16])}


def _fake_classifier(directory: Path) -> Path:
    module = _PoolingFeatures()
    tf.saved_model.save(module, str(directory / "1"), signatures={"features": module.features})
    return directory


def _config(root: Path, data_dir: Path, **overrides) -> VAEConfig:
    values = dict(
        data_dir=data_dir, latent_dim=LATENT_DIM, epochs=1, batch_size=64, quality_samples=0,
        model_name="tiny_vae", export_root=root / "saved_models", run_dir=root / "run",
    )
    return VAEConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def runs() -> dict:
    """Results shared by the tests of this module, so the tiny VAE trains once."""
    return {}


@pytest.fixture
def tiny_vae(runs, dataset_dir_writer, tmp_path_factory) -> VAEResult:
    """One epoch (4 steps) of a 2-D VAE on 256 synthetic images, with the Fréchet distance, exported as version 1."""
    if "tiny" not in runs:
        root = tmp_path_factory.mktemp("tiny_vae")
        runs["data_dir"] = dataset_dir_writer(root / "data")
        classifier = _fake_classifier(root / "classifier")
        config = _config(root, runs["data_dir"], quality_classifier=classifier, quality_samples=QUALITY_SAMPLES)
        runs["tiny"] = train_vae(config, command=["python", "-m", "trainer", "vision", "vae"])
    return runs["tiny"]


@pytest.fixture
def loaded(tiny_vae):
    return tf.saved_model.load(str(tiny_vae.export.path))


@pytest.fixture
def test_images() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, size=(3, 28, 28, 1)).astype(np.uint8)


def _described(specs):
    return {name: (spec.dtype, spec.shape.as_list()) for name, spec in specs.items()}


def test_export_has_exactly_the_contract_signatures(loaded):
    assert set(loaded.signatures) == set(EXPECTED_SIGNATURES)
    for name, (inputs, outputs) in EXPECTED_SIGNATURES.items():
        function = loaded.signatures[name]
        assert _described(function.structured_input_signature[1]) == inputs, name
        assert _described(function.structured_outputs) == outputs, name


def test_sample_is_deterministic_per_seed(loaded):
    sample = loaded.signatures["sample"]
    first = sample(seeds=tf.constant([3, 5, 3], tf.int64))["images"].numpy()
    alone = sample(seeds=tf.constant([5], tf.int64))["images"].numpy()
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(first[1], alone[0])
    assert not np.array_equal(first[0], first[1])


def test_reconstruct_is_decode_of_the_posterior_mean(loaded, test_images):
    encoded = loaded.signatures["encode"](images=tf.constant(test_images))
    decoded = loaded.signatures["serving_default"](z=encoded["z_mean"])["images"].numpy()
    reconstructed = loaded.signatures["reconstruct"](images=tf.constant(test_images))["images"].numpy()
    assert reconstructed.dtype == np.uint8 and reconstructed.shape == test_images.shape
    np.testing.assert_array_equal(reconstructed, decoded)


def test_model_json_records_a_finite_elbo_and_the_sample_quality(tiny_vae, loaded):
    document = json.loads((tiny_vae.export.path / layout.MODEL_JSON).read_text())
    assert loaded.signatures["metadata"]()["model_json"].numpy().decode() == json.dumps(document, indent=2) + "\n"
    assert document["family"] == "vae" and document["latent_dim"] == LATENT_DIM
    assert document["data"]["splits"] == {"train": 230, "validation": 26, "test": 64}
    metrics = document["metrics"]
    assert math.isfinite(metrics["test_elbo_nats"]) and metrics["test_elbo_nats"] < 0
    terms = metrics["test_reconstruction_nats"] + metrics["test_kl_nats"]
    assert metrics["test_elbo_nats"] == pytest.approx(-terms, rel=1e-5)
    assert "binarised" in metrics["elbo_definition"] and metrics["test_examples"] == 64
    quality = metrics["sample_quality"]
    assert math.isfinite(quality["frechet_distance"]) and quality["samples"] == QUALITY_SAMPLES
    assert "seed" in document["inputs"]["sample"]["seeds"]["meaning"]


def test_run_dir_holds_the_three_pictures_and_tensorboard_shows_them(tiny_vae):
    shapes = {name: cv2.imread(str(tiny_vae.run_dir / f"{name}.png")).shape for name in
              ("latent_scatter", "manifold", "reconstructions")}
    assert shapes["latent_scatter"][0] > 500 and shapes["manifold"][0] > 500
    assert shapes["reconstructions"][:2] == (2 + 8 * 30, 2 + 10 * 30)
    assert {"latent_scatter", "manifold", "reconstructions"} <= tensorboard_image_tags(tiny_vae.run_dir)
    assert (tiny_vae.run_dir / "checkpoints" / "best.keras").is_file()
    assert not (tiny_vae.run_dir / "backup").exists()


class _Crash(Exception):
    pass


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise _Crash


def test_interrupted_training_resumes_from_the_backup(tmp_path, runs, tiny_vae):
    config = _config(tmp_path, runs["data_dir"], epochs=2, limit_train=128)
    with pytest.raises(_Crash):
        train_vae(config, callbacks=[_CrashAfterFirstEpoch()])
    assert (tmp_path / "run" / "backup").is_dir() and not (tmp_path / "saved_models" / "tiny_vae").exists()
    result = train_vae(config)
    assert result.epochs_run == [1] and result.export.version == 1


def test_a_missing_data_dir_is_reported_before_anything_is_written(tmp_path):
    with pytest.raises(TrainerError, match="--data-dir .*nowhere is not a directory"):
        train_vae(_config(tmp_path, tmp_path / "nowhere"))
    assert not (tmp_path / "saved_models").exists() and not (tmp_path / "run").exists()


def test_a_name_taken_by_another_family_is_refused_and_left_untouched(tmp_path, runs, tiny_vae):
    model_json = tmp_path / "saved_models" / "tiny_vae" / "1" / layout.MODEL_JSON
    model_json.parent.mkdir(parents=True)
    model_json.write_text(json.dumps({"family": "image_classifier"}))
    with pytest.raises(TrainerError, match="family 'image_classifier', not 'vae'"):
        train_vae(_config(tmp_path, runs["data_dir"]))
    assert sorted(path.name for path in (tmp_path / "saved_models" / "tiny_vae").iterdir()) == ["1"]
    assert json.loads(model_json.read_text()) == {"family": "image_classifier"}


def test_a_missing_quality_classifier_is_reported_before_training(tmp_path, runs, tiny_vae):
    config = _config(tmp_path, runs["data_dir"], quality_classifier=tmp_path / "absent", quality_samples=8)
    with pytest.raises(TrainerError, match="--quality-classifier .*absent does not exist"):
        train_vae(config)
    assert not (tmp_path / "run").exists() and not (tmp_path / "saved_models").exists()


@pytest.mark.parametrize("flag", [{"latent_dim": 0}, {"quality_samples": -1}, {"validation_fraction": 1.0}])
def test_bad_flags_are_refused(flag):
    with pytest.raises(TrainerError, match="--" + next(iter(flag)).replace("_", "-")):
        VAEConfig(**flag)


def test_a_larger_latent_is_pictured_by_its_first_principal_components_and_dimensions():
    points, axis_names = project_2d(np.random.default_rng(0).normal(size=(50, 5)) * [5, 3, 1, 1, 1])
    assert points.shape == (50, 2) and axis_names[0].startswith("PC1")
    assert np.var(points[:, 0]) > np.var(points[:, 1])
    grid = manifold_latents(5)
    assert grid.shape == (16 * 16, 5) and not grid[:, 2:].any()
    assert list(grid[0, :2]) == [-2, 2] and list(grid[-1, :2]) == [2, -2]  # top left: lowest z[0], highest z[1]
