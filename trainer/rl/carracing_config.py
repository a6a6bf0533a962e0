"""Flags of `python -m trainer rl carracing-record` and `rl carracing-train` (behavioural cloning + DAgger).

Kept apart from the recording and training code so the CLI can build and validate them without loading
TensorFlow or gymnasium. The environment is fixed: `CarRacing-v3` with `continuous=False` and its five
discrete actions. Seeds are kept apart by default: demonstrations use 0..19, DAgger 20_000.., and evaluation
10_000.., so the reported return is always on tracks that neither recording nor training saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import REQUIRED, flag, require
from trainer.export.layout import validate_model_name

ENV_ID = "CarRacing-v3"
ENV_KWARGS = {"continuous": False}
FRAME_SHAPE = (96, 96, 3)
ACTION_MEANINGS = ("noop", "steer right", "steer left", "gas", "brake")  # gymnasium's discrete CarRacing actions
MAX_EPISODE_STEPS = 1000  # CarRacing-v3's own time limit
DRIVERS = ("expert", "human")
BALANCE_MODES = ("weights", "downsample", "none")
SELECT_MODES = ("val_loss", "driving")
LR_SCHEDULES = ("constant", "cosine")

RECORD_QUICK_PRESET = {"seeds": "0-1", "max_episode_steps": 200}
TRAIN_QUICK_PRESET = {
    "epochs": 2, "filters": "8,16,16", "dense_units": 32, "eval_episodes": 2, "eval_max_steps": 200,
    "min_action_frames": 5, "dagger_episodes": 1, "dagger_max_steps": 200, "select_episodes": 1,
}


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0-4,10,12-13' -> (0, 1, 2, 3, 4, 10, 12, 13); TrainerError for anything else or a repeated seed."""
    seeds: list[int] = []
    for part in text.split(","):
        bounds = part.strip().split("-")
        require(
            1 <= len(bounds) <= 2 and all(bound.isdigit() for bound in bounds),
            f"--seeds must be non-negative integers or ranges like 0-19, separated by commas; got {text!r}",
        )
        first, last = int(bounds[0]), int(bounds[-1])
        require(first <= last, f"--seeds range {part!r} runs backwards")
        seeds.extend(range(first, last + 1))
    require(len(set(seeds)) == len(seeds), f"--seeds {text!r} names a seed twice")
    return tuple(seeds)


def parse_sizes(text: str, name: str) -> tuple[int, ...]:
    """'32,64,64' -> (32, 64, 64); TrainerError unless every part is a positive integer."""
    parts = [part.strip() for part in text.split(",")]
    require(all(part.isdigit() and int(part) > 0 for part in parts), f"--{name} must be positive integers, got {text!r}")
    return tuple(int(part) for part in parts)


@dataclass
class RecordConfig:
    """One recording job: who drives which tracks, and where the shards go."""

    out: Path = flag(REQUIRED, "folder of demonstration shards and manifest.json; recording again resumes")
    seeds: str = flag("0-19", "track seeds to record, e.g. 0-19 or 3,5,8 (one episode per seed)")
    episodes: int | None = flag(None, "record only the first N of --seeds (default: all of them)")
    driver: str = flag("expert", "who drives: the scripted expert (privileged state) or you (keyboard)", choices=DRIVERS)
    max_episode_steps: int = flag(MAX_EPISODE_STEPS, "cut episodes after this many steps (CarRacing-v3: 1000)")

    def __post_init__(self) -> None:
        """Validate the flags; seed_list() then holds the seeds to record."""
        seeds = parse_seeds(self.seeds)
        require(self.episodes is None or self.episodes >= 1, f"--episodes must be at least 1, got {self.episodes}")
        require(
            self.episodes is None or self.episodes <= len(seeds),
            f"--episodes {self.episodes} exceeds the {len(seeds)} seeds of --seeds {self.seeds}",
        )
        require(self.max_episode_steps >= 1, f"--max-episode-steps must be at least 1, got {self.max_episode_steps}")

    def seed_list(self) -> tuple[int, ...]:
        """The seeds to record, one episode each."""
        return parse_seeds(self.seeds)[: self.episodes]


