"""What a person looks at after a run: the learning curve (matplotlib) and an evaluation episode as an MP4.

The curve marks the step whose weights were exported: when the final evaluation lost to an earlier one,
those earlier weights are exported and evaluated again at the end, and the curve says so rather than
drawing that re-evaluation as the last point. Video captions sit in a black band under the frame, so they
are readable on any background and cover nothing of the game (Pong's score, CartPole's white sky).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from trainer.figures import new_figure, save_figure, thousands

EPISODE_COLOUR, EVAL_COLOUR, EXPORT_COLOUR = "tab:blue", "tab:red", "tab:green"
FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_VIDEO_WIDTH = 320
CAPTION_HEIGHT = 26
VIDEO_FPS = 30
VIDEO_CODEC = "mp4v"


@dataclass(frozen=True)
class ExportedWeights:
    """The weights the export carries: the step they were taken at, their evaluation's mean return, and
    whether that return comes from evaluating them again after training (the best earlier weights)."""

    step: int
    mean_return: float
    reevaluated: bool

    def label(self) -> str:
        when = "re-evaluated after training" if self.reevaluated else "final evaluation"
        return f"exported weights: step {self.step:,}, mean return {self.mean_return:.1f} ({when})"


def write_learning_curve(path: Path, episodes: Sequence[tuple[int, float]], evaluations: Sequence[tuple[int, float]],
                         title: str, exported: ExportedWeights) -> Path:
    """Training-episode returns (dots), evaluation means (line) and the exported weights (star) against steps."""
    figure = new_figure(8, 4.8)
    axes = figure.add_subplot()
    if episodes:
        steps, returns = np.asarray(episodes, np.float64).T
        axes.scatter(steps, returns, s=6, alpha=0.35, color=EPISODE_COLOUR, label="training episode return")
    if evaluations:
        steps, returns = np.asarray(evaluations, np.float64).T
        axes.plot(steps, returns, "-o", markersize=3, color=EVAL_COLOUR, label="evaluation mean return")
    axes.axvline(exported.step, color=EXPORT_COLOUR, linestyle="--", linewidth=1)
    axes.scatter([exported.step], [exported.mean_return], marker="*", s=180, color=EXPORT_COLOUR, zorder=5,
                 label=exported.label())
    axes.set(title=title, xlabel="environment steps", ylabel="episode return")
    axes.set_xlim(left=0)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=8))
    axes.xaxis.set_major_formatter(FuncFormatter(thousands))
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return save_figure(figure, path, step=exported.step)


def annotate(frame: np.ndarray, text: str) -> np.ndarray:
    """An RGB frame, enlarged to at least 320 px wide, as BGR above a black band that carries the text."""
    scale = max(1, MIN_VIDEO_WIDTH // frame.shape[1])
    bgr = cv2.cvtColor(np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1), cv2.COLOR_RGB2BGR)
    band = np.zeros((CAPTION_HEIGHT, bgr.shape[1], 3), np.uint8)
    cv2.putText(band, text, (6, CAPTION_HEIGHT - 8), FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([bgr, band], axis=0)


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
