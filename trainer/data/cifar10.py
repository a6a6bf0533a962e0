"""CIFAR-10 from its original python-pickle batches (`cifar-10-batches-py`), found offline first.

Lookup order without `--data-dir`: the Keras cache (`<cache>/cifar-10-batches-py-target/cifar-10-batches-py`
as Keras 3 extracts it, or `<cache>/cifar-10-batches-py` as older Keras did), then Keras's downloader. With
`--data-dir` only that folder (or its `cifar-10-batches-py` subfolder) is used. Each batch is a pickled dict
with `data` (uint8 [N, 3072]: the red, green and blue 32x32 planes) and `labels`; batches.meta names the
classes. The unpickler accepts only NumPy's array types (`trainer.data.safe_pickle`), so a hostile file cannot
run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from trainer.data.image_datasets import ImageDataset, LabelledImages, keras_cache_dir
from trainer.data.safe_pickle import load_numpy_pickle
from trainer.errors import TrainerError

NAME = "cifar10"
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (32, 32, 3)


def _read_batch(path: Path) -> dict[bytes, Any]:
    try:
        with path.open("rb") as stream:
            batch = load_numpy_pickle(stream, encoding="bytes")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as error:
        raise TrainerError(f"cannot read CIFAR-10 batch {path}: {error}") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise TrainerError(f"{path} is not a CIFAR-10 batch: expected a pickled dict with 'data' and 'labels'")
    return batch


def read_batch(path: Path) -> LabelledImages:
    """One pickle batch as uint8 images [N, 32, 32, 3] and labels [N], after checking its size and labels."""
    batch = _read_batch(path)
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    row_size = int(np.prod(IMAGE_SHAPE))
    if data.ndim != 2 or data.shape[1] != row_size or len(data) != len(labels):
        raise TrainerError(
            f"{path}: expected data [N, {row_size}] (32x32 RGB images) and N labels, "
            f"got data {list(data.shape)} and {len(labels)} labels"
        )
    if labels.size and not 0 <= labels.min() <= labels.max() < len(CLASSES):
        raise TrainerError(f"{path}: labels must lie in 0..{len(CLASSES) - 1}")
    images = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return LabelledImages(np.ascontiguousarray(images), labels.astype(np.int64))


def _concatenate(parts: list[LabelledImages]) -> LabelledImages:
    return LabelledImages(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))


def _batches_dir(directory: Path) -> Path:
    """directory itself if it holds the batches, else its `cifar-10-batches-py` subfolder."""
    nested = directory / BATCHES_DIR
    return nested if not (directory / TEST_BATCH).exists() and nested.is_dir() else directory


def _missing_batches(directory: Path) -> list[str]:
    return [name for name in (*TRAIN_BATCHES, TEST_BATCH) if not (directory / name).is_file()]


def load_batches_dir(directory: Path) -> ImageDataset:
    """Read the five training batches and the test batch from directory (or its cifar-10-batches-py)."""
    batches = _batches_dir(directory)
    missing = _missing_batches(batches)
    if missing:
        raise TrainerError(f"{batches} lacks {', '.join(missing)} of CIFAR-10; {how_to_get()}")
    train = _concatenate([read_batch(batches / name) for name in TRAIN_BATCHES])
    return ImageDataset(NAME, CLASSES, train, read_batch(batches / TEST_BATCH), str(batches))


def how_to_get() -> str:
    """A sentence telling the user how to make CIFAR-10 available offline."""
    return (
        f"pass --data-dir DIR with the {BATCHES_DIR} folder of cifar-10-python.tar.gz "
        "(www.cs.toronto.edu/~kriz/cifar.html), or run once with network access so Keras downloads it"
    )


def _cached_dir() -> Path | None:
    cache = keras_cache_dir()
    for candidate in (cache / f"{BATCHES_DIR}-target" / BATCHES_DIR, cache / BATCHES_DIR):
        if not _missing_batches(candidate):
            return candidate
    return None


def _download() -> ImageDataset:
    import keras

    try:
        (train_images, train_labels), (test_images, test_labels) = keras.datasets.cifar10.load_data()
    except Exception as error:  # noqa: BLE001  (any network or archive failure means the same to the user)
        raise TrainerError(f"no local CIFAR-10 data, and the download failed ({error}); {how_to_get()}") from error
    train = LabelledImages(train_images, train_labels.reshape(-1).astype(np.int64))
    test = LabelledImages(test_images, test_labels.reshape(-1).astype(np.int64))
    return ImageDataset(NAME, CLASSES, train, test, f"Keras download into {keras_cache_dir()}")


def load_cifar10(data_dir: Path | None = None, offline: bool = False) -> ImageDataset:
    """CIFAR-10 from data_dir if given, else from the Keras cache, else (unless offline) the network."""
    if data_dir is not None:
        if not data_dir.is_dir():
            raise TrainerError(f"--data-dir {data_dir} is not a directory; {how_to_get()}")
        return load_batches_dir(data_dir)
    cached = _cached_dir()
    if cached is not None:
        return load_batches_dir(cached)
    if offline:
        raise TrainerError(f"no CIFAR-10 data in {keras_cache_dir()} and --offline forbids downloading; {how_to_get()}")
    return _download()
