"""Evaluation episodes of a policy: ε-greedy (Nature: ε = 0.05) on the un-clipped env, one fixed seed per episode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainer.rl.envs import make_env

Policy = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Evaluation:
    """Returns and lengths of the evaluation episodes, with the seeds that reproduce them."""

    returns: list[float]
    lengths: list[int]
    seeds: list[int]
    epsilon: float
    frames: list[np.ndarray] = field(default_factory=list, repr=False)
    actions: list[int] = field(default_factory=list, repr=False)

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    def as_metrics(self) -> dict[str, Any]:
        """JSON-ready figures for model.json."""
        return {
            "eval_mean_return": self.mean_return,
            "eval_std_return": float(np.std(self.returns)),
            "eval_returns": self.returns,
            "eval_lengths": self.lengths,
            "eval_episodes": len(self.returns),
            "eval_seeds": self.seeds,
            "eval_epsilon": self.epsilon,
        }


def _episode(env: Any, greedy: Policy, transpose: list[int] | None, seed: int, epsilon: float,
             record: bool) -> tuple[float, int, list[np.ndarray], list[int]]:
    rng = np.random.default_rng(seed)
    observation, _ = env.reset(seed=seed)
    total, length, frames, actions, done = 0.0, 0, [], [], False
    while not done:
        state = observation if transpose is None else np.transpose(observation, transpose)
        if rng.random() < epsilon:
            action = int(rng.integers(env.action_space.n))
        else:
            action = int(greedy(state[None])[0])
        if record:
            frames.append(env.render())
            actions.append(action)
        observation, reward, terminated, truncated, _ = env.step(action)
        total, length, done = total + float(reward), length + 1, terminated or truncated
    return total, length, frames, actions


def evaluate(greedy: Policy, spec: dict[str, Any], transpose: list[int] | None, episodes: int, epsilon: float,
             first_seed: int, record_first: bool = False) -> Evaluation:
    """Play `episodes` episodes with seeds first_seed, first_seed + 1, ...; optionally keep the first one's frames."""
    env = make_env(spec, render_mode="rgb_array" if record_first else None)
    seeds = [first_seed + index for index in range(episodes)]
    returns, lengths, frames, actions = [], [], [], []
    try:
        for index, seed in enumerate(seeds):
            total, length, episode_frames, episode_actions = _episode(
                env, greedy, transpose, seed, epsilon, record_first and index == 0
            )
            returns.append(total)
            lengths.append(length)
            frames.extend(episode_frames)
            actions.extend(episode_actions)
    finally:
        env.close()
    return Evaluation(returns, lengths, seeds, epsilon, frames, actions)
