"""The cloned driver: the textbook network, the learner as a `Driver`, and its evaluation in the real env.

Network (the behavioural-cloning textbook's shape): uint8 frames scaled in the graph, three convolutions
with batch normalisation and ELU (8x8/4, 4x4/2, 3x3/1 as in the Nature CNN), a dense ELU layer with batch
normalisation and dropout, and a 5-way softmax. Evaluation drives whole episodes on track seeds never
recorded, headless, and writes the best and the worst episode as MP4s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from trainer.rl.carracing_config import ACTION_MEANINGS, FRAME_SHAPE
from trainer.rl.carracing_rollout import DrivenEpisode, make_env, run_episode
from trainer.rl.media import write_video

CONV_SHAPES = ((8, 4), (4, 2), (3, 1))  # (kernel, stride) of the three conv layers
OUTPUT_LAYER = "action_probs"
VIDEO_FPS = 50  # CarRacing runs at 50 frames per second


def input_shape(frame_stack: int) -> tuple[int, int, int]:
    """The network's input: frame_stack frames concatenated on the channel axis."""
    height, width, channels = FRAME_SHAPE
    return height, width, channels * frame_stack


def _normalised_elu(x: Any, momentum: float) -> Any:
    return keras.layers.Activation("elu")(keras.layers.BatchNormalization(momentum=momentum)(x))


def build_network(
    frame_stack: int, filters: Sequence[int], dense_units: int, dropout: float, batch_norm_momentum: float = 0.99
) -> keras.Model:
    """frames uint8 [N, 96, 96, 3 * stack] -> action probabilities float32 [N, 5]."""
    frames = keras.Input(input_shape(frame_stack), dtype="uint8", name="frames")
    x = keras.layers.Rescaling(1 / 255)(frames)
    for count, (kernel, stride) in zip(filters, CONV_SHAPES, strict=True):
        x = keras.layers.Conv2D(count, kernel, strides=stride, use_bias=False)(x)
        x = _normalised_elu(x, batch_norm_momentum)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, use_bias=False)(x)
    x = _normalised_elu(x, batch_norm_momentum)
    x = keras.layers.Dropout(dropout)(x)
    probabilities = keras.layers.Dense(len(ACTION_MEANINGS), activation="softmax", name=OUTPUT_LAYER)(x)
    return keras.Model(frames, probabilities, name="carracing_driver")


def as_network_input(observation: np.ndarray) -> np.ndarray:
    """One env observation ([96,96,3], or [stack,96,96,3] from FrameStackObservation) as [96,96,3*stack]."""
    if observation.ndim == 3:
        return observation
    return observation.transpose(1, 2, 0, 3).reshape(*observation.shape[1:3], -1)


class LearnerDriver:
    """The network drives: the most probable action for the current observation (greedy)."""

    def __init__(self, model: keras.Model) -> None:
        self._predict = tf.function(lambda frames: model(frames, training=False), reduce_retracing=True)

    def reset(self) -> None:
        """The frame stack lives in the env wrapper, so nothing to forget."""

    def act(self, observation: np.ndarray, env: gym.Env) -> int:
        """argmax of the network's action probabilities."""
        probabilities = self._predict(as_network_input(observation)[np.newaxis])
        return int(np.argmax(probabilities.numpy()[0]))


@dataclass(frozen=True)
class DrivingReport:
    """Returns of evaluation episodes in the real env, one per seed."""

    seeds: tuple[int, ...]
    returns: tuple[float, ...]
    steps: tuple[int, ...]
    laps_finished: int

    def as_metrics(self) -> dict[str, Any]:
        """JSON-ready figures for model.json."""
        return {
            "mean_return": round(float(np.mean(self.returns)), 2),
            "std_return": round(float(np.std(self.returns)), 2),
            "episodes": len(self.returns),
            "seeds": list(self.seeds),
            "returns": [round(value, 2) for value in self.returns],
            "laps_finished": self.laps_finished,
            "max_steps_per_episode": max(self.steps),
        }

    def summary(self) -> str:
        """One line: mean ± std over the episodes."""
        metrics = self.as_metrics()
        return (f"evaluation: return {metrics['mean_return']:.1f} ± {metrics['std_return']:.1f} over "
                f"{len(self.returns)} unseen tracks ({self.laps_finished} laps finished)")


def _write_videos(video_dir: Path, episodes: Sequence[DrivenEpisode]) -> None:
    best = max(episodes, key=lambda episode: episode.total_return)
    worst = min(episodes, key=lambda episode: episode.total_return)
    for name, episode in (("best", best), ("worst", worst)):
        path = video_dir / f"eval-{name}-seed{episode.seed}.mp4"
        captions = [f"{step}: {ACTION_MEANINGS[action]}" for step, action in enumerate(episode.labels)]
        if write_video(path, list(episode.frames), captions, fps=VIDEO_FPS):
            print(f"wrote {path} (return {episode.total_return:.1f})")


def evaluate_driver(
    model: keras.Model, frame_stack: int, seeds: Sequence[int], max_steps: int, video_dir: Path | None
) -> DrivingReport:
    """Let the model drive one episode per seed, headless; MP4s of the best and worst into video_dir."""
    env, driver = make_env(frame_stack), LearnerDriver(model)
    try:
        episodes = [run_episode(env, seed, driver, max_steps, description=f"eval seed {seed}") for seed in seeds]
    finally:
        env.close()
    if video_dir is not None:
        _write_videos(video_dir, episodes)
    return DrivingReport(
        seeds=tuple(seeds),
        returns=tuple(episode.total_return for episode in episodes),
        steps=tuple(len(episode.frames) for episode in episodes),
        laps_finished=sum(episode.lap_finished for episode in episodes),
    )
