"""Convolutional VAE: data -> network -> `fit` -> test ELBO -> pictures -> export (`python -m trainer vision vae`).

The network is keras-io's "Variational AutoEncoder" (two strided convolutions to a Dense(16) and a Gaussian
posterior q(z|x) = N(z_mean, exp(z_log_var)); a mirrored transposed-convolution decoder), trained with the
reparameterisation trick and reconstruction + KL loss in a `train_step` override.

Likelihood, and why: keras-io scores continuous grey pixels with binary cross-entropy, which is not a
normalised likelihood (Loaiza-Ganem & Cunningham 2019), so its "loss" bounds nothing. Here the decoder is
a Bernoulli distribution over *binary* images b, and the data are binarised, each pixel on with
probability pixel / 255:
- training uses dynamic binarisation: a fresh draw of b every step (Burda et al., IWAE);
- validation and test images are binarised once, from a fixed NumPy seed, so every epoch and every run
  is scored on the same binary images.
The encoder sees the grey image x that b was drawn from, not b: the ELBO is a lower bound on log p(b) for
*any* q(z), so the figure stays a proper bound, and the served `encode`/`reconstruct` take the grey uint8
images users have. (On Fashion-MNIST, latent 2, 10 epochs: both ways reach a test ELBO of -269 nats, but
grey images fed to an encoder trained on binary ones scored about 65 nats worse.)
The reported test ELBO is therefore a lower bound on log p(b) of binarised test images, in nats per image
(see `ELBO_DEFINITION`). Decoded images are the decoder's pixel probabilities times 255.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from trainer.config import require
from trainer.data.image_datasets import ImageDataset, LabelledImages, load_image_dataset
from trainer.data.pipeline import batched, holdout_split
from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult, ModelInfo, job_model_info
from trainer.runs import begin_job, default_run_dir, prepare_run_dir, training_callbacks
from trainer.vision.quality_classifier import load_quality_classifier
from trainer.vision.vae_config import VAEConfig
from trainer.vision.vae_export import FAMILY, VAEGraph, vae_signatures
from trainer.vision.vae_pictures import write_pictures
from trainer.vision.vae_quality import measure_sample_quality

TRAINER = "vision vae"
MONITOR = "val_loss"
WARMUP_IMAGES = 2
ENCODER_WIDTH = 16  # keras-io: Dense(16) between the convolutions and the latent
EVALUATION_BINARISATION_SEED = 0
ELBO_DEFINITION = (
    "test_elbo_nats: mean over the test images of a one-sample Monte-Carlo estimate of "
    "ELBO(b) = E_q(z|x)[log p(b|z)] - KL(q(z|x) || N(0, I)), in nats per image; b is the test image x binarised "
    f"once (each pixel Bernoulli(pixel/255), numpy.random.default_rng({EVALUATION_BINARISATION_SEED})), p(b|z) a "
    "product of Bernoulli distributions over all pixels, q(z|x) the encoder's Gaussian computed from the grey "
    "image x, the KL analytic. ELBO <= log p(b) for any q, so -test_elbo_nats bounds the test negative "
    "log-likelihood of binarised images from above (Burda et al.'s one-layer VAE: "
    "about 86.8 nats on dynamically binarised MNIST). test_reconstruction_nats and test_kl_nats are its two "
    "terms, as positive costs. Training used dynamic binarisation (a fresh draw every step)."
)


class Sampling(keras.layers.Layer):
    """z = z_mean + exp(z_log_var / 2) * epsilon with epsilon ~ N(0, I): the reparameterisation trick.

    The layer owns its SeedGenerator, so draws are reproducible and its state is checkpointed with the model.
    """

    def __init__(self, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


def build_encoder(image_shape: tuple[int, int, int], latent_dim: int) -> keras.Model:
    """keras-io encoder on images in [0, 1] -> (z_mean, z_log_var); sampling stays outside, so exports are pure."""
    images = keras.Input(image_shape, name="scaled_images")
    x = keras.layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(images)
    x = keras.layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(ENCODER_WIDTH, activation="relu")(x)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(images, [z_mean, z_log_var], name="encoder")


def build_decoder(image_shape: tuple[int, int, int], latent_dim: int) -> keras.Model:
    """keras-io decoder z -> per-pixel Bernoulli logits (keras-io applies the sigmoid; logits keep BCE stable)."""
    height, width, channels = image_shape
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(height // 4 * width // 4 * 64, activation="relu")(z)
    x = keras.layers.Reshape((height // 4, width // 4, 64))(x)
    x = keras.layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = keras.layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    logits = keras.layers.Conv2DTranspose(channels, 3, padding="same", name="pixel_logits")(x)
    return keras.Model(z, logits, name="decoder")


def scaled(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels as float32 in [0, 1]: the Bernoulli probability of each pixel being on."""
    return ops.cast(images, "float32") / 255.0


