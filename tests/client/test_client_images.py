"""Image files fitted to the image input a signature declares."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf

from client.errors import InputError
from client.images import image_input, load_images
from client.messages import SignatureSpec


@pytest.fixture
def blue_png(tmp_path) -> str:
    """A 40×30 pure blue picture (OpenCV writes BGR)."""
    path = str(tmp_path / "blue.png")
    image = np.zeros((30, 40, 3), np.uint8)
    image[:, :, 0] = 255
    cv2.imwrite(path, image)
    return path


def spec(shape: list[int | None], dtype: tf.DType = tf.uint8) -> tf.TensorSpec:
    return tf.TensorSpec(shape, dtype, name="images")


def test_resized_to_the_declared_grey_shape(blue_png):
    batch = load_images([blue_png, blue_png], spec([None, 28, 28, 1]))
    assert batch.shape == (2, 28, 28, 1) and batch.dtype == np.uint8


def test_colour_comes_in_rgb_order_at_its_own_size_when_the_size_is_free(blue_png):
    batch = load_images([blue_png], spec([None, None, None, 3]))
    assert batch.shape == (1, 30, 40, 3)
    assert batch[0, 0, 0].tolist() == [0, 0, 255]


def test_flattened_float_input_is_scaled_to_unit_range(blue_png):
    batch = load_images([blue_png], spec([None, 784], tf.float32))
    assert batch.shape == (1, 784) and batch.dtype == np.float32
    assert 0.0 < batch.max() <= 1.0


def test_inputs_that_are_not_images_are_refused():
    signature = SignatureSpec("tensorflow/serving/predict", {"x": spec([None, 10])}, {})
    with pytest.raises(InputError, match="not an image batch"):
        image_input("serving_default", signature)


def test_unreadable_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match="nothing.png"):
        load_images([str(tmp_path / "nothing.png")], spec([None, 28, 28, 1]))
