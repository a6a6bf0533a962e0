"""DQN training throughput as ratios, measured in one run: environment steps per second while training,
against pure environment stepping (random actions, no network) and pure gradient steps (random batches).

    python bench/dqn_throughput.py --env ALE/Pong-v5 --steps 5000
    python bench/dqn_throughput.py --env CartPole-v1 --steps 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import numpy as np  # noqa: E402

from tqdm import tqdm  # noqa: E402

from trainer.rl.checkpoint import TrainingState  # noqa: E402
from trainer.rl.dqn import build_replay_and_agent  # noqa: E402
from trainer.rl.dqn_config import DQNConfig  # noqa: E402
from trainer.rl.dqn_loop import TrainingLoop  # noqa: E402
from trainer.rl.dqn_world import describe_world  # noqa: E402
from trainer.rl.envs import make_vector_env  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="ALE/Pong-v5", help="gymnasium env id")
    parser.add_argument("--steps", type=int, default=5000, help="environment steps per measurement")
    parser.add_argument("--num-envs", type=int, default=1, help="vector envs")
    parser.add_argument("--updates", type=int, default=300, help="gradient steps timed on their own")
    return parser.parse_args()


def env_rate(config: DQNConfig, world, steps: int) -> float:
    envs = make_vector_env(world.train_spec, config.num_envs, config.clip_rewards)
    envs.reset(seed=0)
    started = time.perf_counter()
    for _ in range(steps // config.num_envs):
        envs.step(envs.action_space.sample())
    envs.close()
    return steps / (time.perf_counter() - started)


def gradient_rate(config: DQNConfig, world, updates: int) -> float:
    _, agent = build_replay_and_agent(config, world)
    rng = np.random.default_rng(0)
    shape = (config.batch_size, *world.input_shape)
    observations = (rng.integers(0, 255, shape) if world.dtype == np.uint8 else rng.normal(size=shape)).astype(world.dtype)
    actions = rng.integers(len(world.action_meanings), size=config.batch_size).astype(np.int32)
    zeros = np.zeros(config.batch_size, np.float32)
    agent.train_step(observations, actions, zeros, zeros, observations)  # trace
    started = time.perf_counter()
    for _ in range(updates):
        agent.train_step(observations, actions, zeros, zeros, observations)
    return updates / (time.perf_counter() - started)


def training_rate(config: DQNConfig, world) -> float:
    replay, agent = build_replay_and_agent(config, world)
    started = time.perf_counter()
    with tqdm(total=config.total_timesteps, disable=True) as progress:
        TrainingLoop(config, world, agent, replay, np.random.default_rng(0), TrainingState(config.env),
                     config.run_dir / "checkpoints", lambda name, value, step: None, progress).run()
    return config.total_timesteps / (time.perf_counter() - started)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as root:
        config = DQNConfig(env=args.env, num_envs=args.num_envs, total_timesteps=args.steps, buffer_size=args.steps,
                           learning_starts=min(1000, args.steps // 4), start_e=0.05, eval_frequency=10**9,
                           checkpoint_frequency=10**9, run_dir=Path(root))
        world = describe_world(config)
        env_steps = env_rate(config, world, args.steps)
        updates = gradient_rate(config, world, args.updates)
        training = training_rate(config, world)
    bound = 1 / (1 / env_steps + 1 / (updates * config.train_frequency))
    print(f"\n{args.env}, {args.num_envs} env(s), one update of batch {config.batch_size} every {config.train_frequency} steps")
    print("| measure | per second | ratio to training |")
    print("|---|---|---|")
    print(f"| training (env steps) | {training:.0f} | 1.00 |")
    print(f"| pure env stepping | {env_steps:.0f} | {env_steps / training:.2f} |")
    print(f"| pure gradient steps | {updates:.1f} (= {updates * config.train_frequency:.0f} env steps) | "
          f"{updates * config.train_frequency / training:.2f} |")
    print(f"| serial bound (env + updates, no acting) | {bound:.0f} | {bound / training:.2f} |")


if __name__ == "__main__":
    main()
