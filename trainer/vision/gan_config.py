"""Flags of `python -m trainer vision gan`, with the keras-io MNIST DCGAN / conditional GAN defaults.

Kept apart from the training code so the CLI can build and validate it without loading TensorFlow.
On 2 CPU cores a full-width DCGAN step at batch 64 takes about 1.5 s (model-references 3.4), so a full
Fashion-MNIST epoch is about 25 minutes: the `--quick` preset trains on a slice at half width.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import flag, require
from trainer.data.image_datasets import DATASETS
from trainer.export.layout import validate_model_name

ARCHITECTURES = ("fc", "dcgan", "cgan")
CONDITIONAL = ("cgan",)
QUICK_PRESET = {"limit_train": 6400, "epochs": 3, "width": 64, "quality_samples": 2000}


@dataclass
class GANConfig:
    """One GAN training job: data, networks, optimisation, sample-quality measurement and where results go."""

    dataset: str = flag("fashion_mnist", "dataset to train on", choices=tuple(DATASETS))
    data_dir: Path | None = flag(None, "folder with the 4 IDX .gz files (default: Keras cache, system, download)")
    offline: bool = flag(False, "never download; fail if the data is not found locally")
    arch: str = flag(
        "dcgan", "fc: fully-connected GAN (Goodfellow et al. 2014); dcgan: strided convolutions, batch norm, "
        "LeakyReLU, tanh (keras-io MNIST DCGAN); cgan: the DCGAN generator conditioned on class labels (keras-io), "
        "against a discriminator that sees the whole image",
        choices=ARCHITECTURES,
    )
    latent_dim: int = flag(128, "size of the noise vector z ~ N(0, I) (keras-io: 128)")
    width: int = flag(128, "filters of the convolutions (fc: hidden units are 2, 4 and 8 times this) (keras-io: 128)")
    epochs: int = flag(20, "training epochs over the training file (keras-io: 30 for the DCGAN, 20 for the cGAN)")
    batch_size: int = flag(64, "real images per training step (keras-io: 64)")
    generator_learning_rate: float = flag(3e-4, "Adam learning rate of the generator (keras-io: 3e-4)")
    discriminator_learning_rate: float = flag(3e-4, "Adam learning rate of the discriminator (keras-io: 3e-4)")
    adam_beta_1: float = flag(0.5, "Adam beta_1 of both optimizers (Radford et al. DCGAN: 0.5)")
    limit_train: int | None = flag(None, "use only N images of the training file (seeded choice)")
    seed: int = flag(1, "seed of Python, NumPy, TensorFlow, the shuffles and the training noise")
    grid_columns: int = flag(10, "columns of the per-epoch sample grid PNG: images per class (cgan), else a square")
    quality_classifier: Path | None = flag(
        None,
        "classifier export (model or version folder) whose `features` signature measures the Frechet distance "
        "of samples (default: <export-root>/<dataset>_classifier if it exists)",
    )
    quality_samples: int = flag(10000, "generated images for the Frechet distance; 0 skips the measurement")
    model_name: str | None = flag(None, "export name (default: <dataset>_<arch>, e.g. fashion_mnist_cgan)")
    export_root: Path = flag(Path("saved_models"), "folder that holds <model_name>/<version>/ exports")
    run_dir: Path | None = flag(None, "folder for logs, checkpoints and sample grids; reuse it to resume (default: runs/...)")

    def __post_init__(self) -> None:
        """Validate every flag and fill in the derived default model name."""
        require(self.arch in ARCHITECTURES, f"--arch must be one of {', '.join(ARCHITECTURES)}, got '{self.arch}'")
        require(self.latent_dim >= 1, f"--latent-dim must be at least 1, got {self.latent_dim}")
        require(self.width >= 1, f"--width must be at least 1, got {self.width}")
        require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(self.batch_size >= 2, f"--batch-size must be at least 2 (batch norm), got {self.batch_size}")
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            value = getattr(self, name)
            require(value > 0, f"--{name.replace('_', '-')} must be positive, got {value}")
        require(0 <= self.adam_beta_1 < 1, f"--adam-beta-1 must lie in [0, 1), got {self.adam_beta_1}")
        require(
            self.limit_train is None or self.limit_train >= self.batch_size,
            f"--limit-train must be at least --batch-size ({self.batch_size}), got {self.limit_train}",
        )
        require(self.seed >= 0, f"--seed must be non-negative, got {self.seed}")
        require(self.grid_columns >= 1, f"--grid-columns must be at least 1, got {self.grid_columns}")
        require(self.quality_samples >= 0, f"--quality-samples must be non-negative, got {self.quality_samples}")
        self.model_name = validate_model_name(self.model_name or f"{self.dataset}_{self.arch}")

    @property
    def conditional(self) -> bool:
        """Whether both networks take class labels."""
        return self.arch in CONDITIONAL
