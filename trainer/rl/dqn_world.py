"""The environment as a DQN agent sees it: training and evaluation specs, the network's input layout, action names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainer.rl.dqn_config import DQNConfig
from trainer.rl.envs import action_meanings, env_spec, make_env, observation_layout


@dataclass(frozen=True)
class World:
    """Training and evaluation env specs, the network's input shape and dtype, the transpose into it, action names."""

    train_spec: dict[str, Any]
    eval_spec: dict[str, Any]
    env_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    dtype: np.dtype
    transpose: list[int] | None
    action_meanings: list[str]
    example: np.ndarray

    def network_layout(self, observations: np.ndarray) -> np.ndarray:
        """A batch of env observations in the network's layout (stacked frames channels last)."""
        if self.transpose is None:
            return observations.astype(self.dtype, copy=False)
        return np.transpose(observations, [0, *(axis + 1 for axis in self.transpose)])


def describe_world(config: DQNConfig) -> World:
    """Build one evaluation env to learn its observation layout and action names (TrainerError if unusable)."""
    eval_spec = env_spec(config, training=False)
    env = make_env(eval_spec)
    try:
        meanings = action_meanings(env, config.env)
        input_shape, dtype, transpose = observation_layout(env, config.env)
        observation, _ = env.reset(seed=config.seed)
    finally:
        env.close()
    example = observation if transpose is None else np.transpose(observation, transpose)
    return World(env_spec(config, training=True), eval_spec, tuple(observation.shape), input_shape, dtype,
                 transpose, meanings, example.astype(dtype))
