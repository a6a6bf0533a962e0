"""``python -m client play``: play a served policy live, one server call per decision.

The client asks the server for the model's contract, rebuilds the environment with gymnasium's wrappers
(client.play_env), then loops: observations of K envs go to the server in one request, each env takes the
action that comes back. It prints each episode's return, the decisions per second and the latency of the
calls as the client measures them, and writes an MP4 of the first env with the chosen action drawn on.
Only TF Serving's public APIs are used, so it plays against the real TensorFlow Serving too.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from client.client import ServingClient
from client.errors import ClientError, InputError
from client.options import connection_options, model_option, version_options
from client.play_env import PolicySetup, check_env_matches, make_env, policy_input, policy_setup

VIDEO_FPS = 30
VIDEO_MIN_WIDTH = 320
CAPTION_BAND_HEIGHT = 26


@dataclass(frozen=True)
class PlayReport:
    """Returns per episode (with their seeds), decisions made and the latency of each server call."""

    returns: list[float]
    seeds: list[int]
    decisions: int
    wall_seconds: float
    latencies_ms: list[float]

    def summary(self) -> str:
        """One line: mean return, decisions per second and latency p50/p99."""
        p50, p99 = np.percentile(self.latencies_ms, [50, 99])
        return (f"{len(self.returns)} episodes, mean return {np.mean(self.returns):.2f}; "
                f"{self.decisions / self.wall_seconds:.1f} decisions/s; latency p50 {p50:.2f} ms p99 {p99:.2f} ms")


class _VideoRecorder:
    """RGB frames of one env with the chosen action's name drawn on, written as an MP4 with opencv."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: cv2.VideoWriter | None = None

    def add(self, frame: np.ndarray, caption: str) -> None:
        scale = max(1, VIDEO_MIN_WIDTH // frame.shape[1])
        game = cv2.cvtColor(np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1), cv2.COLOR_RGB2BGR)
        band = np.zeros((CAPTION_BAND_HEIGHT, game.shape[1], 3), np.uint8)  # under the frame: readable, hides nothing
        cv2.putText(band, caption, (6, CAPTION_BAND_HEIGHT - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
        bgr = np.concatenate([game, band], axis=0)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self.writer = cv2.VideoWriter(str(self.path), fourcc, VIDEO_FPS, (bgr.shape[1], bgr.shape[0]))
            if not self.writer.isOpened():
                raise InputError(f"cannot write video {self.path} (no mp4v codec in this opencv?)")
        self.writer.write(bgr)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def play(client: ServingClient, model: str, setup: PolicySetup, episodes: int, num_envs: int, seed: int,
         video: Path | None = None, version: int | None = None, label: str | None = None) -> PlayReport:
    """Play `episodes` episodes (seeds seed, seed+1, ...) on num_envs envs at once, asking the server each step."""
    if episodes < 1 or num_envs < 1:
        raise InputError(f"--episodes and --envs must be at least 1; got {episodes} and {num_envs}")
    envs = [make_env(setup.env, "rgb_array" if video and index == 0 else None) for index in range(num_envs)]
    recorder = _VideoRecorder(video) if video else None
    try:
        check_env_matches(envs[0], setup)
        call = policy_call(client, model, setup, version, label)
        return _play_loop(call, setup, envs, episodes, seed, recorder)
    finally:
        for env in envs:
            env.close()
        if recorder:
            recorder.close()


def policy_call(client: ServingClient, model: str, setup: PolicySetup, version: int | None = None,
                label: str | None = None) -> Callable[[np.ndarray], list[int]]:
    """One server call: a batch of policy inputs (see play_env.policy_input) to the actions to take."""
    def call(batch: np.ndarray) -> list[int]:
        outputs = client.predict(model, {setup.input_name: batch}, version=version, label=label,
                                 output_filter=[setup.action_output])
        return outputs[setup.action_output].tolist()

    return call


def _play_loop(call: Callable[[np.ndarray], list[int]], setup: PolicySetup, envs: list[Any], episodes: int, seed: int,
               recorder: _VideoRecorder | None) -> PlayReport:
    seeds = [seed + index for index in range(episodes)]
    started_count = min(len(envs), episodes)
    observations = [env.reset(seed=seeds[index])[0] for index, env in enumerate(envs[:started_count])]
    active = {index: (seeds[index], 0.0) for index in range(started_count)}  # env -> (episode seed, return)
    finished: list[tuple[int, float]] = []
    latencies, decisions, recording, started = [], 0, recorder is not None, time.perf_counter()
    while active:
        playing = sorted(active)
        batch = policy_input(np.stack([observations[index] for index in playing]), setup)
        call_started = time.perf_counter()
        actions = call(batch)
        latencies.append((time.perf_counter() - call_started) * 1000)
        for index, action in zip(playing, actions):
            if recording and index == 0:
                recorder.add(envs[0].render(), f"{decisions}: {setup.action_meanings[action]}")
            observations[index], reward, terminated, truncated, _ = envs[index].step(action)
            episode_seed, total = active[index]
            active[index] = (episode_seed, total + float(reward))
            decisions += 1
            if terminated or truncated:
                finished.append(active.pop(index))
                print(f"episode seed {episode_seed}: return {total + float(reward):.1f}", flush=True)
                recording = recording and index != 0
                if started_count < episodes:
                    observations[index] = envs[index].reset(seed=seeds[started_count])[0]
                    active[index] = (seeds[started_count], 0.0)
                    started_count += 1
    finished.sort()
    return PlayReport([total for _, total in finished], [episode_seed for episode_seed, _ in finished], decisions,
                      time.perf_counter() - started, latencies)


def read_contract(client: ServingClient, model: str, contract_file: str | None, version: int | None = None,
                  label: str | None = None) -> dict[str, Any]:
    """The model's contract from a file, or from the server's `metadata` signature (gRPC, or REST on our server)."""
    if contract_file:
        try:
            return json.loads(Path(contract_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read the contract {contract_file}: {error}") from None
    try:
        return client.contract(model, version, label)
    except ClientError as error:
        if error.code != "UNIMPLEMENTED":
            raise
        raise InputError(
            f"cannot read the contract from this server ({error.message}): pass --contract FILE "
            f"(write it with: python -m client contract --model {model} > model.json over TF Serving's gRPC API)"
        ) from None


def run_play(client: ServingClient, args: argparse.Namespace) -> None:
    """The `play` command: read the contract, play, print the summary."""
    setup = policy_setup(read_contract(client, args.model, args.contract, args.version, args.label), args.env)
    video = Path(args.video) if args.video else None
    report = play(client, args.model, setup, args.episodes, args.envs, args.seed, video, args.version, args.label)
    print(f"{client.transport}: {report.summary()}")
    if video:
        print(f"video: {video}")


def add_play_command(commands: argparse._SubParsersAction) -> None:
    """Add `play` to the client's sub-commands, with the connection and model options the other commands use."""
    parser = commands.add_parser(
        "play", parents=[connection_options(), model_option(), version_options()],
        help="play a served policy live in its gymnasium environment",
        description="Read the policy's contract, rebuild its environment with gymnasium's wrappers, send each "
        "step's observations of --envs games in one request and act on the answer. Prints each episode's "
        "return, decisions per second and latency p50/p99. Over REST, pass the contract with --contract.",
    )
    parser.add_argument("--episodes", type=int, default=1, help="episodes to play (default 1)")
    parser.add_argument("--envs", type=int, default=1, help="games played at once, sent in one request (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode; the next get seed+1, ... (default 0)")
    parser.add_argument("--video", metavar="MP4", help="write the first game's first episode to this MP4")
    parser.add_argument("--env", metavar="ENV_ID", help="play in this env instead of the contract's (must fit the policy)")
    parser.add_argument("--contract", metavar="MODEL_JSON", help="read the contract from this file, not the server")
    parser.set_defaults(run=run_play)
