"""Flags of `python -m trainer vision samples`: which images of which split to write as PNGs, and where.

Kept apart from the writing code so the CLI can build and validate it without loading OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import REQUIRED, flag, require
from trainer.data.image_datasets import DATASETS

SPLITS = ("test", "train")


@dataclass(kw_only=True)
class SamplesConfig:
    """One samples job: `count` images of a split, chosen by `seed`, written as PNGs and labels.csv to `out`."""

    dataset: str = flag("fashion_mnist", "dataset to take the images from", choices=tuple(DATASETS))
    data_dir: Path | None = flag(None, "folder with the 4 IDX .gz files (default: Keras cache, system, download)")
    offline: bool = flag(False, "never download; fail if the data is not found locally")
    split: str = flag("test", "official split to take the images from", choices=SPLITS)
    count: int = flag(500, "number of images: a seeded random subset of the split, written in split order")
    seed: int = flag(0, "seed of the random choice of images")
    out: Path = flag(REQUIRED, "folder to create with <index>_<label_id>.png files and labels.csv")
    overwrite: bool = flag(False, "replace --out if it already holds samples (a folder with labels.csv)")

    def __post_init__(self) -> None:
        """Validate the flags that need no data or file system."""
        require(self.count >= 1, f"--count must be at least 1, got {self.count}")
        require(self.seed >= 0, f"--seed must be non-negative, got {self.seed}")
