"""`python -m trainer rl carracing-train`: behavioural cloning of recorded drivers, optionally DAgger, then export.

Data (shards, split by episode, balanced) -> the textbook network -> `fit` with the project callbacks ->
DAgger rounds (the learner drives new tracks, the expert labels what it saw, the shards grow, fit again) ->
a confusion matrix on the validation frames -> driving in the real env on unseen tracks (mean ± std return,
MP4s of the best and worst episode) -> export. Each round trains in `run_dir/round-<k>/` and leaves
`final.weights.h5` there, so running the same command again resumes: finished rounds are loaded, an
interrupted `fit` continues from its last epoch (BackupAndRestore), and recorded DAgger episodes are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainer.best_epoch import recorded_best
from trainer.config import format_config
from trainer.errors import TrainerError
from trainer.export import layout
from trainer.export.contract import export_saved_model
from trainer.export.spec import ExportResult
from trainer.precise_batch_norm import PreciseBatchNorm
from trainer.rl.carracing_config import ACTION_MEANINGS, TrainConfig
from trainer.rl.carracing_data import (
    Balanced,
    FrameSet,
    balance,
    frame_set,
    split_episodes,
    training_dataset,
    validation_dataset,
)
from trainer.rl.carracing_expert import CarRacingExpert
from trainer.rl.carracing_export import FAMILY, driver_info, driver_signature
from trainer.rl.carracing_policy import (
    DrivingReport,
    LearnerDriver,
    build_network,
    evaluate_driver,
)
from trainer.rl.carracing_record import record_episode
from trainer.rl.carracing_rollout import Driver, MixedDriver, TakeoverDriver, make_env
from trainer.rl.carracing_selection import DRIVING_METRIC, DrivingScore
from trainer.rl.carracing_shards import (
    Episode,
    episode_id,
    load_episodes,
    recorded_returns,
)
from trainer.runs import default_run_dir, prepare_run_dir, training_callbacks
from trainer.schedules import cosine_decay
from trainer.vision.confusion_png import write_confusion_png
from trainer.vision.evaluation import ClassificationReport, classification_report

MONITORS = {"val_loss": ("val_loss", "min"), "driving": (DRIVING_METRIC, "max")}  # --select-by -> (metric, mode)
FINAL_WEIGHTS = "final.weights.h5"
DAGGER_DRIVER = "dagger"
WARMUP_FRAMES = 2


@dataclass(frozen=True)
class Dataset:
    """One round's data: the episodes, their split into frame sets, and the balanced training samples."""

    episodes: list[Episode]
    train: FrameSet
    validation: FrameSet
    balanced: Balanced
    split: tuple[int, int]


@dataclass(frozen=True)
class DriverResult:
    """What a training job produced: its run dir, the validation report, the driving report and the export."""

    run_dir: Path
    validation: ClassificationReport
    driving: DrivingReport
    export: ExportResult


def _check_seeds(episodes: Sequence[Episode], config: TrainConfig) -> None:
    """Evaluation and selection must happen on tracks no recorded episode used."""
    recorded = {episode.record.seed for episode in episodes}
    for use, seeds in (("eval", config.eval_seeds()), ("select", config.select_seeds())):
        shared = sorted(recorded & set(seeds))
        if shared:
            raise TrainerError(f"{use} seeds {shared[:5]} were recorded in {config.data}; "
                               f"choose another --{use}-first-seed so the driver is judged on unseen tracks")


def load_dataset(config: TrainConfig) -> Dataset:
    """Load and check every shard, split by episode and balance the training frames."""
    episodes = load_episodes(config.data)
    _check_seeds(episodes, config)
    train_episodes, validation_episodes = split_episodes(episodes, config.validation_fraction, config.seed)
    train = frame_set(train_episodes, config.frame_stack)
    balanced = balance(train.labels, config.balance, config.min_action_frames, config.seed)
    validation = frame_set(validation_episodes, config.frame_stack)
    return Dataset(episodes, train, validation, balanced, (len(train_episodes), len(validation_episodes)))


def _build(config: TrainConfig) -> keras.Model:
    return build_network(config.frame_stack, config.filter_sizes(), config.dense_units, config.dropout,
                         config.batch_norm_momentum)


def _compile(model: keras.Model, config: TrainConfig, training_frames: int) -> None:
    """A fresh Adam for each round (its own schedule when --lr-schedule cosine), so a resumed DAgger round
    starts from the same optimizer state as an uninterrupted one."""
    rate = config.learning_rate
    if config.lr_schedule == "cosine":
        rate = cosine_decay(config.learning_rate, config.epochs, training_frames, config.batch_size)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def _callbacks(config: TrainConfig, round_dir: Path, training: tf.data.Dataset) -> list[keras.callbacks.Callback]:
    """The project's callbacks with --select-by driving's score, and --precise-bn's recomputation (it acts
    before validation, so where it sits in the list does not matter)."""
    monitor, mode = MONITORS[config.select_by]
    scorers = []
    if config.select_by == "driving":
        scorers = [DrivingScore(config.frame_stack, config.select_seeds(), config.eval_max_steps)]
    callbacks = training_callbacks(round_dir, monitor, config.patience, mode, scorers)
    if config.precise_bn:
        callbacks.append(PreciseBatchNorm(training.map(lambda frames, *labels: frames), config.precise_bn))
    return callbacks


