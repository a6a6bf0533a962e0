"""A tiny behavioural-cloning run with one DAgger round that exports, and training's refusal of bad data."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from server_process import start_in_process

from client import ServingClient
from client.play import play, read_contract
from client.play_env import policy_setup
from trainer import precise_batch_norm
from trainer.errors import TrainerError
from trainer.rl.carracing_config import RecordConfig, TrainConfig
from trainer.rl.carracing_policy import build_network, evaluate_driver
from trainer.rl.carracing_record import record_demonstrations
from trainer.rl.carracing_rollout import MixedDriver
from trainer.rl.carracing_selection import DRIVING_METRIC, DrivingScore
from trainer.rl.carracing_shards import MANIFEST, Episode, EpisodeRecord, load_episodes, write_episode
from trainer.rl.carracing_train import FINAL_WEIGHTS, DriverResult, load_dataset, train_driver, train_round

TINY = {
    "epochs": 1, "filters": "4,8,8", "dense_units": 16, "batch_size": 32, "min_action_frames": 1,
    "eval_episodes": 1, "eval_max_steps": 20, "dagger_episodes": 1, "dagger_max_steps": 20,
}
RECORDED_EPISODES, RECORDED_STEPS = 3, 30
PLAYED_STEPS = 150


@dataclass(frozen=True)
class TinyDriver:
    """A finished tiny run: the demonstrations it grew, and what train_driver returned."""

    data: Path
    result: DriverResult


@pytest.fixture(scope="module")
def tiny_driver(tmp_path_factory) -> TinyDriver:
    """Three 30-step expert episodes, then a 2-frame-stack driver with one 20-step DAgger episode."""
    root = tmp_path_factory.mktemp("carracing")
    record_demonstrations(RecordConfig(out=root / "demos", seeds="0-2", max_episode_steps=RECORDED_STEPS))
    config = TrainConfig(data=root / "demos", frame_stack=2, dagger_iterations=1, export_root=root / "saved_models",
                         run_dir=root / "run", **TINY)
    return TinyDriver(root / "demos", train_driver(config, ["python", "-m", "trainer", "rl", "carracing-train"]))


def test_the_export_serves_frames_to_action_probabilities(tiny_driver):
    loaded = tf.saved_model.load(str(tiny_driver.result.export.path))
    serve = loaded.signatures["serving_default"]
    (frames,) = serve.structured_input_signature[1].values()
    assert frames.name == "frames" and frames.dtype == tf.uint8 and frames.shape.as_list() == [None, 96, 96, 6]
    outputs = serve(frames=tf.zeros([3, 96, 96, 6], tf.uint8))
    assert outputs["action_probs"].dtype == tf.float32 and outputs["action_probs"].shape == (3, 5)
    assert outputs["actions"].dtype == tf.int64 and outputs["actions"].shape == (3,)
    np.testing.assert_allclose(outputs["action_probs"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    served = json.loads(loaded.signatures["metadata"]()["model_json"].numpy().decode())
    assert served == tiny_driver.result.export.model_json


def test_model_json_carries_env_frame_handling_actions_and_metrics(tiny_driver):
    document = tiny_driver.result.export.model_json
    assert document["family"] == "carracing_driver"
    assert document["data"]["env"]["id"] == "CarRacing-v3"
    assert document["data"]["env"]["make_kwargs"] == {"continuous": False}
    assert document["data"]["env"]["wrappers"][0]["kwargs"]["stack_size"] == 2
    assert document["data"]["observation_transpose"] == [1, 2, 0, 3]
    assert document["action_meanings"] == ["noop", "steer right", "steer left", "gas", "brake"]
    evaluation = document["metrics"]["evaluation"]
    assert evaluation["episodes"] == 1 and evaluation["seeds"] == [10_000]
    assert "validation_accuracy" in document["metrics"]
    run_dir = tiny_driver.result.run_dir
    assert (run_dir / "confusion_matrix.png").is_file() and list(run_dir.glob("eval-best-*.mp4"))


def test_dagger_adds_states_the_learner_visited_labelled_by_the_expert(tiny_driver):
    episodes = load_episodes(tiny_driver.data)
    dagger = [episode for episode in episodes if episode.record.driver == "dagger"]
    assert len(episodes) == RECORDED_EPISODES + 1 and len(dagger) == 1
    assert dagger[0].record.id == "dagger1-020000" and len(dagger[0].frames) == 20
    assert tiny_driver.result.export.model_json["data"]["drivers"] == {"expert": 3, "dagger": 1}


def test_dagger_exports_the_policy_of_the_best_scoring_round(tiny_driver):
    dagger = tiny_driver.result.export.model_json["metrics"]["dagger"]
    scores, best = dagger["round_policy_scores"], dagger["exported_round"]
    assert set(scores) == {"0", "1"} and scores[str(best)] == max(scores.values())
    config = TrainConfig(data=tiny_driver.data, frame_stack=2, **TINY)
    frames = np.random.default_rng(0).integers(0, 256, (4, 96, 96, 6), dtype=np.uint8)
    served = tf.saved_model.load(str(tiny_driver.result.export.path)).signatures["serving_default"]
    exported = served(frames=tf.constant(frames))["action_probs"].numpy()
    for round_index in (0, 1):
        model = build_network(2, config.filter_sizes(), config.dense_units, config.dropout)
        model.load_weights(str(tiny_driver.result.run_dir / f"round-{round_index}" / FINAL_WEIGHTS))
        matches = np.allclose(model(frames, training=False).numpy(), exported, atol=1e-6)
        assert matches == (round_index == best)


@pytest.fixture(scope="module")
def driving_selected(tiny_driver, tmp_path_factory) -> DriverResult:
    """The tiny run again, with epochs and DAgger rounds chosen by driving a held-out track, and the expert
    driving half of the DAgger round's steps and taking over off the road."""
    root = tmp_path_factory.mktemp("selected")
    config = TrainConfig(data=tiny_driver.data, frame_stack=2, dagger_iterations=1, dagger_first_seed=21_000,
                         dagger_beta=0.5, dagger_takeover=9.0, select_by="driving", select_episodes=1, export_root=root / "saved_models",
                         run_dir=root / "run", **{**TINY, "epochs": 2})
    return train_driver(config)