def binarise_once(images: np.ndarray, seed: int = EVALUATION_BINARISATION_SEED) -> np.ndarray:
    """Each pixel set to 255 with probability pixel / 255, else 0, from a fixed NumPy seed (evaluation data)."""
    on = np.random.default_rng(seed).random(images.shape) < images / 255.0
    return np.where(on, 255, 0).astype(np.uint8)


class VAE(keras.Model):
    """Encoder, sampling and decoder, trained on the negative ELBO of binarised images b (module docstring).

    Metrics, in nats per image: `loss` (negative ELBO), `reconstruction_loss` (-log p(b|z)), `kl_loss`.
    """

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.latent_dim, self.seed = tuple(image_shape), latent_dim, seed
        self.encoder = build_encoder(self.image_shape, latent_dim)
        self.decoder = build_decoder(self.image_shape, latent_dim)
        self.sampling = Sampling(seed, name="sampling")
        self.binarisation_seed = keras.random.SeedGenerator(seed + 1)
        self.trackers = [keras.metrics.Mean(name) for name in ("loss", "reconstruction_loss", "kl_loss")]
        self.built = True  # every weight lives in the functional encoder and decoder, built above

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return self.trackers

    def get_config(self) -> dict:
        return {"image_shape": self.image_shape, "latent_dim": self.latent_dim, "seed": self.seed}

    def negative_elbo_terms(self, probabilities: tf.Tensor, binary: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Per-image (-log p(b|z) for one z ~ q(z|x), KL(q(z|x) || N(0, I))): x grey in [0, 1], b binary {0, 1}."""
        z_mean, z_log_var = self.encoder(probabilities)
        logits = self.decoder(self.sampling((z_mean, z_log_var)))
        reconstruction = ops.sum(ops.binary_crossentropy(binary, logits, from_logits=True), axis=(1, 2, 3))
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
        return reconstruction, kl

    def _track(self, reconstruction: tf.Tensor, kl: tf.Tensor) -> dict[str, tf.Tensor]:
        for tracker, value in zip(self.trackers, (reconstruction + kl, reconstruction, kl), strict=True):
            tracker.update_state(value)
        return {tracker.name: tracker.result() for tracker in self.trackers}

    def train_step(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """One Adam step on a fresh binarisation of the uint8 batch (dynamic binarisation)."""
        probabilities = scaled(images)
        binary = ops.cast(keras.random.uniform(ops.shape(probabilities), seed=self.binarisation_seed) < probabilities,
                          "float32")
        with tf.GradientTape() as tape:
            reconstruction, kl = self.negative_elbo_terms(probabilities, binary)
            loss = ops.mean(reconstruction + kl)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._track(reconstruction, kl)

    def test_step(self, data: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Score a batch of (grey uint8 images, their fixed binarisation as uint8 0 or 255)."""
        images, binary = data
        return self._track(*self.negative_elbo_terms(scaled(images), scaled(binary)))


@dataclass(frozen=True)
class VAEResult:
    """What a VAE job produced: its run dir, the epochs this call ran, the test metrics and the export."""

    run_dir: Path
    epochs_run: list[int]
    metrics: dict
    export: ExportResult


def _training_batches(data: LabelledImages, batch_size: int, seed: int) -> tf.data.Dataset:
    """Grey uint8 image batches, reshuffled every epoch; train_step binarises them afresh."""
    return batched(data, batch_size, shuffle_seed=seed).map(lambda images, labels: images)


def _evaluation_batches(data: LabelledImages, batch_size: int) -> tf.data.Dataset:
    """(grey uint8 images, the same images binarised once) batches, for test_step."""
    pairs = tf.data.Dataset.from_tensor_slices((data.images, binarise_once(data.images)))
    return pairs.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _fit(
    vae: VAE,
    config: VAEConfig,
    splits: tuple[LabelledImages, LabelledImages],
    run_dir: Path,
    callbacks: Sequence[keras.callbacks.Callback],
) -> keras.callbacks.History:
    train, validation = splits
    vae.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return vae.fit(
        _training_batches(train, config.batch_size, config.seed),
        validation_data=_evaluation_batches(validation, config.batch_size),
        epochs=config.epochs,
        shuffle=False,  # the tf.data pipeline reshuffles every epoch
        callbacks=[*training_callbacks(run_dir, MONITOR, config.patience), *callbacks],
        verbose=1,
    )


def evaluate_elbo(vae: VAE, test: LabelledImages, batch_size: int) -> dict:
    """The test ELBO and its terms in nats per image, on the test images binarised once (ELBO_DEFINITION)."""
    scores = vae.evaluate(_evaluation_batches(test, batch_size), return_dict=True, verbose=0)
    return {
        "test_elbo_nats": -float(scores["loss"]),
        "test_reconstruction_nats": float(scores["reconstruction_loss"]),
        "test_kl_nats": float(scores["kl_loss"]),
        "test_examples": len(test),
        "elbo_definition": ELBO_DEFINITION,
    }


def _model_info(
    config: VAEConfig,
    command: Sequence[str],
    dataset: ImageDataset,
    splits: tuple[LabelledImages, LabelledImages],
    metrics: dict,
) -> ModelInfo:
    train, validation = splits
    return job_model_info(
        config,
        FAMILY,
        TRAINER,
        command,
        data={
            **dataset.describe_splits(train, validation),
            "binarisation": "the decoder models binary pixels, Bernoulli(pixel/255): drawn afresh every training step; "
            f"validation and test drawn once from numpy.random.default_rng({EVALUATION_BINARISATION_SEED}); "
            "the encoder sees the grey images",
        },
        metrics=metrics,
        extra={"image_shape": list(dataset.image_shape), "latent_dim": config.latent_dim, "prior": "N(0, I)",
               "likelihood": "Bernoulli over pixels; served images are its means (probability * 255, rounded)"},
    )


def train_vae(
    config: VAEConfig, command: Sequence[str] = (), callbacks: Sequence[keras.callbacks.Callback] = ()
) -> VAEResult:
    """Train, score the test ELBO, draw the pictures, measure sample quality and export the next version.

    command is the argv recorded in model.json; callbacks run after the standard ones (e.g. in tests).
    """
    begin_job(config, FAMILY)
    dataset = load_image_dataset(config.dataset, config.data_dir, config.offline)
    height, width, _ = dataset.image_shape
    require(height % 4 == 0 and width % 4 == 0, f"{dataset.source}: the VAE needs sides divisible by 4, "
            f"got {height}x{width}")
    quality_classifier = load_quality_classifier(config, dataset.test.images)
    run_dir = prepare_run_dir(config, config.run_dir or default_run_dir(config.model_name), list(command))
    splits = holdout_split(dataset.train, config.validation_fraction, config.seed, config.limit_train)
    vae = VAE(dataset.image_shape, config.latent_dim, config.seed, name="vae")
    history = _fit(vae, config, splits, run_dir, callbacks)
    metrics = evaluate_elbo(vae, dataset.test, config.batch_size)
    print(f"test ELBO {metrics['test_elbo_nats']:.2f} nats per image (binarised test images; "
          f"reconstruction {metrics['test_reconstruction_nats']:.2f}, KL {metrics['test_kl_nats']:.2f})")
    graph = VAEGraph(vae.encoder, vae.decoder)
    write_pictures(run_dir, graph, dataset)
    if quality_classifier is not None:
        metrics["sample_quality"] = measure_sample_quality(
            quality_classifier, graph, (dataset.train, dataset.test), config.quality_samples
        )
    signatures = vae_signatures(graph, dataset.test.images[:WARMUP_IMAGES])
    export = export_saved_model(_model_info(config, command, dataset, splits, metrics), signatures, config.export_root)
    print(f"exported {export.path} (test ELBO {metrics['test_elbo_nats']:.2f} nats per image)")
    return VAEResult(run_dir=run_dir, epochs_run=list(history.epoch), metrics=metrics, export=export)
