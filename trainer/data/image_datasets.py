"""MNIST-style image datasets (Fashion-MNIST, MNIST), found offline first and downloaded only as a last resort.

Lookup order without `--data-dir`: the Keras cache (`$KERAS_HOME/datasets`, default `~/.keras/datasets`),
then the Debian package's folder (`/usr/share/datasets/<name>`), then Keras's own downloader. With
`--data-dir` only that folder is used, so a wrong path is reported instead of silently ignored. A folder
holds a dataset as its four IDX files, or for MNIST as the tutorials' `mnist.pkl.gz` (`trainer.data.mnist_pickle`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.data import mnist_pickle
from trainer.data.idx import read_idx
from trainer.errors import TrainerError

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")
MNIST_CLASSES = tuple(str(digit) for digit in range(10))
FOLDER_DATASET = "folder"  # a user's folder of class subfolders (trainer.data.image_folder)

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LabelledImages:
    """Images as uint8 [N, H, W, C] and their integer class ids [N]."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class ImageDataset:
    """A dataset's two official splits, its class names, and where it was read from."""

    name: str
    class_names: tuple[str, ...]
    train: LabelledImages
    test: LabelledImages
    source: str

    def __post_init__(self) -> None:
        """Refuse splits whose images differ in size: a network takes one input shape."""
        train_shape, test_shape = self.train.images.shape[1:], self.test.images.shape[1:]
        if train_shape != test_shape:
            raise TrainerError(
                f"{self.source}: training images are {_shape_text(train_shape)} but test images are "
                f"{_shape_text(test_shape)}; both splits need one image size"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image."""
        return self.train.images.shape[1:]

    def describe_splits(self, train: LabelledImages, validation: LabelledImages) -> dict[str, object]:
        """model.json's `data` for a job trained on train, validated on validation (held out of the training
        split by a seeded shuffle) and tested on this dataset's test split."""
        return {
            "dataset": self.name,
            "source": self.source,
            "splits": {"train": len(train), "validation": len(validation), "test": len(self.test)},
            "validation_from": "training split, seeded shuffle",
        }


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _download_fashion_mnist() -> Arrays:
    import keras

    return keras.datasets.fashion_mnist.load_data()


def _download_mnist() -> Arrays:
    import keras

    return keras.datasets.mnist.load_data()


@dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset can be found: its Keras cache entry, its system folder, its downloader."""

    name: str
    class_names: tuple[str, ...]
    keras_cache_entry: str
    system_dir: Path
    download: Callable[[], Arrays]
    apt_package: str | None = None
    pickle_file: str | None = None


DATASETS: dict[str, DatasetSpec] = {
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        class_names=FASHION_MNIST_CLASSES,
        keras_cache_entry="fashion-mnist",
        system_dir=Path("/usr/share/datasets/fashion-mnist"),
        download=_download_fashion_mnist,
        apt_package="dataset-fashion-mnist",
    ),
    "mnist": DatasetSpec(
        name="mnist",
        class_names=MNIST_CLASSES,
        keras_cache_entry="mnist.npz",
        system_dir=Path("/usr/share/datasets/mnist"),
        download=_download_mnist,
        pickle_file=mnist_pickle.FILENAME,
    ),
}


def keras_cache_dir() -> Path:
    """The folder where Keras's downloader caches datasets ($KERAS_HOME/datasets or ~/.keras/datasets)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _idx_path(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _missing_idx_files(directory: Path) -> list[str]:
    return [f"{stem}.gz" for stem in IDX_FILES.values() if _idx_path(directory, stem) is None]


def _labelled(images: np.ndarray, labels: np.ndarray, spec: DatasetSpec, source: str) -> LabelledImages:
    """Check shapes and label range, and give the images their channel axis."""
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise TrainerError(
            f"{source}: expected images [N, H, W] and labels [N], got {images.shape} and {labels.shape}"
        )
    if labels.size and not 0 <= labels.min() <= labels.max() < len(spec.class_names):
        raise TrainerError(f"{source}: labels must lie in 0..{len(spec.class_names) - 1}")
    return LabelledImages(images.astype(np.uint8)[..., np.newaxis], labels.astype(np.int64))


def _from_arrays(spec: DatasetSpec, arrays: Arrays, source: str) -> ImageDataset:
    (train_images, train_labels), (test_images, test_labels) = arrays
    train = _labelled(train_images, train_labels, spec, f"{source} (train)")
    test = _labelled(test_images, test_labels, spec, f"{source} (test)")
    return ImageDataset(spec.name, spec.class_names, train, test, source)


