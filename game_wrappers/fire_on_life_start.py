"""Press FIRE whenever a life starts, for Atari games that wait for it (Breakout launches no ball without it).

OpenAI Baselines' and Stable-Baselines3's `FireResetEnv` press FIRE after a reset; with their
`EpisodicLifeEnv` beneath it, every life starts with a reset, so every life starts with FIRE. Here the
game is not reset at a lost life, so the wrapper presses FIRE both after a reset and after a step that
loses a life: the agent never has to learn that a ball must be launched, in training (where a lost life
ends the episode) as in evaluation and play (where it does not). Wrap it around AtariPreprocessing, so
that FIRE is one frame-skipped step like any other.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

FIRE = "FIRE"


class FireOnLifeStart(gym.Wrapper):
    """After reset and after every step that loses a life (and ends nothing), take the FIRE action once."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        meanings = env.unwrapped.get_action_meanings()
        if FIRE not in meanings:
            raise ValueError(f"FireOnLifeStart needs a game with a FIRE action; this one has {meanings}")
        self.fire_action = meanings.index(FIRE)
        self.lives = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset, then FIRE; a game that ends on that FIRE (it cannot in practice) is reset again."""
        self.env.reset(seed=seed, options=options)
        observation, _, terminated, truncated, info = self.env.step(self.fire_action)
        if terminated or truncated:
            observation, info = self.env.reset(options=options)
        self.lives = self._current_lives()
        return observation, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; if that lost a life but the episode goes on, FIRE too and return both steps as one."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        lives = self._current_lives()
        if lives < self.lives and not (terminated or truncated):
            observation, fire_reward, terminated, truncated, info = self.env.step(self.fire_action)
            reward += fire_reward
            lives = self._current_lives()
        self.lives = lives
        return observation, reward, terminated, truncated, info

    def _current_lives(self) -> int:
        return int(self.env.unwrapped.ale.lives())
