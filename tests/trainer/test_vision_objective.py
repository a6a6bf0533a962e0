"""The classifier's objective: label-smoothed cross-entropy and AdamW's decay of kernels only."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from trainer.vision.objective import SmoothedSparseCrossentropy, adam, classification_loss

PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], dtype=np.float32)
LABELS = np.array([0, 2, 0])


def test_smoothed_crossentropy_scores_against_targets_spread_over_all_classes():
    smoothing = 0.3
    targets = (1 - smoothing) * np.eye(3)[LABELS] + smoothing / 3
    expected = -(targets * np.log(PROBABILITIES)).sum(axis=1).mean()
    loss = SmoothedSparseCrossentropy(num_classes=3, label_smoothing=smoothing)
    assert float(loss(LABELS, PROBABILITIES)) == pytest.approx(expected, rel=1e-5)


def test_without_smoothing_the_loss_is_keras_sparse_crossentropy():
    assert classification_loss(3, 0.0) == "sparse_categorical_crossentropy"
    restored = keras.losses.deserialize(keras.losses.serialize(classification_loss(3, 0.1)))
    assert isinstance(restored, SmoothedSparseCrossentropy) and restored.label_smoothing == 0.1


def _one_step_with_zero_gradients(optimizer: keras.optimizers.Optimizer) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    nonzero = "ones"  # so decaying a bias or beta would show
    layers = [keras.layers.Dense(3, bias_initializer=nonzero), keras.layers.BatchNormalization(beta_initializer=nonzero)]
    model = keras.Sequential([keras.Input((4,)), *layers])
    variables = model.trainable_variables
    before = [keras.ops.convert_to_numpy(variable) for variable in variables]
    optimizer.apply_gradients([(keras.ops.zeros_like(variable), variable) for variable in variables])
    return {variable.path: (old, keras.ops.convert_to_numpy(variable)) for variable, old in zip(variables, before)}


def test_adamw_shrinks_kernels_but_not_biases_or_batch_norm():
    learning_rate, weight_decay = 0.1, 0.5
    steps = _one_step_with_zero_gradients(adam(learning_rate, weight_decay))
    for path, (before, after) in steps.items():
        if path.endswith("kernel"):
            np.testing.assert_allclose(after, before * (1 - learning_rate * weight_decay), rtol=1e-6)
        else:
            np.testing.assert_array_equal(after, before, err_msg=path)


def test_without_weight_decay_the_optimizer_is_plain_adam():
    optimizer = adam(0.1, 0.0)
    assert type(optimizer) is keras.optimizers.Adam
    assert all(np.array_equal(before, after) for before, after in _one_step_with_zero_gradients(optimizer).values())
