"""Choosing a driver by how it drives: a Keras callback that drives held-out tracks after every epoch.

Validation loss on recorded frames does not rank cloned drivers by driving (batch norm's moving statistics
swing validation accuracy by tens of points between epochs, and a driver that matches the expert's frames
well can still leave the track once its own mistakes take it where the expert never was). With
`--select-by driving` each epoch's policy drives the same few held-out tracks, greedily and headless, and
the mean return enters the epoch's logs as `val_driving_return`: TensorBoard plots it, ModelCheckpoint and
EarlyStopping keep the epoch that drove best, and DAgger exports the round that drove best.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from trainer.rl.carracing_policy import evaluate_driver

DRIVING_METRIC = "val_driving_return"


class DrivingScore(keras.callbacks.Callback):
    """After every epoch, drive one episode per seed with the model and log the mean return."""

    def __init__(self, frame_stack: int, seeds: Sequence[int], max_steps: int) -> None:
        super().__init__()
        self._frame_stack, self._seeds, self._max_steps = frame_stack, tuple(seeds), max_steps

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Add the mean return over the selection tracks to logs (the same dict later callbacks read)."""
        report = evaluate_driver(self.model, self._frame_stack, self._seeds, self._max_steps, None)
        score = float(np.mean(report.returns))
        print(f"epoch {epoch + 1}: driving return {score:.1f} on selection tracks "
              f"({', '.join(f'{value:.0f}' for value in report.returns)})")
        if logs is not None:
            logs[DRIVING_METRIC] = score
