"""Live inference: single-stream frames/s, 32 concurrent clients with batching off and on, p99 under load.

For each export (the Fashion-MNIST classifier and, when present, a DQN policy), in one run:
- single-stream frames per second through our gRPC and REST (client.stream's pipeline, 1 and 2
  requests in flight) as ratios to calling the signature in-process one frame at a time;
- throughput of ``--clients`` closed-loop clients (batch 1, gRPC) against a server with batching off and
  one with ``--enable_batching`` and a batching parameters file, as ratios to the in-process call at
  batch ``--clients`` (the most a batch can hold);
- p99 latency in open loop at 50 % and 90 % of the maximum throughput measured just before;
- the ceiling of the request path itself: the same clients sending the same Predict for an unknown model,
  which the server answers NOT_FOUND before any model runs.
Servers are ``python -m serving`` subprocesses; the load generator is client.loadgen in this process.

    .venv/bin/python bench/streaming.py --duration 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import tf_startup  # noqa: E402

tf_startup.quiet_start()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench_server import MODEL, add_batch_timeout_flag, grpc_sender, latest_version, start_server, write_batching_parameters  # noqa: E402

from client import ServingClient  # noqa: E402
from client.loadgen import BenchReport, Load, run_load  # noqa: E402
from client.messages import SignatureSpec  # noqa: E402
from client.stream import stream_frames  # noqa: E402
from client.stream_frames import frame_preparer  # noqa: E402

SIGNATURE = "serving_default"
LOAD_FRACTIONS = (0.5, 0.9)
UNKNOWN_MODEL = "no_such_model"
IMAGE_SIZE = 84
ATARI_FRAME_SHAPE, ATARI_FRAME_STACK = (210, 160, 3), 4


@dataclass(frozen=True)
class Export:
    """One export to measure: its base path, the frames it is fed and how many it stacks."""

    label: str
    base: str
    frame_shape: tuple[int, int, int]
    frame_stack: int | None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier-dir", default="saved_models/fashion_mnist_classifier", help="classifier base path")
    parser.add_argument("--policy-dir", default="saved_models/pong_dqn",
                        help="Atari DQN policy base path, fed 210x160 RGB frames stacked by 4 (skipped if absent)")
    parser.add_argument("--frames", type=int, default=300, help="frames per single-stream measurement")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients, and the batch of the in-process call")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per load run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measurement")
    add_batch_timeout_flag(parser)
    parser.add_argument("--batch-threads", type=int, default=os.cpu_count() or 1, help="batching: num_batch_threads")
    return parser.parse_args()


def takes_frame_stacks(base: str) -> bool:
    """Whether the latest export under base takes stacked frames [N,H,W,stack] (an Atari DQN, not CartPole's
    [N,4] state vector)."""
    function = tf.saved_model.load(str(latest_version(base))).signatures[SIGNATURE]
    spec = next(iter(function.structured_input_signature[1].values()))
    return spec.shape.rank == 4 and spec.shape[-1] == ATARI_FRAME_STACK


def exports(args: argparse.Namespace) -> list[Export]:
    found = [Export("classifier", args.classifier_dir, (64, 64, 3), None)]
    if not os.path.isdir(args.policy_dir):
        print(f"no DQN policy at {args.policy_dir}: measuring the classifier only")
    elif not takes_frame_stacks(args.policy_dir):
        sys.exit(f"error: {args.policy_dir} does not take stacks of {ATARI_FRAME_STACK} frames [N,H,W,"
                 f"{ATARI_FRAME_STACK}]; --policy-dir needs an Atari DQN such as saved_models/pong_dqn")
    else:
        found.append(Export("DQN policy", args.policy_dir, ATARI_FRAME_SHAPE, ATARI_FRAME_STACK))
    return found


def calls_per_second(call, seconds: float, warmup_calls: int = 20) -> float:
    """How many times ``call()`` runs per second, timed for about ``seconds`` after a few untimed calls."""
    for _ in range(warmup_calls):
        call()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        calls += 1
    return calls / (time.perf_counter() - started)


def random_frames(shape: tuple[int, int, int], count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(count)]


def in_process(export: Export, clients: int, seconds: float) -> tuple[float, float]:
    """Frames/s of the signature called in this process one frame at a time (frame preparation included),
    and rows/s at batch ``clients``."""
    function = tf.saved_model.load(str(latest_version(export.base))).signatures[SIGNATURE]
    alias, spec = next(iter(function.structured_input_signature[1].items()))
    prepare = frame_preparer(SIGNATURE, SignatureSpec("", {alias: spec}, {}), export.frame_stack)
    frames = random_frames(export.frame_shape, clients)
    single = calls_per_second(lambda: function(**{alias: tf.constant(prepare(frames[0]))}), seconds)
    batch = tf.constant(np.concatenate([prepare(frame) for frame in frames]))
    return single, calls_per_second(lambda: function(**{alias: batch}), seconds) * clients


def single_stream(export: Export, grpc_port: int, rest_port: int, frames: int) -> dict[str, float]:
    """Frames/s of one stream through gRPC and REST, with 1 and 2 requests in flight."""
    pictures = random_frames(export.frame_shape, 16)
    results = {}
    for transport, target in (("gRPC", f"localhost:{grpc_port}"), ("REST", f"http://localhost:{rest_port}")):
        with ServingClient(target, transport.lower(), timeout=30) as client:
            for in_flight in (1, 2):
                source = (pictures[index % len(pictures)] for index in range(frames))
                stats = stream_frames(client, MODEL, source, in_flight, warmup=30, frame_stack=export.frame_stack)
                results[f"{transport}, {in_flight} in flight"] = stats.frames_per_second
    return results


def load_runs(grpc_port: int, args: argparse.Namespace) -> tuple[float, dict[float, float]]:
    """Closed-loop rows/s of --clients gRPC clients, then open-loop p99 (ms) at fractions of it."""
    sender = grpc_sender(grpc_port, IMAGE_SIZE)
    try:
        closed = run_load(sender, Load(args.clients, args.duration, args.warmup))
        _check(closed)
        p99 = {}
        for fraction in LOAD_FRACTIONS:
            opened = run_load(sender, Load(args.clients, args.duration, args.warmup, rate=fraction * closed.requests_per_second))
            _check(opened)
            p99[fraction] = opened.latency_ms.get("p99", float("nan"))
        return closed.requests_per_second, p99
    finally:
        sender.close()


def rejected_per_second(grpc_port: int, args: argparse.Namespace) -> float:
    """Requests/s of --clients closed-loop clients whose Predict names an unknown model, so the server answers
    NOT_FOUND before any model runs: the request path's own ceiling, which no batching can pass."""
    sender = grpc_sender(grpc_port, IMAGE_SIZE, model=UNKNOWN_MODEL)
    try:
        report = run_load(sender, Load(args.clients, args.duration, args.warmup))
    finally:
        sender.close()
    return report.requests / report.elapsed_s


