"""Flags of `python -m trainer vision vae`, with the keras-io "Variational AutoEncoder" defaults.

Kept apart from the training code so the CLI can build and validate it without loading TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import flag, require
from trainer.data.image_datasets import DATASETS
from trainer.export.layout import validate_model_name

QUICK_PRESET = {"limit_train": 12000, "epochs": 3, "quality_samples": 2000}


@dataclass
class VAEConfig:
    """One VAE training job: data, latent size, optimisation, sample-quality measurement and where results go."""

    dataset: str = flag("fashion_mnist", "dataset to train on", choices=tuple(DATASETS))
    data_dir: Path | None = flag(None, "folder with the 4 IDX .gz files (default: Keras cache, system, download)")
    offline: bool = flag(False, "never download; fail if the data is not found locally")
    latent_dim: int = flag(2, "size of the latent code z (keras-io: 2, for the latent picture; larger for quality)")
    epochs: int = flag(30, "maximum number of training epochs (keras-io vae: 30)")
    batch_size: int = flag(128, "examples per training step (keras-io: 128)")
    learning_rate: float = flag(1e-3, "Adam learning rate (Adam's default, as keras-io)")
    validation_fraction: float = flag(0.1, "fraction of the training file held out for validation")
    limit_train: int | None = flag(None, "use only N examples of the training file, before the hold-out")
    patience: int = flag(3, "epochs without a lower validation negative ELBO before early stopping")
    seed: int = flag(1, "seed of Python, NumPy, TensorFlow, the shuffles and training noise (test binarisation is fixed)")
    quality_classifier: Path | None = flag(
        None,
        "classifier export (model or version folder) whose `features` signature measures the Frechet distance "
        "of samples (default: <export-root>/<dataset>_classifier if it exists)",
    )
    quality_samples: int = flag(10000, "generated images for the Frechet distance; 0 skips the measurement")
    model_name: str | None = flag(None, "export name (default: <dataset>_vae)")
    export_root: Path = flag(Path("saved_models"), "folder that holds <model_name>/<version>/ exports")
    run_dir: Path | None = flag(None, "folder for logs, checkpoints and pictures; reuse it to resume (default: runs/...)")

    def __post_init__(self) -> None:
        """Validate every flag and fill in the derived default model name."""
        require(self.latent_dim >= 1, f"--latent-dim must be at least 1, got {self.latent_dim}")
        require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.learning_rate > 0, f"--learning-rate must be positive, got {self.learning_rate}")
        require(
            0 < self.validation_fraction < 1,
            f"--validation-fraction must lie in (0, 1), got {self.validation_fraction}",
        )
        require(
            self.limit_train is None or self.limit_train >= 2,
            f"--limit-train must be at least 2, got {self.limit_train}",
        )
        require(self.patience >= 1, f"--patience must be at least 1, got {self.patience}")
        require(self.seed >= 0, f"--seed must be non-negative, got {self.seed}")
        require(self.quality_samples >= 0, f"--quality-samples must be non-negative, got {self.quality_samples}")
        self.model_name = validate_model_name(self.model_name or f"{self.dataset}_vae")
