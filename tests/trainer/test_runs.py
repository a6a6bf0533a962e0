"""The project's training callbacks keep the epoch a scorer callback rates best."""

from __future__ import annotations

import keras
import numpy as np

from trainer.runs import training_callbacks

SCORES = (1.0, 5.0, 2.0)  # epoch 2 scores best


class ScriptedScore(keras.callbacks.Callback):
    """Adds `val_score` to each epoch's logs from a script, and remembers each epoch's weights."""

    def __init__(self) -> None:
        super().__init__()
        self.weights_after_epoch: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = SCORES[epoch]
        self.weights_after_epoch.append([np.array(value) for value in self.model.get_weights()])


def test_a_scorer_metric_to_maximise_chooses_the_restored_and_checkpointed_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    scorer = ScriptedScore()
    callbacks = training_callbacks(tmp_path, "val_score", patience=5, mode="max", scorers=[scorer])
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    history = model.fit(x, x.sum(axis=1), epochs=len(SCORES), callbacks=callbacks, verbose=0)
    assert history.history["val_score"] == list(SCORES)
    best = scorer.weights_after_epoch[1]
    for restored, expected in zip(model.get_weights(), best, strict=True):
        np.testing.assert_array_equal(restored, expected)
    for last, expected in zip(scorer.weights_after_epoch[2], best, strict=True):
        assert not np.array_equal(last, expected)
    checkpoint = keras.models.load_model(tmp_path / "checkpoints" / "best.keras")
    for saved, expected in zip(checkpoint.get_weights(), best, strict=True):
        np.testing.assert_array_equal(saved, expected)