def _check(report: BenchReport) -> None:
    if report.errors or report.unsent:
        print(f"  warning: errors {report.errors}, unsent {report.unsent}")


def measure(export: Export, args: argparse.Namespace, batching_file: str) -> None:
    print(f"\n{export.label}: {latest_version(export.base)}")
    single, batched = in_process(export, args.clients, seconds=2.0)
    print(f"in-process: {single:.0f} frames/s one at a time; {batched:.0f} rows/s at batch {args.clients}")
    print(f"{'single stream':<28} {'frames/s':>9} {'ratio to in-process':>20}")
    server = start_server(export.base)
    try:
        for path, fps in single_stream(export, server.grpc_port, server.rest_port, args.frames).items():
            print(f"{path:<28} {fps:>9.0f} {fps / single:>19.2f}x")
        rows = {"batching off": load_runs(server.grpc_port, args)}
        ceiling = rejected_per_second(server.grpc_port, args)
    finally:
        server.stop()
    server = start_server(export.base, batching_file)
    try:
        rows["batching on"] = load_runs(server.grpc_port, args)
    finally:
        server.stop()
    print(f"{args.clients} clients (gRPC, batch 1)  {'rows/s':>8} {'ratio to in-process batch':>26} "
          f"{'p99 ms @50%':>12} {'p99 ms @90%':>12}")
    for name, (throughput, p99) in rows.items():
        print(f"{name:<28} {throughput:>8.0f} {throughput / batched:>25.2f}x {p99[0.5]:>12.1f} {p99[0.9]:>12.1f}")
    print(f"{'ceiling: no model runs':<28} {ceiling:>8.0f} {ceiling / batched:>25.2f}x   (Predict for an unknown model)")


def main() -> None:
    args = parse_args()
    print(f"{args.clients} clients, {args.duration:g} s per load run after {args.warmup:g} s warm-up; batching: "
          f"max_batch_size {args.clients}, batch_timeout_micros {args.batch_timeout_micros}, "
          f"num_batch_threads {args.batch_threads}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        batching_file = write_batching_parameters(folder, args.clients, args.batch_timeout_micros, args.batch_threads)
        for export in exports(args):
            measure(export, args, batching_file)


if __name__ == "__main__":
    main()
