"""Flags of `python -m trainer vision classifier`, with the keras-io "Simple MNIST convnet" defaults.

Kept apart from the training code so the CLI can build and validate it without loading TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import flag, require
from trainer.data.image_datasets import DATASETS
from trainer.export.layout import validate_model_name

ARCHITECTURES = ("cnn",)
QUICK_PRESET = {"limit_train": 12000, "epochs": 2, "batch_size": 64}


@dataclass
class ClassifierConfig:
    """One classifier training job: data, network, optimisation, and where results go."""

    dataset: str = flag("fashion_mnist", "dataset to train on", choices=tuple(DATASETS))
    data_dir: Path | None = flag(None, "folder with the 4 IDX .gz files (default: Keras cache, system, download)")
    offline: bool = flag(False, "never download; fail if the data is not found locally")
    arch: str = flag("cnn", "network architecture", choices=ARCHITECTURES)
    epochs: int = flag(15, "maximum number of training epochs (keras-io mnist_convnet: 15)")
    batch_size: int = flag(128, "examples per training step (keras-io: 128)")
    learning_rate: float = flag(1e-3, "Adam learning rate (Adam's default)")
    dropout: float = flag(0.5, "dropout rate before the classification layer (keras-io: 0.5)")
    validation_fraction: float = flag(0.1, "fraction of the training file held out for validation (keras-io: 0.1)")
    limit_train: int | None = flag(None, "use only N examples of the training file, before the hold-out")
    patience: int = flag(3, "epochs without validation-accuracy gain before early stopping")
    seed: int = flag(1, "seed of Python, NumPy, TensorFlow and the data shuffles")
    model_name: str | None = flag(None, "export name (default: <dataset>_classifier)")
    export_root: Path = flag(Path("saved_models"), "folder that holds <model_name>/<version>/ exports")
    run_dir: Path | None = flag(None, "folder for logs and checkpoints; reuse it to resume (default: runs/...)")

    def __post_init__(self) -> None:
        """Validate every flag and fill in the derived default model name."""
        require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.learning_rate > 0, f"--learning-rate must be positive, got {self.learning_rate}")
        require(0 <= self.dropout < 1, f"--dropout must lie in [0, 1), got {self.dropout}")
        require(
            0 < self.validation_fraction < 1,
            f"--validation-fraction must lie in (0, 1), got {self.validation_fraction}",
        )
        require(
            self.limit_train is None or self.limit_train >= 2,
            f"--limit-train must be at least 2, got {self.limit_train}",
        )
        require(self.patience >= 1, f"--patience must be at least 1, got {self.patience}")
        self.model_name = validate_model_name(self.model_name or f"{self.dataset}_classifier")
