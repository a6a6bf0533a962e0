"""Fixtures for the trainer tests: IDX files, CIFAR-10 pickle batches and image folders written on the spot, and
one tiny classifier run shared by many tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

IDX_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_TYPE_CODES = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
TINY_TRAIN, TINY_TEST = 256, 64


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write array as an IDX file (gzipped when path ends in .gz), the way the MNIST files are stored."""
    header = bytes([0, 0, IDX_TYPE_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    content = header + array.tobytes()
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


def synthetic_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images with a bright band whose row depends on the label, so a CNN can learn them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count).astype(np.uint8)
    images = rng.integers(0, 60, size=(count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
    return images, labels


def write_dataset_dir(directory: Path, train: int = TINY_TRAIN, test: int = TINY_TEST, seed: int = 0) -> Path:
    """A folder with the four IDX .gz files of a synthetic MNIST-style dataset."""
    directory.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = synthetic_images(train, seed)
    test_images, test_labels = synthetic_images(test, seed + 1)
    arrays = {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }
    for key, array in arrays.items():
        write_idx(directory / f"{IDX_STEMS[key]}.gz", array)
    return directory


def write_cifar_batches(directory: Path, per_batch: int = 8, test: int = 8, seed: int = 0) -> Path:
    """A `cifar-10-batches-py` folder: five training batches, a test batch and batches.meta, pickled like the
    originals (protocol 2, byte-string keys, data uint8 [N, 3072] as red, green and blue planes)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [*(f"data_batch_{index}" for index in range(1, 6)), "test_batch"]
    for name in names:
        count = test if name == "test_batch" else per_batch
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(label) for label in rng.integers(0, 10, size=count)],
            b"data": rng.integers(0, 256, size=(count, 3072)).astype(np.uint8),
            b"filenames": [f"{index}.png".encode() for index in range(count)],
        }
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [b"airplane"] * 10, b"num_cases_per_batch": per_batch}
    (directory / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return directory


def write_mnist_pickle(directory: Path, splits: list[tuple[np.ndarray, np.ndarray]]) -> Path:
    """mnist.pkl.gz as the tutorials ship it: (train, validation, test) pairs, float32 rows of 784 values k/256."""
    rows = tuple((images.reshape(len(images), -1).astype(np.float32) / 256, labels) for images, labels in splits)
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(directory / "mnist.pkl.gz", "wb") as stream:
        pickle.dump(rows, stream, protocol=2)
    return directory / "mnist.pkl.gz"


def write_image_folder(
    directory: Path, classes: tuple[str, ...] = ("cat", "dog", "fox"), per_class: int = 6, size: int = 12
) -> Path:
    """One subfolder per class holding per_class RGB PNGs of size x size, a bright row band marking the class."""
    rng = np.random.default_rng(len(classes) * per_class)
    for class_id, name in enumerate(classes):
        (directory / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = rng.integers(0, 60, size=(size, size, 3)).astype(np.uint8)
            image[class_id * 3 : class_id * 3 + 2] = 255
            cv2.imwrite(str(directory / name / f"{index}.png"), image)
    return directory


@pytest.fixture
def idx_writer() -> Callable[[Path, np.ndarray], Path]:
    """The IDX writer, for tests that build their own files."""
    return write_idx


@pytest.fixture
def dataset_dir_writer() -> Callable[..., Path]:
    """Writes a synthetic dataset folder: (directory, train=256, test=64, seed=0) -> directory."""
    return write_dataset_dir


@pytest.fixture(scope="session")
def cifar_writer() -> Callable[..., Path]:
    """Writes tiny CIFAR-10 pickle batches: (directory, per_batch=8, test=8, seed=0) -> directory."""
    return write_cifar_batches


@pytest.fixture(scope="session")
def mnist_pickle_writer() -> Callable[[Path, list[tuple[np.ndarray, np.ndarray]]], Path]:
    """Writes mnist.pkl.gz: (directory, [(images uint8 [N, 28, 28], labels)] * 3) -> its path."""
    return write_mnist_pickle


@pytest.fixture(scope="session")
def image_folder_writer() -> Callable[..., Path]:
    """Writes a folder of class subfolders of PNGs: (directory, classes, per_class=6, size=12) -> directory."""
    return write_image_folder


@pytest.fixture
def error_line(capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Reads stderr and returns its one `error:` line, failing the test on a traceback or on more lines."""

    def read() -> str:
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, captured.err
        return lines[0]

    return read


@dataclass(frozen=True)
class TinyRun:
    """A finished `python -m trainer vision classifier` run on synthetic data."""

    exit_code: int
    argv: list[str]
    data_dir: Path
    run_dir: Path
    export_dir: Path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """One epoch of the classifier on 256 synthetic images through the CLI, trained in mixed bfloat16 (which the
    export must not keep), exported as version 1 with its model.tflite."""
    from trainer.cli import main

    root = tmp_path_factory.mktemp("tiny_run")
    data_dir = write_dataset_dir(root / "data")
    argv = ["vision", "classifier", "--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "32"]
    argv += ["--precision", "mixed_bfloat16", "--tflite"]
    argv += ["--export-root", str(root / "saved_models"), "--run-dir", str(root / "run"), "--model-name", "tiny"]
    exit_code = main(argv)
    return TinyRun(exit_code, argv, data_dir, root / "run", root / "saved_models" / "tiny" / "1")
