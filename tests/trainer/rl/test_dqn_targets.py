"""The TD targets of DQN and Double DQN against a hand-worked example, the ε schedule and periodic events."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainer.rl.agent import td_targets
from trainer.rl.dqn_config import DQNConfig
from trainer.rl.dqn_loop import crossings, epsilon_at

RETURNS = tf.constant([1.0, 0.0, -1.0])
DISCOUNTS = tf.constant([0.9, 0.81, 0.0])  # one step, two steps (n-step), terminal
NEXT_Q_ONLINE = tf.constant([[1.0, 3.0], [5.0, 2.0], [0.0, 9.0]])
NEXT_Q_TARGET = tf.constant([[2.0, 0.5], [1.0, 4.0], [7.0, 7.0]])


def test_double_dqn_evaluates_the_online_argmax_with_the_target_network() -> None:
    # online argmax: 1, 0, 1 -> target values 0.5, 1.0, (terminal)
    # 1 + 0.9 * 0.5 = 1.45;  0 + 0.81 * 1.0 = 0.81;  -1 (no bootstrap after a terminal step)
    targets = td_targets(RETURNS, DISCOUNTS, NEXT_Q_ONLINE, NEXT_Q_TARGET, double=True)
    np.testing.assert_allclose(targets.numpy(), [1.45, 0.81, -1.0])


def test_plain_dqn_takes_the_target_networks_max() -> None:
    # target max: 2.0, 4.0 -> 1 + 0.9 * 2 = 2.8;  0 + 0.81 * 4 = 3.24;  -1
    targets = td_targets(RETURNS, DISCOUNTS, NEXT_Q_ONLINE, NEXT_Q_TARGET, double=False)
    np.testing.assert_allclose(targets.numpy(), [2.8, 3.24, -1.0], rtol=1e-6)


def test_epsilon_falls_linearly_then_stays() -> None:
    config = DQNConfig(total_timesteps=1000, exploration_fraction=0.1, start_e=1.0, end_e=0.1, buffer_size=100)
    assert epsilon_at(0, config) == 1.0
    assert epsilon_at(50, config) == pytest.approx(0.55)
    assert epsilon_at(100, config) == pytest.approx(0.1)
    assert epsilon_at(900, config) == pytest.approx(0.1)


def test_periodic_events_fire_once_per_period_with_several_envs() -> None:
    fired = [after for after in range(4, 41, 4) if crossings(after - 4, after, 10)]
    assert fired == [12, 20, 32, 40]


def test_training_rounds_are_counted_when_one_vector_step_spans_several() -> None:
    # 8 envs, a round every 2 steps: 4 rounds per vector step, 400 over 100 vector steps
    assert crossings(0, 8, 2) == 4
    assert sum(crossings(after - 8, after, 2) for after in range(8, 801, 8)) == 400
    assert crossings(8, 16, 32) == 0 and crossings(24, 32, 32) == 1
