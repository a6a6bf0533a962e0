"""`python -m trainer vision samples`: exact PNGs, labels.csv, seeded choice, one-line errors, no partial folders."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.cli import main
from trainer.data.image_datasets import FASHION_MNIST_CLASSES
from trainer.vision import samples
from trainer.vision.samples_config import SamplesConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_SIZE, TEST_SIZE = 30, 20


@dataclasses.dataclass(frozen=True)
class SourceData:
    """IDX files on disk and the arrays written into them."""

    directory: Path
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def _random_split(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    images = rng.integers(0, 256, size=(size, 28, 28)).astype(np.uint8)
    return images, rng.integers(0, 10, size=size).astype(np.uint8)


@pytest.fixture
def source(tmp_path, idx_writer) -> SourceData:
    """A dataset folder of random images over the full 0..255 range, so any pixel change shows."""
    rng = np.random.default_rng(7)
    data = SourceData(tmp_path / "data", _random_split(rng, TRAIN_SIZE), _random_split(rng, TEST_SIZE))
    data.directory.mkdir()
    for prefix, (images, labels) in (("train", data.train), ("t10k", data.test)):
        idx_writer(data.directory / f"{prefix}-images-idx3-ubyte.gz", images)
        idx_writer(data.directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return data


@pytest.fixture
def out_parent(tmp_path) -> Path:
    """The folder that holds --out, so tests can see every sibling a job leaves behind."""
    parent = tmp_path / "samples"
    parent.mkdir()
    return parent


def _run(source: SourceData, out: Path, *flags: str) -> int:
    return main(["vision", "samples", "--data-dir", str(source.directory), "--out", str(out), *flags])


def _labels_csv(out: Path) -> list[dict[str, str]]:
    with (out / "labels.csv").open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert rows and list(rows[0]) == ["file", "label_id", "label_name"]
    return rows


def _pngs(out: Path) -> list[str]:
    return sorted(path.name for path in out.glob("*.png"))


def test_pngs_are_the_source_pixels_and_labels_csv_matches(source, out_parent):
    out = out_parent / "test_samples"
    assert _run(source, out, "--count", "12", "--seed", "3") == 0
    images, labels = source.test
    rows = _labels_csv(out)
    assert [row["file"] for row in rows] == _pngs(out) and len(rows) == 12
    for row in rows:
        index, label_in_name = map(int, Path(row["file"]).stem.split("_"))
        assert label_in_name == int(row["label_id"]) == labels[index]
        assert row["label_name"] == FASHION_MNIST_CLASSES[labels[index]]
        png = cv2.imread(str(out / row["file"]), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint8 and png.shape == (28, 28)
        np.testing.assert_array_equal(png, images[index])
    assert sorted(path.name for path in out_parent.iterdir()) == ["test_samples"]


def test_seed_chooses_the_subset_in_split_order(source, out_parent):
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert _run(source, out_parent / name, "--count", "8", "--seed", seed) == 0
    first, again, other = (_pngs(out_parent / name) for name in "abc")
    assert first == again and first != other
    indices = [int(name.split("_")[0]) for name in first]
    assert indices == sorted(set(indices))


def test_count_equal_to_the_split_writes_every_image_of_the_train_split(source, out_parent):
    out = out_parent / "all"
    assert _run(source, out, "--dataset", "mnist", "--split", "train", "--count", str(TRAIN_SIZE)) == 0
    rows = _labels_csv(out)
    assert [int(row["file"][:5]) for row in rows] == list(range(TRAIN_SIZE))
    assert [int(row["label_id"]) for row in rows] == list(source.train[1])
    assert all(row["label_name"] == row["label_id"] for row in rows)
    np.testing.assert_array_equal(cv2.imread(str(out / rows[-1]["file"]), cv2.IMREAD_UNCHANGED), source.train[0][-1])


def test_an_existing_empty_folder_is_filled(source, out_parent):
    (out_parent / "empty").mkdir()
    assert _run(source, out_parent / "empty", "--count", "2") == 0
    assert len(_pngs(out_parent / "empty")) == 2


def test_overwrite_replaces_earlier_samples_completely(source, out_parent):
    out = out_parent / "out"
    assert _run(source, out, "--count", "6", "--seed", "1") == 0
    assert _run(source, out, "--count", "3", "--seed", "2", "--overwrite") == 0
    assert len(_pngs(out)) == 3 and [row["file"] for row in _labels_csv(out)] == _pngs(out)
    assert sorted(path.name for path in out_parent.iterdir()) == ["out"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--count", "0"], "--count must be at least 1, got 0"),
        (["--count", "-5"], "--count must be at least 1, got -5"),
        (["--count", str(TEST_SIZE + 1)], f"--count {TEST_SIZE + 1} exceeds the {TEST_SIZE} images of the test split"),
        (["--seed", "-1"], "--seed must be non-negative, got -1"),
        (["--split", "validation"], "invalid choice: 'validation'"),
    ],
)
def test_bad_flags_exit_2_with_one_line_and_write_nothing(error_line, source, out_parent, flags, expected):
    assert _run(source, out_parent / "out", *flags) == 2
    assert expected in error_line()
    assert list(out_parent.iterdir()) == []


def test_missing_out_flag_is_named(error_line):
    assert main(["vision", "samples"]) == 2
    assert "the following arguments are required: --out" in error_line()


def test_missing_data_exits_2_naming_the_folder(error_line, tmp_path, out_parent):
    argv = ["vision", "samples", "--data-dir", str(tmp_path / "absent"), "--out", str(out_parent / "out")]
    assert main(argv) == 2
    assert "absent is not a directory" in error_line()
    assert list(out_parent.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], "already exists and is not empty; pass --overwrite"),
        (["--overwrite"], "holds no labels.csv, so it is not a samples folder"),
    ],
)
def test_a_folder_with_other_files_is_left_untouched(error_line, source, out_parent, flags, expected):
    out = out_parent / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert _run(source, out, *flags) == 2
    assert expected in error_line()
    assert [path.name for path in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me"
    assert sorted(path.name for path in out_parent.iterdir()) == ["out"]


def test_out_that_is_a_file_exits_2(error_line, source, out_parent):
    (out_parent / "out").write_text("a file")
    assert _run(source, out_parent / "out", "--overwrite") == 2
    assert "exists and is not a directory" in error_line()
    assert (out_parent / "out").read_text() == "a file"


def _imwrite_failing_after(calls: int, failure: BaseException | None = None):
    """cv2.imwrite that writes `calls` files, then returns False (or raises failure) as a full disk would."""
    written = []

    def imwrite(path: str, image: np.ndarray) -> bool:
        if len(written) == calls:
            if failure is not None:
                raise failure
            return False
        written.append(path)
        return cv2.imwrite(path, image)

    return imwrite


def test_a_failed_write_leaves_no_folder_behind(error_line, monkeypatch, source, out_parent):
    monkeypatch.setattr(samples.cv2, "imwrite", _imwrite_failing_after(3))
    assert _run(source, out_parent / "out", "--count", "8") == 2
    assert "OpenCV could not write" in error_line()
    assert list(out_parent.iterdir()) == []


def test_an_interrupted_job_leaves_no_folder_behind(capsys, monkeypatch, source, out_parent):
    monkeypatch.setattr(samples.cv2, "imwrite", _imwrite_failing_after(3, KeyboardInterrupt()))
    assert _run(source, out_parent / "out", "--count", "8") == 130
    assert "interrupted: nothing was written" in capsys.readouterr().err
    assert list(out_parent.iterdir()) == []


def test_a_failed_overwrite_keeps_the_earlier_samples(error_line, monkeypatch, source, out_parent):
    out = out_parent / "out"
    assert _run(source, out, "--count", "4") == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    monkeypatch.setattr(samples.cv2, "imwrite", _imwrite_failing_after(2))
    assert _run(source, out, "--count", "8", "--overwrite") == 2
    assert "OpenCV could not write" in error_line()
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert sorted(path.name for path in out_parent.iterdir()) == ["out"]


def test_help_documents_every_config_field():
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "vision", "samples", "--help"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    for field in dataclasses.fields(SamplesConfig):
        assert "--" + field.name.replace("_", "-") in result.stdout