def train_round(model: keras.Model, config: TrainConfig, data: Dataset, round_dir: Path) -> None:
    """Fit on data in round_dir, or load the weights a finished run of this round left there."""
    final = round_dir / FINAL_WEIGHTS
    if final.is_file():
        print(f"{round_dir.name}: finished before, loading {final}")
        model.load_weights(str(final))
        return
    print(f"{round_dir.name}: {len(data.balanced.samples)} training frames after balancing "
          f"({data.balanced.summary()['after']}), {len(data.validation)} validation frames")
    _compile(model, config, len(data.balanced.samples))
    training = training_dataset(data.train, data.balanced, config.frame_stack, config.batch_size, config.seed)
    model.fit(
        training,
        validation_data=validation_dataset(data.validation, config.frame_stack, config.batch_size),
        epochs=config.epochs,
        callbacks=_callbacks(config, round_dir, training),
        shuffle=False,  # the tf.data pipeline reshuffles every epoch
        verbose=2,
    )
    model.save_weights(str(final))


def _round_driver(learner: Driver, expert: CarRacingExpert, config: TrainConfig, round_index: int,
                  seed: int) -> Driver:
    """Who drives a DAgger episode: the learner, mixed with the expert per step by --dagger-beta, with the expert
    taking over off the centre line by --dagger-takeover."""
    driver = learner
    share = config.expert_share(round_index)
    if share:
        driver = MixedDriver(driver, expert, share, np.random.default_rng([config.seed, seed]))
    if config.dagger_takeover:
        driver = TakeoverDriver(driver, expert, config.dagger_takeover)
    return driver


def _expert_at_the_wheel(driver: Driver, share: float, steps: int) -> str:
    """How much of the episode the expert drove, for the round's log line."""
    parts = [f"the expert driving {share:.0%} of the steps at random"] if share else []
    if isinstance(driver, TakeoverDriver):
        parts.append(f"the expert taking over {driver.expert_steps} of {steps} steps")
    return ", ".join(parts) or "the learner alone at the wheel"


def dagger_round(model: keras.Model, config: TrainConfig, round_index: int) -> list[float]:
    """The learner drives this round's new tracks (mixed with the expert by --dagger-beta, the expert taking
    over by --dagger-takeover); the expert labels every visited state; returns each track's return (read back
    from the manifest for episodes recorded before a resume)."""
    env, learner, expert = make_env(config.frame_stack), LearnerDriver(model), CarRacingExpert()
    recorded = recorded_returns(config.data)
    returns = []
    try:
        for seed in config.round_seeds(round_index):
            episode = episode_id(f"{DAGGER_DRIVER}{round_index}", seed)
            if episode not in recorded:
                identity = (episode, DAGGER_DRIVER, seed)
                driver = _round_driver(learner, expert, config, round_index, seed)
                record = record_episode(config.data, env, driver, identity, config.dagger_max_steps, labeller=expert)
                at_the_wheel = _expert_at_the_wheel(driver, config.expert_share(round_index), record.steps)
                print(f"DAgger round {round_index}, seed {seed}: return {record.total_return:.1f}, {at_the_wheel}, "
                      f"{record.steps} states labelled by the expert")
                recorded[episode] = record.total_return
            returns.append(recorded[episode])
    finally:
        env.close()
    return returns


def _best_round(scores: dict[int, float]) -> int:
    return max(scores, key=scores.get)


def _policy_score(config: TrainConfig, model: keras.Model, round_index: int, learner_returns: Sequence[float],
                  run_dir: Path) -> float:
    """How well round round_index's policy drives. --select-by driving: the return its kept epoch drove on the
    selection tracks (the same tracks for every round), as the round's checkpoint recorded it; otherwise the
    learner's mean return on the DAgger tracks it drove next (learner_returns; the last round's policy
    drives tracks of its own, unrecorded)."""
    if config.select_by == "driving":
        round_dir = run_dir / f"round-{round_index}"
        score = recorded_best(round_dir, DRIVING_METRIC)
        if score is None:
            raise TrainerError(f"{round_dir} holds no driving score of its kept epoch (checkpoints/best.json); it was "
                               "trained with another --select-by: remove that folder to train the round again")
        return score
    if learner_returns:
        return float(np.mean(learner_returns))
    seeds = config.round_seeds(round_index + 1)
    return float(np.mean(evaluate_driver(model, config.frame_stack, seeds, config.dagger_max_steps, None).returns))


