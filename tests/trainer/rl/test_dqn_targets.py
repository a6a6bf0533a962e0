"""The TD targets of DQN and Double DQN against a hand-worked example, and the ε schedule."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainer.rl.agent import td_targets
from trainer.rl.dqn import crossed, epsilon_at
from trainer.rl.dqn_config import DQNConfig

REWARDS = tf.constant([1.0, 0.0, -1.0])
TERMINATED = tf.constant([0.0, 0.0, 1.0])
NEXT_Q_ONLINE = tf.constant([[1.0, 3.0], [5.0, 2.0], [0.0, 9.0]])
NEXT_Q_TARGET = tf.constant([[2.0, 0.5], [1.0, 4.0], [7.0, 7.0]])


def test_double_dqn_evaluates_the_online_argmax_with_the_target_network() -> None:
    # online argmax: 1, 0, 1 -> target values 0.5, 1.0, (terminal)
    # 1 + 0.9 * 0.5 = 1.45;  0 + 0.9 * 1.0 = 0.9;  -1 (no bootstrap after a terminal step)
    targets = td_targets(REWARDS, TERMINATED, NEXT_Q_ONLINE, NEXT_Q_TARGET, gamma=0.9, double=True)
    np.testing.assert_allclose(targets.numpy(), [1.45, 0.9, -1.0])


def test_plain_dqn_takes_the_target_networks_max() -> None:
    # target max: 2.0, 4.0 -> 1 + 0.9 * 2 = 2.8;  0 + 0.9 * 4 = 3.6;  -1
    targets = td_targets(REWARDS, TERMINATED, NEXT_Q_ONLINE, NEXT_Q_TARGET, gamma=0.9, double=False)
    np.testing.assert_allclose(targets.numpy(), [2.8, 3.6, -1.0])


def test_epsilon_falls_linearly_then_stays() -> None:
    config = DQNConfig(total_timesteps=1000, exploration_fraction=0.1, start_e=1.0, end_e=0.1, buffer_size=100)
    assert epsilon_at(0, config) == 1.0
    assert epsilon_at(50, config) == pytest.approx(0.55)
    assert epsilon_at(100, config) == pytest.approx(0.1)
    assert epsilon_at(900, config) == pytest.approx(0.1)


def test_periodic_events_fire_once_per_period_with_several_envs() -> None:
    fired = [after for after in range(4, 41, 4) if crossed(after - 4, after, 10)]
    assert fired == [12, 20, 32, 40]
