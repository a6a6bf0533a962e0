"""The server under faults and bad input: one table of what each fault got, whether the server kept serving,
how many background requests were lost, CPU spent after deadlines, and memory after a large request; then
REST against gRPC latency at batch 1 and 32 (uint8 images), the two taking turns call by call.

Serves the shipped classifier and char-LSTM in a ``python -m serving`` subprocess while a background
client keeps sending classifier Predicts over gRPC; every fault is measured from the outside.

    python bench/faults.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import numpy as np
import tensorflow as tf
from bench_server import REPO_ROOT, free_port, interleaved_percentiles
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc

CLASSIFIER, CHARLSTM = "fashion_mnist_classifier", "charlstm"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="saved_models", help="folder holding the shipped models")
    parser.add_argument("--requests", type=int, default=200, help="timed calls per latency row")
    return parser.parse_args()


@dataclass
class Server:
    process: subprocess.Popen
    grpc_port: int
    rest_port: int
    models: str

    @property
    def target(self) -> str:
        return f"localhost:{self.grpc_port}"

    def cpu_seconds(self) -> float:
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        return 0.0


def start(models: str, *flags: str, env: dict[str, str] | None = None) -> Server:
    """``python -m serving`` on the shipped classifier and char-LSTM; ``env`` adds to this process's environment."""
    config = os.path.join(tempfile.mkdtemp(), "models.config")
    entries = "".join(f"config {{ name: '{name}' base_path: '{os.path.join(models, name)}' "
                      f"model_platform: 'tensorflow' }}\n" for name in (CLASSIFIER, CHARLSTM))
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(f"model_config_list {{\n{entries}}}\n")
    grpc_port, rest_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "serving", f"--port={grpc_port}", f"--rest_api_port={rest_port}",
         f"--model_config_file={config}", *flags],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})},
    )
    with grpc.insecure_channel(f"localhost:{grpc_port}") as channel:
        ready = grpc.channel_ready_future(channel)
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(f"error: the server exited with status {process.returncode} (models in {models}?)")
            try:
                ready.result(timeout=1.0)
                break
            except grpc.FutureTimeoutError:
                continue
    return Server(process, grpc_port, rest_port, models)


def images_request(rows: int) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = CLASSIFIER
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.zeros((rows, 28, 28, 1), np.uint8)))
    return request


def generate_request(batch: int, length: int) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = CHARLSTM
    inputs = {"prompt": np.array([b"The "] * batch), "length": np.full(batch, length, np.int32),
              "temperature": np.ones(batch, np.float32), "seed": np.arange(batch, dtype=np.int64)}
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


