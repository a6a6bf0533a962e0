"""Image files as a model's image input: read with OpenCV, then fitted to the shape and dtype it declares.

The signature says what the model wants: ``[N,H,W,C]`` (C of 1, 3 or 4; RGB order), ``[N,H,W]``
grey, or ``[N,H*W]`` flattened square grey (TF Serving's MNIST tutorial contract). Integer inputs get
the pixels as they are (uint8 0..255, the export contract's raw data); float inputs get them scaled to
[0, 1], which is what such flattened inputs take. Unknown heights and widths keep the file's size.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

from client.errors import InputError
from client.messages import SignatureSpec

READ_FLAG_BY_CHANNELS = {1: cv2.IMREAD_GRAYSCALE, 3: cv2.IMREAD_COLOR, 4: cv2.IMREAD_COLOR}
TO_RGB_BY_CHANNELS = {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGR2RGBA}
"""OpenCV decodes to 8-bit BGR; models take RGB (and get an opaque alpha channel when they want one)."""
FROM_RGB_BY_CHANNELS = {1: cv2.COLOR_RGB2GRAY, 4: cv2.COLOR_RGB2RGBA}
"""In-memory frames (video, camera, gymnasium renders) come as RGB; grey and RGBA inputs are converted from it."""
DEFAULT_CHANNELS = 3


def image_input(signature_name: str, signature: SignatureSpec) -> tf.TensorSpec:
    """The signature's only input, which must be a batch of images (rank 2, 3 or 4)."""
    if len(signature.inputs) != 1:
        raise InputError(f'--image needs a signature with one input; "{signature_name}" has {sorted(signature.inputs)}')
    spec = next(iter(signature.inputs.values()))
    if spec.shape.rank not in (2, 3, 4) or (spec.shape.rank == 2 and _square_side(spec) is None):
        raise InputError(f'input "{spec.name}" of "{signature_name}" has shape {spec.shape}: not an image batch')
    return spec


def load_images(paths: list[str], spec: tf.TensorSpec) -> np.ndarray:
    """A batch of the files in ``paths``, each fitted to ``spec``; they must end up the same size."""
    height, width, channels = _wanted_size(spec)
    images = [_fit(read_image(path, channels), height, width, spec) for path in paths]
    if len({image.shape for image in images}) > 1:
        raise InputError(f"the images differ in size {[image.shape for image in images]}; resize them to one size")
    return np.stack(images)


def fit_frame(frame: np.ndarray, spec: tf.TensorSpec) -> np.ndarray:
    """One in-memory H×W×3 RGB uint8 frame fitted to ``spec`` like an image file (no batch dimension).

    The streaming client uses it so that frames and files reach a model prepared the same way.
    """
    height, width, channels = _wanted_size(spec)
    if channels in FROM_RGB_BY_CHANNELS:
        frame = cv2.cvtColor(frame, FROM_RGB_BY_CHANNELS[channels])
    return _fit(frame.reshape(frame.shape[0], frame.shape[1], channels), height, width, spec)


def read_image(path: str, channels: int) -> np.ndarray:
    """An image file as H×W×``channels`` uint8, RGB(A) or grey."""
    image = cv2.imread(path, READ_FLAG_BY_CHANNELS[channels])
    if image is None:
        raise InputError(f"cannot read an image from {path!r} (missing, unreadable or not an image)")
    if channels in TO_RGB_BY_CHANNELS:
        image = cv2.cvtColor(image, TO_RGB_BY_CHANNELS[channels])
    return image.reshape(image.shape[0], image.shape[1], channels)


def _fit(image: np.ndarray, height: int | None, width: int | None, spec: tf.TensorSpec) -> np.ndarray:
    if height is not None and width is not None and image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA).reshape(height, width, -1)
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
        if channels not in READ_FLAG_BY_CHANNELS:
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
