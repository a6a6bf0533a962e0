"""The Q-networks and the DQN update: Nature CNN or MLP, target network, (Double) DQN targets, Huber loss, Adam.

`td_targets` is the one formula that separates DQN from Double DQN, kept apart so it can be checked
against a hand-worked example; the replay buffer hands it n-step returns with their bootstrap discounts.
The update runs as a tf.function traced once per run (fixed dtypes and batch shape), so acting and
learning never retrace. The Nature CNN can compute in bfloat16 (Keras mixed precision: float32 variables,
float32 Q-values), which this CPU's AMX units run about 1.3x faster; a float32 twin is what gets exported.
Adam is Keras's with each weight's step fused into one TensorFlow kernel (`FusedAdam`): the same math,
about a fifth of the update's time saved.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainer.precisions import FLOAT32_POLICY
from trainer.rl.fused_adam import FusedAdam


def nature_cnn(input_shape: Sequence[int], num_actions: int, dtype_policy: str = FLOAT32_POLICY) -> keras.Model:
    """Mnih et al. 2015 on uint8 frames [H, W, stack], scaled to [0, 1] in the graph.

    The hidden layers compute under dtype_policy; the Q-values are always float32.
    """
    hidden = {"dtype": dtype_policy}
    return keras.Sequential(
        [
            keras.Input(tuple(input_shape), dtype="uint8", name="observations"),
            keras.layers.Rescaling(1 / 255, name="scale", **hidden),
            keras.layers.Conv2D(32, 8, strides=4, activation="relu", **hidden),
            keras.layers.Conv2D(64, 4, strides=2, activation="relu", **hidden),
            keras.layers.Conv2D(64, 3, strides=1, activation="relu", **hidden),
            keras.layers.Flatten(**hidden),
            keras.layers.Dense(512, activation="relu", **hidden),
            keras.layers.Dense(num_actions, name="q_values", dtype=FLOAT32_POLICY),
        ],
        name="nature_cnn",
    )


def mlp(input_shape: Sequence[int], num_actions: int, hidden_units: Sequence[int]) -> keras.Model:
    """A ReLU MLP on vector observations (CleanRL dqn.py: 120, 84)."""
    layers = [keras.layers.Dense(units, activation="relu") for units in hidden_units]
    return keras.Sequential(
        [keras.Input(tuple(input_shape), dtype="float32", name="observations"), *layers,
         keras.layers.Dense(num_actions, name="q_values")],
        name="mlp",
    )


def build_q_network(input_shape: Sequence[int], dtype: np.dtype, num_actions: int,
                    hidden_units: Sequence[int], dtype_policy: str = FLOAT32_POLICY) -> keras.Model:
    """The Nature CNN for uint8 frames (under dtype_policy), the float32 MLP for float vectors."""
    if np.dtype(dtype) == np.uint8:
        return nature_cnn(input_shape, num_actions, dtype_policy)
    return mlp(input_shape, num_actions, hidden_units)


def td_targets(returns: tf.Tensor, discounts: tf.Tensor, next_q_online: tf.Tensor | None, next_q_target: tf.Tensor,
               double: bool) -> tf.Tensor:
    """G + d · Q'(s', a*): a* = argmax of the online net (Double DQN) or of the target net.

    G is the (n-step) discounted return and d = γ^m for a bootstrap m steps later, 0 after a terminal step.
    """
    if double:
        best_actions = tf.argmax(next_q_online, axis=1, output_type=tf.int32)
        next_values = tf.gather(next_q_target, best_actions, axis=1, batch_dims=1)
    else:
        next_values = tf.reduce_max(next_q_target, axis=1)
    return returns + discounts * next_values


class DQNAgent:
    """An online Q-network, its target copy and their optimiser; acts ε-greedily and learns from batches."""

    def __init__(self, online: keras.Model, learning_rate: float, adam_epsilon: float, double: bool,
                 max_grad_norm: float) -> None:
        self.online = online
        self.target = keras.models.clone_model(online)
        self.num_actions = int(online.output_shape[-1])
        self.double = double
        self.optimizer = FusedAdam(learning_rate, epsilon=adam_epsilon, global_clipnorm=max_grad_norm)
        self.optimizer.build(online.trainable_variables)
        self.huber = keras.losses.Huber()
        self.sync_target()
        self.train_step = tf.function(self._train_step)
        observation_spec = tf.TensorSpec([None, *online.input_shape[1:]], online.inputs[0].dtype)
        self.q_values = tf.function(
            lambda observations: self.online(observations, training=False), input_signature=[observation_spec]
        )

    def sync_target(self) -> None:
        """Copy the online weights into the target network."""
        self.target.set_weights(self.online.get_weights())

    def _train_step(self, observations: tf.Tensor, actions: tf.Tensor, returns: tf.Tensor, discounts: tf.Tensor,
                    next_observations: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One gradient step on the Huber loss of the TD error; returns (loss, mean Q of the taken actions)."""
        next_q_online = self.online(next_observations, training=False) if self.double else None
        next_q_target = self.target(next_observations, training=False)
        targets = tf.stop_gradient(td_targets(returns, discounts, next_q_online, next_q_target, self.double))
        with tf.GradientTape() as tape:
            q_taken = tf.gather(self.online(observations, training=True), actions, axis=1, batch_dims=1)
            loss = self.huber(targets, q_taken)
        gradients = tape.gradient(loss, self.online.trainable_variables)
        self.optimizer.apply(gradients, self.online.trainable_variables)
        return loss, tf.reduce_mean(q_taken)

    def act(self, observations: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """ε-greedy actions for a batch of observations in the network's layout."""
        explore = rng.random(len(observations)) < epsilon
        random_actions = rng.integers(self.num_actions, size=len(observations))
        if explore.all():
            return random_actions
        greedy = np.asarray(self.q_values(observations)).argmax(axis=1)
        return np.where(explore, random_actions, greedy)
