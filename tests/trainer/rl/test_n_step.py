"""n-step returns against hand-computed episodes: full windows, terminals and time limits inside the window."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.rl.n_step import n_step_returns
from trainer.rl.replay import ReplayBuffer

GAMMA = 0.5


def test_windows_stop_at_terminals_and_bootstrap_after_time_limits() -> None:
    rewards = np.array([[1, 0, 2], [2, -1, 7], [3, 1, 9], [-1, 5, 5]], np.float32)
    terminated = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]], bool)
    continues = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 1], [0, 1, 1]], bool)
    result = n_step_returns(rewards, terminated, continues, GAMMA)
    # 1 + .5*0 + .25*2;  2 + .5*(-1), terminal;  3 + .5*1, truncated after 2 steps;  -1, terminal at once
    np.testing.assert_allclose(result.returns, [1.5, 1.5, 3.5, -1.0])
    np.testing.assert_allclose(result.discounts, [0.125, 0.0, 0.25, 0.0])
    np.testing.assert_array_equal(result.steps, [3, 2, 2, 1])


def test_one_step_returns_are_the_nature_targets() -> None:
    result = n_step_returns(np.array([[1.0], [2.0]], np.float32), np.array([[False], [True]]),
                            np.array([[True], [False]]), 0.99)
    np.testing.assert_allclose(result.returns, [1.0, 2.0])
    np.testing.assert_allclose(result.discounts, [0.99, 0.0])


# One env's stream: (observation, reward, terminated, acted). Episode A ends (terminal) after observation 3,
# observation 4 is its final observation (its action ignored by the autoreset); episode B is cut by a time
# limit after observation 6, whose successor 7 is that episode's final observation.
STREAM = [(0, 1, False, True), (1, 0, False, True), (2, 2, False, True), (3, -1, True, True), (4, 0, False, False),
          (5, 3, False, True), (6, 1, False, True), (7, 0, False, False), (8, 4, False, True), (9, 0, False, True),
          (10, 0, False, True), (11, 0, False, True), (12, 0, False, True)]
# start observation -> (return, discount, observation bootstrapped from)
EXPECTED = {0: (1.5, 0.125, 3), 1: (0.75, 0.0, 4), 2: (1.5, 0.0, 4), 3: (-1.0, 0.0, 4), 5: (3.5, 0.25, 7),
            6: (1.0, 0.5, 7), 8: (4.0, 0.125, 11), 9: (0.0, 0.125, 12)}


def test_replay_samples_the_hand_computed_returns_of_an_episode() -> None:
    buffer = ReplayBuffer(20, (1,), np.float32, num_envs=1, stacked=False, n_step=3, gamma=GAMMA)
    for observation, reward, terminated, acted in STREAM:
        buffer.add(np.array([[observation]], np.float32), np.array([0]), np.array([reward], np.float32),
                   np.array([terminated]), np.array([acted]))
    batch = buffer.sample(400, np.random.default_rng(0))
    seen = set()
    for start, value, discount, bootstrap in zip(batch.observations[:, 0], batch.returns, batch.discounts,
                                                 batch.next_observations[:, 0]):
        expected_return, expected_discount, expected_bootstrap = EXPECTED[int(start)]
        assert (value, discount, bootstrap) == pytest.approx((expected_return, expected_discount, expected_bootstrap))
        seen.add(int(start))
    assert seen == set(EXPECTED)  # 4 and 7 are final observations; 10-12 lack three successors yet
