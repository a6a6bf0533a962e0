"""Tiling images into one picture and writing it as a PNG with OpenCV: sample grids of generative models."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

GAP = 2
GAP_LEVEL = 128


def image_grid(images: np.ndarray, columns: int) -> np.ndarray:
    """uint8 images [N,H,W,C] tiled row by row, `columns` per row, on a grey background with 2-pixel gaps."""
    count, height, width, channels = images.shape
    rows = max(1, math.ceil(count / columns))
    grid = np.full((GAP + rows * (height + GAP), GAP + columns * (width + GAP), channels), GAP_LEVEL, np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = GAP + row * (height + GAP), GAP + column * (width + GAP)
        grid[top : top + height, left : left + width] = image
    return grid


def write_png(path: Path, image: np.ndarray) -> Path:
    """Write a uint8 image [H,W], [H,W,1] (grey) or [H,W,3] (RGB) as a PNG; OpenCV wants BGR, so RGB is converted."""
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"OpenCV could not write {path}")
    return path
