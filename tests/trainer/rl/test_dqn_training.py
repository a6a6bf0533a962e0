"""Tiny DQN runs: CartPole and an Atari game train and export; an interrupted run resumes; bad input is refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from trainer.errors import TrainerError
from trainer.rl import dqn, dqn_loop
from trainer.rl.agent import nature_cnn
from trainer.rl.checkpoint import CHECKPOINT_FILE, REPLAY_FILE
from trainer.rl.dqn import train_dqn
from trainer.rl.dqn_config import DQNConfig


def tiny_config(root: Path, **overrides) -> DQNConfig:
    values = dict(
        env="CartPole-v1", total_timesteps=300, buffer_size=500, learning_starts=100, batch_size=16,
        target_network_frequency=50, eval_frequency=10**6, eval_episodes=2, checkpoint_frequency=100,
        video=False, export_root=root / "saved_models", run_dir=root / "run",
    )
    return DQNConfig(**{**values, **overrides})


def test_cartpole_run_exports_a_policy_with_its_environment(tmp_path: Path) -> None:
    result = train_dqn(tiny_config(tmp_path, video=True), command=["python", "-m", "trainer", "rl", "dqn"])
    contract = json.loads((result.export.path / "assets.extra" / "model.json").read_text())
    assert contract["family"] == "dqn_policy"
    assert contract["data"]["env"] == {"id": "CartPole-v1", "make_kwargs": {}, "wrappers": []}
    assert contract["action_meanings"] == ["push cart left", "push cart right"]
    assert contract["metrics"]["eval_episodes"] == 2 and contract["metrics"]["eval_seeds"] == [10001, 10002]
    loaded = tf.saved_model.load(str(result.export.path))
    outputs = loaded.signatures["serving_default"](observations=tf.zeros([3, 4]))
    assert outputs["q_values"].shape == (3, 2) and outputs["actions"].dtype == tf.int64
    for artefact in ("learning_curve.png", "evaluation.mp4", "checkpoints/" + CHECKPOINT_FILE, "config.json"):
        assert (result.run_dir / artefact).is_file(), artefact
    assert list((result.run_dir / "tensorboard").iterdir())


def test_atari_run_exports_uint8_frame_stacks_and_every_wrapper_in_order(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, env="ALE/Breakout-v5", total_timesteps=200, buffer_size=300, learning_starts=120,
                         batch_size=8, eval_episodes=1, max_episode_steps=400, terminal_on_life_loss=True,
                         fire_on_life_start=True)
    result = train_dqn(config)
    contract = result.export.model_json
    wrappers = contract["data"]["env"]["wrappers"]
    assert [wrapper["name"] for wrapper in wrappers] == ["AtariPreprocessing", "FireOnLifeStart", "FrameStackObservation"]
    preprocessing, _, stacking = (wrapper["kwargs"] for wrapper in wrappers)
    assert preprocessing["frame_skip"] == 4 and preprocessing["noop_max"] == 30
    assert preprocessing["terminal_on_life_loss"] is False  # evaluation and play see whole games
    assert stacking == {"stack_size": 4}
    assert contract["data"]["env"]["make_kwargs"]["frameskip"] == 1
    assert contract["inputs"]["serving_default"]["observations"] == {
        **contract["inputs"]["serving_default"]["observations"], "dtype": "uint8", "shape": [None, 84, 84, 4]}
    assert contract["action_meanings"] == ["NOOP", "FIRE", "RIGHT", "LEFT"]


def test_a_bfloat16_network_exports_float32_answers_of_its_trained_weights(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, env="ALE/Pong-v5", total_timesteps=200, buffer_size=300, learning_starts=100,
                         batch_size=8, eval_episodes=1, max_episode_steps=200, precision="mixed_bfloat16")
    result = train_dqn(config)
    assert result.export.model_json["config"]["precision"] == "mixed_bfloat16"
    with np.load(result.run_dir / "checkpoints" / CHECKPOINT_FILE) as checkpoint:
        trained = [checkpoint[f"online/{index}"] for index in range(10)]
    observations = np.random.default_rng(0).integers(0, 256, (16, 84, 84, 4), dtype=np.uint8)
    exported = tf.saved_model.load(str(result.export.path)).signatures["serving_default"]
    answers = exported(observations=tf.constant(observations))["q_values"]
    float32_network, bfloat16_network = nature_cnn((84, 84, 4), 6), nature_cnn((84, 84, 4), 6, "mixed_bfloat16")
    for network in (float32_network, bfloat16_network):
        network.set_weights(trained)
    assert answers.dtype == tf.float32
    np.testing.assert_allclose(answers.numpy(), float32_network(observations).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(answers.numpy(), bfloat16_network(observations).numpy(), rtol=0.05, atol=0.02)


def test_an_interrupted_run_resumes_from_its_last_checkpoint_with_its_replay(tmp_path: Path, monkeypatch) -> None:
    saves, resumed = [], {}
    real_save, real_run = dqn_loop.save_checkpoint, dqn_loop.TrainingLoop.run

    def save_then_interrupt(*args, **kwargs) -> None:
        real_save(*args, **kwargs)
        saves.append(args[2].step)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(dqn_loop, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_dqn(tiny_config(tmp_path, save_replay=True))
    monkeypatch.setattr(dqn_loop, "save_checkpoint", real_save)
    with np.load(tmp_path / "run" / "checkpoints" / REPLAY_FILE) as saved:
        saved_replay = {name: saved[name] for name in ("frames", "actions", "rewards", "counters")}

    def record_then_run(loop: dqn_loop.TrainingLoop) -> None:
        arrays = {name: array.copy() for name, array in loop.replay.state_dict().items()}
        resumed.update(step=loop.state.step, updates=loop.state.updates, **arrays)
        real_run(loop)

    monkeypatch.setattr(dqn_loop.TrainingLoop, "run", record_then_run)
    result = train_dqn(tiny_config(tmp_path, save_replay=True))
    assert saves == [100, 200]
    assert (result.start_step, result.final_step) == (200, 300)
    assert resumed["step"] == 200 and resumed["updates"] > 0
    assert saved_replay["counters"][0] == 200 % 500 and len(np.unique(saved_replay["frames"])) > 100
    for name, array in saved_replay.items():
        np.testing.assert_array_equal(resumed[name], array, err_msg=name)
    assert result.export.version == 1  # the interrupted run exported nothing


def test_unknown_env_id_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match="unknown env id 'ALE/NoSuchGame-v5'"):
        train_dqn(tiny_config(tmp_path, env="ALE/NoSuchGame-v5"))


def test_fire_on_life_start_needs_a_game_with_fire(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match="cannot wrap ALE/Freeway-v5: FireOnLifeStart needs a game with a FIRE"):
        train_dqn(tiny_config(tmp_path, env="ALE/Freeway-v5", fire_on_life_start=True))
    with pytest.raises(TrainerError, match="--fire-on-life-start is for Atari games"):
        tiny_config(tmp_path, fire_on_life_start=True)


def test_buffer_too_big_for_memory_stops_before_the_run_starts(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match="GiB of memory is available"):
        train_dqn(tiny_config(tmp_path, env="ALE/Pong-v5", buffer_size=10**10))
    assert not (tmp_path / "run").exists()


def test_corrupt_checkpoint_is_refused_and_left_alone(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run" / "checkpoints" / CHECKPOINT_FILE
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainerError, match="unreadable"):
        train_dqn(tiny_config(tmp_path))
    assert checkpoint.read_bytes() == b"not a checkpoint"
    assert not (tmp_path / "saved_models").exists()


def test_checkpoint_of_another_env_is_refused(tmp_path: Path) -> None:
    train_dqn(tiny_config(tmp_path, total_timesteps=100))
    before = (tmp_path / "run" / "checkpoints" / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(TrainerError, match="trained on CartPole-v1, not Acrobot-v1"):
        train_dqn(tiny_config(tmp_path, env="Acrobot-v1", model_name="cartpole_dqn"))
    assert (tmp_path / "run" / "checkpoints" / CHECKPOINT_FILE).read_bytes() == before
    assert sorted(path.name for path in (tmp_path / "saved_models" / "cartpole_dqn").iterdir()) == ["1"]


def test_plain_dqn_by_flag_trains_and_is_recorded(tmp_path: Path) -> None:
    result = train_dqn(tiny_config(tmp_path, double=False, total_timesteps=150))
    assert result.export.model_json["config"]["double"] is False
    assert np.isfinite(result.evaluation.mean_return)


def test_learning_curve_ends_at_the_final_evaluation_and_marks_re_evaluated_best_weights(tmp_path, monkeypatch):
    real_evaluate, scripted, drawn = dqn.evaluate_greedy, iter(range(100, 0, -10)), {}

    def falling_returns(*args, **kwargs):  # each evaluation worse than the one before: the first stays the best
        evaluation = real_evaluate(*args, **kwargs)
        return dataclasses.replace(evaluation, returns=[float(next(scripted))] * len(evaluation.returns))

    def capture(path, episodes, evaluations, title, exported):
        drawn.update(evaluations=list(evaluations), exported=exported)

    monkeypatch.setattr(dqn, "evaluate_greedy", falling_returns)
    monkeypatch.setattr(dqn_loop, "evaluate_greedy", falling_returns)
    monkeypatch.setattr(dqn, "write_learning_curve", capture)
    result = train_dqn(tiny_config(tmp_path, eval_frequency=100))
    periodic = drawn["evaluations"][:-1]
    final_step, final_return = drawn["evaluations"][-1]
    assert periodic[0][1] == 100.0 and final_step == result.final_step
    assert final_return == periodic[-1][1] - 10  # the final weights' own evaluation, not the re-evaluation
    assert drawn["exported"].step == periodic[0][0] and drawn["exported"].reevaluated
    assert drawn["exported"].mean_return == final_return - 10 == result.evaluation.mean_return
