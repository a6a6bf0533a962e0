"""Where annotated frames go: an MP4/AVI written with OpenCV's VideoWriter, or a live OpenCV window.

Each frame gets its caption lines drawn with ``cv2.putText``; small frames (28×28 test images, say) are
scaled up first so the text stays legible. Dropped frames are written too, marked in red, so the video
keeps its timing and shows where the stream fell behind.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from client.errors import InputError

MIN_WIDTH = 320
LINE_HEIGHT = 18
TEXT_COLOUR = (255, 255, 255)
DROPPED_COLOUR = (0, 0, 255)
FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".avi": "MJPG"}
WINDOW = "python -m client stream"
ESCAPE_KEY = 27


def annotate(frame: np.ndarray, lines: list[str], dropped: bool = False) -> np.ndarray:
    """An RGB frame as a BGR picture (at least MIN_WIDTH wide) with ``lines`` drawn top left."""
    scale = max(1, -(-MIN_WIDTH // frame.shape[1]))
    picture = cv2.resize(frame, (frame.shape[1] * scale, frame.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    picture = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
    colour = DROPPED_COLOUR if dropped else TEXT_COLOUR
    for number, line in enumerate(lines, start=1):
        origin = (6, number * LINE_HEIGHT)
        cv2.putText(picture, line, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(picture, line, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return picture


class VideoSink:
    """Annotated frames written to ``path`` (``.mp4`` with mp4v, ``.avi`` with MJPG) at ``fps``."""

    def __init__(self, path: Path, fps: float) -> None:
        if path.suffix.lower() not in FOURCC_BY_SUFFIX:
            raise InputError(f"--out must end in {' or '.join(FOURCC_BY_SUFFIX)}; got {path}")
        self.path = path
        self.fps = fps
        self.writer: cv2.VideoWriter | None = None
        self.stop_requested = False

    def show(self, picture: np.ndarray) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*FOURCC_BY_SUFFIX[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (picture.shape[1], picture.shape[0]))
            if not self.writer.isOpened():
                raise InputError(f"cannot write video {self.path} (no {FOURCC_BY_SUFFIX[self.path.suffix.lower()]} codec?)")
        self.writer.write(picture)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


class WindowSink:
    """Annotated frames shown live in an OpenCV window; Esc or closing the window stops the stream."""

    def __init__(self) -> None:
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        except cv2.error:
            raise InputError(
                "--show needs a display and an OpenCV built with GUI support (opencv-python, not -headless); "
                "use --out VIDEO.mp4 to write the annotated stream instead"
            ) from None
        self.stop_requested = False

    def show(self, picture: np.ndarray) -> None:
        cv2.imshow(WINDOW, picture)
        key = cv2.waitKey(1) & 0xFF
        self.stop_requested = key == ESCAPE_KEY or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1

    def close(self) -> None:
        cv2.destroyWindow(WINDOW)
