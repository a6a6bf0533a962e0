"""DQN on gymnasium (`python -m trainer rl dqn`): env -> replay -> agent -> training loop -> evaluation -> export.

Mnih et al. 2015 with Double DQN targets by default (van Hasselt et al.), CleanRL's loop and defaults:
ε falls linearly, random play fills the replay buffer for `learning_starts` steps, then a training round
every `train_frequency` steps and a target sync every `target_network_frequency` steps. Every scalar goes
to TensorBoard with the environment step; checkpoints let the same command continue an interrupted run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult
from trainer.rl.agent import DQNAgent, build_q_network
from trainer.rl.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from trainer.rl.dqn_config import DQNConfig
from trainer.rl.dqn_export import FAMILY, policy_info, policy_signature
from trainer.rl.envs import (
    action_meanings,
    env_spec,
    make_env,
    make_vector_env,
    observation_layout,
)
from trainer.rl.evaluation import Evaluation, evaluate
from trainer.rl.media import ExportedWeights, write_learning_curve, write_video
from trainer.rl.replay import ReplayBuffer
from trainer.runs import begin_job, default_run_dir, prepare_run_dir

LOG_INTERVAL = 500
EVAL_SEED_OFFSET = 10_000
WARMUP_OBSERVATIONS = 2


@dataclass(frozen=True)
class World:
    """The environment as the agent sees it: training and evaluation specs, layout and action names."""

    train_spec: dict[str, Any]
    eval_spec: dict[str, Any]
    env_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    dtype: np.dtype
    transpose: list[int] | None
    action_meanings: list[str]
    example: np.ndarray

    def network_layout(self, observations: np.ndarray) -> np.ndarray:
        """A batch of env observations in the network's layout (stacked frames channels last)."""
        if self.transpose is None:
            return observations.astype(self.dtype, copy=False)
        return np.transpose(observations, [0, *(axis + 1 for axis in self.transpose)])


@dataclass(frozen=True)
class DQNResult:
    """What a DQN job produced: its run dir, the steps it started from and reached, the final evaluation, every
    (step, mean evaluation return) of the run, and the export."""

    run_dir: Path
    start_step: int
    final_step: int
    evaluation: Evaluation
    evaluations: list[tuple[int, float]]
    export: ExportResult


def describe_world(config: DQNConfig) -> World:
    """Build one evaluation env to learn its observation layout and action names (TrainerError if unusable)."""
    eval_spec = env_spec(config, training=False)
    env = make_env(eval_spec)
    try:
        meanings = action_meanings(env, config.env)
        input_shape, dtype, transpose = observation_layout(env, config.env)
        observation, _ = env.reset(seed=config.seed)
    finally:
        env.close()
    example = observation if transpose is None else np.transpose(observation, transpose)
    return World(env_spec(config, training=True), eval_spec, tuple(observation.shape), input_shape, dtype,
                 transpose, meanings, example.astype(dtype))


def epsilon_at(step: int, config: DQNConfig) -> float:
    """CleanRL's linear schedule: start_e to end_e over exploration_fraction of the run, then end_e."""
    duration = config.exploration_fraction * config.total_timesteps
    return max(config.start_e + (config.end_e - config.start_e) * step / duration, config.end_e)


def crossed(before: int, after: int, every: int) -> bool:
    """True when a multiple of `every` lies in (before, after]: a periodic event falls in this vector step."""
    return after // every > before // every


def _learn(agent: DQNAgent, replay: ReplayBuffer, config: DQNConfig, rng: np.random.Generator) -> tuple[float, float]:
    for _ in range(config.gradient_steps):
        batch = replay.sample(config.batch_size, rng)
        loss, mean_q = agent.train_step(
            batch.observations, batch.actions, batch.rewards, batch.next_observations, batch.terminated.astype(np.float32)
        )
    return float(loss), float(mean_q)


def _log_episodes(infos: dict[str, Any], state: TrainingState) -> None:
    if "episode" not in infos:
        return
    for index in np.flatnonzero(infos["_episode"]):
        episode_return, length = float(infos["episode"]["r"][index]), int(infos["episode"]["l"][index])
        state.episodes.append((state.step, episode_return))
        tf.summary.scalar("charts/episodic_return", episode_return, step=state.step)
        tf.summary.scalar("charts/episodic_length", length, step=state.step)


