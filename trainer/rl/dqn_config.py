"""Flags of `python -m trainer rl dqn`, with CleanRL `dqn_atari.py` / Nature DQN defaults.

Kept apart from the training code so the CLI can build and validate it without loading TensorFlow.
`CARTPOLE_PRESET` holds RL Zoo's tuned CartPole-v1 values; `QUICK_PRESET` a run of a few minutes;
`ATARI_PRESET` an Atari game in 700k steps, about two hours on two CPU cores (docs/training.md gives each value's source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from trainer.config import flag, require
from trainer.export.layout import validate_model_name
from trainer.precisions import PRECISIONS

ATARI_PREFIX = "ALE/"
QUICK_PRESET = {
    "total_timesteps": 20_000, "buffer_size": 20_000, "learning_starts": 2_000, "eval_frequency": 10_000,
    "eval_episodes": 3, "checkpoint_frequency": 10_000,
}
ATARI_PRESET = {
    "num_envs": 8, "total_timesteps": 700_000, "buffer_size": 100_000, "learning_starts": 20_000, "n_step": 3,
    "train_frequency": 2, "target_network_frequency": 2_000, "exploration_fraction": 250_000 / 700_000, "end_e": 0.01,
    "learning_rate": 1e-4, "adam_epsilon": 1.5e-4, "eval_frequency": 100_000, "eval_episodes": 10,
    "checkpoint_frequency": 100_000, "save_replay": True,
}
CARTPOLE_PRESET = {
    "env": "CartPole-v1", "total_timesteps": 50_000, "learning_rate": 2.3e-3, "batch_size": 64,
    "buffer_size": 100_000, "learning_starts": 1_000, "target_network_frequency": 10, "train_frequency": 256,
    "gradient_steps": 128, "exploration_fraction": 0.16, "end_e": 0.04, "mlp_units": "256,256",
    "eval_frequency": 10_000, "eval_episodes": 10, "checkpoint_frequency": 10_000,
}


@dataclass
class DQNConfig:
    """One DQN training job: environment, replay, network, optimisation, evaluation and where results go."""

    env: str = flag("ALE/Pong-v5", "gymnasium env id: an ALE/*-v5 Atari game or a vector env such as CartPole-v1")
    num_envs: int = flag(1, "environments stepped together (gymnasium SyncVectorEnv)")
    total_timesteps: int = flag(10_000_000, "environment steps to train for, over all envs (CleanRL: 10M)")
    learning_rate: float = flag(1e-4, "Adam learning rate (CleanRL: 1e-4)")
    adam_epsilon: float = flag(1e-7, "Adam's epsilon (Keras: 1e-7; Rainbow and Dopamine: 1.5e-4)")
    buffer_size: int = flag(1_000_000, "replay capacity in transitions (Nature, CleanRL: 1M)")
    gamma: float = flag(0.99, "discount factor (Nature: 0.99)")
    n_step: int = flag(1, "steps of reward before bootstrapping (Nature: 1; Rainbow, Dopamine: 3)")
    target_network_frequency: int = flag(1_000, "environment steps between target-network syncs (CleanRL: 1000)")
    batch_size: int = flag(32, "transitions per gradient step (Nature: 32)")
    start_e: float = flag(1.0, "exploration epsilon at the start")
    end_e: float = flag(0.01, "exploration epsilon after the schedule (CleanRL: 0.01)")
    exploration_fraction: float = flag(0.1, "fraction of total_timesteps over which epsilon falls linearly")
    learning_starts: int = flag(80_000, "environment steps of random play before learning (CleanRL: 80k)")
    train_frequency: int = flag(4, "environment steps between training rounds (Nature: 4)")
    gradient_steps: int = flag(1, "gradient steps per training round (RL Zoo CartPole: 128)")
    double: bool = flag(True, "Double DQN targets (van Hasselt et al.); --no-double for Nature DQN")
    max_grad_norm: float = flag(10.0, "clip gradients to this global norm (SB3: 10)")
    precision: str = flag("auto", "dtype policy of the Nature CNN: auto = mixed_bfloat16 on a CPU with bfloat16 "
                          "units, mixed_float16 on a GPU, else float32; the MLP and every export stay float32",
                          choices=PRECISIONS)
    mlp_units: str = flag("120,84", "hidden layer sizes of the MLP for vector observations (CleanRL dqn.py)")
    noop_max: int = flag(30, "Atari: at most this many no-op actions at episode start (Nature: 30)")
    frame_skip: int = flag(4, "Atari: action repeat, max over the last two frames (Nature: 4)")
    screen_size: int = flag(84, "Atari: frames resized to this square size, grey (Nature: 84)")
    frame_stack: int = flag(4, "Atari: frames stacked into one observation (Nature: 4)")
    repeat_action_probability: float = flag(0.25, "Atari: sticky-action probability (ALE v5: 0.25)")
    terminal_on_life_loss: bool = flag(False, "Atari: a lost life ends the training episode (Nature: yes)")
    fire_on_life_start: bool = flag(
        False, "Atari: press FIRE after a reset and after a lost life, for games that wait for it (Breakout)"
    )
    clip_rewards: bool = flag(True, "clip training rewards to [-1, 1] (Nature); evaluation sees raw rewards")
    max_episode_steps: int | None = flag(None, "cut episodes after this many raw env steps (default: env's own)")
    eval_frequency: int = flag(250_000, "environment steps between evaluations")
    eval_episodes: int = flag(10, "episodes per evaluation, with fixed seeds")
    eval_epsilon: float = flag(0.05, "epsilon during evaluation (Nature: 0.05)")
    checkpoint_frequency: int = flag(100_000, "environment steps between checkpoints")
    save_replay: bool = flag(False, "also checkpoint the replay buffer, so a resumed run continues exactly")
    video: bool = flag(True, "write an MP4 of one evaluation episode at the end")
    export_best: bool = flag(
        True, "export the weights of this run's best periodic evaluation when they beat the final ones (SB3 EvalCallback)"
    )
    seed: int = flag(1, "seed of Python, NumPy, TensorFlow, exploration and the environments")
    model_name: str | None = flag(None, "export name (default: <game>_dqn, e.g. pong_dqn)")
    export_root: Path = flag(Path("saved_models"), "folder that holds <model_name>/<version>/ exports")
    tflite: bool = flag(False, "also write model.tflite (serving_default converted by TF Lite, with TF Serving's "
                        "signature metadata) into the same export, for --prefer_tflite_model")
    run_dir: Path | None = flag(None, "folder for logs, checkpoints and plots; reuse it to resume (default: runs/...)")

    def __post_init__(self) -> None:
        """Validate every flag and fill in the derived default model name."""
        for name in ("num_envs", "n_step", "total_timesteps", "buffer_size", "target_network_frequency", "batch_size",
                     "train_frequency", "gradient_steps", "frame_skip", "screen_size", "frame_stack",
                     "eval_frequency", "eval_episodes", "checkpoint_frequency"):
            value = getattr(self, name)
            require(value >= 1, f"--{name.replace('_', '-')} must be at least 1, got {value}")
        require(self.learning_rate > 0, f"--learning-rate must be positive, got {self.learning_rate}")
        require(self.adam_epsilon > 0, f"--adam-epsilon must be positive, got {self.adam_epsilon}")
        require(0 < self.gamma <= 1, f"--gamma must lie in (0, 1], got {self.gamma}")
        for name in ("start_e", "end_e", "eval_epsilon", "repeat_action_probability"):
            value = getattr(self, name)
            require(0 <= value <= 1, f"--{name.replace('_', '-')} must lie in [0, 1], got {value}")
        require(0 < self.exploration_fraction <= 1, f"--exploration-fraction must lie in (0, 1], got {self.exploration_fraction}")
        require(self.learning_starts >= 0, f"--learning-starts must be >= 0, got {self.learning_starts}")
        require(self.noop_max >= 0, f"--noop-max must be >= 0, got {self.noop_max}")
        require(self.max_grad_norm > 0, f"--max-grad-norm must be positive, got {self.max_grad_norm}")
        require(self.buffer_size >= self.batch_size, f"--buffer-size {self.buffer_size} is below --batch-size")
        require(not self.fire_on_life_start or self.env.startswith(ATARI_PREFIX),
                f"--fire-on-life-start is for Atari games (ALE/...), not {self.env}")
        self.hidden_units()
        self.model_name = validate_model_name(self.model_name or default_model_name(self.env))

    def hidden_units(self) -> tuple[int, ...]:
        """mlp_units as integers, e.g. (120, 84)."""
        parts = self.mlp_units.split(",")
        require(
            all(part.strip().isdigit() and int(part) > 0 for part in parts),
            f"--mlp-units must be positive integers separated by commas, got {self.mlp_units!r}",
        )
        return tuple(int(part) for part in parts)


def default_model_name(env_id: str) -> str:
    """'ALE/Pong-v5' -> 'pong_dqn', 'CartPole-v1' -> 'cartpole_dqn'."""
    game = re.sub(r"-v\d+$", "", env_id.split("/")[-1])
    return re.sub(r"[^a-z0-9]+", "_", game.lower()).strip("_") + "_dqn"
