"""The run's pictures: matplotlib figures with labelled axes, also logged to TensorBoard; captions under frames."""

from __future__ import annotations

import cv2
import numpy as np
from figure_checks import tensorboard_image_tags

from trainer.rl.media import CAPTION_HEIGHT, ExportedWeights, annotate, write_learning_curve
from trainer.vision.confusion_png import write_confusion_png

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover")


def test_learning_curve_is_a_png_logged_to_tensorboard(tmp_path):
    episodes = [(step, step / 100) for step in range(0, 50_000, 500)]
    evaluations = [(10_000, 120.0), (40_000, 500.0), (50_000, 362.7)]
    path = write_learning_curve(tmp_path / "learning_curve.png", episodes, evaluations, "CartPole-v1",
                                ExportedWeights(40_000, 500.0, reevaluated=True))
    height, width = cv2.imread(str(path)).shape[:2]
    assert width > 700 and height > 400
    assert tensorboard_image_tags(tmp_path) == {"learning_curve"}


def test_the_exported_weights_say_whether_their_return_is_a_re_evaluation():
    assert "re-evaluated after training" in ExportedWeights(40_000, 500.0, reevaluated=True).label()
    assert "final evaluation" in ExportedWeights(50_000, 362.7, reevaluated=False).label()
    assert "step 40,000" in ExportedWeights(40_000, 500.0, reevaluated=True).label()


def test_confusion_matrix_is_a_png_logged_to_tensorboard(tmp_path):
    confusion = np.array([[90, 5, 5], [2, 97, 1], [30, 0, 70]])
    path = write_confusion_png(tmp_path / "confusion_matrix.png", confusion, CLASS_NAMES)
    assert cv2.imread(str(path)).shape[0] > 300
    assert tensorboard_image_tags(tmp_path) == {"confusion_matrix"}


def test_caption_sits_under_the_frame_so_it_hides_nothing_and_reads_on_white():
    white = np.full((400, 600, 3), 255, np.uint8)  # CartPole's sky
    picture = annotate(white, "0: push left")
    assert picture.shape == (400 + CAPTION_HEIGHT, 600, 3)
    assert (picture[:400] == 255).all()  # the game's pixels are untouched (Pong's score stays visible)
    band = picture[400:]
    assert band.max() == 255 and np.median(band) == 0  # white text on black
