"""Precise batch norm: batch normalisation's inference statistics recomputed for the weights as they are.

Keras's BatchNormalization keeps exponential moving averages of the batch statistics (momentum 0.99, about
the last hundred steps). When the weights move fast, as in a short behavioural-cloning epoch, those
averages describe weights that no longer exist, and inference (driving) runs a different network from the
one that was trained: single epochs then collapse onto one action. Precise BN (Wu & Johnson, "Rethinking
'Batch' in BatchNorm", 2021) replaces the moving averages, before each validation, by the plain average of
the batch statistics of some training batches under the current weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import keras
import tensorflow as tf


def batch_norm_layers(model: keras.Layer) -> Iterator[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of model, nested models included."""
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, keras.layers.BatchNormalization):
            yield layer
        else:
            yield from batch_norm_layers(layer)


def recompute_batch_norm(model: keras.Model, batches: Iterable[Any]) -> int:
    """Set every batch-norm layer's moving mean and variance to the average of its batch statistics over
    batches (model inputs) under the current weights; returns how many batches were used. Weights do not
    change (a forward pass in training mode only updates the statistics)."""
    layers = list(batch_norm_layers(model))
    momenta = [layer.momentum for layer in layers]
    count = 0
    try:
        for count, inputs in enumerate(batches, start=1):
            for layer in layers:
                layer.momentum = 1 - 1 / count  # moving = running mean of the batch statistics so far
            model(inputs, training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return count


class PreciseBatchNorm(keras.callbacks.Callback):
    """Before every validation inside `fit` (the end of each epoch), recompute the batch-norm statistics over
    `batches` batches of `inputs`, so validation, later callbacks, checkpoints and export see them."""

    def __init__(self, inputs: tf.data.Dataset, batches: int) -> None:
        super().__init__()
        self._inputs, self._batches = inputs, batches

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Recompute from the first `batches` batches of the (reshuffled) inputs."""
        recompute_batch_norm(self.model, self._inputs.take(self._batches))
