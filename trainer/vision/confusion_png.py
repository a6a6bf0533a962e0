"""A confusion-matrix picture (rows: true class, columns: predicted), drawn with OpenCV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

CELL = 48
LABEL_WIDTH = 130
HEADER_HEIGHT = 56
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _cell_colours(confusion: np.ndarray) -> np.ndarray:
    """Row-normalised counts through the viridis colour map, one BGR colour per cell."""
    totals = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    levels = np.round(255 * confusion / totals).astype(np.uint8)
    return cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS)


def _draw_cell(canvas: np.ndarray, row: int, column: int, count: int, colour: np.ndarray) -> None:
    top, left = HEADER_HEIGHT + row * CELL, LABEL_WIDTH + column * CELL
    cv2.rectangle(canvas, (left, top), (left + CELL - 1, top + CELL - 1), colour.tolist(), thickness=-1)
    text_colour = (0, 0, 0) if colour.mean() > 128 else (255, 255, 255)
    cv2.putText(canvas, str(count), (left + 4, top + CELL // 2 + 5), FONT, 0.4, text_colour, 1, cv2.LINE_AA)


def render_confusion(confusion: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """The confusion matrix as a BGR image with class names on the rows and class ids on the columns."""
    classes = len(class_names)
    canvas = np.full((HEADER_HEIGHT + classes * CELL + 8, LABEL_WIDTH + classes * CELL + 8, 3), 255, np.uint8)
    cv2.putText(canvas, "rows: true class, columns: predicted id", (8, 20), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    colours = _cell_colours(confusion)
    for row in range(classes):
        label = f"{row} {class_names[row]}"
        cv2.putText(canvas, label, (6, HEADER_HEIGHT + row * CELL + CELL // 2 + 5), FONT, 0.4, (0, 0, 0), 1)
        column_label_origin = (LABEL_WIDTH + row * CELL + CELL // 3, HEADER_HEIGHT - 8)
        cv2.putText(canvas, str(row), column_label_origin, FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for column in range(classes):
            _draw_cell(canvas, row, column, int(confusion[row, column]), colours[row, column])
    return canvas


def write_confusion_png(path: Path, confusion: np.ndarray, class_names: Sequence[str]) -> Path:
    """Render the confusion matrix and save it as a PNG at path."""
    if not cv2.imwrite(str(path), render_confusion(confusion, class_names)):
        raise OSError(f"OpenCV could not write {path}")
    return path