@dataclass
class TrainConfig:
    """One driver training job: data, network, optimisation, DAgger, evaluation and where results go."""

    data: Path = flag(REQUIRED, "folder of demonstration shards written by carracing-record (DAgger adds to it)")
    frame_stack: int = flag(1, "frames stacked on the channel axis as the network's input (1 = the frame alone)")
    balance: str = flag("none", "class balancing: inverse-frequency sample weights (the textbook's aim), "
                        "downsample every action to the rarest one, or none (the default: with the scripted expert "
                        "weights drove worse, see bench/RESULTS.md)", choices=BALANCE_MODES)
    min_action_frames: int = flag(50, "actions with fewer training frames are dropped before balancing")
    validation_fraction: float = flag(0.2, "fraction of the episodes (never single frames) held out for validation")
    filters: str = flag("32,64,64", "filters of the three ELU conv layers (8x8/4, 4x4/2, 3x3/1, Nature-CNN sizes)")
    dense_units: int = flag(256, "units of the hidden dense layer before the 5-way softmax")
    dropout: float = flag(0.5, "dropout before the output layer")
    batch_norm_momentum: float = flag(0.99, "momentum of batch norm's moving statistics, which inference (driving) "
                                      "uses; Keras's default (0.9 drove worse, see bench/RESULTS.md)")
    precise_bn: int = flag(0, "before each validation, recompute batch norm's statistics over this many training "
                           "batches under the current weights (precise BN, Wu & Johnson 2021); 0: Keras's moving averages")
    epochs: int = flag(20, "maximum epochs per training round")
    batch_size: int = flag(64, "frames per training step")
    learning_rate: float = flag(1e-3, "Adam learning rate (Adam's default); with cosine, each round's initial rate")
    lr_schedule: str = flag("constant", "learning-rate schedule of every round: constant, or cosine decay to 0 over "
                            "--epochs (each DAgger round decays afresh)", choices=LR_SCHEDULES)
    patience: int = flag(5, "epochs without validation-loss gain before early stopping")
    dagger_iterations: int = flag(0, "DAgger rounds after behavioural cloning: learner drives, expert labels, retrain")
    dagger_episodes: int = flag(5, "episodes the learner drives per DAgger round (their mean return scores the "
                                "policy that drove; the best-scoring round's policy is exported)")
    dagger_beta: float = flag(0.0, "Ross et al.'s mixing: in DAgger round k the expert's action is driven with "
                              "probability beta**k, the learner's otherwise (labels are always the expert's); "
                              "0 = the learner drives alone. Needs --select-by driving")
    dagger_takeover: float = flag(0.0, "the expert as a safety driver in DAgger rounds: it takes the wheel when the "
                                  "car is farther than this from the centre line (world units; the road reaches 6.7 "
                                  "to each side) and hands it back within half of it; 0 = never. Needs --select-by "
                                  "driving")
    dagger_first_seed: int = flag(20_000, "first track seed of the DAgger episodes (each round uses new seeds)")
    dagger_max_steps: int = flag(MAX_EPISODE_STEPS, "cut DAgger episodes after this many steps")
    select_by: str = flag("val_loss", "which epoch each round keeps (and which round DAgger exports): the lowest "
                          "validation loss, or the highest mean return driving --select-episodes held-out tracks "
                          "after every epoch (slower, but it measures what the driver is for)", choices=SELECT_MODES)
    select_episodes: int = flag(5, "tracks driven after every epoch with --select-by driving")
    select_first_seed: int = flag(40_000, "first track seed of --select-by driving; never recorded, DAgger or evaluation")
    eval_episodes: int = flag(10, "evaluation episodes in the real env, on unseen seeds")
    eval_first_seed: int = flag(10_000, "first evaluation seed; must not be a recorded or DAgger seed")
    eval_max_steps: int = flag(MAX_EPISODE_STEPS, "cut evaluation episodes after this many steps")
    video: bool = flag(True, "write MP4s of the best and the worst evaluation episode to the run dir")
    seed: int = flag(1, "seed of Python, NumPy, TensorFlow and the episode split")
    model_name: str = flag("carracing_driver", "export name")
    export_root: Path = flag(Path("saved_models"), "folder that holds <model_name>/<version>/ exports")
    run_dir: Path | None = flag(None, "folder for logs, checkpoints and videos; reuse it to resume (default: runs/...)")

    def __post_init__(self) -> None:
        """Validate every flag."""
        for name in ("frame_stack", "min_action_frames", "dense_units", "epochs", "batch_size", "patience",
                     "dagger_episodes", "dagger_max_steps", "select_episodes", "eval_episodes", "eval_max_steps"):
            value = getattr(self, name)
            require(value >= 1, f"--{name.replace('_', '-')} must be at least 1, got {value}")
        require(0 < self.validation_fraction < 1, f"--validation-fraction must lie in (0, 1), got {self.validation_fraction}")
        require(0 <= self.dropout < 1, f"--dropout must lie in [0, 1), got {self.dropout}")
        require(0 < self.batch_norm_momentum < 1, f"--batch-norm-momentum must lie in (0, 1), got {self.batch_norm_momentum}")
        require(self.precise_bn >= 0, f"--precise-bn must be >= 0 batches, got {self.precise_bn}")
        require(self.learning_rate > 0, f"--learning-rate must be positive, got {self.learning_rate}")
        require(0 <= self.dagger_beta < 1, f"--dagger-beta must lie in [0, 1), got {self.dagger_beta}")
        require(self.dagger_takeover >= 0, f"--dagger-takeover must be >= 0, got {self.dagger_takeover}")
        for name in ("dagger_beta", "dagger_takeover"):
            require(getattr(self, name) == 0 or self.select_by == "driving", f"--{name.replace('_', '-')} needs "
                    "--select-by driving: with the expert at the wheel part of the time, the DAgger episodes' returns "
                    "do not score the learner")
        require(self.dagger_iterations >= 0, f"--dagger-iterations must be >= 0, got {self.dagger_iterations}")
        require(len(self.filter_sizes()) == 3, f"--filters needs three sizes, got {self.filters!r}")
        self._require_disjoint_seeds()
        self.model_name = validate_model_name(self.model_name)

    def _require_disjoint_seeds(self) -> None:
        """DAgger, selection and evaluation each drive tracks of their own."""
        uses = {"dagger": self.dagger_seeds(), "select": self.select_seeds(), "eval": self.eval_seeds()}
        for first, second in (("dagger", "eval"), ("select", "eval"), ("dagger", "select")):
            require(not set(uses[first]) & set(uses[second]), f"{first} seeds overlap the {second} seeds; "
                    f"move --{first}-first-seed or --{second}-first-seed")

    def filter_sizes(self) -> tuple[int, ...]:
        """The three conv layers' filter counts."""
        return parse_sizes(self.filters, "filters")

    def eval_seeds(self) -> tuple[int, ...]:
        """The evaluation track seeds."""
        return tuple(range(self.eval_first_seed, self.eval_first_seed + self.eval_episodes))

    def select_seeds(self) -> tuple[int, ...]:
        """The tracks that choose the epoch (and DAgger round) with --select-by driving; none otherwise."""
        count = self.select_episodes if self.select_by == "driving" else 0
        return tuple(range(self.select_first_seed, self.select_first_seed + count))

    def dagger_seeds(self) -> tuple[int, ...]:
        """Every DAgger track seed: each round's, then (scoring by validation loss) those on which the last
        round's policy is scored; with --select-by driving the selection tracks score every round."""
        scored_apart = self.dagger_iterations and self.select_by == "val_loss"
        rounds = self.dagger_iterations + (1 if scored_apart else 0)
        return tuple(range(self.dagger_first_seed, self.dagger_first_seed + rounds * self.dagger_episodes))

    def expert_share(self, round_index: int) -> float:
        """The probability that the expert's action is driven in DAgger round round_index (1-based)."""
        return self.dagger_beta**round_index

    def round_seeds(self, round_index: int) -> tuple[int, ...]:
        """The seeds the learner drives in DAgger round round_index (1-based; iterations + 1: final scoring)."""
        return self.dagger_seeds()[(round_index - 1) * self.dagger_episodes : round_index * self.dagger_episodes]
