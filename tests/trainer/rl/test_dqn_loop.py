"""The vector-env training loop: each env's stream equals a single-env loop's, and every gradient step's loss counts."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from tqdm import tqdm

from trainer.rl.agent import DQNAgent, build_q_network
from trainer.rl.checkpoint import TrainingState
from trainer.rl.dqn_config import DQNConfig
from trainer.rl.dqn_loop import LossMeter, TrainingLoop
from trainer.rl.dqn_world import describe_world
from trainer.rl.replay import ReplayBuffer

VECTOR_STEPS = 60
STREAM_FIELDS = ("frames", "actions", "rewards", "terminated", "acted", "episode_steps")


def greedy_loop(root: Path, num_envs: int, seed: int, agent: DQNAgent | None = None) -> tuple[ReplayBuffer, DQNAgent]:
    """Run a loop that never learns and never explores (ε = 0), so actions depend on observations alone."""
    config = DQNConfig(env="ALE/Pong-v5", num_envs=num_envs, seed=seed, total_timesteps=VECTOR_STEPS * num_envs,
                       buffer_size=1_000, learning_starts=10**6, start_e=0.0, end_e=0.0, max_episode_steps=120,
                       eval_frequency=10**6, checkpoint_frequency=10**6, precision="float32", run_dir=root)
    world = describe_world(config)
    if agent is None:
        keras.utils.set_random_seed(0)
        network = build_q_network(world.input_shape, world.dtype, len(world.action_meanings), ())
        agent = DQNAgent(network, 1e-4, 1e-7, double=True, max_grad_norm=10.0)
    replay = ReplayBuffer(config.buffer_size, world.env_shape, world.dtype, num_envs, stacked=True)
    with tqdm(disable=True) as progress:
        TrainingLoop(config, world, agent, replay, np.random.default_rng(0), TrainingState(config.env),
                     root / f"checkpoints-{num_envs}-{seed}", lambda *_: None, progress).run()
    return replay, agent


def test_each_env_of_the_vector_loop_steps_as_a_single_env_loop_with_its_seed(tmp_path: Path) -> None:
    vector, agent = greedy_loop(tmp_path, num_envs=2, seed=5)
    assert vector.acted[:VECTOR_STEPS].sum() < 2 * VECTOR_STEPS  # episodes ended (time limit) inside the run
    for env, seed in enumerate((5, 6)):  # gymnasium seeds env i of a vector env reset with seed s as s + i
        single, _ = greedy_loop(tmp_path, num_envs=1, seed=seed, agent=agent)
        for name in STREAM_FIELDS:
            np.testing.assert_array_equal(getattr(vector, name)[:VECTOR_STEPS, env],
                                          getattr(single, name)[:VECTOR_STEPS, 0], err_msg=f"env {env}: {name}")


def test_the_loss_reported_is_the_mean_over_every_gradient_step_since_the_last_report() -> None:
    meter = LossMeter()
    assert meter.report() == {}
    for loss, q_value in ((1.0, 10.0), (2.0, 20.0), (6.0, 0.0)):
        meter.add(loss, q_value)
    assert meter.report() == {"losses/td_loss": pytest.approx(3.0), "losses/q_values": pytest.approx(10.0)}
    assert meter.report() == {}
