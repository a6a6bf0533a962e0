"""TF Lite against the SavedModel, both served by ``python -m serving``: answers on the test split, and latency.

For each export (the shipped classifier and CartPole policy by default) the latest version is copied twice
into a temporary folder; one copy gets the ``model.tflite`` that ``--tflite`` writes (the same converter call)
and is served with ``--prefer_tflite_model``, the other is served from its SavedModel. Both servers run side
by side; the benchmark sends every test input to both over gRPC, prints the largest difference of the
answers, then alternates timed calls between them and prints the latency ratio TF Lite / SavedModel.

    python bench/tflite.py
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import grpc
import numpy as np
import tensorflow as tf
from bench_server import MODEL, latest_version, start_server
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from trainer.export.tflite import write_tflite

FASHION_MNIST_TEST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
IDX_HEADER_BYTES = 16
CARTPOLE_STATES = 5000
ANSWER_BATCH = 500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier-dir", default="saved_models/fashion_mnist_classifier", help="classifier export")
    parser.add_argument("--dqn-dir", default="saved_models/cartpole_dqn", help="CartPole DQN export")
    parser.add_argument("--batches", default="1,32", help="comma-separated batch sizes of the timed calls")
    parser.add_argument("--requests", type=int, default=300, help="timed calls per server and batch size")
    return parser.parse_args()


def fashion_mnist_test_images() -> dict[str, np.ndarray]:
    """The 10,000 Fashion-MNIST test images as the classifier's serving_default takes them."""
    with gzip.open(FASHION_MNIST_TEST, "rb") as handle:
        pixels = np.frombuffer(handle.read()[IDX_HEADER_BYTES:], np.uint8)
    return {"images": pixels.reshape(-1, 28, 28, 1)}


def cartpole_states() -> dict[str, np.ndarray]:
    """CartPole states visited by a random policy (seeded): the policy's inputs over the whole state space."""
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    observation, _ = env.reset(seed=0)
    states = []
    while len(states) < CARTPOLE_STATES:
        states.append(observation)
        observation, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
        if terminated or truncated:
            observation, _ = env.reset()
    return {"observations": np.asarray(states, np.float32)}


def predict(stub, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return {name: tf.make_ndarray(tensor) for name, tensor in stub.Predict(request, 60.0).outputs.items()}


def answers(stub, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    rows = len(next(iter(inputs.values())))
    parts = [predict(stub, {name: value[start:start + ANSWER_BATCH] for name, value in inputs.items()})
             for start in range(0, rows, ANSWER_BATCH)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def compare(lite: dict[str, np.ndarray], saved: dict[str, np.ndarray]) -> list[str]:
    """One line per output: the largest absolute difference (numbers) or the share of equal answers."""
    lines = []
    for name in sorted(saved):
        if saved[name].dtype.kind in "f":
            lines.append(f"{name}: largest |difference| {np.max(np.abs(lite[name] - saved[name])):.3g}")
        else:
            lines.append(f"{name}: {np.mean(lite[name] == saved[name]) * 100:.2f}% equal")
    return lines


def alternating_p50(calls: dict[str, Callable[[], object]], requests: int) -> dict[str, float]:
    """p50 of each call, timed in turn so that both see the same machine load."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(requests):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - started)
    return {name: float(np.percentile(values, 50)) for name, values in samples.items()}


def copies(export_dir: str, folder: Path) -> tuple[Path, Path]:
    """Two model base paths holding the latest version: with model.tflite written, and without."""
    version = latest_version(export_dir)
    lite, saved = folder / "lite", folder / "saved"
    for base in (lite, saved):
        shutil.copytree(version, base / version.name)
    write_tflite(lite / version.name)
    return lite, saved


def bench(title: str, export_dir: str, inputs: dict[str, np.ndarray], args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        lite_base, saved_base = copies(export_dir, Path(folder))
        servers = {"TF Lite": start_server(str(lite_base), extra_flags=["--prefer_tflite_model=true"]),
                   "SavedModel": start_server(str(saved_base))}
        channels = {name: grpc.insecure_channel(f"localhost:{server.grpc_port}") for name, server in servers.items()}
        try:
            stubs = {name: prediction_service_pb2_grpc.PredictionServiceStub(channel) for name, channel in channels.items()}
            rows = len(next(iter(inputs.values())))
            print(f"\n{title}: {latest_version(export_dir)}, {rows} test inputs")
            for line in compare(answers(stubs["TF Lite"], inputs), answers(stubs["SavedModel"], inputs)):
                print(f"  {line}")
            print(f"  {'batch':>5} {'TF Lite p50 ms':>15} {'SavedModel p50 ms':>18} {'ratio':>7}")
            for batch in (int(size) for size in args.batches.split(",")):
                sample = {name: value[:batch] for name, value in inputs.items()}
                calls = {name: (lambda stub=stub: predict(stub, sample)) for name, stub in stubs.items()}
                alternating_p50(calls, 20)
                p50 = alternating_p50(calls, args.requests)
                ratio = p50["TF Lite"] / p50["SavedModel"]
                print(f"  {batch:>5} {p50['TF Lite'] * 1e3:>15.3f} {p50['SavedModel'] * 1e3:>18.3f} {ratio:>6.2f}x")
        finally:
            for channel in channels.values():
                channel.close()
            for server in servers.values():
                server.stop()


def main() -> None:
    args = parse_args()
    bench("Fashion-MNIST classifier", args.classifier_dir, fashion_mnist_test_images(), args)
    bench("CartPole DQN policy", args.dqn_dir, cartpole_states(), args)


if __name__ == "__main__":
    main()
