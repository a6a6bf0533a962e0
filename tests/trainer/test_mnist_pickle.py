"""MNIST from the tutorials' `mnist.pkl.gz`: the official splits and exact bytes come back, bad files are named."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from trainer.data.image_datasets import load_image_dataset
from trainer.errors import TrainerError

SPLIT_SIZES = (5, 3, 4)  # the tutorials' train, validation and test splits


def _splits(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (size, 28, 28), dtype=np.uint8), rng.integers(0, 10, size)) for size in SPLIT_SIZES]


def _write(path: Path, content: object) -> Path:
    with gzip.open(path, "wb") as stream:
        pickle.dump(content, stream, protocol=2)
    return path


def test_the_pickle_gives_the_official_splits_with_their_exact_bytes(tmp_path, mnist_pickle_writer):
    splits = _splits()
    path = mnist_pickle_writer(tmp_path, splits)
    dataset = load_image_dataset("mnist", tmp_path)
    (train_images, train_labels), (validation_images, validation_labels), (test_images, test_labels) = splits
    np.testing.assert_array_equal(dataset.train.images[..., 0], np.concatenate([train_images, validation_images]))
    np.testing.assert_array_equal(dataset.train.labels, np.concatenate([train_labels, validation_labels]))
    np.testing.assert_array_equal(dataset.test.images[..., 0], test_images)
    np.testing.assert_array_equal(dataset.test.labels, test_labels)
    assert dataset.train.images.dtype == np.uint8 and dataset.source == str(path)


def test_the_idx_files_win_when_a_folder_has_both(tmp_path, dataset_dir_writer, mnist_pickle_writer):
    directory = dataset_dir_writer(tmp_path, train=6, test=2)
    mnist_pickle_writer(directory, _splits())
    assert load_image_dataset("mnist", directory).source == str(directory)


def test_fashion_mnist_does_not_take_the_mnist_pickle(tmp_path, mnist_pickle_writer):
    mnist_pickle_writer(tmp_path, _splits())
    with pytest.raises(TrainerError, match="lacks train-images-idx3-ubyte.gz"):
        load_image_dataset("fashion_mnist", tmp_path)


def test_a_folder_without_mnist_names_the_pickle_as_a_way_to_get_it(tmp_path):
    with pytest.raises(TrainerError, match=r"or DIR with mnist.pkl.gz \(scripts/fetch_mnist.sh"):
        load_image_dataset("mnist", tmp_path)


def test_values_that_are_not_bytes_over_256_are_refused(tmp_path):
    rows = tuple((np.full((2, 784), 0.3, np.float32), np.zeros(2, np.int64)) for _ in SPLIT_SIZES)
    _write(tmp_path / "mnist.pkl.gz", rows)
    with pytest.raises(TrainerError, match=r"pixel values must be k/256"):
        load_image_dataset("mnist", tmp_path)


def test_images_of_another_size_are_refused(tmp_path):
    rows = tuple((np.zeros((2, 32 * 32), np.float32), np.zeros(2, np.int64)) for _ in SPLIT_SIZES)
    _write(tmp_path / "mnist.pkl.gz", rows)
    with pytest.raises(TrainerError, match=r"expected images \[N, 784\] and N labels, got \[2, 1024\]"):
        load_image_dataset("mnist", tmp_path)


def test_a_pickle_of_something_else_is_named(tmp_path):
    _write(tmp_path / "mnist.pkl.gz", {"train": [1, 2, 3]})
    with pytest.raises(TrainerError, match="is not the MNIST pickle: expected three"):
        load_image_dataset("mnist", tmp_path)


def test_a_truncated_file_is_named(tmp_path, mnist_pickle_writer):
    path = mnist_pickle_writer(tmp_path, _splits())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(TrainerError, match=r"cannot read the MNIST pickle .*mnist.pkl.gz"):
        load_image_dataset("mnist", tmp_path)


class _RunsCode:
    def __reduce__(self):
        return os.system, ("echo pwned",)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    _write(tmp_path / "mnist.pkl.gz", (_RunsCode(),))
    with pytest.raises(TrainerError, match=r"refusing to load (posix|os)\.system"):
        load_image_dataset("mnist", tmp_path)
