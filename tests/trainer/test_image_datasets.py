"""CIFAR-10 pickle batches and folders of class subfolders: what is read, and the message for each bad input."""

from __future__ import annotations

import os
import pickle

import cv2
import numpy as np
import pytest

from trainer.data import cifar10
from trainer.data.image_datasets import LabelledImages
from trainer.data.image_folder import FolderOptions, load_image_folder
from trainer.errors import TrainerError

OWN_SIZE = FolderOptions(image_size=None, color_mode="rgb", test_fraction=0.25, seed=0)


def test_cifar_batches_become_channels_last_images(tmp_path, cifar_writer):
    directory = cifar_writer(tmp_path / "cifar-10-batches-py", per_batch=4, test=3)
    dataset = cifar10.load_cifar10(tmp_path)
    assert dataset.train.images.shape == (20, 32, 32, 3) and dataset.test.labels.shape == (3,)
    assert dataset.source == str(directory) and dataset.class_names[9] == "truck"
    raw = pickle.loads((directory / "test_batch").read_bytes(), encoding="bytes")[b"data"][0]
    np.testing.assert_array_equal(dataset.test.images[0, 0, :3], raw.reshape(3, 1024)[:, :3].T)


def test_cifar_is_found_in_the_keras_cache(tmp_path, monkeypatch, cifar_writer):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cifar_writer(tmp_path / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py", per_batch=2)
    assert len(cifar10.load_cifar10(offline=True).train) == 10


def test_cifar_offline_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(TrainerError, match="--offline forbids downloading; pass --data-dir DIR"):
        cifar10.load_cifar10(offline=True)


def test_cifar_dir_without_batches_lists_them(tmp_path):
    with pytest.raises(TrainerError, match="lacks data_batch_1, .*test_batch of CIFAR-10"):
        cifar10.load_cifar10(tmp_path)


def test_cifar_batch_of_the_wrong_image_size_is_refused(tmp_path, cifar_writer):
    directory = cifar_writer(tmp_path, per_batch=2)
    batch = {b"data": np.zeros((2, 28 * 28), np.uint8), b"labels": [0, 1]}
    (directory / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(TrainerError, match=r"data_batch_3: expected data \[N, 3072\].*got data \[2, 784\]"):
        cifar10.load_cifar10(directory)


class _RunsCode:
    def __reduce__(self):
        return os.system, ("echo pwned",)


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path, cifar_writer):
    directory = cifar_writer(tmp_path, per_batch=2)
    (directory / "test_batch").write_bytes(pickle.dumps({b"data": _RunsCode(), b"labels": []}))
    with pytest.raises(TrainerError, match=r"cannot read CIFAR-10 batch .*test_batch: refusing to load"):
        cifar10.load_cifar10(directory)


def test_folder_holds_out_a_seeded_test_fraction(tmp_path, image_folder_writer):
    directory = image_folder_writer(tmp_path / "pets", per_class=4)
    dataset = load_image_folder(directory, OWN_SIZE)
    assert dataset.class_names == ("cat", "dog", "fox") and dataset.image_shape == (12, 12, 3)
    assert (len(dataset.train), len(dataset.test)) == (9, 3) and dataset.train.images.dtype == np.uint8
    again = load_image_folder(directory, OWN_SIZE)
    np.testing.assert_array_equal(dataset.test.images, again.test.images)


def test_folder_pixels_and_labels_are_read_exactly(tmp_path, image_folder_writer):
    directory = image_folder_writer(tmp_path / "pets", per_class=2)
    dataset = load_image_folder(directory, OWN_SIZE)
    everything = LabelledImages(
        np.concatenate([dataset.train.images, dataset.test.images]),
        np.concatenate([dataset.train.labels, dataset.test.labels]),
    )
    bgr = cv2.imread(str(directory / "dog" / "1.png"))
    matches = [i for i, image in enumerate(everything.images) if np.array_equal(image, bgr[..., ::-1])]
    assert len(matches) == 1 and everything.labels[matches[0]] == 1


def test_train_and_test_subfolders_are_the_two_splits(tmp_path, image_folder_writer):
    image_folder_writer(tmp_path / "train", per_class=3)
    image_folder_writer(tmp_path / "test", per_class=1)
    dataset = load_image_folder(tmp_path, OWN_SIZE)
    assert (len(dataset.train), len(dataset.test)) == (9, 3)


def test_image_size_resizes_and_grayscale_gives_one_channel(tmp_path, image_folder_writer):
    directory = image_folder_writer(tmp_path / "pets", per_class=2, size=12)
    options = FolderOptions(image_size=8, color_mode="grayscale", test_fraction=0.25, seed=0)
    assert load_image_folder(directory, options).image_shape == (8, 8, 1)


def test_test_subfolder_with_other_classes_is_refused(tmp_path, image_folder_writer):
    image_folder_writer(tmp_path / "train", per_class=1)
    image_folder_writer(tmp_path / "test", classes=("cat", "dog"), per_class=1)
    with pytest.raises(TrainerError, match=r"test has classes \['cat', 'dog'\], but .*train has"):
        load_image_folder(tmp_path, OWN_SIZE)


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        (lambda root: root / "absent", r"--data-dir .*absent is not a directory"),
        (lambda root: root, r"holds 0 class subfolder\(s\)"),
        (lambda root: [(root / name).mkdir() for name in ("a", "b")] and root, "holds no images"),
    ],
)
def test_missing_or_empty_folders_are_named(tmp_path, prepare, expected):
    with pytest.raises(TrainerError, match=expected):
        load_image_folder(prepare(tmp_path), OWN_SIZE)


def test_corrupt_image_is_named(tmp_path, image_folder_writer):
    directory = image_folder_writer(tmp_path / "pets", per_class=2)
    (directory / "dog" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(TrainerError, match=r"cannot decode image .*dog/1.png: it is damaged"):
        load_image_folder(directory, OWN_SIZE)


def test_mixed_sizes_are_refused_unless_resized(tmp_path, image_folder_writer):
    directory = image_folder_writer(tmp_path / "pets", per_class=2)
    cv2.imwrite(str(directory / "fox" / "0.png"), np.zeros((10, 14, 3), np.uint8))
    with pytest.raises(TrainerError, match=r"fox/0.png is 10x14 but .*cat/0.png is 12x12; pass --image-size"):
        load_image_folder(directory, OWN_SIZE)
    resized = FolderOptions(image_size=12, color_mode="rgb", test_fraction=0.25, seed=0)
    assert load_image_folder(directory, resized).image_shape == (12, 12, 3)
