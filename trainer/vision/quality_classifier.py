"""The classifier export that judges a generative model's samples, found from the job's quality flags.

VAE and GAN jobs share the flags `--quality-classifier` and `--quality-samples`: the classifier is loaded
and tried on real images before training, so a wrong path fails in seconds, not after hours of training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from trainer.errors import TrainerError
from trainer.export import layout
from trainer.vision.quality import load_feature_extractor

PROBE_IMAGES = 2


class QualityFlags(Protocol):
    """The config fields of a generative job that choose its quality classifier."""

    dataset: str
    export_root: Path
    quality_classifier: Path | None
    quality_samples: int


@dataclass(frozen=True)
class QualityClassifier:
    """A classifier export version and its feature extractor (uint8 images [N,H,W,C] -> float32 [N,F])."""

    export_dir: Path
    extract: Callable[[np.ndarray], np.ndarray]


def _version_dir(path: Path) -> Path:
    """path's highest numeric version if it is a model folder, else path itself; it must hold a SavedModel."""
    versions = layout.existing_versions(path)
    version_dir = versions[max(versions)] if versions else path
    if not (version_dir / "saved_model.pb").is_file():
        raise TrainerError(
            f"--quality-classifier {path}: expected a classifier export version folder (with saved_model.pb) "
            "or a model folder holding numeric versions"
        )
    return version_dir


def load_quality_classifier(config: QualityFlags, probe_images: np.ndarray) -> QualityClassifier | None:
    """The classifier that judges samples, tried on probe_images; None (with a note) when there is none to use.

    --quality-samples 0 skips the measurement; without --quality-classifier the latest version of
    <export-root>/<dataset>_classifier is used if it exists. A --quality-classifier given explicitly must exist.
    """
    if config.quality_samples == 0:
        print("note: --quality-samples 0, so no Fréchet distance is measured")
        return None
    path = config.quality_classifier or config.export_root / f"{config.dataset}_classifier"
    if not path.exists():
        if config.quality_classifier is not None:
            raise TrainerError(f"--quality-classifier {path} does not exist; expected a classifier export folder")
        print(f"note: no classifier export at {path}, so no Fréchet distance is measured "
              "(train one with `python -m trainer vision classifier` or pass --quality-classifier)")
        return None
    export_dir = _version_dir(path)
    extract = load_feature_extractor(export_dir)
    extract(probe_images[:PROBE_IMAGES])
    return QualityClassifier(export_dir, extract)