def test_driving_selection_exports_the_round_that_drove_the_selection_tracks_best(tiny_driver, driving_selected):
    dagger = driving_selected.export.model_json["metrics"]["dagger"]
    assert "selection tracks" in dagger["score"]
    config = TrainConfig(data=tiny_driver.data, frame_stack=2, select_by="driving", select_episodes=1, **TINY)
    for round_index, score in dagger["round_policy_scores"].items():
        model = build_network(2, config.filter_sizes(), config.dense_units, config.dropout)
        model.load_weights(str(driving_selected.run_dir / f"round-{round_index}" / FINAL_WEIGHTS))
        driven = evaluate_driver(model, 2, config.select_seeds(), config.eval_max_steps, None)
        assert driven.seeds == (40_000,) and score == pytest.approx(np.mean(driven.returns))
    assert dagger["round_policy_scores"][str(dagger["exported_round"])] == max(dagger["round_policy_scores"].values())


def _synthetic_demos(directory: Path, count: int = 3) -> Path:
    rng = np.random.default_rng(0)
    for seed in range(count):
        record = EpisodeRecord(f"expert-{seed:06d}", f"episodes/expert-{seed:06d}.npz", seed, "expert", 8, 1.0, False)
        frames = rng.integers(0, 256, (8, 96, 96, 3), dtype=np.uint8)
        write_episode(directory, Episode(record, frames, np.array([3, 3, 3, 3, 1, 2, 3, 3])))
    return directory


def _truncate(demos: Path) -> None:
    shard = demos / "episodes" / "expert-000001.npz"
    shard.write_bytes(shard.read_bytes()[:100])


def _other_env(demos: Path) -> None:
    manifest = json.loads((demos / MANIFEST).read_text())
    (demos / MANIFEST).write_text(json.dumps({**manifest, "env_id": "CarRacing-v2"}))


