"""GANs: data -> networks -> `fit` with a `train_step` override -> sample quality -> export (`python -m trainer vision gan`).

The training step is keras-io's ("GAN overriding Model.train_step", and its conditional GAN): the
discriminator learns to tell real from generated images with binary cross-entropy on logits, then the
generator learns to make the discriminator call its images real (the non-saturating loss of Goodfellow et
al.). Real images are scaled to [-1, 1] to match the generator's tanh; noise comes from a SeedGenerator
attached to the model, so a run is reproducible and its state is saved with BackupAndRestore's backups.
The networks of each `--arch` are in `gan_networks`; the served functions in `gan_export`.
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
from trainer.data.pipeline import batched
from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult, ModelInfo, job_model_info
from trainer.runs import (
    begin_job,
    default_run_dir,
    prepare_run_dir,
    tensorboard_callbacks,
)
from trainer.vision.gan_config import GANConfig
from trainer.vision.gan_export import (
    FAMILY,
    GANGraph,
    gan_signatures,
    grid_request,
    sample_in_batches,
)
from trainer.vision.gan_networks import build_networks
from trainer.vision.image_grid import image_grid, write_png
from trainer.vision.quality import (
    classifier_reference,
    generator_quality,
    label_accuracy,
    load_label_classifier,
    real_floor,
)
from trainer.vision.quality_classifier import QualityClassifier, load_quality_classifier

TRAINER = "vision gan"
SAMPLES_DIR = "samples"
LOSS = "binary cross-entropy on discriminator logits; generator: non-saturating loss -log D(G(z))"


def scaled(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels as float32 in [-1, 1], the range of the generator's tanh."""
    return ops.cast(images, "float32") / 127.5 - 1.0


class GAN(keras.Model):
    """A generator and a discriminator trained against each other, each with its own Adam optimizer.

    Metrics: `d_loss` (discriminator BCE on real + generated images), `g_loss` (generator's non-saturating
    loss), `d_real` and `d_fake` (mean probability the discriminator gives real and generated images).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, conditional: bool, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator, self.conditional = generator, discriminator, conditional
        self.latent_dim = generator.inputs[0].shape[-1]
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.built = True  # every weight lives in the functional generator and discriminator, built above

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def compile(self, generator_optimizer: keras.optimizers.Optimizer,
                discriminator_optimizer: keras.optimizers.Optimizer) -> None:
        """Set and build both optimizers, so BackupAndRestore can restore their state before the first step."""
        super().compile(optimizer=None)
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)

    def _with_labels(self, inputs: tf.Tensor, labels: tf.Tensor) -> tf.Tensor | list[tf.Tensor]:
        return [inputs, labels] if self.conditional else inputs

    def _noise(self, batch_size: tf.Tensor) -> tf.Tensor:
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _discriminator_step(self, real: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        generated = self.generator(self._with_labels(self._noise(ops.shape(real)[0]), labels), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(self._with_labels(real, labels), training=True)
            fake_logits = self.discriminator(self._with_labels(generated, labels), training=True)
            loss = ops.mean(ops.binary_crossentropy(ops.ones_like(real_logits), real_logits, from_logits=True)
                            + ops.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True))
        weights = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss, ops.sigmoid(real_logits), ops.sigmoid(fake_logits)

    def _generator_step(self, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            generated = self.generator(self._with_labels(self._noise(ops.shape(labels)[0]), labels), training=True)
            logits = self.discriminator(self._with_labels(generated, labels), training=True)
            loss = ops.mean(ops.binary_crossentropy(ops.ones_like(logits), logits, from_logits=True))
        weights = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    def train_step(self, data: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        """One discriminator step, then one generator step, on a batch of (uint8 images, labels)."""
        images, labels = data
        labels = ops.cast(labels, "int64")
        d_loss, real_probability, fake_probability = self._discriminator_step(scaled(images), labels)
        g_loss = self._generator_step(labels)
        values = {"d_loss": d_loss, "g_loss": g_loss, "d_real": ops.mean(real_probability),
                  "d_fake": ops.mean(fake_probability)}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


class SampleGrid(keras.callbacks.Callback):
    """Writes `samples/epoch_NNN.png` after every epoch: the same seeds (one row per class for a cGAN) each time."""

    def __init__(self, graph: GANGraph, directory: Path, columns: int):
        super().__init__()
        self.graph, self.directory, self.columns = graph, directory, columns
        self.seeds, self.labels = grid_request(graph.class_names, columns)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        images = sample_in_batches(self.graph, self.seeds, self.labels)
        write_png(self.directory / f"epoch_{epoch + 1:03d}.png", image_grid(images, self.columns))


@dataclass(frozen=True)
class GANResult:
    """What a GAN job produced: its run dir, the epochs this call ran, the metrics and the export."""

    run_dir: Path
    epochs_run: list[int]
    metrics: dict
    export: ExportResult


def _training_images(train: LabelledImages, limit: int | None, seed: int) -> LabelledImages:
    """The training file, or `limit` images of it chosen with seed."""
    order = np.random.default_rng(seed).permutation(len(train))[:limit]
    return LabelledImages(train.images[order], train.labels[order])


def _fit(gan: GAN, config: GANConfig, train: LabelledImages, run_dir: Path,
         callbacks: Sequence[keras.callbacks.Callback]) -> keras.callbacks.History:
    gan.compile(
        keras.optimizers.Adam(config.generator_learning_rate, beta_1=config.adam_beta_1),
        keras.optimizers.Adam(config.discriminator_learning_rate, beta_1=config.adam_beta_1),
    )
    return gan.fit(
        batched(train, config.batch_size, shuffle_seed=config.seed),
        epochs=config.epochs,
        shuffle=False,  # the tf.data pipeline reshuffles every epoch
        callbacks=[keras.callbacks.BackupAndRestore(backup_dir=str(run_dir / "backup")),
                   *tensorboard_callbacks(run_dir), *callbacks],
        verbose=1,
    )


def measure_quality(classifier: QualityClassifier, graph: GANGraph, dataset: ImageDataset, samples: int) -> dict:
    """Fréchet distance of served samples to real test images, the real-vs-real floor and, for a cGAN,
    GAN-test label accuracy next to the classifier's accuracy on real test images (the ceiling)."""
    num_classes = None if graph.class_names is None else len(graph.class_names)
    classify = None if num_classes is None else load_label_classifier(classifier.export_dir)
    figures = generator_quality(lambda seeds, labels: sample_in_batches(graph, seeds, labels), dataset.test,
                                classifier.extract, samples, num_classes, classify)
    figures["real_floor"] = real_floor(dataset.train, dataset.test, classifier.extract, samples)
    if classify is not None:
        real = dataset.test.images[:samples], dataset.test.labels[:samples]
        figures["real_label_accuracy"] = label_accuracy(classify(real[0]), real[1], num_classes)["label_accuracy"]
    return {"classifier": classifier_reference(classifier.export_dir), **figures}


