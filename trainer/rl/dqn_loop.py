"""The DQN training loop, CleanRL `dqn_atari.py`'s shape on a vector env: act, step, store, learn on schedule.

One pass of `TrainingLoop.run` is one vector step: ε-greedy actions for every env from one batched forward
pass, one step of all envs, one write of the transitions into replay, then whatever falls due in those
steps: gradient steps (one compiled update each, on n-step batches), target sync, scalars, evaluation,
checkpoint. ε falls linearly (`epsilon_at`); periodic events fire once per period however many envs step
together (`crossings`). The loop's side effects go through what its caller passes in: a `log(name, value,
step)` function for scalars and a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from trainer.rl.agent import DQNAgent
from trainer.rl.checkpoint import BestWeights, TrainingState, save_checkpoint
from trainer.rl.dqn_config import DQNConfig
from trainer.rl.dqn_world import World
from trainer.rl.envs import make_vector_env
from trainer.rl.evaluation import Evaluation, evaluate
from trainer.rl.replay import Batch, ReplayBuffer

LOG_INTERVAL = 1_000
EVAL_SEED_OFFSET = 10_000
ScalarLog = Callable[[str, float, int], None]
TrainingBatch = tuple[tf.Tensor, ...]


def epsilon_at(step: int, config: DQNConfig) -> float:
    """CleanRL's linear schedule: start_e to end_e over exploration_fraction of the run, then end_e."""
    duration = config.exploration_fraction * config.total_timesteps
    return max(config.start_e + (config.end_e - config.start_e) * step / duration, config.end_e)


def crossings(before: int, after: int, every: int) -> int:
    """How many multiples of `every` lie in (before, after]: how often a periodic event falls in this vector step."""
    return after // every - before // every


def evaluate_greedy(network: Callable[[np.ndarray], Any], world: World, config: DQNConfig,
                    record: bool = False) -> Evaluation:
    """config.eval_episodes ε-greedy episodes of a Q-network on the evaluation env, seeds the training never uses."""
    def greedy(observations: np.ndarray) -> np.ndarray:
        return np.asarray(network(observations.astype(world.dtype))).argmax(axis=1)

    return evaluate(greedy, world.eval_spec, world.transpose, config.eval_episodes, config.eval_epsilon,
                    config.seed + EVAL_SEED_OFFSET, record_first=record)


def as_tensors(batch: Batch) -> TrainingBatch:
    """A replay batch as the update's arguments (observations, actions, returns, discounts, next observations)."""
    return tuple(tf.convert_to_tensor(array) for array in (batch.observations, batch.actions, batch.returns,
                                                           batch.discounts, batch.next_observations))


@dataclass
class LossMeter:
    """Sums of the loss and mean Q over every gradient step since the last report."""

    loss: float = 0.0
    q_value: float = 0.0
    count: int = 0

    def add(self, loss: float, q_value: float) -> None:
        self.loss, self.q_value, self.count = self.loss + loss, self.q_value + q_value, self.count + 1

    def report(self) -> dict[str, float]:
        """The means since the last report (none before learning starts), and a fresh start."""
        means = {} if not self.count else {"losses/td_loss": self.loss / self.count,
                                           "losses/q_values": self.q_value / self.count}
        self.loss, self.q_value, self.count = 0.0, 0.0, 0
        return means


