"""Finding Fashion-MNIST/MNIST offline, the message when it is missing, and the hold-out split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainer.data import image_datasets
from trainer.data.image_datasets import LabelledImages, load_image_dataset
from trainer.data.pipeline import batched, holdout_split
from trainer.errors import TrainerError


def _refuse_download():
    raise AssertionError("the loader must not download when local data exists")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Point the Keras cache and the system folder of both datasets into tmp_path; downloads fail the test."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    for name, spec in list(image_datasets.DATASETS.items()):
        replaced = dataclasses.replace(spec, system_dir=tmp_path / "system" / name, download=_refuse_download)
        monkeypatch.setitem(image_datasets.DATASETS, name, replaced)
    return tmp_path


def test_data_dir_gives_uint8_images_with_a_channel_axis(tmp_path, dataset_dir_writer):
    directory = dataset_dir_writer(tmp_path / "data", train=20, test=8)
    dataset = load_image_dataset("fashion_mnist", directory)
    assert dataset.train.images.shape == (20, 28, 28, 1) and dataset.train.images.dtype == np.uint8
    assert dataset.test.labels.shape == (8,) and dataset.test.labels.dtype == np.int64
    assert dataset.class_names[0] == "T-shirt/top" and dataset.source == str(directory)
    assert dataset.image_shape == (28, 28, 1)


def test_keras_cache_comes_before_the_system_folder(isolated, dataset_dir_writer):
    cache = dataset_dir_writer(isolated / "keras_home" / "datasets" / "fashion-mnist", train=10, test=5)
    dataset_dir_writer(isolated / "system" / "fashion_mnist", train=12, test=5)
    dataset = load_image_dataset("fashion_mnist")
    assert dataset.source == str(cache) and len(dataset.train) == 10


def test_system_folder_is_used_when_the_cache_is_empty(isolated, dataset_dir_writer):
    (isolated / "keras_home" / "datasets" / "fashion-mnist").mkdir(parents=True)
    system = dataset_dir_writer(isolated / "system" / "fashion_mnist", train=12, test=5)
    dataset = load_image_dataset("fashion_mnist")
    assert dataset.source == str(system) and len(dataset.train) == 12


def test_mnist_reads_the_keras_cache_npz(isolated):
    cache = isolated / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    images, labels = np.zeros((6, 28, 28), np.uint8), np.arange(6, dtype=np.uint8)
    np.savez(cache / "mnist.npz", x_train=images, y_train=labels, x_test=images[:2], y_test=labels[:2])
    dataset = load_image_dataset("mnist")
    assert len(dataset.train) == 6 and dataset.class_names[3] == "3"


def test_missing_data_offline_says_how_to_get_it(isolated):
    with pytest.raises(TrainerError) as raised:
        load_image_dataset("fashion_mnist", offline=True)
    message = str(raised.value)
    assert "--offline" in message and "apt-get install dataset-fashion-mnist" in message and "--data-dir" in message
    assert "\n" not in message


def test_download_is_the_last_resort(isolated, monkeypatch):
    arrays = ((np.zeros((4, 28, 28), np.uint8), np.arange(4)), (np.zeros((2, 28, 28), np.uint8), np.arange(2)))
    spec = dataclasses.replace(image_datasets.DATASETS["fashion_mnist"], download=lambda: arrays)
    monkeypatch.setitem(image_datasets.DATASETS, "fashion_mnist", spec)
    dataset = load_image_dataset("fashion_mnist")
    assert "Keras download" in dataset.source and len(dataset.test) == 2


def test_failed_download_says_how_to_get_the_data(isolated, monkeypatch):
    def unreachable():
        raise OSError("network is unreachable")

    spec = dataclasses.replace(image_datasets.DATASETS["fashion_mnist"], download=unreachable)
    monkeypatch.setitem(image_datasets.DATASETS, "fashion_mnist", spec)
    with pytest.raises(TrainerError, match=r"network is unreachable.*apt-get install dataset-fashion-mnist"):
        load_image_dataset("fashion_mnist")


def test_missing_data_dir_is_named(tmp_path):
    with pytest.raises(TrainerError, match=r"--data-dir .*nowhere is not a directory"):
        load_image_dataset("fashion_mnist", tmp_path / "nowhere")


def test_empty_data_dir_lists_the_missing_files(tmp_path):
    with pytest.raises(TrainerError, match=r"lacks train-images-idx3-ubyte.gz, .*t10k-labels-idx1-ubyte.gz"):
        load_image_dataset("fashion_mnist", tmp_path)


def test_labels_out_of_range_are_rejected(tmp_path, dataset_dir_writer, idx_writer):
    directory = dataset_dir_writer(tmp_path / "data", train=4, test=2)
    idx_writer(directory / "t10k-labels-idx1-ubyte.gz", np.array([0, 10], np.uint8))
    with pytest.raises(TrainerError, match=r"labels must lie in 0..9"):
        load_image_dataset("fashion_mnist", directory)


def test_test_images_of_another_size_are_refused(tmp_path, dataset_dir_writer, idx_writer):
    directory = dataset_dir_writer(tmp_path / "data", train=4, test=2)
    idx_writer(directory / "t10k-images-idx3-ubyte.gz", np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(TrainerError, match=r"training images are 28x28x1 but test images are 32x32x1"):
        load_image_dataset("fashion_mnist", directory)


def _numbered(count: int) -> LabelledImages:
    return LabelledImages(np.arange(count, dtype=np.uint8).reshape(count, 1, 1, 1), np.arange(count) % 10)


def test_holdout_split_is_disjoint_limited_and_seeded():
    train, validation = holdout_split(_numbered(100), 0.1, seed=3, limit=50)
    assert (len(train), len(validation)) == (45, 5)
    assert not set(train.images.ravel()) & set(validation.images.ravel())
    again, _ = holdout_split(_numbered(100), 0.1, seed=3, limit=50)
    np.testing.assert_array_equal(train.images, again.images)


def test_holdout_split_needs_a_training_example():
    with pytest.raises(TrainerError, match="leave none for training"):
        holdout_split(_numbered(1), 0.5, seed=0)


def test_batched_pipeline_keeps_every_example():
    batches = list(batched(_numbered(10), batch_size=4, shuffle_seed=0))
    assert [len(labels) for _, labels in batches] == [4, 4, 2]
    seen = np.concatenate([images.numpy().ravel() for images, _ in batches])
    assert sorted(seen) == list(range(10))


def test_mnist_pickle_in_the_system_folder_is_found_offline(isolated, mnist_pickle_writer):
    rng = np.random.default_rng(0)
    splits = [(rng.integers(0, 256, (size, 28, 28), dtype=np.uint8), np.arange(size) % 10) for size in (4, 2, 3)]
    path = mnist_pickle_writer(isolated / "system" / "mnist", splits)
    dataset = load_image_dataset("mnist", offline=True)
    assert dataset.source == str(path) and len(dataset.train) == 6 and len(dataset.test) == 3