def _pickle_path(spec: DatasetSpec, directory: Path) -> Path | None:
    if spec.pickle_file is None or not (directory / spec.pickle_file).is_file():
        return None
    return directory / spec.pickle_file


def _holds_dataset(spec: DatasetSpec, directory: Path) -> bool:
    return directory.is_dir() and (not _missing_idx_files(directory) or _pickle_path(spec, directory) is not None)


def load_dir(spec: DatasetSpec, directory: Path) -> ImageDataset:
    """spec's dataset from directory: its IDX files, or its pickle where the folder has that instead."""
    pickled = _pickle_path(spec, directory)
    if pickled is not None and _missing_idx_files(directory):
        return _from_arrays(spec, mnist_pickle.read_mnist_pickle(pickled), str(pickled))
    return _load_idx_dir(spec, directory)


def _load_idx_dir(spec: DatasetSpec, directory: Path) -> ImageDataset:
    """Read the four IDX files of spec's dataset from directory."""
    paths = {key: _idx_path(directory, stem) for key, stem in IDX_FILES.items()}
    if None in paths.values():
        raise TrainerError(
            f"{directory} lacks {', '.join(_missing_idx_files(directory))} of the {spec.name} dataset; "
            + how_to_get(spec)
        )
    arrays = {key: read_idx(path) for key, path in paths.items()}
    pairs = ((arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"]))
    return _from_arrays(spec, pairs, str(directory))


def _load_npz(spec: DatasetSpec, path: Path) -> ImageDataset:
    """Read a Keras-cache .npz (x_train, y_train, x_test, y_test), as keras.datasets.mnist stores it."""
    try:
        with np.load(path) as archive:
            pairs = ((archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"]))
    except (OSError, ValueError, KeyError) as error:
        raise TrainerError(f"cannot read {path}: {error}") from error
    return _from_arrays(spec, pairs, str(path))


def how_to_get(spec: DatasetSpec) -> str:
    """A sentence telling the user how to make the dataset available offline."""
    files = ", ".join(f"{stem}.gz" for stem in IDX_FILES.values())
    ways = [f"pass --data-dir DIR with {files}"]
    if spec.pickle_file:
        ways.append(f"or DIR with {spec.pickle_file} (scripts/fetch_mnist.sh puts it in data/mnist)")
    if spec.apt_package:
        ways.insert(0, f"install it with 'apt-get install {spec.apt_package}'")
    ways.append("or run once with network access so Keras downloads it")
    return "; ".join(ways)


def _load_local(spec: DatasetSpec) -> ImageDataset | None:
    """The dataset from the first local source that has it complete, else None."""
    cached = keras_cache_dir() / spec.keras_cache_entry
    if cached.suffix == ".npz":
        if cached.is_file():
            return _load_npz(spec, cached)
    elif _holds_dataset(spec, cached):
        return load_dir(spec, cached)
    if _holds_dataset(spec, spec.system_dir):
        return load_dir(spec, spec.system_dir)
    return None


def _download(spec: DatasetSpec) -> ImageDataset:
    try:
        arrays = spec.download()
    except Exception as error:  # noqa: BLE001  (any network or archive failure means the same to the user)
        raise TrainerError(f"no local {spec.name} data, and the download failed ({error}); {how_to_get(spec)}")
    return _from_arrays(spec, arrays, f"Keras download into {keras_cache_dir()}")


def load_image_dataset(name: str, data_dir: Path | None = None, offline: bool = False) -> ImageDataset:
    """Load dataset `name` from data_dir if given, else from local sources, else (unless offline) the network."""
    if name not in DATASETS:
        raise TrainerError(f"unknown dataset '{name}'; expected one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    if data_dir is not None:
        if not data_dir.is_dir():
            raise TrainerError(f"--data-dir {data_dir} is not a directory; {how_to_get(spec)}")
        return load_dir(spec, data_dir)
    dataset = _load_local(spec)
    if dataset is not None:
        return dataset
    if offline:
        searched = f"{keras_cache_dir() / spec.keras_cache_entry} or {spec.system_dir}"
        raise TrainerError(f"no {name} data in {searched} and --offline forbids downloading; {how_to_get(spec)}")
    return _download(spec)
