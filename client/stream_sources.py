"""Frame sources for ``python -m client stream``: a video file, a camera, or a gymnasium environment.

Every source yields H×W×3 RGB uint8 frames, the layout gymnasium renders and models take, so the rest of
the stream does not care where frames come from. Videos and cameras are read with OpenCV's
``VideoCapture`` (which decodes to BGR); an environment is only a picture generator here: it is made with
``render_mode="rgb_array"``, driven by random or no-op actions, and reset when an episode ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np

from client.errors import InputError
from client.play_env import register_env_package

ACTIONS = ("random", "noop")
NOOP_ACTION = 0


@dataclass(frozen=True)
class FrameSource:
    """Frames to stream and the rate they were made at (None when the source does not say)."""

    frames: Iterator[np.ndarray]
    native_fps: float | None
    description: str


def open_source(source: str, env_actions: str = "random", seed: int = 0) -> FrameSource:
    """A video file path, a camera index (``0``) or a gymnasium env id (``CartPole-v1``, ``ALE/Pong-v5``)."""
    if source.isdigit():
        return _capture(cv2.VideoCapture(int(source)), f"camera {source}", live=True)
    if Path(source).is_file():
        return _capture(cv2.VideoCapture(source), f"video {source}", live=False)
    return _environment(source, env_actions, seed)


def limited(frames: Iterator[np.ndarray], count: int | None, fps: float | None) -> Iterator[np.ndarray]:
    """At most ``count`` frames, released no faster than ``fps`` per second (a live camera's pace) when given."""
    interval = 1.0 / fps if fps else 0.0
    next_release = time.perf_counter()
    for index, frame in enumerate(frames):
        if count is not None and index >= count:
            return
        if interval:
            time.sleep(max(next_release - time.perf_counter(), 0.0))
            next_release += interval
        yield frame


def _capture(capture: cv2.VideoCapture, description: str, live: bool) -> FrameSource:
    if not capture.isOpened():
        raise InputError(f"cannot open {description} with OpenCV (missing, busy, or a codec this build lacks)")
    fps = capture.get(cv2.CAP_PROP_FPS) or None
    return FrameSource(_captured_frames(capture), fps, f"{description}{' (live)' if live else ''}")


def _captured_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def _environment(env_id: str, env_actions: str, seed: int) -> FrameSource:
    if env_actions not in ACTIONS:
        raise InputError(f"--env-actions must be one of {', '.join(ACTIONS)}; got {env_actions!r}")
    register_env_package(env_id)
    try:
        env = gym.make(env_id, render_mode="rgb_array")
    except gym.error.Error as error:
        raise InputError(f"--source {env_id!r} is neither a file, a camera index nor a gymnasium env: {error}") from None
    return FrameSource(_rendered_frames(env, env_actions, seed), env.metadata.get("render_fps"), f"env {env_id}")


def _rendered_frames(env: gym.Env, env_actions: str, seed: int) -> Iterator[np.ndarray]:
    env.action_space.seed(seed)
    env.reset(seed=seed)
    try:
        while True:
            yield env.render()
            action = env.action_space.sample() if env_actions == "random" else NOOP_ACTION
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
