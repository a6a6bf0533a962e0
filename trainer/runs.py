"""Run directories: where a training job keeps what people look at (TensorBoard logs, checkpoints, plots).

Layout of `runs/<model_name>/<UTC time>/` (or `--run-dir`): `config.json`, `tensorboard/`,
`checkpoints/best.keras`, `backup/` (BackupAndRestore state, removed when training completes) and
job-specific artefacts such as `confusion_matrix.png`. Running again with the same run dir resumes.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras

from trainer.best_epoch import BEST_CHECKPOINT, KeepBest, resumed_best
from trainer.config import format_config, save_config
from trainer.errors import TrainerError
from trainer.export import layout

RUNS_ROOT = Path("runs")


def default_run_dir(model_name: str) -> Path:
    """A fresh `runs/<model_name>/<UTC time>` folder name."""
    return RUNS_ROOT / model_name / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def prepare_run_dir(config: Any, run_dir: Path, command: list[str], resume_with: Path | None = None) -> Path:
    """Create run_dir and save the config there with the command line; `resume_with` is the --run-dir that
    resumes the job, when it is not run_dir itself (a multi-worker job's other workers)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainerError(f"cannot create run dir {run_dir}: {error.strerror}") from error
    print(f"run dir: {run_dir} (run again with --run-dir {resume_with or run_dir} to resume after an interruption)")
    save_config(config, command, run_dir / "config.json")
    return run_dir


def tensorboard_callbacks(run_dir: Path) -> list[keras.callbacks.Callback]:
    """A TensorBoard callback logging to run_dir/tensorboard, or none (with a warning) without the package."""
    if importlib.util.find_spec("tensorboard") is None:
        print("warning: no TensorBoard logs, because the tensorboard package is missing (pip install tensorboard)")
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard"), write_graph=False)]


def training_callbacks(
    run_dir: Path,
    monitor: str,
    patience: int,
    mode: str = "auto",
    scorers: Sequence[keras.callbacks.Callback] = (),
) -> list[keras.callbacks.Callback]:
    """Resume state, TensorBoard scalars, the best checkpoint and early stopping, all in run_dir.

    BackupAndRestore comes first so an interrupted job continues from its last finished epoch, and the best
    epoch is kept across the interruption (`trainer.best_epoch`): training ends with its weights. `scorers` run
    next: callbacks that add a metric to the epoch's logs (e.g. a return measured by driving), so TensorBoard
    records it and `monitor` may name it; `mode` says whether more of it is better ("max") or less ("min").
    """
    backup = run_dir / "backup"
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(run_dir / BEST_CHECKPOINT), monitor=monitor, mode=mode, save_best_only=True,
        initial_value_threshold=resumed_best(run_dir, monitor, resuming=backup.is_dir()),
    )
    return [
        keras.callbacks.BackupAndRestore(backup_dir=str(backup)),
        *scorers,
        *tensorboard_callbacks(run_dir),
        checkpoint,
        KeepBest(run_dir, checkpoint),
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience),
    ]


def begin_job(config: Any, family: str) -> None:
    """What every training job does first: print its config, seed everything, and refuse an export name
    that holds another family's model before any time is spent training."""
    print(format_config(config))
    keras.utils.set_random_seed(config.seed)
    layout.check_target(config.export_root, config.model_name, family)
