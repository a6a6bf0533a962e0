"""A person drives CarRacing with the arrow keys in a pygame window (the textbook's way to record demonstrations).

Up = gas, Down = brake, Left/Right = steer; with no key held the car rolls (noop). One action per step, so
when several keys are held steering wins over gas and brake, as in the discrete action space itself.
pygame is imported only here, so the rest of the trainer runs without a display.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gymnasium as gym
import numpy as np

from trainer.errors import TrainerError
from trainer.rl.carracing_expert import BRAKE, GAS, NOOP, STEER_LEFT, STEER_RIGHT


def check_display() -> None:
    """TrainerError unless pygame imports and (on Linux) a display is there to open the window on."""
    try:
        import pygame  # noqa: F401
    except ImportError as error:
        raise TrainerError("human driving needs pygame (pip install pygame-ce)") from error
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise TrainerError("human driving needs a display (no DISPLAY or WAYLAND_DISPLAY); use --driver expert")


class HumanDriver:
    """Reads the arrow keys of the env's pygame window (make the env with render_mode='human')."""

    def __init__(self) -> None:
        import pygame

        self._pygame: Any = pygame

    def reset(self) -> None:
        """Nothing to forget between episodes."""

    def act(self, observation: np.ndarray, env: gym.Env) -> int:
        """The action the held keys ask for; closing the window stops the recording."""
        pygame = self._pygame
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                raise KeyboardInterrupt
        keys = pygame.key.get_pressed()
        if keys[pygame.K_LEFT]:
            return STEER_LEFT
        if keys[pygame.K_RIGHT]:
            return STEER_RIGHT
        if keys[pygame.K_UP]:
            return GAS
        return BRAKE if keys[pygame.K_DOWN] else NOOP
