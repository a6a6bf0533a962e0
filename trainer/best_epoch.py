"""The best epoch of a training run, kept across interruptions.

Keras's ModelCheckpoint and EarlyStopping remember the best monitored value only in memory, so a job that
BackupAndRestore resumes starts them afresh: the resumed run would overwrite the best checkpoint with its
first epoch and restore the best epoch after the interruption, however good the earlier one was. Here
the checkpoint's best value is written beside it after every improvement (`best.json`) and read back when
the job resumes, and at the end of training the model takes the best checkpoint's weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

BEST_CHECKPOINT = Path("checkpoints") / "best.keras"
BEST_RECORD = Path("checkpoints") / "best.json"


def recorded_best(run_dir: Path, monitor: str) -> float | None:
    """The monitored value of the best checkpointed epoch in run_dir, if one was recorded for this monitor."""
    record = run_dir / BEST_RECORD
    if not record.is_file():
        return None
    saved = json.loads(record.read_text())
    return float(saved["best"]) if saved.get("monitor") == monitor else None


def resumed_best(run_dir: Path, monitor: str, resuming: bool) -> float | None:
    """The best value the interrupted run checkpointed, when resuming; otherwise forget any earlier run's."""
    if not resuming:
        (run_dir / BEST_RECORD).unlink(missing_ok=True)
        return None
    return recorded_best(run_dir, monitor)


class KeepBest(keras.callbacks.Callback):
    """Records each improvement of `checkpoint` (a save_best_only ModelCheckpoint listed before this callback)
    and loads the best checkpoint's weights when training ends."""

    def __init__(self, run_dir: Path, checkpoint: keras.callbacks.ModelCheckpoint) -> None:
        super().__init__()
        self._run_dir, self._checkpoint = run_dir, checkpoint
        self._recorded = checkpoint.best

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Write best.json when the checkpoint has just saved a better epoch."""
        if self._checkpoint.best != self._recorded:
            self._recorded = self._checkpoint.best
            record = {"monitor": self._checkpoint.monitor, "best": float(self._recorded), "epoch": epoch + 1}
            (self._run_dir / BEST_RECORD).write_text(json.dumps(record))

    def on_train_end(self, logs: dict | None = None) -> None:
        """Take the best epoch's weights (this run's or, after a resume, the interrupted run's)."""
        if (self._run_dir / BEST_RECORD).is_file():
            self.model.load_weights(str(self._run_dir / BEST_CHECKPOINT))
