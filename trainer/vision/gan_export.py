"""The signatures of a GAN export (export-contract.md, family `gan`), and the in-graph functions behind them.

- `serving_default`: `z` float32 [N,D] (+ `labels` int64 [N] for a conditional GAN) -> `images` uint8 [N,H,W,C];
- `sample`: `seeds` int64 [N] (+ `labels`) -> `images` uint8, z ~ N(0, I) drawn in the graph with
  `tf.random.stateless_normal(seed=[seed, 0])`, so the same seed (and label) always gives the same image.
Labels outside 0..K-1 fail in the graph (InvalidArgumentError naming the range). The same functions draw the
run's sample grids and feed the Fréchet distance, so what is measured is what is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from trainer.export.spec import DEFAULT_SIGNATURE, Signature
from trainer.vision.latent import SEEDS_MEANING, latents_from_seeds

FAMILY = "gan"
BATCH = 1000


@dataclass(frozen=True)
class GANGraph:
    """A trained generator (z [, labels] -> pixels in [-1, 1]) as uint8 I/O; class_names set iff conditional."""

    generator: keras.Model
    class_names: tuple[str, ...] | None = None

    @property
    def latent_dim(self) -> int:
        return self.generator.inputs[0].shape[-1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.generator.output_shape[1:])

    def _checked(self, labels: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        """labels as int64 after checking there is one per image and each lies in 0..K-1."""
        labels = tf.cast(labels, tf.int64)
        num_classes = len(self.class_names)
        checks = [
            tf.debugging.assert_equal(tf.size(labels), count, message="expected one label per image"),
            tf.debugging.assert_non_negative(labels, message=f"labels must lie in 0..{num_classes - 1}"),
            tf.debugging.assert_less(labels, tf.constant(num_classes, tf.int64),
                                     message=f"labels must lie in 0..{num_classes - 1}"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(labels)

    def generate(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """uint8 images from latent codes (and labels, for a conditional generator): tanh pixels mapped to 0..255."""
        z = tf.convert_to_tensor(z, tf.float32)
        inputs = z if self.class_names is None else [z, self._checked(labels, tf.shape(z)[0])]
        pixels = self.generator(inputs, training=False)
        return tf.cast(tf.clip_by_value(tf.round((pixels + 1.0) * 127.5), 0.0, 255.0), tf.uint8)

    def sample(self, seeds: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """One uint8 image per int64 seed (and label), from z ~ N(0, I) drawn statelessly from that seed."""
        z = latents_from_seeds(seeds, self.latent_dim)
        return self.generate(z, labels)


def sample_in_batches(graph: GANGraph, seeds: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """graph.sample over BATCH seeds at a time, traced once, as uint8 NumPy images."""
    sample = tf.function(graph.sample)
    batches = [
        sample(seeds[start : start + BATCH], None if labels is None else labels[start : start + BATCH]).numpy()
        for start in range(0, len(seeds), BATCH)
    ]
    return np.concatenate(batches)


def _label_inputs(graph: GANGraph) -> tuple[list[tf.TensorSpec], dict[str, object]]:
    """The `labels` input spec and meaning of a conditional GAN, or nothing."""
    if graph.class_names is None:
        return [], {}
    meaning = {"meaning": "class id of each image to generate, int64 in 0..K-1 (index into labels)",
               "labels": list(graph.class_names)}
    return [tf.TensorSpec([None], tf.int64, name="labels")], {"labels": meaning}


def _warmup_labels(graph: GANGraph, count: int) -> dict[str, np.ndarray]:
    if graph.class_names is None:
        return {}
    return {"labels": np.arange(count, dtype=np.int64) % len(graph.class_names)}


def gan_signatures(graph: GANGraph, warmup_count: int = 2) -> list[Signature]:
    """serving_default and sample of a GAN export, with warmup_count images per warmup request."""
    label_specs, label_meanings = _label_inputs(graph)
    labels = _warmup_labels(graph, warmup_count)
    size = "x".join(map(str, graph.image_shape))
    made = f"{size} uint8 images: the generator's tanh pixels mapped to 0..255, rounded"
    return [
        Signature(
            name=DEFAULT_SIGNATURE,
            fn=lambda z, *labels: {"images": graph.generate(z, *labels)},
            inputs=[tf.TensorSpec([None, graph.latent_dim], tf.float32, name="z"), *label_specs],
            meanings={"z": f"latent codes, float32 [N, {graph.latent_dim}]; training drew them from N(0, I)",
                      **label_meanings, "images": made},
            warmup={"z": np.zeros((warmup_count, graph.latent_dim), np.float32), **labels},
            description="Generate images from latent codes" + (" and class labels." if label_specs else "."),
        ),
        Signature(
            name="sample",
            fn=lambda seeds, *labels: {"images": graph.sample(seeds, *labels)},
            inputs=[tf.TensorSpec([None], tf.int64, name="seeds"), *label_specs],
            meanings={
                "seeds": SEEDS_MEANING,
                **label_meanings,
                "images": made,
            },
            warmup={"seeds": np.arange(warmup_count, dtype=np.int64), **labels},
            description="Draw images from the prior, one per seed, reproducibly.",
        ),
    ]


def grid_request(class_names: Sequence[str] | None, columns: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Seeds (and labels) of a sample grid: one row per class with seeds 0..columns-1, else a square."""
    if class_names is None:
        return np.arange(columns * columns, dtype=np.int64), None
    rows = len(class_names)
    return np.tile(np.arange(columns, dtype=np.int64), rows), np.repeat(np.arange(rows, dtype=np.int64), columns)
