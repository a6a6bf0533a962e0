"""The project's training callbacks keep the epoch a scorer rates best, also across an interruption."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from trainer.runs import training_callbacks

SCORES = (1.0, 5.0, 2.0, 3.0)  # epoch 2 scores best


class ScriptedScore(keras.callbacks.Callback):
    """Adds `val_score` to each epoch's logs from SCORES, and remembers each epoch's weights."""

    def __init__(self) -> None:
        super().__init__()
        self.weights_after_epoch: dict[int, list[np.ndarray]] = {}

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = SCORES[epoch]
        self.weights_after_epoch[epoch] = [np.array(value) for value in self.model.get_weights()]


class Killed(Exception):
    """Stands for the job being killed."""


class KillBeforeEpoch(keras.callbacks.Callback):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def _fit(model: keras.Model, run_dir, scorer: ScriptedScore, extra: list) -> keras.callbacks.History:
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    callbacks = training_callbacks(run_dir, "val_score", patience=5, mode="max", scorers=[scorer])
    return model.fit(x, x.sum(axis=1), epochs=len(SCORES), callbacks=callbacks + extra, verbose=0)


def _assert_same(weights: list[np.ndarray], expected: list[np.ndarray]) -> None:
    for value, wanted in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(value, wanted)


def test_a_scorer_metric_to_maximise_chooses_the_restored_and_checkpointed_epoch(tmp_path):
    model, scorer = _model(0), ScriptedScore()
    history = _fit(model, tmp_path, scorer, [])
    assert history.history["val_score"] == list(SCORES)
    best = scorer.weights_after_epoch[1]
    _assert_same(model.get_weights(), best)
    assert not np.array_equal(scorer.weights_after_epoch[3][0], best[0])
    _assert_same(keras.models.load_model(tmp_path / "checkpoints" / "best.keras").get_weights(), best)


def test_a_resumed_job_keeps_the_best_epoch_from_before_the_interruption(tmp_path):
    first = ScriptedScore()
    with pytest.raises(Killed):
        _fit(_model(0), tmp_path, first, [KillBeforeEpoch(2)])
    best = first.weights_after_epoch[1]
    resumed_model, resumed = _model(1), ScriptedScore()
    _fit(resumed_model, tmp_path, resumed, [])
    assert sorted(resumed.weights_after_epoch) == [2, 3]
    _assert_same(resumed_model.get_weights(), best)
    _assert_same(keras.models.load_model(tmp_path / "checkpoints" / "best.keras").get_weights(), best)


def test_a_new_run_in_an_old_run_dir_does_not_inherit_its_best(tmp_path):
    _fit(_model(0), tmp_path, ScriptedScore(), [])
    rerun, scorer = _model(1), ScriptedScore()
    _fit(rerun, tmp_path, scorer, [])
    assert sorted(scorer.weights_after_epoch) == [0, 1, 2, 3]
    _assert_same(rerun.get_weights(), scorer.weights_after_epoch[1])
