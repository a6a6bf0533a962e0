"""Reader for `mnist.pkl.gz`, the MNIST pickle of the deeplearning.net tutorials and of Nielsen's
"Neural Networks and Deep Learning".

It holds MNIST's official splits as three (images, labels) pairs: the first 50,000 training images, the
last 10,000 training images (the tutorials' validation set) and the 10,000 test images, each image a row
of 784 float32 values k/256 for the original byte k. Reading joins the first two back into the official
60,000-image training split and restores the bytes exactly.
"""

from __future__ import annotations

import gzip
import pickle
import zlib
from pathlib import Path

import numpy as np

from trainer.data.safe_pickle import load_numpy_pickle
from trainer.errors import TrainerError

FILENAME = "mnist.pkl.gz"
SIDE = 28
PIXEL_SCALE = 256
Split = tuple[np.ndarray, np.ndarray]


def read_mnist_pickle(path: Path) -> tuple[Split, Split]:
    """((train images uint8 [N, 28, 28], labels [N]), (test images, labels)) from an `mnist.pkl.gz`."""
    splits = _load(path)
    train, validation, test = (_to_images(images, labels, path) for images, labels in splits)
    return (np.concatenate([train[0], validation[0]]), np.concatenate([train[1], validation[1]])), test


def _load(path: Path) -> tuple[Split, Split, Split]:
    try:
        with gzip.open(path, "rb") as stream:
            content = load_numpy_pickle(stream, encoding="latin1")
    except (OSError, EOFError, zlib.error, pickle.UnpicklingError, ValueError, TypeError) as error:
        raise TrainerError(f"cannot read the MNIST pickle {path}: {error}") from error
    if not (isinstance(content, tuple) and len(content) == 3 and all(_is_pair(split) for split in content)):
        raise TrainerError(f"{path} is not the MNIST pickle: expected three (images, labels) pairs")
    return content


def _is_pair(split: object) -> bool:
    return isinstance(split, tuple) and len(split) == 2 and all(isinstance(part, np.ndarray) for part in split)


def _to_images(images: np.ndarray, labels: np.ndarray, path: Path) -> Split:
    if images.ndim != 2 or images.shape[1] != SIDE * SIDE or len(images) != len(labels):
        raise TrainerError(
            f"{path}: expected images [N, {SIDE * SIDE}] and N labels, got {list(images.shape)} and {len(labels)}"
        )
    pixels = np.asarray(images, dtype=np.float32) * PIXEL_SCALE  # exact: k/256 and its product by 256 are floats
    if images.size and (pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, np.floor(pixels))):
        raise TrainerError(f"{path}: pixel values must be k/{PIXEL_SCALE} for bytes k, as in the MNIST pickle")
    return pixels.astype(np.uint8).reshape(-1, SIDE, SIDE), labels.astype(np.int64)
