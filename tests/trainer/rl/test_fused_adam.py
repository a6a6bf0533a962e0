"""FusedAdam takes the same steps as Keras's Adam, clipping included, and keeps the same checkpointable state."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.rl.fused_adam import FusedAdam

SETTINGS = {"learning_rate": 1e-2, "epsilon": 1.5e-4, "global_clipnorm": 1.0}


def trained_weights(optimizer: keras.optimizers.Optimizer, steps: int = 5) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and optimizer state after `steps` compiled steps on fixed, large gradients (so clipping acts)."""
    rng = np.random.default_rng(0)
    weights = [tf.Variable(rng.normal(size=shape).astype(np.float32)) for shape in ((64, 32), (32,))]
    gradients = [[tf.constant(rng.normal(size=w.shape).astype(np.float32) * 10) for w in weights] for _ in range(steps)]
    optimizer.build(weights)
    apply = tf.function(lambda grads: optimizer.apply(grads, weights))
    for step_gradients in gradients:
        apply(step_gradients)
    return [w.numpy() for w in weights], [v.numpy() for v in optimizer.variables]


def test_fused_adam_matches_keras_adam_step_for_step() -> None:
    keras_weights, keras_state = trained_weights(keras.optimizers.Adam(**SETTINGS))
    fused_weights, fused_state = trained_weights(FusedAdam(**SETTINGS))
    for expected, actual in zip(keras_weights + keras_state, fused_weights + fused_state, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    assert int(fused_state[0]) == 5  # the iteration count, first of the variables a checkpoint saves


def test_amsgrad_is_refused() -> None:
    with pytest.raises(ValueError, match="no AMSGrad"):
        FusedAdam(amsgrad=True)