def run_dagger(model: keras.Model, config: TrainConfig, data: Dataset, run_dir: Path) -> tuple[Dataset, dict[int, float]]:
    """DAgger rounds after round 0, then keep the policy that drove best (Ross et al. return the best of the
    rounds' policies, not the last), scored by `_policy_score`. Returns the final data (data itself without
    rounds) and the score of each round's policy."""
    scores = {}
    for round_index in range(1, config.dagger_iterations + 1):
        learner_returns = dagger_round(model, config, round_index)
        scores[round_index - 1] = _policy_score(config, model, round_index - 1, learner_returns, run_dir)
        data = load_dataset(config)
        train_round(model, config, data, run_dir / f"round-{round_index}")
    if config.dagger_iterations:
        last = config.dagger_iterations
        scores[last] = _policy_score(config, model, last, (), run_dir)
        best = _best_round(scores)
        print(f"DAgger: mean return of each round's policy {scores}; exporting round {best}'s")
        model.load_weights(str(run_dir / f"round-{best}" / FINAL_WEIGHTS))
    return data, scores


def validation_report(model: keras.Model, config: TrainConfig, data: Dataset, run_dir: Path) -> ClassificationReport:
    """Accuracy and the per-action confusion matrix (PNG) on the validation episodes' frames."""
    probabilities = model.predict(validation_dataset(data.validation, config.frame_stack, config.batch_size), verbose=0)
    report = classification_report(probabilities, data.validation.labels, ACTION_MEANINGS)
    per_action = {name: round(value, 3) for name, value in report.per_class_accuracy.items() if value is not None}
    print(f"validation accuracy {report.accuracy:.4f} on {len(data.validation)} frames; per action {per_action}")
    write_confusion_png(run_dir / "confusion_matrix.png", report.confusion, ACTION_MEANINGS)
    return report


def _data_facts(config: TrainConfig, data: Dataset) -> dict[str, Any]:
    """model.json's `data` entry besides the env: what the driver learned from."""
    return {
        "demonstrations": str(config.data),
        "episodes": {"train": data.split[0], "validation": data.split[1]},
        "frames": {"train": len(data.train), "validation": len(data.validation)},
        "drivers": dict(Counter(episode.record.driver for episode in data.episodes)),
        "recorded_seeds": sorted({episode.record.seed for episode in data.episodes}),
        "split": "by episode (stable hash of episode id and --seed)",
        "balancing": {"mode": config.balance, "min_action_frames": config.min_action_frames,
                      **data.balanced.summary()},
    }


SCORE_DESCRIPTIONS = {
    "val_loss": "the learner's mean return on DAgger tracks (never the evaluation tracks)",
    "driving": "the mean return on the selection tracks (never recorded, DAgger or evaluation tracks)",
}


def _metrics(
    config: TrainConfig, validation: ClassificationReport, driving: DrivingReport, dagger_scores: dict[int, float]
) -> dict[str, Any]:
    metrics = {
        "evaluation": {**driving.as_metrics(), "env": "CarRacing-v3 continuous=False, headless, greedy actions"},
        "validation_accuracy": validation.accuracy,
        "validation_loss": validation.loss,
        "per_action_accuracy": validation.per_class_accuracy,
    }
    if dagger_scores:
        metrics["dagger"] = {"round_policy_scores": {str(k): v for k, v in dagger_scores.items()},
                             "exported_round": _best_round(dagger_scores),
                             "score": SCORE_DESCRIPTIONS[config.select_by]}
    return metrics


def train_driver(config: TrainConfig, command: Sequence[str] = ()) -> DriverResult:
    """Clone the recorded drivers (plus DAgger rounds), evaluate on unseen tracks and export the next version.

    Every input is checked before the run dir is made, so bad data writes nothing.
    """
    print(format_config(config))
    keras.utils.set_random_seed(config.seed)
    layout.check_target(config.export_root, config.model_name, FAMILY)
    data = load_dataset(config)
    run_dir = prepare_run_dir(config, config.run_dir or default_run_dir(config.model_name), list(command))
    model = _build(config)
    train_round(model, config, data, run_dir / "round-0")
    data, dagger_scores = run_dagger(model, config, data, run_dir)
    validation = validation_report(model, config, data, run_dir)
    video_dir = run_dir if config.video else None
    driving = evaluate_driver(model, config.frame_stack, config.eval_seeds(), config.eval_max_steps, video_dir)
    print(driving.summary())
    warmup = data.validation.stacked(np.arange(min(WARMUP_FRAMES, len(data.validation))))
    signature = driver_signature(model, config.frame_stack, warmup)
    info = driver_info(config, command, _data_facts(config, data), _metrics(config, validation, driving, dagger_scores))
    export = export_saved_model(info, [signature], config.export_root)
    print(f"exported {export.path} (return {driving.as_metrics()['mean_return']:.1f})")
    return DriverResult(run_dir, validation, driving, export)
