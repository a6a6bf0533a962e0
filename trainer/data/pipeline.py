"""Hold-out splits and tf.data pipelines over in-memory labelled images."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainer.data.image_datasets import LabelledImages
from trainer.errors import TrainerError


def holdout_split(
    data: LabelledImages, validation_fraction: float, seed: int, limit: int | None = None
) -> tuple[LabelledImages, LabelledImages]:
    """Shuffle data with seed, keep the first `limit` examples, and hold out validation_fraction of them.

    Returns (kept, held out). The validation split comes from the training file, so the test split stays
    untouched until the end; a folder without a test/ subfolder gets its test split the same way.
    """
    order = np.random.default_rng(seed).permutation(len(data))[:limit]
    validation_size = max(1, round(len(order) * validation_fraction))
    if len(order) - validation_size < 1:
        raise TrainerError(
            f"{len(order)} examples leave none for training after holding out {validation_fraction:.0%} of them"
        )
    held_out, kept = order[:validation_size], order[validation_size:]
    return (
        LabelledImages(data.images[kept], data.labels[kept]),
        LabelledImages(data.images[held_out], data.labels[held_out]),
    )


def batched(data: LabelledImages, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """(images, labels) batches, reshuffled every epoch when shuffle_seed is given, prefetched."""
    dataset = tf.data.Dataset.from_tensor_slices((data.images, data.labels))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(data), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
