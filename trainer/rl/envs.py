"""Environments from gymnasium's own wrappers, described as data so the export can carry them.

An `EnvSpec` dict (env id, `gymnasium.make` keyword arguments, wrappers with their parameters) is what
model.json records; `make_env` builds exactly that, so the trainer, its evaluation and the client's `play`
(which reads the same dict from the contract) all step the same environment. Atari games use
AtariPreprocessing (frame skip with max-pooling, 84x84 grey, no-op starts) on an ALE v5 env made with
frameskip=1, FIRE at every life's start where the game waits for it (`game_wrappers.FireOnLifeStart`), then
FrameStackObservation; vector observations (CartPole) are used as they come.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers.vector import ClipReward, RecordEpisodeStatistics

from game_wrappers import apply_wrappers
from trainer.errors import TrainerError
from trainer.rl.dqn_config import ATARI_PREFIX, DQNConfig

ACTION_MEANINGS = {
    "CartPole-v1": ["push cart left", "push cart right"],
    "CartPole-v0": ["push cart left", "push cart right"],
    "Acrobot-v1": ["torque -1", "torque 0", "torque +1"],
    "MountainCar-v0": ["accelerate left", "don't accelerate", "accelerate right"],
}
STACK_TO_CHANNELS_LAST = [1, 2, 0]


def is_atari(env_id: str) -> bool:
    """True for ALE games (ids in the `ALE/` namespace)."""
    return env_id.startswith(ATARI_PREFIX)


def env_spec(config: DQNConfig, training: bool) -> dict[str, Any]:
    """The environment as model.json records it; `training` adds life-loss terminals when configured."""
    make_kwargs: dict[str, Any] = {}
    wrappers: list[dict[str, Any]] = []
    if is_atari(config.env):
        make_kwargs = {"frameskip": 1, "repeat_action_probability": config.repeat_action_probability}
        preprocessing = {
            "noop_max": config.noop_max, "frame_skip": config.frame_skip, "screen_size": config.screen_size,
            "terminal_on_life_loss": training and config.terminal_on_life_loss, "grayscale_obs": True,
            "grayscale_newaxis": False, "scale_obs": False,
        }
        fire = [{"name": "FireOnLifeStart", "kwargs": {}}] if config.fire_on_life_start else []
        wrappers = [
            {"name": "AtariPreprocessing", "kwargs": preprocessing},
            *fire,
            {"name": "FrameStackObservation", "kwargs": {"stack_size": config.frame_stack}},
        ]
    if config.max_episode_steps is not None:
        make_kwargs["max_episode_steps"] = config.max_episode_steps
    return {"id": config.env, "make_kwargs": make_kwargs, "wrappers": wrappers}


def make_env(spec: dict[str, Any], render_mode: str | None = None) -> gym.Env:
    """gymnasium.make(spec id) with its wrappers applied in order; TrainerError for an unknown env id."""
    if is_atari(spec["id"]):
        import ale_py

        gym.register_envs(ale_py)
    try:
        env = gym.make(spec["id"], render_mode=render_mode, **spec["make_kwargs"])
    except gym.error.Error as error:
        raise TrainerError(f"unknown env id {spec['id']!r}: {error} (try ALE/Pong-v5 or CartPole-v1)") from None
    try:
        return apply_wrappers(env, spec["wrappers"])
    except ValueError as error:
        raise TrainerError(f"cannot wrap {spec['id']}: {error}") from None


def make_vector_env(spec: dict[str, Any], num_envs: int, clip_rewards: bool) -> gym.vector.VectorEnv:
    """num_envs copies stepped together; episode statistics see raw rewards, learning sees clipped ones."""
    envs: gym.vector.VectorEnv = gym.vector.SyncVectorEnv([lambda: make_env(spec) for _ in range(num_envs)])
    envs = RecordEpisodeStatistics(envs)
    return ClipReward(envs, -1.0, 1.0) if clip_rewards else envs


def training_reward_wrappers(config: DQNConfig) -> list[dict[str, Any]]:
    """The vector wrappers applied only while training, for the record in model.json."""
    clip = [{"name": "ClipReward", "kwargs": {"min_reward": -1.0, "max_reward": 1.0}}] if config.clip_rewards else []
    return [{"name": "RecordEpisodeStatistics", "kwargs": {}}, *clip]


def action_meanings(env: gym.Env, env_id: str) -> list[str]:
    """A name for every discrete action: ALE's own for Atari, a table for classic control, else 'action i'."""
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise TrainerError(f"DQN needs a discrete action space; {env_id} has {env.action_space}")
    if is_atari(env_id):
        return list(env.unwrapped.get_action_meanings())
    count = int(env.action_space.n)
    return ACTION_MEANINGS.get(env_id, [f"action {index}" for index in range(count)])


def observation_layout(env: gym.Env, env_id: str) -> tuple[tuple[int, ...], np.dtype, list[int] | None]:
    """(shape the network sees, dtype, transpose from the env's observation or None).

    Stacked Atari frames come as [stack, H, W]; the network takes [H, W, stack] (channels last).
    Vector observations must be 1-D floats.
    """
    space = env.observation_space
    if is_atari(env_id):
        return tuple(space.shape[axis] for axis in STACK_TO_CHANNELS_LAST), np.dtype(np.uint8), STACK_TO_CHANNELS_LAST
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise TrainerError(f"{env_id} has observations {space}; DQN here takes Atari frames or a 1-D vector")
    return tuple(space.shape), np.dtype(np.float32), None
