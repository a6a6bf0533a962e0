"""Driving CarRacing episodes: the environment as data, the driver interface and the episode loop.

Every use of the environment goes through here: recording (expert or human drives), DAgger (the learner
drives, the expert labels) and evaluation (the learner drives). `env_spec` is the dict model.json records
(the same shape as the DQN's: id, gymnasium.make kwargs, wrappers), so the client builds the same env.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import FrameStackObservation
from tqdm import tqdm

from trainer.rl.carracing_config import ENV_ID, ENV_KWARGS


class Driver(Protocol):
    """Anything that picks a discrete action from the current observation (and, if privileged, the env)."""

    def reset(self) -> None:
        """Start a new episode."""

    def act(self, observation: np.ndarray, env: gym.Env) -> int:
        """The action to take now."""


class MixedDriver:
    """DAgger's mixed policy (Ross et al.): each step the expert's action with probability expert_share, the
    learner's otherwise, so early rounds visit states nearer the expert's while still seeing the learner's."""

    def __init__(self, learner: Driver, expert: Driver, expert_share: float, rng: np.random.Generator) -> None:
        self._learner, self._expert, self._expert_share, self._rng = learner, expert, expert_share, rng

    def reset(self) -> None:
        """Start a new episode for both drivers."""
        self._learner.reset()
        self._expert.reset()

    def act(self, observation: np.ndarray, env: gym.Env) -> int:
        """One of the two drivers' actions, drawn per step."""
        if self._rng.random() < self._expert_share:
            return self._expert.act(observation, env)
        return self._learner.act(observation, env)


class GatingExpert(Driver, Protocol):
    """An expert that also knows how far the car has strayed: the privileged scripted driver."""

    def centre_line_distance(self, env: gym.Env) -> float:
        """The car's distance from the track's centre line, across it."""


class TakeoverDriver:
    """DAgger with the expert as a safety driver (HG-DAgger, Kelly et al. 2019, with the privileged state in place
    of a human's judgement of when to take over): `driver` drives until the car strays farther than `distance`
    from the centre line, then the expert drives until the car is back within half that distance. Labels of the
    learner's own mistakes then come from the road's edge, where recovering is learnable, not from the grass far
    off it."""

    def __init__(self, driver: Driver, expert: GatingExpert, distance: float) -> None:
        self._driver, self._expert, self._distance = driver, expert, distance
        self._expert_driving = False
        self.expert_steps = 0

    def reset(self) -> None:
        """Start a new episode with the learner at the wheel."""
        self._driver.reset()
        self._expert.reset()
        self._expert_driving, self.expert_steps = False, 0

    def act(self, observation: np.ndarray, env: gym.Env) -> int:
        """The expert's action while it holds the wheel, the driver's otherwise."""
        offset = self._expert.centre_line_distance(env)
        if offset > self._distance:
            self._expert_driving = True
        elif offset < self._distance / 2:
            self._expert_driving = False
        if self._expert_driving:
            self.expert_steps += 1
            return self._expert.act(observation, env)
        return self._driver.act(observation, env)


@dataclass(frozen=True)
class DrivenEpisode:
    """What one episode produced: the single frames seen, the labels, the return and whether the lap ended."""

    seed: int
    frames: np.ndarray
    labels: np.ndarray
    total_return: float
    lap_finished: bool


def env_spec(frame_stack: int) -> dict[str, Any]:
    """The env as model.json records it: FrameStackObservation (padding with the reset frame) when stacking."""
    wrappers = []
    if frame_stack > 1:
        wrappers = [{"name": "FrameStackObservation", "kwargs": {"stack_size": frame_stack, "padding_type": "reset"}}]
    return {"id": ENV_ID, "make_kwargs": dict(ENV_KWARGS), "wrappers": wrappers}


def make_env(frame_stack: int = 1, render_mode: str | None = None) -> gym.Env:
    """CarRacing-v3 (discrete) as env_spec describes it; observations [stack, 96, 96, 3] when stacking."""
    env = gym.make(ENV_ID, render_mode=render_mode, **ENV_KWARGS)
    return FrameStackObservation(env, frame_stack, padding_type="reset") if frame_stack > 1 else env


def newest_frame(observation: np.ndarray) -> np.ndarray:
    """The latest 96x96x3 frame of an observation, stacked or not."""
    return observation[-1] if observation.ndim == 4 else observation


def run_episode(
    env: gym.Env,
    seed: int,
    driver: Driver,
    max_steps: int,
    labeller: Driver | None = None,
    description: str = "",
) -> DrivenEpisode:
    """Drive one episode on track `seed`; each step's label is the labeller's action if given (DAgger: the
    expert labels the states the learner visits), else the driven action. Labels are taken before the step.
    """
    observation, _ = env.reset(seed=seed)
    for each in (driver, labeller):
        if each is not None:
            each.reset()
    frames, labels, total, lap_finished = [], [], 0.0, False
    for _ in tqdm(range(max_steps), desc=description or f"seed {seed}", leave=False, disable=None):
        action = driver.act(observation, env)
        frames.append(newest_frame(observation))
        labels.append(action if labeller is None else labeller.act(observation, env))
        observation, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        if terminated or truncated:
            lap_finished = bool(info.get("lap_finished", False))
            break
    return DrivenEpisode(seed, np.stack(frames), np.asarray(labels, np.int64), total, lap_finished)
