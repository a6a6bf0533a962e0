"""`play`: a tiny CartPole policy trained here, served by our server, played over gRPC and REST."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import pytest
from server_process import ServerHandle, start_in_process, write_config

from client import ServingClient
from client.errors import InputError
from client.play import add_play_command, play, read_contract, run_play
from client.play_env import make_env, policy_setup

MODEL = "cartpole_dqn"
ATARI_MODEL = "pong_dqn"


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory) -> ServerHandle:
    """Our server with a CartPole and a Pong DQN policy, each trained for 200 steps."""
    from trainer.rl.dqn import train_dqn
    from trainer.rl.dqn_config import DQNConfig

    root = tmp_path_factory.mktemp("play")
    for env in ("CartPole-v1", "ALE/Pong-v5"):
        train_dqn(DQNConfig(
            env=env, total_timesteps=200, buffer_size=300, learning_starts=50, batch_size=16, eval_frequency=10**6,
            eval_episodes=1, checkpoint_frequency=10**6, video=False, max_episode_steps=400,
            export_root=root / "saved_models", run_dir=root / env.replace("/", "_"),
        ))
    models = {name: str(root / "saved_models" / name) for name in (MODEL, ATARI_MODEL)}
    handle = start_in_process(f"--model_config_file={write_config(str(root / 'models.config'), models)}")
    yield handle
    handle.stop()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_play_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["play", *argv])


def test_play_over_grpc_with_batched_envs_and_video(policy_server: ServerHandle, tmp_path: Path, capsys) -> None:
    video = tmp_path / "runs" / "cartpole.mp4"  # a folder that does not exist yet
    args = parse("--model", MODEL, "--episodes", "3", "--envs", "2", "--seed", "5", "--video", str(video))
    with ServingClient(policy_server.grpc_target, "grpc", timeout=30) as client:
        run_play(client, args)
    printed = capsys.readouterr().out
    assert sorted(line.split(":")[0] for line in printed.splitlines() if line.startswith("episode")) == [
        "episode seed 5", "episode seed 6", "episode seed 7"]
    assert "decisions/s; latency p50" in printed
    capture = cv2.VideoCapture(str(video))
    assert capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) >= 8


def test_play_over_rest_with_the_contract_from_a_file(policy_server: ServerHandle, tmp_path: Path) -> None:
    with ServingClient(policy_server.grpc_target, "grpc", timeout=30) as client:
        contract = client.contract(MODEL)
    contract_file = tmp_path / "model.json"
    contract_file.write_text(json.dumps(contract))
    with ServingClient(policy_server.rest_url, "rest", timeout=30) as client:
        assert read_contract(client, MODEL, None, None) == contract  # our server's REST extension
        setup = policy_setup(read_contract(client, MODEL, str(contract_file), None))
        report = play(client, MODEL, setup, episodes=2, num_envs=1, seed=0)
    assert report.seeds == [0, 1] and len(report.returns) == 2
    assert len(report.latencies_ms) == report.decisions  # one call per decision with one env


def test_play_an_atari_policy_from_stacked_frames(policy_server: ServerHandle, tmp_path: Path) -> None:
    with ServingClient(policy_server.grpc_target, "grpc", timeout=30) as client:
        setup = policy_setup(client.contract(ATARI_MODEL))
        report = play(client, ATARI_MODEL, setup, episodes=2, num_envs=2, seed=0, video=tmp_path / "pong.mp4")
    assert setup.input_shape == [None, 84, 84, 4] and setup.action_meanings[0] == "NOOP"
    assert len(report.returns) == 2 and len(report.latencies_ms) < report.decisions  # two games per call
    assert (tmp_path / "pong.mp4").stat().st_size > 0


def test_a_policy_whose_contract_does_not_fit_the_env_is_refused(policy_server: ServerHandle) -> None:
    with ServingClient(policy_server.grpc_target, "grpc", timeout=30) as client:
        setup = policy_setup(client.contract(MODEL), env_id="Acrobot-v1")
        with pytest.raises(InputError, match="env Acrobot-v1 gives observations \\[6\\] and 3 actions"):
            play(client, MODEL, setup, episodes=1, num_envs=1, seed=0)


def test_a_model_that_is_not_a_policy_is_refused() -> None:
    with pytest.raises(InputError, match="not a policy"):
        policy_setup({"name": "digits", "family": "image_classifier"})


def atari_spec(game: str, *wrappers: str) -> dict:
    kwargs = {"AtariPreprocessing": {"grayscale_newaxis": False}, "FrameStackObservation": {"stack_size": 4}}
    return {"id": f"ALE/{game}-v5", "make_kwargs": {"frameskip": 1},
            "wrappers": [{"name": name, "kwargs": kwargs.get(name, {})} for name in wrappers]}


def test_the_client_rebuilds_an_env_that_fires_at_every_life_start() -> None:
    env = make_env(atari_spec("Breakout", "AtariPreprocessing", "FireOnLifeStart", "FrameStackObservation"))
    env.reset(seed=0)
    lives = {env.step(0)[4]["lives"] for _ in range(400)}
    assert env.observation_space.shape == (4, 84, 84) and min(lives) < 5  # balls launched though NOOP was chosen


@pytest.mark.parametrize(("wrappers", "message"), [
    (("AtariPreprocessing", "NoSuchWrapper"), "wrappers this client does not know: \\['NoSuchWrapper'\\]"),
    (("AtariPreprocessing", "FireOnLifeStart"), "cannot wrap env 'ALE/Freeway-v5': FireOnLifeStart needs a game"),
])
def test_an_env_the_client_cannot_rebuild_is_a_clear_error(wrappers, message) -> None:
    with pytest.raises(InputError, match=message):
        make_env(atari_spec("Freeway", *wrappers))