def _model_info(config: GANConfig, command: Sequence[str], dataset: ImageDataset, train: LabelledImages,
                graph: GANGraph, metrics: dict) -> ModelInfo:
    extra = {"arch": config.arch, "image_shape": list(graph.image_shape), "latent_dim": graph.latent_dim,
             "prior": "N(0, I)", "loss": LOSS}
    if graph.class_names is not None:
        extra["labels"] = list(graph.class_names)
    return job_model_info(
        config,
        FAMILY,
        TRAINER,
        command,
        data={"dataset": dataset.name, "source": dataset.source,
              "splits": {"train": len(train), "test": len(dataset.test)},
              "test_use": "only for the Fréchet distance of samples"},
        metrics=metrics,
        extra=extra,
    )


def _final_losses(history: keras.callbacks.History) -> dict[str, float]:
    return {f"final_{name}": float(values[-1]) for name, values in history.history.items()}


def train_gan(config: GANConfig, command: Sequence[str] = (),
              callbacks: Sequence[keras.callbacks.Callback] = ()) -> GANResult:
    """Train, write sample grids, measure sample quality and export the next version.

    command is the argv recorded in model.json; callbacks run after the standard ones (e.g. in tests).
    """
    begin_job(config, FAMILY)
    dataset = load_image_dataset(config.dataset, config.data_dir, config.offline)
    height, width, _ = dataset.image_shape
    require(height % 4 == 0 and width % 4 == 0, f"{dataset.source}: the GANs need sides divisible by 4, "
            f"got {height}x{width}")
    quality_classifier = load_quality_classifier(config, dataset.test.images)
    run_dir = prepare_run_dir(config, config.run_dir or default_run_dir(config.model_name), list(command))
    train = _training_images(dataset.train, config.limit_train, config.seed)
    class_names = dataset.class_names if config.conditional else None
    generator, discriminator = build_networks(config.arch, dataset.image_shape, config.latent_dim, config.width,
                                              None if class_names is None else len(class_names))
    gan = GAN(generator, discriminator, config.conditional, config.seed, name=config.arch)
    graph = GANGraph(generator, class_names)
    history = _fit(gan, config, train, run_dir, [SampleGrid(graph, run_dir / SAMPLES_DIR, config.grid_columns),
                                                 *callbacks])
    metrics = _final_losses(history)
    if quality_classifier is not None:
        metrics["sample_quality"] = measure_quality(quality_classifier, graph, dataset, config.quality_samples)
        print(f"sample quality: {metrics['sample_quality']}")
    info = _model_info(config, command, dataset, train, graph, metrics)
    export = export_saved_model(info, gan_signatures(graph), config.export_root)
    print(f"exported {export.path}")
    return GANResult(run_dir=run_dir, epochs_run=list(history.epoch), metrics=metrics, export=export)
