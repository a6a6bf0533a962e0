"""The signatures of a VAE export (export-contract.md, family `vae`), and the in-graph functions behind them.

- `serving_default`: `z` float32 [N,D] -> `images` uint8 [N,H,W,C] (decode);
- `encode`: `images` uint8 [N,H,W,C] -> `z_mean`, `z_log_var` float32 [N,D];
- `reconstruct`: `images` uint8 -> `images` uint8, decoded from z_mean (no sampling, so it is deterministic);
- `sample`: `seeds` int64 [N] -> `images` uint8, z ~ N(0, I) drawn in the graph with
  `tf.random.stateless_normal(seed=[seed, 0])`, so the same seed always gives the same image.
Scaling lives in the graph. The same functions draw the run's pictures and feed the Fréchet distance, so what
is measured is what is served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from trainer.export.spec import DEFAULT_SIGNATURE, Signature
from trainer.vision.latent import SEEDS_MEANING, latents_from_seeds

FAMILY = "vae"
BATCH = 1000


def in_batches(function: Callable[[np.ndarray], object], inputs: np.ndarray) -> np.ndarray:
    """function (e.g. a VAEGraph method) run eagerly on BATCH rows at a time, results concatenated as NumPy."""
    return np.concatenate([np.asarray(function(inputs[start : start + BATCH])) for start in range(0, len(inputs), BATCH)])


@dataclass(frozen=True)
class VAEGraph:
    """A trained encoder (images in [0, 1] -> z_mean, z_log_var) and decoder (z -> pixel logits) as uint8 I/O."""

    encoder: keras.Model
    decoder: keras.Model

    @property
    def latent_dim(self) -> int:
        return self.decoder.input_shape[-1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.encoder.input_shape[1:])

    def decode(self, z: tf.Tensor) -> tf.Tensor:
        """uint8 images: the decoder's Bernoulli pixel probabilities times 255, rounded."""
        probabilities = tf.sigmoid(self.decoder(z, training=False))
        return tf.cast(tf.round(probabilities * 255.0), tf.uint8)

    def encode(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(z_mean, z_log_var) of uint8 images, scaled to [0, 1] here."""
        z_mean, z_log_var = self.encoder(tf.cast(images, tf.float32) / 255.0, training=False)
        return z_mean, z_log_var

    def reconstruct(self, images: tf.Tensor) -> tf.Tensor:
        """uint8 images decoded from the posterior mean of uint8 images."""
        return self.decode(self.encode(images)[0])

    def sample(self, seeds: tf.Tensor) -> tf.Tensor:
        """One uint8 image per int64 seed, decoded from z ~ N(0, I) drawn statelessly from that seed."""
        z = latents_from_seeds(seeds, self.latent_dim)
        return self.decode(z)


def _image_spec(shape: tuple[int, int, int]) -> tf.TensorSpec:
    return tf.TensorSpec([None, *shape], tf.uint8, name="images")


def _image_meanings(shape: tuple[int, int, int]) -> tuple[str, str]:
    size = "x".join(map(str, shape))
    given = (
        f"{size} images as stored in the dataset, uint8 0..255 (0 = black background); scaled to [0, 1] in the "
        "graph, the probabilities of the binary pixels the encoder was trained on"
    )
    made = f"{size} uint8 images: the decoder's Bernoulli pixel probabilities times 255, rounded"
    return given, made


def vae_signatures(graph: VAEGraph, warmup_images: np.ndarray) -> list[Signature]:
    """All signatures of a VAE export; warmup_images (uint8 [n,H,W,C], a few test images) feed the warmup."""
    shape, latent_dim = graph.image_shape, graph.latent_dim
    given, made = _image_meanings(shape)
    count = len(warmup_images)
    z_meaning = f"latent codes, float32 [N, {latent_dim}]; the prior is N(0, I)"
    return [
        Signature(
            name=DEFAULT_SIGNATURE,
            fn=lambda z: {"images": graph.decode(z)},
            inputs=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")],
            meanings={"z": z_meaning, "images": made},
            warmup={"z": np.zeros((count, latent_dim), np.float32)},
            description="Decode latent codes into images.",
        ),
        Signature(
            name="encode",
            fn=lambda images: dict(zip(("z_mean", "z_log_var"), graph.encode(images), strict=True)),
            inputs=[_image_spec(shape)],
            meanings={
                "images": given,
                "z_mean": "mean of the Gaussian posterior q(z|x), float32 [N, D]",
                "z_log_var": "log-variance of each dimension of the Gaussian posterior q(z|x), float32 [N, D]",
            },
            warmup={"images": warmup_images},
            description="Encode images into the mean and log-variance of their latent posterior.",
        ),
        Signature(
            name="reconstruct",
            fn=lambda images: {"images": graph.reconstruct(images)},
            inputs=[_image_spec(shape)],
            meanings={"images": f"in: {given}; out: {made}, decoded from z_mean (deterministic)"},
            warmup={"images": warmup_images},
            description="Encode images and decode their posterior mean.",
        ),
        Signature(
            name="sample",
            fn=lambda seeds: {"images": graph.sample(seeds)},
            inputs=[tf.TensorSpec([None], tf.int64, name="seeds")],
            meanings={
                "seeds": SEEDS_MEANING,
                "images": made,
            },
            warmup={"seeds": np.arange(count, dtype=np.int64)},
            description="Draw images from the prior, one per seed, reproducibly.",
        ),
    ]
