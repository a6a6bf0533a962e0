"""The frame-once replay buffer: storage, stacks rebuilt across episode boundaries and wrap-around, sampling, memory."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import FrameStackObservation

from trainer.errors import TrainerError
from trainer.rl.replay import ReplayBuffer, replay_bytes

STACK = 4


class CountingFrames(gym.Env):
    """2x2 uint8 frames numbered by a global counter, so every frame is distinct; episodes of 1 to 6 steps."""

    observation_space = gym.spaces.Box(0, 255, (2, 2), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def __init__(self) -> None:
        self.counter, self.left = 0, 0

    def _frame(self) -> np.ndarray:
        self.counter += 1
        return np.full((2, 2), self.counter % 256, np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.left = int(self.np_random.integers(1, 7))
        return self._frame(), {}

    def step(self, action):
        self.left -= 1
        return self._frame(), float(action), self.left == 0 and action != 2, self.left == 0 and action == 2, {}


def fill(buffer: ReplayBuffer, steps: int, num_envs: int) -> dict[tuple[int, int], tuple]:
    """Step stacked CountingFrames envs into buffer; return the true (state, next state, terminated) by (slot, env)."""
    envs = gym.vector.SyncVectorEnv([lambda: FrameStackObservation(CountingFrames(), STACK) for _ in range(num_envs)])
    rng = np.random.default_rng(0)
    observations, _ = envs.reset(seed=3)
    resetting = np.zeros(num_envs, bool)
    truth = {}
    for _ in range(steps):
        slot = buffer.position
        actions = rng.integers(3, size=num_envs)
        next_observations, _, terminated, truncated, _ = envs.step(actions)
        buffer.add(observations, actions, actions.astype(np.float32), terminated, ~resetting)
        for env in np.flatnonzero(~resetting):
            truth[slot, env] = (observations[env], next_observations[env], terminated[env])
        observations, resetting = next_observations, terminated | truncated
    return truth


def channels_last(stack: np.ndarray) -> np.ndarray:
    return np.moveaxis(stack, 0, -1)


@pytest.mark.parametrize("capacity", [400, 38])  # room to spare, and wrapped around several times
def test_rebuilt_states_equal_frame_stacks_across_episode_boundaries(capacity: int) -> None:
    buffer = ReplayBuffer(capacity, (STACK, 2, 2), np.uint8, num_envs=2, stacked=True)
    truth = fill(buffer, 150, num_envs=2)
    starts = buffer.valid_starts()
    assert len(starts) > 0
    slots, envs = np.divmod(starts, 2)
    states = buffer.states(slots, envs)
    next_states = buffer.states((slots + 1) % buffer.slots, envs)
    for index, (slot, env) in enumerate(zip(slots, envs)):
        state, next_state, terminated = truth[slot, env]
        np.testing.assert_array_equal(states[index], channels_last(state))
        np.testing.assert_array_equal(next_states[index], channels_last(next_state))
        assert buffer.terminated[slot, env] == terminated


def test_each_frame_is_stored_once() -> None:
    buffer = ReplayBuffer(1000, (STACK, 84, 84), np.uint8, num_envs=4, stacked=True)
    assert buffer.frames.shape == (250, 4, 84, 84)
    assert buffer.frames.dtype == np.uint8
    stored = sum(array.nbytes for array in buffer.state_dict().values())
    assert stored == pytest.approx(replay_bytes(1000, 4, (84, 84), np.uint8), rel=0.01)


def test_sampling_shapes_and_dtypes() -> None:
    buffer = ReplayBuffer(64, (STACK, 2, 2), np.uint8, num_envs=1, stacked=True)
    fill(buffer, 40, num_envs=1)
    batch = buffer.sample(32, np.random.default_rng(1))
    assert batch.observations.shape == batch.next_observations.shape == (32, 2, 2, STACK)
    assert batch.actions.shape == batch.returns.shape == batch.discounts.shape == (32,)
    assert batch.observations.dtype == np.uint8 and batch.discounts.dtype == np.float32


def test_vector_observations_are_stored_as_they_come() -> None:
    buffer = ReplayBuffer(10, (4,), np.float32, num_envs=1, stacked=False)
    for step in range(3):
        buffer.add(np.full((1, 4), step, np.float32), np.array([1]), np.array([1.0]), np.array([False]), np.array([True]))
    batch = buffer.sample(5, np.random.default_rng(0))
    assert batch.observations.shape == (5, 4)
    np.testing.assert_array_equal(batch.next_observations - batch.observations, np.ones((5, 4)))


def test_memory_estimate_of_one_million_atari_transitions() -> None:
    assert replay_bytes(1_000_000, 1, (84, 84), np.uint8) / 1e9 == pytest.approx(7.07, abs=0.02)


def test_a_buffer_too_big_for_memory_is_refused_before_allocating() -> None:
    with pytest.raises(TrainerError, match="lower --buffer-size"):
        ReplayBuffer(10**10, (STACK, 84, 84), np.uint8, num_envs=1, stacked=True)


def test_state_round_trip() -> None:
    buffer = ReplayBuffer(50, (STACK, 2, 2), np.uint8, num_envs=1, stacked=True)
    fill(buffer, 70, num_envs=1)
    copy = ReplayBuffer(50, (STACK, 2, 2), np.uint8, num_envs=1, stacked=True)
    copy.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(copy.valid_starts(), buffer.valid_starts())
    first, second = buffer.sample(16, np.random.default_rng(5)), copy.sample(16, np.random.default_rng(5))
    np.testing.assert_array_equal(first.next_observations, second.next_observations)
