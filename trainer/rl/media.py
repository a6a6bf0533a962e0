"""What a person looks at after a run: the learning curve as a PNG and an evaluation episode as an MP4 (opencv)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

CURVE_SIZE = (800, 480)  # width, height
MARGIN = 60
EPISODE_COLOUR = (200, 170, 120)  # BGR: light blue dots, one per training episode
EVAL_COLOUR = (30, 30, 220)  # BGR: red line, evaluation means
FONT = cv2.FONT_HERSHEY_SIMPLEX
VIDEO_FPS = 30
VIDEO_CODEC = "mp4v"


def _scale(values: np.ndarray, low: float, high: float, start: int, end: int) -> np.ndarray:
    span = high - low or 1.0
    return (start + (values - low) / span * (end - start)).astype(np.int32)


def write_learning_curve(path: Path, episodes: Sequence[tuple[int, float]], evaluations: Sequence[tuple[int, float]],
                         title: str) -> None:
    """Training-episode returns (dots) and evaluation means (line) against environment steps."""
    width, height = CURVE_SIZE
    canvas = np.full((height, width, 3), 255, np.uint8)
    points = np.array([*episodes, *evaluations], np.float64).reshape(-1, 2)
    steps_max = max(points[:, 0].max(initial=1.0), 1.0)
    low, high = points[:, 1].min(initial=0.0), points[:, 1].max(initial=1.0)

    def pixels(series: Sequence[tuple[int, float]]) -> np.ndarray:
        array = np.array(series, np.float64).reshape(-1, 2)
        xs = _scale(array[:, 0], 0, steps_max, MARGIN, width - MARGIN // 2)
        ys = _scale(array[:, 1], low, high, height - MARGIN, MARGIN // 2)
        return np.stack([xs, ys], axis=1)

    cv2.rectangle(canvas, (MARGIN, MARGIN // 2), (width - MARGIN // 2, height - MARGIN), (0, 0, 0), 1)
    for x, y in pixels(episodes):
        cv2.circle(canvas, (int(x), int(y)), 2, EPISODE_COLOUR, -1)
    if evaluations:
        cv2.polylines(canvas, [pixels(evaluations).reshape(-1, 1, 2)], False, EVAL_COLOUR, 2)
    labels = [(f"{high:.1f}", (4, MARGIN // 2 + 10)), (f"{low:.1f}", (4, height - MARGIN)),
              ("0", (MARGIN, height - MARGIN + 20)), (f"{int(steps_max):,} steps", (width - 200, height - MARGIN + 20)),
              (f"{title}: dots = training episodes, line = evaluation mean", (MARGIN, height - 15))]
    for text, origin in labels:
        cv2.putText(canvas, text, origin, FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), canvas)


def annotate(frame: np.ndarray, text: str) -> np.ndarray:
    """An RGB frame, enlarged to at least 320 px wide, as BGR with text drawn in its top-left corner."""
    scale = max(1, 320 // frame.shape[1])
    bgr = cv2.cvtColor(np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1), cv2.COLOR_RGB2BGR)
    cv2.putText(bgr, text, (6, 18), FONT, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(bgr, text, (6, 18), FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return bgr


def write_video(path: Path, frames: Sequence[np.ndarray], captions: Sequence[str], fps: int = VIDEO_FPS) -> bool:
    """Write RGB frames with one caption each as an MP4 at fps; False when there is nothing to write or no codec."""
    if not frames:
        return False
    annotated = [annotate(frame, caption) for frame, caption in zip(frames, captions)]
    height, width = annotated[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*VIDEO_CODEC), fps, (width, height))
    if not writer.isOpened():
        return False
    for frame in annotated:
        writer.write(frame)
    writer.release()
    return True
