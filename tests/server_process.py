"""Runs our model server for a test: in this process (fast) or as ``python -m serving`` (the real CLI)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from serving.main import RunningServer, start_server
from serving.options import parse_options

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerHandle:
    grpc_port: int
    rest_port: int
    running: RunningServer | None = None
    process: subprocess.Popen | None = None

    @property
    def grpc_target(self) -> str:
        return f"localhost:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://localhost:{self.rest_port}"

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def port_flags(grpc_port: int, rest_port: int) -> list[str]:
    return [f"--port={grpc_port}", f"--rest_api_port={rest_port}"]


def start_in_process(*flags: str) -> ServerHandle:
    """Start the server in this process; returns once its ports are open."""
    grpc_port, rest_port = free_port(), free_port()
    running = start_server(parse_options([*port_flags(grpc_port, rest_port), *flags]))
    return ServerHandle(grpc_port, rest_port, running=running)


@contextmanager
def running(*flags: str) -> Iterator[ServerHandle]:
    """A server started in this process for the ``with`` block."""
    handle = start_in_process(*flags)
    try:
        yield handle
    finally:
        handle.stop()


@contextmanager
def prediction_stub(handle: ServerHandle) -> Iterator[prediction_service_pb2_grpc.PredictionServiceStub]:
    """A PredictionService stub on the server's gRPC port for the ``with`` block."""
    with grpc.insecure_channel(handle.grpc_target) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def start_subprocess(*flags: str, timeout: float = 120.0) -> ServerHandle:
    """Start ``python -m serving`` and wait until its gRPC port answers (or it exits)."""
    grpc_port, rest_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "serving", *port_flags(grpc_port, rest_port), *flags],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    handle = ServerHandle(grpc_port, rest_port, process=process)
    wait_for_port(handle, timeout)
    return handle


def wait_for_port(handle: ServerHandle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    channel = grpc.insecure_channel(handle.grpc_target)
    try:
        while time.monotonic() < deadline:
            if handle.process is not None and handle.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{handle.process.stdout.read()}")
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
                return
            except grpc.FutureTimeoutError:
                continue
        raise TimeoutError(f"server did not open port {handle.grpc_port} within {timeout} s")
    finally:
        channel.close()


def write_config(path: str, models: dict[str, str], extra: str = "") -> str:
    """A ModelServerConfig text file serving each ``name: base_path``."""
    entries = "".join(
        f"  config {{\n    name: '{name}'\n    base_path: '{base}'\n    model_platform: 'tensorflow'\n{extra}  }}\n"
        for name, base in models.items()
    )
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"model_config_list {{\n{entries}}}\n")
    return path
