"""Precise batch norm: the recomputed statistics are the plain average of the batches' statistics."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from trainer.precise_batch_norm import PreciseBatchNorm, batch_norm_layers, recompute_batch_norm


def _normalised_model() -> keras.Model:
    """Dense -> BatchNormalization, wrapped in an outer model so the layer is nested."""
    inputs = keras.Input((3,))
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization()])
    return keras.Model(inputs, inner(inputs))


def _batches(count: int) -> list[np.ndarray]:
    return [np.random.default_rng(index).normal(index, 1 + index, (16, 3)).astype("float32") for index in range(count)]


def _dense_outputs(model: keras.Model, batches: list[np.ndarray]) -> list[np.ndarray]:
    dense = model.layers[-1].layers[0]
    return [dense(batch).numpy() for batch in batches]


def test_nested_batch_norm_layers_are_found():
    assert [type(layer) for layer in batch_norm_layers(_normalised_model())] == [keras.layers.BatchNormalization]


def test_statistics_become_the_average_of_the_batch_statistics_and_nothing_else_changes():
    model, batches = _normalised_model(), _batches(3)
    (layer,) = batch_norm_layers(model)
    kernels = [weight.numpy() for weight in model.trainable_weights]
    assert recompute_batch_norm(model, batches) == 3
    outputs = _dense_outputs(model, batches)
    np.testing.assert_allclose(layer.moving_mean.numpy(), np.mean([out.mean(0) for out in outputs], 0), atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), np.mean([out.var(0) for out in outputs], 0), rtol=1e-4)
    assert layer.momentum == 0.99
    for before, weight in zip(kernels, model.trainable_weights, strict=True):
        np.testing.assert_array_equal(before, weight.numpy())


def test_fit_validates_with_statistics_recomputed_for_the_epochs_final_weights():
    batches = _batches(4)
    inputs = tf.data.Dataset.from_tensor_slices(np.concatenate(batches)).batch(16)
    model = _normalised_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    targets = np.zeros((64, 4), "float32")
    model.fit(np.concatenate(batches), targets, batch_size=16, epochs=1, verbose=0, shuffle=False,
              validation_data=(batches[0], targets[:16]), callbacks=[PreciseBatchNorm(inputs, 4)])
    (layer,) = batch_norm_layers(model)
    outputs = _dense_outputs(model, batches)
    np.testing.assert_allclose(layer.moving_mean.numpy(), np.mean([out.mean(0) for out in outputs], 0), atol=1e-5)
