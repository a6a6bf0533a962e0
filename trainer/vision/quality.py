"""Honest quality measures for image generators, in the feature space of the project's own classifier.

Without Inception weights the Fréchet distance is taken on the `features` signature of a classifier export
(model-references 4.3), so it is a "Fréchet distance in <classifier>'s features" (FD-<classifier>), never an
FID comparable with published Inception numbers. The floor is the same distance between real training and
real test images. For conditional generators the classifier's accuracy on images generated for each
requested label is GAN-test (model-references 4.4): a fidelity measure, high even under mode collapse.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.data.image_datasets import LabelledImages
from trainer.errors import TrainerError
from trainer.export.layout import MODEL_JSON

FEATURES_SIGNATURE = "features"
CLASSIFY_SIGNATURE = "serving_default"
BATCH_SIZE = 500
SUBSET_SEED = 0  # which real images are compared is fixed, so two models are judged on the same images

ImageFunction = Callable[[np.ndarray], np.ndarray]
Generate = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


def _signature(export_dir: Path, name: str, output: str) -> ImageFunction:
    """A batched numpy function over signature `name` of the SavedModel in export_dir, returning `output`."""
    if not (export_dir / "saved_model.pb").is_file():
        raise TrainerError(f"{export_dir} is not a SavedModel export version folder (no saved_model.pb)")
    loaded = tf.saved_model.load(str(export_dir))
    if name not in loaded.signatures:
        raise TrainerError(
            f"classifier export {export_dir} has no '{name}' signature (it has {sorted(loaded.signatures)}); "
            f"re-export the classifier with a version of the trainer that writes '{name}'"
        )

    def run(images: np.ndarray) -> np.ndarray:
        signature = loaded.signatures[name]  # the closure holds `loaded`, which keeps its variables alive
        batches = [
            signature(images=tf.constant(images[start : start + BATCH_SIZE], tf.uint8))[output].numpy()
            for start in range(0, len(images), BATCH_SIZE)
        ]
        return np.concatenate(batches)

    return run


def load_feature_extractor(export_dir: Path) -> ImageFunction:
    """The classifier export's `features` signature as a function: uint8 images [N,H,W,C] -> float32 [N,F]."""
    return _signature(Path(export_dir), FEATURES_SIGNATURE, "features")


def load_label_classifier(export_dir: Path) -> ImageFunction:
    """The classifier export's serving_default as a function: uint8 images [N,H,W,C] -> probabilities [N,K]."""
    return _signature(Path(export_dir), CLASSIFY_SIGNATURE, "probabilities")


def classifier_reference(export_dir: Path) -> dict[str, object]:
    """Which classifier export judged the samples: path, model name, version and the measure's name."""
    export_dir = Path(export_dir)
    model_json = export_dir / MODEL_JSON
    name = json.loads(model_json.read_text()).get("name") if model_json.is_file() else export_dir.parent.name
    version = int(export_dir.name) if export_dir.name.isdigit() else None
    return {
        "path": str(export_dir),
        "name": name,
        "version": version,
        "measure": f"FD-{name}" + (f"-v{version}" if version else ""),
        "description": f"Fréchet distance in the '{FEATURES_SIGNATURE}' space of {name} (not Inception FID)",
    }


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The PSD square root of a symmetric matrix; eigenvalues below zero (round-off) are clipped to zero."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def _gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"expected features [N>=2, F], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N,F]:

    |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)). The trace term is computed as
    tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)), a symmetric PSD matrix with the same eigenvalues as S_a S_b, so
    eigh applies and no complex round-off arises (and no scipy is needed).
    """
    mean_a, cov_a = _gaussian(features_a)
    mean_b, cov_b = _gaussian(features_b)
    if mean_a.shape != mean_b.shape:
        raise ValueError(f"feature sizes differ: {mean_a.shape[0]} and {mean_b.shape[0]}")
    root_a = _symmetric_sqrt(cov_a)
    product = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((product + product.T) / 2), 0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))


def _subset(images: np.ndarray, count: int) -> np.ndarray:
    """count images drawn without replacement by a fixed seed (all of them, shuffled, if count >= len)."""
    order = np.random.default_rng(SUBSET_SEED).permutation(len(images))
    return images[order[:count]]


def real_floor(train: LabelledImages, test: LabelledImages, extract: ImageFunction, samples: int) -> float:
    """The Fréchet distance between `samples` real training and `samples` real test images: the floor."""
    count = min(samples, len(train), len(test))
    return frechet_distance(extract(_subset(train.images, count)), extract(_subset(test.images, count)))


def balanced_labels(samples: int, num_classes: int) -> np.ndarray:
    """int64 labels [samples] cycling 0..num_classes-1, so every class gets samples/num_classes (±1) images."""
    return np.arange(samples, dtype=np.int64) % num_classes


def label_accuracy(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, float]:
    """GAN-test: the classifier's accuracy on generated images against their requested labels, overall and
    per label (`label_accuracy/<k>`), and its mean top probability (confidence)."""
    hits = np.argmax(probabilities, axis=-1) == labels
    per_label = {f"label_accuracy/{label}": float(hits[labels == label].mean()) for label in range(num_classes)}
    return {
        "label_accuracy": float(hits.mean()),
        **per_label,
        "mean_confidence": float(probabilities.max(axis=-1).mean()),
    }


def generator_quality(
    generate: Generate,
    real_test: LabelledImages,
    extract: ImageFunction,
    samples: int,
    num_classes: int | None = None,
    classify: ImageFunction | None = None,
) -> dict[str, float]:
    """Fréchet distance between `samples` generated and `samples` real test images (fewer if the test split is
    smaller; the number used is reported as `samples`).

    generate(seeds int64 [n], labels int64 [n] or None) returns uint8 images [n,H,W,C]; seeds are 0..n-1 so
    the measure is reproducible. With num_classes the labels are balanced, and with classify (images ->
    probabilities [n,K]) the GAN-test label accuracy is added.
    """
    count = min(samples, len(real_test))
    labels = balanced_labels(count, num_classes) if num_classes else None
    generated = generate(np.arange(count, dtype=np.int64), labels)
    figures = {
        "frechet_distance": frechet_distance(extract(generated), extract(_subset(real_test.images, count))),
        "samples": count,
    }
    if labels is not None and classify is not None:
        figures.update(label_accuracy(classify(generated), labels, num_classes))
    return figures
