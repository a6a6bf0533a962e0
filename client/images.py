"""Image files as a model's image input: read with OpenCV, then fitted to the shape and dtype it declares.

The signature says what the model wants: ``[N,H,W,C]`` (C of 1, 3 or 4), ``[N,H,W]`` grey, or
``[N,H*W]`` flattened square grey (TF Serving's MNIST tutorial contract). Integer inputs get the
pixels as they are (uint8 0..255, the export contract's raw data); float inputs get them scaled to
[0, 1], which is what such flattened inputs take.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

from client.errors import InputError
from client.messages import SignatureSpec

COLOR_CONVERSIONS = {
    (1, 1): None,
    (1, 3): cv2.COLOR_GRAY2RGB,
    (1, 4): cv2.COLOR_GRAY2RGBA,
    (3, 1): cv2.COLOR_BGR2GRAY,
    (3, 3): cv2.COLOR_BGR2RGB,
    (3, 4): cv2.COLOR_BGR2RGBA,
    (4, 1): cv2.COLOR_BGRA2GRAY,
    (4, 3): cv2.COLOR_BGRA2RGB,
    (4, 4): cv2.COLOR_BGRA2RGBA,
}
"""(channels in the file, channels wanted) → OpenCV conversion; OpenCV reads BGR, models take RGB."""
DEFAULT_CHANNELS = 3


def image_input(signature_name: str, signature: SignatureSpec) -> tf.TensorSpec:
    """The signature's only input, which must be a fixed-rank image tensor (rank 2, 3 or 4)."""
    if len(signature.inputs) != 1:
        raise InputError(f'--image needs a signature with one input; "{signature_name}" has {sorted(signature.inputs)}')
    spec = next(iter(signature.inputs.values()))
    if spec.shape.rank not in (2, 3, 4) or (spec.shape.rank == 2 and _square_side(spec) is None):
        raise InputError(f'input "{spec.name}" of "{signature_name}" has shape {spec.shape}; that is not an image batch')
    return spec


def load_images(paths: list[str], spec: tf.TensorSpec) -> np.ndarray:
    """A batch of the files in ``paths``, each fitted to ``spec``; they must end up the same size."""
    images = [fit_image(read_image(path), spec) for path in paths]
    if len({image.shape for image in images}) > 1:
        raise InputError(f"the images have different sizes {[image.shape for image in images]}; the model takes any size")
    return np.stack(images)


def read_image(path: str) -> np.ndarray:
    """An image file as OpenCV decodes it (H×W grey, or H×W×3 BGR, or H×W×4 BGRA)."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"cannot read an image from {path!r} (missing, unreadable or not an image)")
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    return image


def fit_image(image: np.ndarray, spec: tf.TensorSpec) -> np.ndarray:
    """One image in the layout of one row of ``spec`` (without the batch dimension)."""
    height, width, channels = _wanted_size(spec)
    image = _convert_channels(image, channels)
    if height is not None and width is not None and image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    image = image.reshape(image.shape[0], image.shape[1], channels)
    if spec.shape.rank == 3:
        image = image[:, :, 0]
    elif spec.shape.rank == 2:
        image = image.reshape(-1)
    if spec.dtype.is_floating:
        return (image / 255.0).astype(spec.dtype.as_numpy_dtype)
    return image.astype(spec.dtype.as_numpy_dtype)


def _wanted_size(spec: tf.TensorSpec) -> tuple[int | None, int | None, int]:
    dims = spec.shape.as_list()
    if spec.shape.rank == 4:
        channels = dims[3] or DEFAULT_CHANNELS
        if channels not in (1, 3, 4):
            raise InputError(f'input "{spec.name}" wants {channels} channels; images have 1, 3 or 4')
        return dims[1], dims[2], channels
    if spec.shape.rank == 3:
        return dims[1], dims[2], 1
    side = _square_side(spec)
    return side, side, 1


def _square_side(spec: tf.TensorSpec) -> int | None:
    """The side of a flattened square grey image, for ``[N, side*side]`` inputs."""
    size = spec.shape.as_list()[1]
    side = math.isqrt(size) if size else 0
    return side if side and side * side == size else None


def _convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
    have = 1 if image.ndim == 2 else image.shape[2]
    conversion = COLOR_CONVERSIONS[(have, channels)]
    return image if conversion is None else cv2.cvtColor(image, conversion)
