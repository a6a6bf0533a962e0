"""DQN on gymnasium (`python -m trainer rl dqn`): env -> replay -> agent -> training loop -> weights -> export.

Mnih et al. 2015 with Double DQN targets by default (van Hasselt et al.) and n-step returns by flag, on
CleanRL's loop (`trainer.rl.dqn_loop`). Every scalar goes to TensorBoard with the environment step;
checkpoints let the same command continue an interrupted run. After training, `choose_weights` keeps the
final weights or the best periodic evaluation's, and `export_policy` writes them as a float32 SavedModel
with the run's learning curve and an evaluation video.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from trainer.distribute import dtype_policy
from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult
from trainer.precisions import FLOAT32_POLICY
from trainer.rl.agent import DQNAgent, build_q_network
from trainer.rl.checkpoint import BestWeights, TrainingState, load_checkpoint
from trainer.rl.dqn_config import DQNConfig
from trainer.rl.dqn_export import FAMILY, policy_info, policy_signature
from trainer.rl.dqn_loop import ScalarLog, TrainingLoop, evaluate_greedy
from trainer.rl.dqn_world import World, describe_world
from trainer.rl.evaluation import Evaluation
from trainer.rl.media import ExportedWeights, write_learning_curve, write_video
from trainer.rl.replay import ReplayBuffer
from trainer.runs import begin_job, default_run_dir, prepare_run_dir

WARMUP_OBSERVATIONS = 2


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


@dataclass(frozen=True)
class ChosenWeights:
    """The float32 network to export, its evaluation, the step its weights come from and the final weights' return."""

    network: keras.Model
    evaluation: Evaluation
    step: int
    final_return: float


def q_network(config: DQNConfig, world: World, policy: str) -> keras.Model:
    """A fresh Q-network for this world, its CNN computing under dtype policy `policy`."""
    return build_q_network(world.input_shape, world.dtype, len(world.action_meanings), config.hidden_units(), policy)


def float32_twin(network: keras.Model, config: DQNConfig, world: World) -> keras.Model:
    """network itself when it trains in float32, else a float32 network with its weights (what the export serves).

    Mixed-precision layers keep float32 variables, so the twin answers as the trained network would with every
    product in float32.
    """
    if dtype_policy(config.precision) == FLOAT32_POLICY:
        return network
    twin = q_network(config, world, FLOAT32_POLICY)
    twin.set_weights(network.get_weights())
    return twin


def build_replay_and_agent(config: DQNConfig, world: World) -> tuple[ReplayBuffer, DQNAgent]:
    """An empty n-step replay buffer and a fresh agent whose CNN computes under --precision's dtype policy."""
    replay = ReplayBuffer(config.buffer_size, world.env_shape, world.dtype, config.num_envs,
                          stacked=world.transpose is not None, n_step=config.n_step, gamma=config.gamma)
    network = q_network(config, world, dtype_policy(config.precision))
    agent = DQNAgent(network, config.learning_rate, config.adam_epsilon, config.double, config.max_grad_norm)
    return replay, agent


@contextmanager
def tensorboard_log(directory: Path) -> Iterator[ScalarLog]:
    """A `log(name, value, step)` that writes TensorBoard scalars into directory."""
    writer = tf.summary.create_file_writer(str(directory))

    def log(name: str, value: float, step: int) -> None:
        with writer.as_default():
            tf.summary.scalar(name, value, step=step)

    try:
        yield log
    finally:
        writer.close()


def choose_weights(agent: DQNAgent, best: BestWeights | None, world: World, config: DQNConfig,
                   step: int, log: ScalarLog) -> ChosenWeights:
    """The final weights, or an earlier periodic evaluation's when it beat them (--export-best), in float32.

    Periodic evaluations run the training network (bfloat16 where it computes so), this one its float32 copy:
    the same weights can score a little differently, so only earlier weights can win.
    """
    final = float32_twin(agent.online, config, world)
    evaluation = evaluate_greedy(final, world, config, record=config.video)
    log("eval/mean_return", evaluation.mean_return, step)
    better = best is not None and best.step != step and best.mean_return > evaluation.mean_return
    if not (config.export_best and better):
        return ChosenWeights(final, evaluation, step, evaluation.mean_return)
    print(f"final evaluation {evaluation.mean_return:.2f} is below step {best.step}'s {best.mean_return:.2f}: "
          "exporting those weights (--no-export-best keeps the last ones)")
    agent.online.set_weights(best.weights)
    earlier = float32_twin(agent.online, config, world)
    return ChosenWeights(earlier, evaluate_greedy(earlier, world, config, record=config.video), best.step,
                         evaluation.mean_return)


def export_policy(chosen: ChosenWeights, world: World, state: TrainingState, config: DQNConfig,
                  command: Sequence[str], run_dir: Path) -> ExportResult:
    """Draw the learning curve, write the evaluation video and export the chosen network as the next version."""
    evaluation = chosen.evaluation
    print(f"evaluation: mean return {evaluation.mean_return:.2f} over {len(evaluation.returns)} episodes "
          f"(epsilon {config.eval_epsilon}, seeds {evaluation.seeds[0]}..{evaluation.seeds[-1]})")
    exported = ExportedWeights(chosen.step, evaluation.mean_return, reevaluated=chosen.step != state.step)
    write_learning_curve(run_dir / "learning_curve.png", state.episodes, state.evaluations, config.env, exported)
    captions = [f"{index}: {world.action_meanings[action]}" for index, action in enumerate(evaluation.actions)]
    if config.video and write_video(run_dir / "evaluation.mp4", evaluation.frames, captions):
        print(f"video: {run_dir / 'evaluation.mp4'}")
    warmup = np.stack([world.example] * WARMUP_OBSERVATIONS)
    info = policy_info(config, command, world, evaluation, chosen.step, state)
    export = export_saved_model(info, [policy_signature(chosen.network, world.action_meanings, warmup)],
                                config.export_root, tflite=config.tflite)
    print(f"exported {export.path} (mean evaluation return {evaluation.mean_return:.2f})")
    return export


def train_dqn(config: DQNConfig, command: Sequence[str] = ()) -> DQNResult:
    """Train (or resume) a DQN, choose and evaluate its weights, draw its curve, record an episode, export."""
    begin_job(config, FAMILY)
    world = describe_world(config)
    replay, agent = build_replay_and_agent(config, world)
    run_dir = config.run_dir or default_run_dir(config.model_name)
    rng = np.random.default_rng(config.seed)
    checkpoints = run_dir / "checkpoints"
    restored = load_checkpoint(checkpoints, agent, rng, replay if config.save_replay else None, config.env)
    state = restored.state if restored else TrainingState(config.env)
    prepare_run_dir(config, run_dir, list(command))
    start_step = state.step
    if start_step:
        print(f"resumed from step {start_step} ({state.updates} updates, {len(state.episodes)} episodes)")
    with tensorboard_log(run_dir / "tensorboard") as log:
        with tqdm(total=config.total_timesteps, initial=start_step, unit="step", dynamic_ncols=True) as progress:
            loop = TrainingLoop(config, world, agent, replay, rng, state, checkpoints, log, progress,
                                best=restored.best if restored else None)
            loop.run()
        chosen = choose_weights(agent, loop.best, world, config, state.step, log)
    state.evaluations.append((state.step, chosen.final_return))
    export = export_policy(chosen, world, state, config, command, run_dir)
    return DQNResult(run_dir, start_step, state.step, chosen.evaluation, list(state.evaluations), export)
