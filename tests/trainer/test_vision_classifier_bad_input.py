"""Bad input to `python -m trainer vision classifier`: one `error:` line, exit status 2, nothing touched.

Every case runs next to an existing export of the same model name, which must stay exactly as it was.
"""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from trainer.cli import main

EXISTING_MODEL_JSON = {"family": "image_classifier", "note": "an earlier export"}


def _break_an_image(pets):
    (pets / "dog" / "0.png").write_bytes(b"not an image at all")


def _resize_an_image(pets):
    cv2.imwrite(str(pets / "fox" / "1.png"), np.zeros((20, 16, 3), np.uint8))


def _empty_the_folder(pets):
    for image in pets.rglob("*.png"):
        image.unlink()


@pytest.fixture
def existing_export(tmp_path):
    """saved_models/folder_classifier/1 with a model.json, as an earlier run would have left it."""
    model_json = tmp_path / "saved_models" / "folder_classifier" / "1" / "assets.extra" / "model.json"
    model_json.parent.mkdir(parents=True)
    model_json.write_text(json.dumps(EXISTING_MODEL_JSON))
    return model_json


@pytest.mark.parametrize(
    ("spoil", "data_dir_name", "expected"),
    [
        (None, "absent", r"--data-dir \S*absent is not a directory"),
        (_empty_the_folder, "pets", r"pets holds no images \(.bmp, .gif, .jpeg, .jpg, .png\)"),
        (_break_an_image, "pets", r"cannot decode image \S*dog/0.png: it is damaged or not a PNG"),
        (_resize_an_image, "pets", r"fox/1.png is 20x16 but \S*cat/0.png is 12x12; pass --image-size N"),
    ],
)
def test_bad_folder_is_one_line_and_touches_nothing(
    tmp_path, existing_export, image_folder_writer, error_line, spoil, data_dir_name, expected
):
    pets = image_folder_writer(tmp_path / "pets", per_class=2)
    if spoil:
        spoil(pets)
    argv = ["vision", "classifier", "--dataset", "folder", "--data-dir", str(tmp_path / data_dir_name)]
    argv += ["--export-root", str(tmp_path / "saved_models"), "--model-name", "folder_classifier"]
    assert main([*argv, "--run-dir", str(tmp_path / "run")]) == 2
    line = error_line()
    assert re.search(expected, line), line
    assert [p.name for p in existing_export.parents[2].iterdir()] == ["1"]
    assert json.loads(existing_export.read_text()) == EXISTING_MODEL_JSON and not (tmp_path / "run").exists()


def test_more_deep_blocks_than_the_images_allow_is_one_line_and_touches_nothing(
    tmp_path, existing_export, image_folder_writer, error_line
):
    argv = ["vision", "classifier", "--dataset", "folder", "--data-dir", str(image_folder_writer(tmp_path / "pets"))]
    argv += ["--arch", "deep", "--deep-blocks", "8x1,8x1,8x1,8x1", "--export-root", str(tmp_path / "saved_models"),
             "--model-name", "folder_classifier"]
    assert main([*argv, "--run-dir", str(tmp_path / "run")]) == 2
    assert "4 blocks, each halving the image, but 12-pixel images allow at most 3" in error_line()
    assert json.loads(existing_export.read_text()) == EXISTING_MODEL_JSON and not (tmp_path / "run").exists()


def test_model_name_of_another_family_is_refused_before_loading_data(tmp_path, error_line, cifar_writer):
    model_json = tmp_path / "saved_models" / "generator" / "1" / "assets.extra" / "model.json"
    model_json.parent.mkdir(parents=True)
    model_json.write_text(json.dumps({"family": "gan"}))
    argv = ["vision", "classifier", "--dataset", "cifar10", "--data-dir", str(cifar_writer(tmp_path / "c", 2, 2))]
    argv += ["--export-root", str(tmp_path / "saved_models"), "--model-name", "generator"]
    assert main([*argv, "--run-dir", str(tmp_path / "run")]) == 2
    assert "already holds version 1 of family 'gan', not 'image_classifier'" in error_line()
    assert json.loads(model_json.read_text()) == {"family": "gan"} and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--dataset", "folder"], "--dataset folder needs --data-dir DIR"),
        (["--devices", "/cpu:0"], "--devices applies only to --distribute mirrored"),
        (["--test-fraction", "1"], "--test-fraction must lie in (0, 1), got 1.0"),
        (["--distribute", "mirrored", "--devices", "/gpu:9"], "--devices: no device '/gpu:9' on this machine"),
        (["--dataset", "mnist", "--flip"], "--flip would change the class of mnist images"),
        (["--erasing", "1.5"], "--erasing is a probability in [0, 1], got 1.5"),
        (["--label-smoothing", "1"], "--label-smoothing must lie in [0, 1), got 1.0"),
        (["--weight-decay", "-0.1"], "--weight-decay must not be negative, got -0.1"),
        (["--arch", "cnn", "--erasing", "0.5"], "--flip and --erasing augment the deep net only (--arch deep), not --arch cnn"),
        (["--arch", "cnn", "--deep-blocks", "32x2"], "--deep-blocks shapes the deep net only (--arch deep), not --arch cnn"),
        (["--deep-blocks", "32x2,64"], "--deep-blocks: '64' is not FILTERSxCONVOLUTIONS"),
    ],
)
def test_bad_flags_are_one_line(tmp_path, error_line, flags, expected):
    argv = ["vision", "classifier", *flags, "--export-root", str(tmp_path / "s"), "--run-dir", str(tmp_path / "r")]
    assert main(argv) == 2
    assert expected in error_line()
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()