def _evaluate(agent: DQNAgent, world: World, config: DQNConfig, record: bool = False) -> Evaluation:
    def greedy(observations: np.ndarray) -> np.ndarray:
        return np.asarray(agent.q_values(observations.astype(world.dtype))).argmax(axis=1)

    return evaluate(greedy, world.eval_spec, world.transpose, config.eval_episodes, config.eval_epsilon,
                    config.seed + EVAL_SEED_OFFSET, record_first=record)


def _record_evaluation(evaluation: Evaluation, state: TrainingState, progress: tqdm) -> None:
    state.evaluations.append((state.step, evaluation.mean_return))
    tf.summary.scalar("eval/mean_return", evaluation.mean_return, step=state.step)
    progress.write(f"step {state.step}: evaluation mean return {evaluation.mean_return:.2f} "
                   f"over {len(evaluation.returns)} episodes")


@dataclass(frozen=True)
class BestWeights:
    """The online network's weights at this run's best periodic evaluation."""

    mean_return: float
    step: int
    weights: list[np.ndarray]


class TrainingLoop:
    """The training loop's state between vector steps: the agent, replay, RNG, counters and progress."""

    def __init__(self, config: DQNConfig, world: World, agent: DQNAgent, replay: ReplayBuffer,
                 rng: np.random.Generator, state: TrainingState, checkpoints: Path) -> None:
        self.config, self.world, self.agent, self.replay, self.rng = config, world, agent, replay, rng
        self.state, self.checkpoints = state, checkpoints
        self.progress = tqdm(total=config.total_timesteps, initial=state.step, unit="step", dynamic_ncols=True)
        self.clock = (time.perf_counter(), state.step)
        self.last_loss = (float("nan"), float("nan"))
        self.best: BestWeights | None = None

    def run(self) -> None:
        """Step the vector env until total_timesteps, learning, evaluating and checkpointing on schedule."""
        envs = make_vector_env(self.world.train_spec, self.config.num_envs, self.config.clip_rewards)
        try:
            observations, _ = envs.reset(seed=self.config.seed + self.state.step)
            resetting = np.zeros(self.config.num_envs, bool)
            while self.state.step < self.config.total_timesteps:
                epsilon = epsilon_at(self.state.step, self.config)
                actions = self.agent.act(self.world.network_layout(observations), epsilon, self.rng)
                next_observations, rewards, terminated, truncated, infos = envs.step(actions)
                self.replay.add(observations, actions, rewards, terminated, ~resetting)
                before = self.state.step
                self.state.step += self.config.num_envs
                _log_episodes(infos, self.state)
                self._on_schedule(before, epsilon)
                observations, resetting = next_observations, terminated | truncated
        finally:
            envs.close()
            self.progress.close()

    def _on_schedule(self, before: int, epsilon: float) -> None:
        config, step = self.config, self.state.step
        learning = step > config.learning_starts and len(self.replay) >= 2
        if learning and crossed(before, step, config.train_frequency):
            self.last_loss = _learn(self.agent, self.replay, config, self.rng)
            self.state.updates += config.gradient_steps
        if learning and crossed(before, step, config.target_network_frequency):
            self.agent.sync_target()
        if crossed(before, step, LOG_INTERVAL):
            self._log_scalars(epsilon)
        if crossed(before, step, config.eval_frequency) and step < config.total_timesteps:
            self._evaluate_and_keep_best()
        if crossed(before, step, config.checkpoint_frequency) or step >= config.total_timesteps:
            save_checkpoint(self.checkpoints, self.agent, self.state, self.rng,
                            self.replay if config.save_replay else None)
        self.progress.update(step - before)

    def _evaluate_and_keep_best(self) -> None:
        evaluation = _evaluate(self.agent, self.world, self.config)
        _record_evaluation(evaluation, self.state, self.progress)
        if self.best is None or evaluation.mean_return > self.best.mean_return:
            self.best = BestWeights(evaluation.mean_return, self.state.step, self.agent.online.get_weights())

    def _log_scalars(self, epsilon: float) -> None:
        started, start_step = self.clock
        steps_per_second = (self.state.step - start_step) / max(time.perf_counter() - started, 1e-9)
        loss, mean_q = self.last_loss
        for name, value in (("losses/td_loss", loss), ("losses/q_values", mean_q), ("charts/epsilon", epsilon),
                            ("charts/SPS", steps_per_second)):
            tf.summary.scalar(name, value, step=self.state.step)
        recent = [value for _, value in self.state.episodes[-10:]]
        self.progress.set_postfix(sps=f"{steps_per_second:.0f}", eps=f"{epsilon:.2f}",
                                  ret=f"{np.mean(recent):.1f}" if recent else "-")


