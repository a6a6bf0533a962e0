"""What the benchmarks share: an export's latest version, `python -m serving` on free ports, a load sender.

Each benchmark serves one export under the model name ``bench`` in a subprocess, so the server has its
own interpreter and GIL, as it would in production, while the benchmark measures from the outside.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from client import ServingClient  # noqa: E402
from client.loadgen_requests import GrpcSender, grpc_request, synthetic_inputs  # noqa: E402
from client.messages import ModelRef  # noqa: E402

MODEL = "bench"
"""The name every benchmark serves its export under."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def latest_version(base: str) -> Path:
    """The highest numbered version folder under base; exits with a hint when there is none."""
    versions = [path for path in Path(base).iterdir() if path.name.isdigit()] if Path(base).is_dir() else []
    if not versions:
        sys.exit(f"no numbered version under {base}: train a model first (see README)")
    return max(versions, key=lambda path: int(path.name))


@dataclass
class BenchServer:
    """A running `python -m serving` subprocess and its ports."""

    process: subprocess.Popen
    grpc_port: int
    rest_port: int

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_server(base: str, batching_file: str | None = None, extra_flags: Sequence[str] = ()) -> BenchServer:
    """Serve base as ``bench`` on free ports, batching on when a parameters file is given; waits for gRPC."""
    grpc_port, rest_port = free_port(), free_port()
    flags = [f"--port={grpc_port}", f"--rest_api_port={rest_port}", f"--model_name={MODEL}",
             f"--model_base_path={os.path.abspath(base)}", "--file_system_poll_wait_seconds=0", *extra_flags]
    if batching_file:
        flags += ["--enable_batching", f"--batching_parameters_file={batching_file}"]
    process = subprocess.Popen([sys.executable, "-m", "serving", *flags], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with grpc.insecure_channel(f"localhost:{grpc_port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=180)
    return BenchServer(process, grpc_port, rest_port)


def add_batch_timeout_flag(parser: argparse.ArgumentParser) -> None:
    """--batch-timeout-micros, the batching parameters file's batch_timeout_micros of the batching runs."""
    parser.add_argument("--batch-timeout-micros", type=int, default=2000, help="batching: wait for a fuller batch")


def write_batching_parameters(folder: str, max_batch_size: int, timeout_micros: int, threads: int) -> str:
    """A BatchingParameters file: batches of up to max_batch_size rows and a queue that holds as many batches."""
    path = os.path.join(folder, "batching.config")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"max_batch_size {{ value: {max_batch_size} }}\n"
                     f"batch_timeout_micros {{ value: {timeout_micros} }}\n"
                     f"max_enqueued_batches {{ value: {max_batch_size} }}\n"
                     f"num_batch_threads {{ value: {threads} }}\n")
    return path


def grpc_sender(grpc_port: int, image_size: int, model: str = MODEL) -> GrpcSender:
    """A load-generator sender of one made-up batch-1 Predict for the served export's serving_default;
    ``model`` names the model the request asks for (another name than the served one is answered NOT_FOUND)."""
    target = f"localhost:{grpc_port}"
    with ServingClient(target, "grpc", timeout=30) as client:
        spec = client.signature(MODEL)
    return GrpcSender(target, *grpc_request("tfserving", ModelRef(model), spec, synthetic_inputs(spec, 1, image_size)), timeout=30)


def interleaved_percentiles(calls: dict[str, Callable[[], object]], requests: int, warmup: int = 20) -> dict[str, tuple[float, float]]:
    """p50 and p99 seconds of each call, the calls taking turns one by one, so that a machine busy with other
    work slows them alike and their ratios hold."""
    samples = {name: np.empty(requests) for name in calls}
    for index in range(-warmup, requests):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            if index >= 0:
                samples[name][index] = time.perf_counter() - started
    return {name: (float(np.percentile(values, 50)), float(np.percentile(values, 99))) for name, values in samples.items()}