@dataclass
class TrainingLoop:
    """Everything one DQN run changes between vector steps, and the schedule that changes it."""

    config: DQNConfig
    world: World
    agent: DQNAgent
    replay: ReplayBuffer
    rng: np.random.Generator
    state: TrainingState
    checkpoints: Path
    log: ScalarLog
    progress: tqdm
    best: BestWeights | None = None
    losses: LossMeter = field(default_factory=LossMeter)

    def __post_init__(self) -> None:
        self.clock = (time.perf_counter(), self.state.step)
        self.last_tick = time.perf_counter()

    def run(self) -> None:
        """Step the vector env until total_timesteps, learning, evaluating and checkpointing on schedule.

        While the network learns from batches drawn during the previous vector step, a worker thread steps
        the envs and draws the batches for the next one (TensorFlow runs without the GIL), so the update
        hides the rest; the replay buffer is only written once both are done.
        """
        config, world = self.config, self.world
        envs = make_vector_env(world.train_spec, config.num_envs, config.clip_rewards)
        self.replay.interrupt_streams()  # a resumed run's envs start new episodes
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="envs") as worker:
                observations, _ = envs.reset(seed=config.seed + self.state.step)
                resetting = np.zeros(config.num_envs, bool)
                batches: list[TrainingBatch] = []
                while self.state.step < config.total_timesteps:
                    epsilon = epsilon_at(self.state.step, config)
                    actions = self.agent.act(world.network_layout(observations), epsilon, self.rng)
                    before, self.state.step = self.state.step, self.state.step + config.num_envs
                    next_due = self._updates_due(self.state.step, self.state.step + config.num_envs)
                    stepping = worker.submit(self._step_and_sample, envs, actions, next_due)
                    self._learn(batches, before)
                    (next_observations, rewards, terminated, truncated, infos), batches = stepping.result()
                    self.replay.add(observations, actions, rewards, terminated, acted=~resetting)
                    observations, resetting = next_observations, terminated | truncated
                    self._record_episodes(infos)
                    self._bookkeeping(before, epsilon)
        finally:
            envs.close()

    def _updates_due(self, before: int, after: int) -> int:
        """Gradient steps that fall between env steps before and after (none before learning starts)."""
        if after <= self.config.learning_starts or len(self.replay) <= self.replay.n_step:
            return 0
        return crossings(before, after, self.config.train_frequency) * self.config.gradient_steps

    def _step_and_sample(self, envs: Any, actions: np.ndarray, count: int) -> tuple[tuple, list[TrainingBatch]]:
        batches = [as_tensors(self.replay.sample(self.config.batch_size, self.rng)) for _ in range(count)]
        return envs.step(actions), batches

    def _learn(self, batches: list[TrainingBatch], before: int) -> None:
        for batch in batches:
            loss, q_value = self.agent.train_step(*batch)
            self.losses.add(float(loss), float(q_value))
        self.state.updates += len(batches)
        if self.state.step > self.config.learning_starts and \
                crossings(before, self.state.step, self.config.target_network_frequency):
            self.agent.sync_target()

    def _record_episodes(self, infos: dict[str, Any]) -> None:
        if "episode" not in infos:
            return
        for index in np.flatnonzero(infos["_episode"]):
            episode_return = float(infos["episode"]["r"][index])
            self.state.episodes.append((self.state.step, episode_return))
            self.log("charts/episodic_return", episode_return, self.state.step)
            self.log("charts/episodic_length", int(infos["episode"]["l"][index]), self.state.step)

    def _bookkeeping(self, before: int, epsilon: float) -> None:
        config, step = self.config, self.state.step
        now = time.perf_counter()
        self.state.seconds, self.last_tick = self.state.seconds + now - self.last_tick, now
        if crossings(before, step, LOG_INTERVAL):
            self._log_scalars(epsilon)
        if crossings(before, step, config.eval_frequency) and step < config.total_timesteps:
            self._evaluate_and_keep_best()
        if crossings(before, step, config.checkpoint_frequency) or step >= config.total_timesteps:
            save_checkpoint(self.checkpoints, self.agent, self.state, self.rng,
                            self.replay if config.save_replay else None, self.best)
        self.progress.update(step - before)

    def _evaluate_and_keep_best(self) -> None:
        evaluation = evaluate_greedy(self.agent.q_values, self.world, self.config)
        self.state.evaluations.append((self.state.step, evaluation.mean_return))
        self.log("eval/mean_return", evaluation.mean_return, self.state.step)
        self.progress.write(f"step {self.state.step}: evaluation mean return {evaluation.mean_return:.2f} "
                            f"over {len(evaluation.returns)} episodes")
        if self.best is None or evaluation.mean_return > self.best.mean_return:
            self.best = BestWeights(evaluation.mean_return, self.state.step, self.agent.online.get_weights())

    def _log_scalars(self, epsilon: float) -> None:
        started, start_step = self.clock
        steps_per_second = (self.state.step - start_step) / max(time.perf_counter() - started, 1e-9)
        scalars = {**self.losses.report(), "charts/epsilon": epsilon, "charts/SPS": steps_per_second}
        for name, value in scalars.items():
            self.log(name, value, self.state.step)
        recent = [value for _, value in self.state.episodes[-10:]]
        self.progress.set_postfix(sps=f"{steps_per_second:.0f}", eps=f"{epsilon:.2f}",
                                  ret=f"{np.mean(recent):.1f}" if recent else "-")
