"""Sample quality of a VAE: the Fréchet distance between its `sample` images and the real test images.

Distances are taken in the feature space of the project's own classifier export (its `features` signature),
as model-references 4.3 recommends without Inception weights, so they are named "Fréchet distance in the
features of <classifier>" and are not comparable with published Inception FIDs. The classifier is loaded and
tried on real images before training, so a wrong `--quality-classifier` fails in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.data.image_datasets import LabelledImages
from trainer.errors import TrainerError
from trainer.export import layout
from trainer.vision.quality import generator_quality, load_feature_extractor
from trainer.vision.vae_config import VAEConfig
from trainer.vision.vae_export import VAEGraph, in_batches

PROBE_IMAGES = 2


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


def load_quality_classifier(config: VAEConfig, probe_images: np.ndarray) -> QualityClassifier | None:
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


def measure_sample_quality(
    classifier: QualityClassifier, graph: VAEGraph, real_test: LabelledImages, samples: int
) -> dict[str, object]:
    """The Fréchet distance of `samples` images from the served `sample` path to real_test, with its measure named."""
    figures = generator_quality(
        lambda seeds, labels: in_batches(graph.sample, seeds), real_test, classifier.extract, samples
    )
    measure = f"Fréchet distance in the 'features' space of {classifier.export_dir} (not Inception FID)"
    return {"measure": measure, "classifier": str(classifier.export_dir), **figures}
