"""Figures drawn with matplotlib, headless: saved as PNG in a run directory and logged to its TensorBoard.

Figures are built with matplotlib's object API (`Figure`, no pyplot), so nothing opens a window, nothing is
global and any thread may draw. Each PNG written into a run directory is also logged as a TensorBoard image
(named after the file) under `<run dir>/tensorboard/figures`, where TensorBoard's Images tab shows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

DPI = 110
TENSORBOARD_FIGURES = Path("tensorboard") / "figures"


def new_figure(width: float, height: float) -> Figure:
    """A figure of width x height inches whose layout keeps labels, legends and colour bars inside it."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def log_png_to_tensorboard(path: Path, step: int = 0) -> None:
    """Log the PNG at path as a TensorBoard image named after the file, in its run dir's tensorboard/figures."""
    writer = tf.summary.create_file_writer(str(path.parent / TENSORBOARD_FIGURES))
    with writer.as_default():
        tf.summary.image(path.stem, tf.image.decode_png(path.read_bytes(), channels=3)[tf.newaxis], step=step)
    writer.close()


def save_figure(figure: Figure, path: Path, step: int = 0) -> Path:
    """Write figure as a PNG at path (its run dir) and log it to TensorBoard at step; return path."""
    figure.savefig(path, dpi=DPI, facecolor="white")
    log_png_to_tensorboard(path, step)
    return path


def thousands(value: float, _position: int | None = None) -> str:
    """A tick label with thousands separators (50,000), for step axes."""
    return f"{value:,.0f}"


def figure_pixels(figure: Figure) -> np.ndarray:
    """The figure rendered as an RGB uint8 array [H, W, 3] (for tests and further drawing)."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
