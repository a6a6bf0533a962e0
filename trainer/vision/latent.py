"""Latent vectors drawn from seeds in the graph, so a served `sample` signature is reproducible per seed.

VAEs and GANs both export `sample` (`seeds` int64 [N] → images): image i decodes
z_i = tf.random.stateless_normal([D], seed=[seeds[i], SAMPLE_SEED_STREAM]), which depends on its own
seed only, never on the batch it came in.
"""

from __future__ import annotations

import tensorflow as tf

SAMPLE_SEED_STREAM = 0
"""Second half of the stateless seed pair [seed, SAMPLE_SEED_STREAM]."""
SEEDS_MEANING = (
    f"one int64 seed per image; z = tf.random.stateless_normal([D], seed=[seed, {SAMPLE_SEED_STREAM}]) in the graph, "
    "so the same seed gives the same image"
)


def latents_from_seeds(seeds: tf.Tensor, latent_dim: int) -> tf.Tensor:
    """z [N, latent_dim] ~ N(0, I), row i drawn statelessly from seeds[i]."""
    return tf.map_fn(
        lambda seed: tf.random.stateless_normal([latent_dim], seed=tf.stack([seed, SAMPLE_SEED_STREAM])),
        tf.cast(seeds, tf.int64),
        fn_output_signature=tf.float32,
    )