def build_replay_and_agent(config: DQNConfig, world: World) -> tuple[ReplayBuffer, DQNAgent]:
    replay = ReplayBuffer(config.buffer_size, world.env_shape, world.dtype, config.num_envs,
                          stacked=world.transpose is not None)
    network = build_q_network(world.input_shape, world.dtype, len(world.action_meanings), config.hidden_units())
    agent = DQNAgent(network, config.learning_rate, config.gamma, config.double, config.max_grad_norm)
    return replay, agent


def _artefacts(run_dir: Path, world: World, state: TrainingState, evaluation: Evaluation, config: DQNConfig,
               exported: ExportedWeights) -> None:
    write_learning_curve(run_dir / "learning_curve.png", state.episodes, state.evaluations, config.env, exported)
    captions = [f"{index}: {world.action_meanings[action]}" for index, action in enumerate(evaluation.actions)]
    if config.video and write_video(run_dir / "evaluation.mp4", evaluation.frames, captions):
        print(f"video: {run_dir / 'evaluation.mp4'}")


def train_dqn(config: DQNConfig, command: Sequence[str] = ()) -> DQNResult:
    """Train (or resume) a DQN, evaluate it, draw its curve, record an episode and export the next version."""
    begin_job(config, FAMILY)
    world = describe_world(config)
    replay, agent = build_replay_and_agent(config, world)
    run_dir = config.run_dir or default_run_dir(config.model_name)
    rng = np.random.default_rng(config.seed)
    checkpoints = run_dir / "checkpoints"
    state = load_checkpoint(checkpoints, agent, rng, replay if config.save_replay else None, config.env)
    state = state or TrainingState(config.env)
    prepare_run_dir(config, run_dir, list(command))
    start_step = state.step
    if start_step:
        print(f"resumed from step {start_step} ({state.updates} updates, {len(state.episodes)} episodes)")
    with tf.summary.create_file_writer(str(run_dir / "tensorboard")).as_default():
        loop = TrainingLoop(config, world, agent, replay, rng, state, checkpoints)
        loop.run()
        evaluation = _evaluate(agent, world, config, record=config.video)
        tf.summary.scalar("eval/mean_return", evaluation.mean_return, step=state.step)
        weights_step, final_return = state.step, evaluation.mean_return
        if config.export_best and loop.best is not None and loop.best.mean_return > evaluation.mean_return:
            print(f"final evaluation {evaluation.mean_return:.2f} is below step {loop.best.step}'s "
                  f"{loop.best.mean_return:.2f}: exporting those weights (--no-export-best keeps the last ones)")
            agent.online.set_weights(loop.best.weights)
            evaluation = _evaluate(agent, world, config, record=config.video)
            weights_step = loop.best.step
    state.evaluations.append((state.step, final_return))
    print(f"evaluation: mean return {evaluation.mean_return:.2f} over {len(evaluation.returns)} episodes "
          f"(epsilon {config.eval_epsilon}, seeds {evaluation.seeds[0]}..{evaluation.seeds[-1]})")
    exported = ExportedWeights(weights_step, evaluation.mean_return, reevaluated=weights_step != state.step)
    _artefacts(run_dir, world, state, evaluation, config, exported)
    warmup = np.stack([world.example] * WARMUP_OBSERVATIONS)
    info = policy_info(config, command, world.eval_spec, world.train_spec, world.transpose, world.action_meanings,
                       evaluation, weights_step)
    export = export_saved_model(info, [policy_signature(agent.online, world.action_meanings, warmup)],
                                config.export_root, tflite=config.tflite)
    print(f"exported {export.path} (mean evaluation return {evaluation.mean_return:.2f})")
    return DQNResult(run_dir, start_step, state.step, evaluation, list(state.evaluations), export)