BAD_DATA = {
    "missing shard": (lambda demos: (demos / "episodes" / "expert-000001.npz").unlink(), {}, "missing shard"),
    "truncated shard": (_truncate, {}, "truncated or corrupt shard"),
    "another env": (_other_env, {}, "env_id 'CarRacing-v2'"),
    "empty after balancing": (lambda demos: None, {"min_action_frames": 1000}, "empty after balancing"),
    "seen evaluation tracks": (lambda demos: None, {"eval_first_seed": 2}, "eval seeds .* were recorded"),
    "seen selection tracks": (
        lambda demos: None, {"select_by": "driving", "select_first_seed": 1}, "select seeds .* were recorded"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_is_refused_before_anything_is_written(tmp_path, case):
    spoil, flags, message = BAD_DATA[case]
    demos = _synthetic_demos(tmp_path / "demos")
    spoil(demos)
    existing = tmp_path / "saved_models" / "carracing_driver" / "1" / "assets.extra" / "model.json"
    existing.parent.mkdir(parents=True)
    existing.write_text('{"family": "carracing_driver"}')
    config = TrainConfig(data=demos, export_root=tmp_path / "saved_models", run_dir=tmp_path / "run", **{**TINY, **flags})
    with pytest.raises(TrainerError, match=message):
        train_driver(config)
    assert not (tmp_path / "run").exists()
    assert sorted(path.name for path in existing.parents[2].iterdir()) == ["1"]
    assert existing.read_text() == '{"family": "carracing_driver"}'


def test_the_served_driver_drives_through_the_client(tiny_driver, tmp_path):
    """The export under our server, driven frame by frame by `client play` for a 150-step episode."""
    base = tiny_driver.result.export.path.parent
    server = start_in_process(f"--model_name={base.name}", f"--model_base_path={base}")
    try:
        with ServingClient(server.grpc_target) as client:
            setup = policy_setup(read_contract(client, base.name, None))
            setup.env["make_kwargs"] = {**setup.env["make_kwargs"], "max_episode_steps": PLAYED_STEPS}
            report = play(client, base.name, setup, episodes=1, num_envs=1, seed=30_000, video=tmp_path / "lap.mp4")
    finally:
        server.stop()
    assert len(report.returns) == 1 and report.decisions == PLAYED_STEPS
    assert (tmp_path / "lap.mp4").stat().st_size > 0


def test_the_driving_score_logs_the_mean_return_on_its_tracks():
    model = build_network(1, (4, 8, 8), 16, 0.0)
    scorer = DrivingScore(frame_stack=1, seeds=(40_000, 40_001), max_steps=15)
    scorer.set_model(model)
    logs: dict = {}
    scorer.on_epoch_end(0, logs)
    driven = evaluate_driver(model, 1, (40_000, 40_001), 15, None)
    assert logs == {DRIVING_METRIC: pytest.approx(np.mean(driven.returns))}


def test_batch_norm_momentum_reaches_every_normalisation_layer_and_is_checked():
    model = build_network(1, (4, 8, 8), 16, 0.0, batch_norm_momentum=0.9)
    momenta = [layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert momenta == [0.9] * 4
    with pytest.raises(TrainerError, match="--batch-norm-momentum"):
        TrainConfig(data="x", batch_norm_momentum=1.0)


def test_precise_bn_recomputes_the_statistics_before_every_validation(tiny_driver, tmp_path, monkeypatch):
    recomputed = []
    monkeypatch.setattr(precise_batch_norm, "recompute_batch_norm", lambda model, batches: recomputed.append(
        sum(int(frames.shape[0]) for frames in batches)))
    config = TrainConfig(data=tiny_driver.data, precise_bn=2, **{**TINY, "epochs": 3, "batch_size": 8})
    train_round(build_network(1, (4, 8, 8), 16, 0.0), config, load_dataset(config), tmp_path / "round-0")
    assert recomputed == [16, 16, 16]
    with pytest.raises(TrainerError, match="--precise-bn must be >= 0"):
        TrainConfig(data="x", precise_bn=-1)


def test_every_round_trains_with_a_fresh_adam_on_its_own_cosine_schedule(tiny_driver, tmp_path):
    config = TrainConfig(data=tiny_driver.data, lr_schedule="cosine", **{**TINY, "epochs": 2})
    data = load_dataset(config)
    steps_per_round = config.epochs * math.ceil(len(data.balanced.samples) / config.batch_size)
    model, optimizers = build_network(1, (4, 8, 8), 16, 0.0), []
    for round_index in range(2):
        train_round(model, config, data, tmp_path / f"round-{round_index}")
        optimizers.append(model.optimizer)
        schedule = model.optimizer.get_config()["learning_rate"]
        assert schedule["class_name"] == "CosineDecay"
        assert schedule["config"]["initial_learning_rate"] == config.learning_rate
        assert schedule["config"]["decay_steps"] == steps_per_round and schedule["config"]["alpha"] == 0
    assert optimizers[0] is not optimizers[1]
    assert TrainConfig(data="x").lr_schedule == "constant"


class ConstantDriver:
    def __init__(self, action: int) -> None:
        self.action, self.resets = action, 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, observation, env) -> int:
        return self.action


@pytest.mark.parametrize("share, expert_steps", [(0.0, 0), (1.0, 200), (0.5, 94)])
def test_the_mixed_driver_drives_the_expert_with_the_given_probability(share, expert_steps):
    learner, expert = ConstantDriver(3), ConstantDriver(4)
    mixed = MixedDriver(learner, expert, share, np.random.default_rng(7))
    mixed.reset()
    actions = [mixed.act(np.zeros((96, 96, 3)), None) for _ in range(200)]
    assert actions.count(4) == expert_steps and actions.count(3) == 200 - expert_steps
    assert learner.resets == expert.resets == 1


def test_dagger_beta_decays_per_round_and_needs_driving_selection():
    config = TrainConfig(data="x", dagger_iterations=2, dagger_beta=0.5, select_by="driving")
    assert [config.expert_share(round_index) for round_index in (1, 2)] == [0.5, 0.25]
    assert TrainConfig(data="x", dagger_iterations=2).expert_share(1) == 0.0
    with pytest.raises(TrainerError, match="--dagger-beta needs --select-by driving"):
        TrainConfig(data="x", dagger_iterations=2, dagger_beta=0.5)


def test_driving_selection_refuses_rounds_trained_with_validation_loss(tiny_driver, tmp_path):
    shutil.copytree(tiny_driver.result.run_dir, tmp_path / "run")
    shutil.copytree(tiny_driver.data, tmp_path / "demos")
    config = TrainConfig(data=tmp_path / "demos", frame_stack=2, dagger_iterations=1, select_by="driving",
                         select_episodes=1, export_root=tmp_path / "saved_models", run_dir=tmp_path / "run", **TINY)
    with pytest.raises(TrainerError, match="round-0 holds no driving score"):
        train_driver(config)
    assert not (tmp_path / "saved_models").exists()
