"""A user's own images: a folder of class subfolders, read with `keras.utils.image_dataset_from_directory`.

Two layouts:
- `DIR/<class>/<images>`: the test split is a seeded held-out `test_fraction` of all images;
- `DIR/train/<class>/...` and `DIR/test/<class>/...`: the `test/` folder is the test split (same classes).
Class names are the subfolder names in sorted order; images are PNG, JPEG, GIF or BMP. Every image is decoded
once before loading, so a damaged file is named, and so are mixed sizes: without `image_size` all images must
share one size (the model's input shape); with it, every image is resized to image_size x image_size. Images
are kept in memory as uint8 like the other datasets, which suits folders of up to some 100k small images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from trainer.data.image_datasets import FOLDER_DATASET, ImageDataset, LabelledImages
from trainer.data.pipeline import holdout_split
from trainer.errors import TrainerError

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what image_dataset_from_directory reads
LOAD_BATCH = 256


@dataclass(frozen=True)
class FolderOptions:
    """How to read a folder: target size (None: the images' own), colour mode, test hold-out and its seed."""

    image_size: int | None
    color_mode: str
    test_fraction: float
    seed: int


def class_dirs(directory: Path) -> list[Path]:
    """The class subfolders of directory, sorted by name as Keras orders the classes."""
    return sorted(child for child in directory.iterdir() if child.is_dir())


def image_files(directory: Path) -> list[Path]:
    """Every image file below the class subfolders of directory."""
    return [
        path
        for class_dir in class_dirs(directory)
        for path in sorted(class_dir.rglob("*"))
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    ]


def _check_classes(directory: Path) -> list[str]:
    """The class names of directory, which must hold at least two class subfolders with images in them."""
    names = [path.name for path in class_dirs(directory)]
    if len(names) < 2:
        raise TrainerError(
            f"{directory} holds {len(names)} class subfolder(s); expected one subfolder per class, at least two"
        )
    if not image_files(directory):
        raise TrainerError(f"{directory} holds no images ({', '.join(IMAGE_SUFFIXES)}) in its class subfolders")
    return names


def _split_dirs(directory: Path) -> tuple[Path, Path | None]:
    """(training folder, test folder or None) for the two layouts of the module docstring."""
    if not directory.is_dir():
        raise TrainerError(f"--data-dir {directory} is not a directory; expected a folder of class subfolders")
    train, test = directory / "train", directory / "test"
    if train.is_dir() and test.is_dir():
        train_classes, test_classes = _check_classes(train), _check_classes(test)
        if train_classes != test_classes:
            raise TrainerError(f"{test} has classes {test_classes}, but {train} has {train_classes}")
        return train, test
    _check_classes(directory)
    return directory, None


def _decoded_sizes(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """(height, width) of every path that decodes; damaged files are left out (tf.data ignore_errors)."""

    def size(path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
        return path, tf.shape(image)[:2]

    names = tf.data.Dataset.from_tensor_slices([str(path) for path in paths])
    decoded = names.map(size, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=False)
    return {path.decode(): (int(height), int(width)) for path, (height, width) in decoded.as_numpy_iterator()}


def check_images(paths: list[Path], image_size: int | None) -> tuple[int, int]:
    """The (height, width) the model will see; raises for a file that does not decode or for mixed sizes."""
    sizes = _decoded_sizes(paths)
    for path in paths:
        if str(path) not in sizes:
            raise TrainerError(f"cannot decode image {path}: it is damaged or not a PNG, JPEG, GIF or BMP file")
    if image_size is not None:
        return image_size, image_size
    first = sizes[str(paths[0])]
    for path in paths:
        if sizes[str(path)] != first:
            height, width = sizes[str(path)]
            raise TrainerError(
                f"{path} is {height}x{width} but {paths[0]} is {first[0]}x{first[1]}; "
                "pass --image-size N to resize every image to NxN"
            )
    return first


def _read_split(directory: Path, size: tuple[int, int], color_mode: str) -> tuple[LabelledImages, list[str]]:
    """Every image of directory as uint8 [N, H, W, C] with its class id, and the class names."""
    dataset = keras.utils.image_dataset_from_directory(
        directory, label_mode="int", color_mode=color_mode, batch_size=LOAD_BATCH, image_size=size,
        shuffle=False, verbose=False,
    )
    batches = list(dataset.as_numpy_iterator())
    images = np.concatenate([batch_images for batch_images, _ in batches])
    labels = np.concatenate([batch_labels for _, batch_labels in batches])
    pixels = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return LabelledImages(pixels, labels.astype(np.int64)), list(dataset.class_names)


def load_image_folder(directory: Path | None, options: FolderOptions) -> ImageDataset:
    """The folder's training and test splits (see the module docstring for layouts and checks)."""
    if directory is None:
        raise TrainerError("--dataset folder needs --data-dir DIR, a folder with one subfolder per class")
    train_dir, test_dir = _split_dirs(directory)
    size = check_images(image_files(train_dir) + (image_files(test_dir) if test_dir else []), options.image_size)
    train, class_names = _read_split(train_dir, size, options.color_mode)
    if test_dir is not None:
        test, _ = _read_split(test_dir, size, options.color_mode)
    else:
        train, test = holdout_split(train, options.test_fraction, options.seed)
    return ImageDataset(FOLDER_DATASET, tuple(class_names), train, test, str(directory))
