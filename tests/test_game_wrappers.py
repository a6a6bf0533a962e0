"""FireOnLifeStart launches Breakout's ball after a reset and after every lost life, and refuses games without FIRE."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.wrappers import AtariPreprocessing

from game_wrappers import FireOnLifeStart

NOOP = 0
STEP_LIMIT = 2_000


def breakout(**preprocessing) -> gym.Env:
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make("ALE/Breakout-v5", frameskip=1, repeat_action_probability=0.0)
    return AtariPreprocessing(env, grayscale_newaxis=False, **preprocessing)


def steps_doing_nothing(env: gym.Env, seed: int) -> tuple[int, bool, list[int]]:
    """Steps taken by an agent that only ever chooses NOOP, whether the game ended, and its lives after each step."""
    env.reset(seed=seed)
    lives = []
    for step in range(1, STEP_LIMIT + 1):
        _, _, terminated, truncated, info = env.step(NOOP)
        lives.append(info["lives"])
        if terminated or truncated:
            return step, terminated, lives
    return STEP_LIMIT, False, lives


def test_breakout_waits_for_fire_without_the_wrapper() -> None:
    steps, ended, lives = steps_doing_nothing(breakout(), seed=3)
    assert (steps, ended, set(lives)) == (STEP_LIMIT, False, {5})


def test_an_agent_that_never_fires_still_plays_every_life() -> None:
    steps, ended, lives = steps_doing_nothing(FireOnLifeStart(breakout()), seed=3)
    assert ended and steps < STEP_LIMIT
    assert sorted(set(lives), reverse=True) == [5, 4, 3, 2, 1, 0]  # each ball was launched and lost


def test_with_life_loss_terminals_every_training_episode_starts_with_a_launched_ball() -> None:
    env = FireOnLifeStart(breakout(terminal_on_life_loss=True))
    for seed in (1, 2):
        steps, ended, lives = steps_doing_nothing(env, seed=seed)
        assert ended and steps < STEP_LIMIT and lives[-1] == 4  # the first ball is lost; the game is then reset


def test_a_game_without_fire_is_refused() -> None:
    import ale_py

    gym.register_envs(ale_py)
    with pytest.raises(ValueError, match="needs a game with a FIRE action"):
        FireOnLifeStart(gym.make("ALE/Freeway-v5"))


def test_a_spec_list_is_applied_in_order_and_an_unknown_name_is_refused() -> None:
    import ale_py

    from game_wrappers import apply_wrappers, unknown_wrappers

    gym.register_envs(ale_py)
    spec = [{"name": "AtariPreprocessing", "kwargs": {"grayscale_newaxis": False}},
            {"name": "FireOnLifeStart", "kwargs": {}}, {"name": "FrameStackObservation", "kwargs": {"stack_size": 4}}]
    env = apply_wrappers(gym.make("ALE/Breakout-v5", frameskip=1), spec)
    assert isinstance(env.env, FireOnLifeStart) and env.observation_space.shape == (4, 84, 84)
    assert unknown_wrappers([*spec, {"name": "NoSuchWrapper", "kwargs": {}}]) == ["NoSuchWrapper"]
    with pytest.raises(ValueError, match="unknown wrapper 'NoSuchWrapper'"):
        apply_wrappers(gym.make("ALE/Breakout-v5", frameskip=1), [{"name": "NoSuchWrapper", "kwargs": {}}])
