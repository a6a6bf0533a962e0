"""Sample quality of a VAE: the Fréchet distance between its `sample` images and the real test images.

Distances are taken in the feature space of the project's own classifier export (its `features` signature),
as model-references 4.3 recommends without Inception weights, so they are named "Fréchet distance in the
features of <classifier>" and are not comparable with published Inception FIDs. The classifier is loaded and
tried on real images before training (`trainer/vision/quality_classifier.py`).
"""

from __future__ import annotations

from trainer.data.image_datasets import LabelledImages
from trainer.vision.quality import generator_quality, real_floor
from trainer.vision.quality_classifier import QualityClassifier
from trainer.vision.vae_export import VAEGraph, in_batches


def measure_sample_quality(
    classifier: QualityClassifier, graph: VAEGraph, real: tuple[LabelledImages, LabelledImages], samples: int
) -> dict[str, object]:
    """The Fréchet distance of `samples` images from the served `sample` path to the real test images, with its
    measure named, next to the real-vs-real floor (train vs test, same classifier and count)."""
    real_train, real_test = real
    figures = generator_quality(
        lambda seeds, labels: in_batches(graph.sample, seeds), real_test, classifier.extract, samples
    )
    figures["real_floor"] = real_floor(real_train, real_test, classifier.extract, samples)
    measure = f"Fréchet distance in the 'features' space of {classifier.export_dir} (not Inception FID)"
    return {"measure": measure, "classifier": str(classifier.export_dir), **figures}
