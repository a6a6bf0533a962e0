"""A confusion-matrix picture (rows: true class, columns: predicted), drawn with matplotlib.

Cells are coloured by the share of the true class they hold (row-normalised, so a rare class is as visible as
a common one) and carry their counts; both axes are labelled with the class names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainer.figures import new_figure, save_figure

DARK_CELL_SHARE = 0.5  # above this share the viridis cell is light, so its count is written in black


def write_confusion_png(path: Path, confusion: np.ndarray, class_names: Sequence[str]) -> Path:
    """Draw the confusion matrix with class names and save it as a PNG at path (also logged to TensorBoard)."""
    classes = len(class_names)
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    side = 2.0 + 0.55 * classes
    figure = new_figure(side + 1.2, side)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="viridis", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class", shrink=0.8)
    font_size = 8 if classes <= 10 else 6
    for row in range(classes):
        for column in range(classes):
            colour = "black" if shares[row, column] > DARK_CELL_SHARE else "white"
            axes.text(column, row, str(int(confusion[row, column])), ha="center", va="center", color=colour,
                      fontsize=font_size)
    ticks = np.arange(classes)
    axes.set_xticks(ticks, labels=class_names, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(ticks, labels=class_names)
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    axes.set(xlabel="predicted class", ylabel="true class",
             title=f"confusion matrix: {int(confusion.sum()):,} examples, accuracy {accuracy:.1%}")
    return save_figure(figure, path)
