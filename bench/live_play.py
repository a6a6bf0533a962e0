"""Live play: decisions per second of a policy streamed through our gRPC server vs called in-process.

In one run, on the same policy export and the environment its contract describes:
- one game, one decision per request: the signature called in-process as TensorFlow 2 users call it
  (``tf.saved_model.load(...).signatures``) vs our gRPC server (target ≥ 0.6×), alternated over
  ``--rounds`` rounds so that both see the same machine; the ratio is each round's, and their median.
  A third row calls our server's own execution path (``serving.core.servable``) in-process, to show what
  the network and the request handling cost on top of it;
- ``--games`` games at once, each in its own thread with its own client, one decision per request,
  against a server with ``--enable_batching`` (batches of up to ``--games`` rows): decisions per
  second of every game, which must stay above real time (15 per second at frame skip 4).
The environment is stepped in the loop in every case, so the figures are what a player gets.

    .venv/bin/python bench/live_play.py --model-dir saved_models/cartpole_dqn --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import tf_startup

tf_startup.quiet_start()  # before TensorFlow loads: its start-up noise stays off screen

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from bench_server import MODEL, add_batch_timeout_flag, latest_version, start_server, write_batching_parameters  # noqa: E402

from client import ServingClient  # noqa: E402
from client.play import policy_call  # noqa: E402
from client.play_env import PolicySetup, make_env, policy_input, policy_setup  # noqa: E402
from serving.core.servable import load_servable  # noqa: E402

REAL_TIME_DECISIONS = 15.0
"""Atari runs at 60 frames per second; with frame skip 4 a player decides 15 times a second."""
Policy = Callable[[np.ndarray], int]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="saved_models/cartpole_dqn", help="policy base path (numbered versions)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds timed per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the one-game measurements, alternated")
    parser.add_argument("--games", type=int, default=16, help="games played at once with server-side batching")
    add_batch_timeout_flag(parser)
    parser.add_argument("--op-threads", type=int, default=0,
                        help="TensorFlow's intra- and inter-op threads for the one-game runs, the same for the "
                             "in-process calls and the server (--tensorflow_intra_op_parallelism and "
                             "--tensorflow_inter_op_parallelism); default 0: TensorFlow's choice")
    args = parser.parse_args()
    if args.seconds <= 0 or args.games < 1 or args.rounds < 1 or args.op_threads < 0:
        parser.error("need --seconds > 0, --games >= 1, --rounds >= 1 and --op-threads >= 0")
    return args


def decisions_per_second(policy: Policy, setup: PolicySetup, seconds: float, seed: int) -> float:
    """Play with policy for about `seconds` (restarting finished episodes) and count decisions per second."""
    env = make_env(setup.env)
    try:
        observation, _ = env.reset(seed=seed)
        decisions, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            observation, _, terminated, truncated, _ = env.step(policy(observation))
            decisions += 1
            if terminated or truncated:
                observation, _ = env.reset()
        return decisions / (time.perf_counter() - started)
    finally:
        env.close()


def in_process_policy(version_dir: Path, setup: PolicySetup) -> Policy:
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]

    def act(observation: np.ndarray) -> int:
        outputs = serve(**{setup.input_name: tf.constant(policy_input(observation[np.newaxis], setup))})
        return int(outputs[setup.action_output].numpy()[0])

    return act


def server_core_policy(version_dir: Path, setup: PolicySetup) -> Policy:
    """The policy run by our server's execution path (one session call per signature), without the network."""
    servable = load_servable(MODEL, int(version_dir.name), str(version_dir), frozenset({"serve"}))
    signature = servable.find_signature("serving_default")

    def act(observation: np.ndarray) -> int:
        outputs = servable.run(signature, {setup.input_name: policy_input(observation[np.newaxis], setup)})
        return int(outputs[setup.action_output][0])

    return act


def served_policy(client: ServingClient, setup: PolicySetup) -> Policy:
    call = policy_call(client, MODEL, setup)
    return lambda observation: call(policy_input(observation[np.newaxis], setup))[0]


def concurrent_games(grpc_port: int, setup: PolicySetup, games: int, seconds: float) -> list[float]:
    """Decisions per second of each of `games` games played at the same time, one client each."""
    rates = [0.0] * games

    def play(index: int) -> None:
        with ServingClient(f"localhost:{grpc_port}", timeout=30) as client:
            rates[index] = decisions_per_second(served_policy(client, setup), setup, seconds, seed=index)

    threads = [threading.Thread(target=play, args=(index,)) for index in range(games)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return rates


ONE_GAME_PATHS = ("in-process signature", "in-process server core", "our gRPC")


def one_game_rounds(version_dir: Path, setup: PolicySetup, args: argparse.Namespace) -> list[list[float]]:
    """Decisions per second of each one-game path (ONE_GAME_PATHS), measured in turn, once per round."""
    threads = args.op_threads
    server = start_server(args.model_dir, extra_flags=[f"--tensorflow_intra_op_parallelism={threads}",
                                                       f"--tensorflow_inter_op_parallelism={threads}"])
    try:
        with ServingClient(f"localhost:{server.grpc_port}", timeout=30) as client:
            policies = [in_process_policy(version_dir, setup), server_core_policy(version_dir, setup),
                        served_policy(client, setup)]
            return [[decisions_per_second(policy, setup, args.seconds, seed=0) for policy in policies]
                    for _ in range(args.rounds)]
    finally:
        server.stop()


def print_one_game(rounds: list[list[float]], threads: int) -> None:
    """Each round's decisions per second and ratio to the in-process signature call, then the medians."""
    print(f"one game, decisions/s (op threads {threads or 'auto'}):")
    print(f"{'round':<7}" + "".join(f"{path:>24}" for path in ONE_GAME_PATHS) + f"{'gRPC ratio':>12}")
    for index, rates in enumerate(rounds, start=1):
        print(f"{index:<7}" + "".join(f"{rate:>24.1f}" for rate in rates) + f"{rates[2] / rates[0]:>11.2f}x")
    medians = np.median(np.array(rounds), axis=0)
    ratio = float(np.median([rates[2] / rates[0] for rates in rounds]))
    print(f"{'median':<7}" + "".join(f"{rate:>24.1f}" for rate in medians) + f"{ratio:>11.2f}x  (target >= 0.6x)")


def main() -> None:
    args = parse_args()
    version_dir = latest_version(args.model_dir)
    setup = policy_setup(json.loads((version_dir / "assets.extra" / "model.json").read_text()))
    threads = args.op_threads
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    rounds = one_game_rounds(version_dir, setup, args)
    with tempfile.TemporaryDirectory() as folder:
        parameters = write_batching_parameters(folder, args.games, args.batch_timeout_micros, os.cpu_count() or 1)
        server = start_server(args.model_dir, parameters)
        try:
            rates = concurrent_games(server.grpc_port, setup, args.games, args.seconds)
        finally:
            server.stop()
    print(f"policy {version_dir} on {setup.env['id']}, {args.seconds:.0f} s per measurement")
    print_one_game(rounds, threads)
    slowest = min(rates)
    verdict = "above" if slowest >= REAL_TIME_DECISIONS else "BELOW"
    print(f"{args.games} games with batching: slowest {slowest:.1f}, mean {np.mean(rates):.1f}, total "
          f"{sum(rates):.1f} decisions/s; every game {verdict} real time ({REAL_TIME_DECISIONS:.0f}/s)")


if __name__ == "__main__":
    main()
