"""The classifier's loss and optimizer: cross-entropy, optionally against smoothed targets, and Adam or AdamW.

Label smoothing (Szegedy et al. 2016) trains against targets that give `smoothing` of the probability mass to
all classes evenly, so the network stops pushing already-right logits further apart. Decoupled weight decay
(AdamW, Loshchilov & Hutter 2019) shrinks the convolution and dense kernels by `rate * weight_decay` each
step; biases and batch-norm scales and offsets are left alone, as is usual.
"""

from __future__ import annotations

import keras
from keras import ops

NOT_DECAYED = ["bias", "gamma", "beta"]


@keras.saving.register_keras_serializable(package="trainer")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy of probabilities against integer labels smoothed toward the uniform distribution."""

    def __init__(self, num_classes: int, label_smoothing: float, name: str = "smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def call(self, y_true, y_pred):
        targets = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), self.num_classes)
        return keras.losses.categorical_crossentropy(targets, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "label_smoothing": self.label_smoothing}


def classification_loss(num_classes: int, label_smoothing: float) -> str | keras.losses.Loss:
    """Keras's sparse cross-entropy, or the smoothed one when label_smoothing > 0."""
    if not label_smoothing:
        return "sparse_categorical_crossentropy"
    return SmoothedSparseCrossentropy(num_classes, label_smoothing)


def adam(
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule, weight_decay: float
) -> keras.optimizers.Optimizer:
    """Adam, or AdamW with decoupled decay of the kernels when weight_decay > 0."""
    if not weight_decay:
        return keras.optimizers.Adam(learning_rate)
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=NOT_DECAYED)
    return optimizer
