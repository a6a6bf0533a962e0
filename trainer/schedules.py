"""Learning-rate schedules shared by the training jobs."""

from __future__ import annotations

import math

import keras


def cosine_decay(
    initial_rate: float, epochs: int, examples_per_epoch: int, batch_size: int
) -> keras.optimizers.schedules.CosineDecay:
    """A rate that falls from initial_rate to 0 along a half cosine over every step of `epochs` epochs
    (Loshchilov & Hutter's SGDR without restarts): large steps early, settled weights by the last epoch."""
    steps = epochs * math.ceil(examples_per_epoch / batch_size)
    return keras.optimizers.schedules.CosineDecay(initial_rate, decay_steps=steps)
