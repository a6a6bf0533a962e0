"""DQN training throughput next to its ceilings, measured in one run: environment steps per second while
training, against pure environment stepping (random actions, no network; gymnasium's vector env, which
training uses, and ale-py's C++ vector env) and pure gradient steps (random batches), whose rate times the
train frequency is the ceiling of the update alone. `--phases` also shows where a vector step's time goes:
the wall time of each part of the loop, on the main thread and on the worker thread that runs beside it.

    python bench/dqn_throughput.py --env ALE/Pong-v5 --steps 6000 --phases
    python bench/dqn_throughput.py --env ALE/Pong-v5 --steps 6000 --num-envs 1 --precision float32 --n-step 1
    python bench/dqn_throughput.py --env CartPole-v1 --steps 6000 --num-envs 1
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from trainer.precisions import PRECISIONS  # noqa: E402
from trainer.rl.checkpoint import TrainingState  # noqa: E402
from trainer.rl.dqn import build_replay_and_agent  # noqa: E402
from trainer.rl.dqn_config import DQNConfig  # noqa: E402
from trainer.rl import dqn_loop  # noqa: E402
from trainer.rl.dqn_loop import TrainingLoop  # noqa: E402
from trainer.rl.dqn_world import World, describe_world  # noqa: E402
from trainer.rl.envs import is_atari, make_vector_env  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="ALE/Pong-v5", help="gymnasium env id")
    parser.add_argument("--steps", type=int, default=6000, help="environment steps per measurement (the first "
                        "1000 fill the replay buffer; training is timed after them)")
    parser.add_argument("--num-envs", type=int, default=8, help="vector envs")
    parser.add_argument("--train-frequency", type=int, default=4, help="env steps per gradient step (Nature: 4)")
    parser.add_argument("--n-step", type=int, default=3, help="n-step returns")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="dtype policy of the Nature CNN")
    parser.add_argument("--updates", type=int, default=300, help="gradient steps timed on their own")
    parser.add_argument("--phases", action="store_true", help="also time each part of the training loop")
    return parser.parse_args()


def env_rate(config: DQNConfig, world: World, steps: int) -> float:
    """Random-action steps/s of the vector env training uses."""
    envs = make_vector_env(world.train_spec, config.num_envs, config.clip_rewards)
    envs.reset(seed=0)
    started = time.perf_counter()
    for _ in range(steps // config.num_envs):
        envs.step(envs.action_space.sample())
    envs.close()
    return steps / (time.perf_counter() - started)


def ale_vector_rate(config: DQNConfig, steps: int) -> float:
    """Random-action steps/s of ale-py's C++ AtariVectorEnv with the same preprocessing, on all cores."""
    from ale_py.vector_env import AtariVectorEnv

    game = config.env.removeprefix("ALE/").split("-")[0].lower()
    envs = AtariVectorEnv(game, config.num_envs, repeat_action_probability=config.repeat_action_probability,
                          noop_max=config.noop_max, frameskip=config.frame_skip, stack_num=config.frame_stack)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(steps // config.num_envs):
        envs.step(rng.integers(envs.single_action_space.n, size=config.num_envs))
    envs.close()
    return steps / (time.perf_counter() - started)


def gradient_rate(config: DQNConfig, world: World, updates: int) -> float:
    """Compiled updates/s on one fixed random batch: the ceiling of learning alone."""
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


class PhaseClock:
    """Wall seconds spent in named parts of the training loop, by wrapping the callables that do them (the
    loop, its agent and its replay are the bench's own, used once)."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()

    def timed(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        return timed_call

    @contextmanager
    def watching(self, loop: TrainingLoop) -> Iterator[None]:
        """Time the loop's parts: acting, updates and replay writes on the main thread; env steps, sampling
        and tensor conversion on the worker thread."""
        def timed_vector_env(*args: Any, **kwargs: Any) -> Any:
            envs = make_vector_env(*args, **kwargs)
            envs.step = self.timed(envs.step, "worker: step the envs")
            return envs

        loop.agent.act = self.timed(loop.agent.act, "main: act (one forward pass for all envs)")
        loop._learn = self.timed(loop._learn, "main: gradient steps and target sync")
        loop.replay.add = self.timed(loop.replay.add, "main: write replay")
        loop._bookkeeping = self.timed(loop._bookkeeping, "main: bookkeeping")
        loop.replay.sample = self.timed(loop.replay.sample, "worker: sample n-step batches")
        with ExitStack() as patches:
            patches.enter_context(mock.patch.object(dqn_loop, "make_vector_env", timed_vector_env))
            patches.enter_context(mock.patch.object(
                dqn_loop, "as_tensors", self.timed(dqn_loop.as_tensors, "worker: batches to tensors")))
            yield


def training_rate(config: DQNConfig, world: World, clock: PhaseClock | None = None) -> float:
    """Env steps/s of the training loop once learning has started (the replay fill is not timed)."""
    replay, agent = build_replay_and_agent(config, world)
    state, rng = TrainingState(config.env), np.random.default_rng(0)
    filling = dataclasses.replace(config, total_timesteps=config.learning_starts)
    with tqdm(disable=True) as progress:
        for phase in (filling, config):
            loop = TrainingLoop(phase, world, agent, replay, rng, state, config.run_dir / "checkpoints",
                                lambda name, value, step: None, progress)
            started, start_step = time.perf_counter(), state.step
            with clock.watching(loop) if clock and phase is config else nullcontext():
                loop.run()
    return (state.step - start_step) / (time.perf_counter() - started)


def print_phases(clock: PhaseClock, config: DQNConfig, training: float) -> None:
    vector_steps = (config.total_timesteps - config.learning_starts) / config.num_envs  # the timed ones
    print(f"\nWhere a vector step's {1000 * config.num_envs / training:.1f} ms go (wall time; the worker's "
          "parts run beside the main thread's gradient steps)")
    print("| part of the loop | ms per vector step |")
    print("|---|---:|")
    for label, seconds in sorted(clock.seconds.items()):
        print(f"| {label} | {1000 * seconds / vector_steps:.2f} |")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as root:
        config = DQNConfig(env=args.env, num_envs=args.num_envs, total_timesteps=args.steps, buffer_size=args.steps,
                           learning_starts=min(1000, args.steps // 4), start_e=0.05, eval_frequency=10**9,
                           checkpoint_frequency=10**9, run_dir=Path(root), train_frequency=args.train_frequency,
                           n_step=args.n_step, precision=args.precision)
        world = describe_world(config)
        env_steps = env_rate(config, world, args.steps)
        ale_steps = ale_vector_rate(config, args.steps) if is_atari(args.env) else None
        updates = gradient_rate(config, world, args.updates)
        clock = PhaseClock() if args.phases else None
        training = training_rate(config, world, clock)
    ceiling = updates * config.train_frequency
    bound = 1 / (1 / env_steps + 1 / ceiling)
    print(f"\n{args.env}, {args.num_envs} env(s), one update of batch {config.batch_size} every "
          f"{config.train_frequency} steps, n-step {config.n_step}, precision {args.precision}")
    print("| measure | env steps per second | ratio to training |")
    print("|---|---:|---:|")
    print(f"| training | {training:.0f} | 1.00 |")
    print(f"| ceiling of the update alone ({updates:.1f} updates/s × {config.train_frequency}) | {ceiling:.0f} | "
          f"{ceiling / training:.2f} |")
    print(f"| pure env stepping, gymnasium vector env (training uses it) | {env_steps:.0f} | {env_steps / training:.2f} |")
    if ale_steps is not None:
        print(f"| pure env stepping, ale-py AtariVectorEnv | {ale_steps:.0f} | {ale_steps / training:.2f} |")
    print(f"| serial bound (env + updates, nothing overlapped, no acting) | {bound:.0f} | {bound / training:.2f} |")
    if clock:
        print_phases(clock, config, training)


if __name__ == "__main__":
    main()
