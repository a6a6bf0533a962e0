"""Live play: decisions per second of a policy streamed through our gRPC server vs called in-process.

In one run, on the same policy export and the environment its contract describes:
- one game, one decision per request: in-process signature call vs our gRPC server (target ≥ 0.6×);
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

import numpy as np
import tensorflow as tf

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from bench_server import MODEL, add_batch_timeout_flag, latest_version, start_server, write_batching_parameters  # noqa: E402

from client import ServingClient  # noqa: E402
from client.play import policy_call  # noqa: E402
from client.play_env import PolicySetup, make_env, policy_input, policy_setup  # noqa: E402

REAL_TIME_DECISIONS = 15.0
"""Atari runs at 60 frames per second; with frame skip 4 a player decides 15 times a second."""
Policy = Callable[[np.ndarray], int]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="saved_models/cartpole_dqn", help="policy base path (numbered versions)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds timed per measurement")
    parser.add_argument("--games", type=int, default=16, help="games played at once with server-side batching")
    add_batch_timeout_flag(parser)
    parser.add_argument("--server-op-threads", type=int, default=0,
                        help="the server's --tensorflow_intra_op_parallelism and --tensorflow_inter_op_parallelism "
                             "for the one-game run (default 0: TensorFlow's choice)")
    args = parser.parse_args()
    if args.seconds <= 0 or args.games < 1 or args.server_op_threads < 0:
        parser.error("need --seconds > 0, --games >= 1 and --server-op-threads >= 0")
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


def main() -> None:
    args = parse_args()
    version_dir = latest_version(args.model_dir)
    setup = policy_setup(json.loads((version_dir / "assets.extra" / "model.json").read_text()))
    local = decisions_per_second(in_process_policy(version_dir, setup), setup, args.seconds, seed=0)
    threads = args.server_op_threads
    server = start_server(args.model_dir, extra_flags=[f"--tensorflow_intra_op_parallelism={threads}",
                                                       f"--tensorflow_inter_op_parallelism={threads}"])
    try:
        with ServingClient(f"localhost:{server.grpc_port}", timeout=30) as client:
            remote = decisions_per_second(served_policy(client, setup), setup, args.seconds, seed=0)
    finally:
        server.stop()
    with tempfile.TemporaryDirectory() as folder:
        parameters = write_batching_parameters(folder, args.games, args.batch_timeout_micros, os.cpu_count() or 1)
        server = start_server(args.model_dir, parameters)
        try:
            rates = concurrent_games(server.grpc_port, setup, args.games, args.seconds)
        finally:
            server.stop()
    print(f"policy {version_dir} on {setup.env['id']}, {args.seconds:.0f} s per measurement")
    print(f"{'one game':<28} {'decisions/s':>12} {'ratio':>8}")
    print(f"{'in-process':<28} {local:>12.1f} {1.0:>7.2f}x")
    served = f"our gRPC, op threads {threads or 'auto'}"
    print(f"{served:<28} {remote:>12.1f} {remote / local:>7.2f}x  (target >= 0.6x)")
    slowest = min(rates)
    verdict = "above" if slowest >= REAL_TIME_DECISIONS else "BELOW"
    print(f"{args.games} games with batching: slowest {slowest:.1f}, mean {np.mean(rates):.1f}, total "
          f"{sum(rates):.1f} decisions/s; every game {verdict} real time ({REAL_TIME_DECISIONS:.0f}/s)")


if __name__ == "__main__":
    main()