class Background:
    """Classifier Predicts over gRPC in a loop, counting answers and failures, until stopped."""

    def __init__(self, target: str) -> None:
        self.ok = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self._thread.start()

    def _run(self, target: str) -> None:
        with grpc.insecure_channel(target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            while not self._stop.is_set():
                try:
                    stub.Predict(images_request(1), 10.0)
                    self.ok += 1
                except grpc.RpcError:
                    self.failed += 1
                time.sleep(0.02)

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.ok, self.failed


def serving(server: Server) -> bool:
    try:
        with grpc.insecure_channel(server.target) as channel:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(images_request(1), 10.0)
        return True
    except grpc.RpcError:
        return False


def raw_http(server: Server, raw: bytes) -> str:
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as connection:
        connection.sendall(raw)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    replies = [line.split(b" ", 2)[1].decode() for line in b"".join(chunks).split(b"\r\n") if line.startswith(b"HTTP/1.")]
    return "HTTP " + ", ".join(replies) if replies else "no answer"


def predict_bytes(body: bytes, headers: str) -> bytes:
    return f"POST /v1/models/{CLASSIFIER}:predict HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


def fault_bad_length(server: Server) -> str:
    return raw_http(server, predict_bytes(b"{}", "Content-Length: abc\r\n"))


def fault_chunked(server: Server) -> str:
    body = json.dumps({"instances": np.zeros((1, 28, 28, 1), np.uint8).tolist()}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    return raw_http(server, predict_bytes(chunked, "Transfer-Encoding: chunked\r\nConnection: close\r\n"))


def fault_huge_body(server: Server) -> str:
    body = b"[" + b"0," * (100 * 2**20) + b"0]"
    return raw_http(server, predict_bytes(body, f"Content-Length: {len(body)}\r\nConnection: close\r\n"))


def fault_connect_storm(server: Server) -> str:
    waits: list[float] = []

    def connect() -> None:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30):
            waits.append(time.monotonic() - started)

    threads = [threading.Thread(target=connect) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return f"{len(waits)} connected, {sum(wait >= 1.0 for wait in waits)} waited >= 1 s"


def fault_reload_without_versions(server: Server) -> str:
    """Eight ReloadConfigs, each adding a new model whose base path holds no version, with 1 s deadlines."""
    codes = []
    with grpc.insecure_channel(server.target) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        for attempt in range(8):
            try:
                stub.HandleReloadConfigRequest(reload_request(server.models, f"empty_{attempt}"), 1.0)
                codes.append("OK")
            except grpc.RpcError as error:
                codes.append(error.code().name)
        final = stub.HandleReloadConfigRequest(reload_request(server.models, None), 30.0).status.error_code
    return f"{summary(codes)}; then the shipped config: {'OK' if final == 0 else final}"


def reload_request(models: str, empty_model: str | None) -> model_management_pb2.ReloadConfigRequest:
    request = model_management_pb2.ReloadConfigRequest()
    for name in (CLASSIFIER, CHARLSTM):
        request.config.model_config_list.config.add(name=name, base_path=os.path.join(models, name), model_platform="tensorflow")
    if empty_model:
        request.config.model_config_list.config.add(name=empty_model, base_path=tempfile.mkdtemp(), model_platform="tensorflow")
    return request


def summary(codes: list[str]) -> str:
    return ", ".join(f"{codes.count(code)} x {code}" for code in dict.fromkeys(codes))


def fault_deadlines(server: Server) -> str:
    """Eight long generations with 2 s deadlines; the server's CPU from 1 to 3 s after they passed, against
    the background traffic's own CPU over 2 s before them."""
    background_cpu = cpu_over(server, 2.0)
    with grpc.insecure_channel(server.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        futures = [stub.Predict.future(generate_request(64, 4096), 2.0) for _ in range(8)]
        codes = [future.exception().code().name if future.exception() else "OK" for future in futures]
    time.sleep(1.0)
    return f"{summary(codes)}; CPU 1-3 s after: {cpu_over(server, 2.0):.2f} s (traffic alone {background_cpu:.2f} s)"


def cpu_over(server: Server, seconds: float) -> float:
    started = server.cpu_seconds()
    time.sleep(seconds)
    return server.cpu_seconds() - started


def fault_large_request(server: Server) -> str:
    before = server.rss_mb()
    with grpc.insecure_channel(server.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            stub.Predict(images_request(10_000), 120.0)
            answer = "OK"
        except grpc.RpcError as error:
            answer = error.code().name
    time.sleep(2.0)
    return f"{answer}; RSS {before:.0f} -> {server.rss_mb():.0f} MB"


FAULTS: list[tuple[str, Callable[[Server], str]]] = [
    ("Content-Length: abc", fault_bad_length),
    ("chunked body", fault_chunked),
    ("200 MB body", fault_huge_body),
    ("200 simultaneous connects", fault_connect_storm),
    ("ReloadConfig, model without versions", fault_reload_without_versions),
    ("char-LSTM 64x4096 with 2 s deadlines", fault_deadlines),
    ("10,000-image Predict", fault_large_request),
]


def fault_table(models: str) -> None:
    print(f"{'fault':<50} {'answer':<70} {'serving':>7} {'lost':>5}")
    server = start(models)
    for name, fault in FAULTS:
        run_fault(server, name, fault)
    print(f"{'SIGTERM with a call in flight':<50} {sigterm(server):<70} {'-':>7} {'-':>5}", flush=True)
    capped = start(models, "--max_rows_per_request=1000")
    try:
        run_fault(capped, "10,000-image Predict, --max_rows_per_request=1000", fault_large_request)
    finally:
        capped.process.terminate()
        capped.process.wait(timeout=60)


def run_fault(server: Server, name: str, fault: Callable[[Server], str]) -> None:
    """One row: the fault's answer while a background client runs, then whether the server still answers."""
    background = Background(server.target)
    answer = fault(server)
    _, failed = background.stop()
    print(f"{name:<50} {answer:<70} {'yes' if serving(server) else 'NO':>7} {failed:>5}", flush=True)


def sigterm(server: Server) -> str:
    with grpc.insecure_channel(server.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        call = stub.Predict.future(generate_request(8, 2048), 60.0)
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        answer = call.exception().code().name if call.exception() else "OK"
    return f"call in flight: {answer}; exit status {server.process.wait(timeout=60)}"


def latency_table(models: str, requests: int) -> None:
    server = start(models)
    try:
        with grpc.insecure_channel(server.target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            connection = http.client.HTTPConnection("localhost", server.rest_port, timeout=60)
            print(f"\n{'batch':>5} {'gRPC p50':>9} {'gRPC p99':>9} {'REST p50':>9} {'REST p99':>9} {'REST/gRPC p50':>14}")
            for batch in (1, 32):
                request = images_request(batch)
                body = json.dumps({"instances": np.zeros((batch, 28, 28, 1), np.uint8).tolist()})

                def rest_call() -> None:
                    connection.request("POST", f"/v1/models/{CLASSIFIER}:predict", body)
                    connection.getresponse().read()

                timings = interleaved_percentiles({"gRPC": lambda: stub.Predict(request, 60.0), "REST": rest_call}, requests)
                grpc_p50, grpc_p99 = (1000 * value for value in timings["gRPC"])
                rest_p50, rest_p99 = (1000 * value for value in timings["REST"])
                print(f"{batch:>5} {grpc_p50:>9.3f} {grpc_p99:>9.3f} {rest_p50:>9.3f} {rest_p99:>9.3f} {rest_p50 / grpc_p50:>13.2f}x")
            connection.close()
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)


def main() -> None:
    args = parse_args()
    models = os.path.abspath(args.models)
    fault_table(models)
    latency_table(models, args.requests)


if __name__ == "__main__":
    main()
