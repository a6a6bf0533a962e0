"""Failover: `python -m client bench` against replicas while one is stopped with SIGTERM and another started.

Two replicas of our server (`python -m serving`, the shipped Fashion-MNIST classifier by default) serve on
their own ports; the client is given three addresses, the third one not yet up. A third of the way into
the run the first replica gets SIGTERM, and the third replica is started. The same run is made with the
client's retries on (`--retries 3`: a call that meets an unavailable replica goes to another) and off
(`--retries 0`), over gRPC (round_robin) and REST (round robin over the list); the table gives the
answered and failed requests of each. Expected: 0 failed with retries on; failures counted with them off.

    .venv/bin/python bench/failover.py --duration 12
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from bench_server import MODEL, free_port  # noqa: E402

DEFAULT_BASE = os.path.join(REPO_ROOT, "saved_models", "fashion_mnist_classifier")
START_TIMEOUT_S = 180


class Replica:
    """One `python -m serving` process on fixed ports, started and waited for, or stopped with SIGTERM."""

    def __init__(self, base: str) -> None:
        self.base, self.grpc_port, self.rest_port = base, free_port(), free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        flags = [f"--port={self.grpc_port}", f"--rest_api_port={self.rest_port}", f"--model_name={MODEL}",
                 f"--model_base_path={os.path.abspath(self.base)}"]
        self.process = subprocess.Popen([sys.executable, "-m", "serving", *flags], cwd=REPO_ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with grpc.insecure_channel(f"localhost:{self.grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # the REST port opens after the gRPC one
            try:
                socket.create_connection(("localhost", self.rest_port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)

    def address(self, transport: str) -> str:
        return f"localhost:{self.grpc_port}" if transport == "grpc" else f"http://localhost:{self.rest_port}"


def wait_for_load(bench: subprocess.Popen, errors: list[str]) -> None:
    """Return once the bench has read the model's metadata and starts sending (its "bench ..." line), then
    keep collecting its stderr lines into ``errors`` in the background."""
    for line in bench.stderr:
        errors.append(line.strip())
        if line.startswith("bench "):
            break
    threading.Thread(target=lambda: errors.extend(line.strip() for line in bench.stderr), daemon=True).start()


def failover_run(base: str, transport: str, retries: int, duration: float, concurrency: int) -> dict:
    """One bench run through a SIGTERM of the first replica and the start of a third; its JSON figures."""
    first, second, third = Replica(base), Replica(base), Replica(base)
    first.start()
    second.start()
    servers = ",".join(replica.address(transport) for replica in (first, second, third))
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "bench.json"
        where = "--server" if transport == "grpc" else "--rest"
        command = [sys.executable, "-m", "client", "bench", "--model", MODEL, where, servers, "--retries", str(retries), "--duration", str(duration), "--warmup", "0",
                   "--concurrency", str(concurrency), "--json", str(figures)]
        bench = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        errors: list[str] = []
        try:
            wait_for_load(bench, errors)
            time.sleep(duration / 3)
            stopping = threading.Thread(target=first.terminate)
            stopping.start()
            third.start()
            stopping.join()
            bench.wait(timeout=duration * 3 + START_TIMEOUT_S)
        finally:
            for replica in (first, second, third):
                replica.terminate()
        if bench.returncode != 0:
            raise SystemExit(f"error: client bench over {transport} failed: {errors[-1:]}")
        return json.loads(figures.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="model base path served by every replica")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds of load per run (default 12)")
    parser.add_argument("--concurrency", type=int, default=4, help="bench workers (default 4)")
    parser.add_argument("--transports", default="grpc,rest", help="which APIs to run (default grpc,rest)")
    parser.add_argument("--retries", default="3,0", help="the client's --retries of each run (default 3,0)")
    parser.add_argument("--json", help="also write every run's figures to this file")
    args = parser.parse_args()
    runs = {}
    print(f"{'transport':<10} {'retries':>7} {'requests':>9} {'answered':>9} {'failed':>7}  errors")
    for transport in args.transports.split(","):
        for retries in (int(value) for value in args.retries.split(",")):
            figures = failover_run(args.base, transport, retries, args.duration, args.concurrency)
            failed = sum(figures["errors"].values())
            runs[f"{transport}-retries-{retries}"] = figures
            print(f"{transport:<10} {retries:>7} {figures['requests']:>9} {figures['answered']:>9} {failed:>7}  "
                  f"{figures['errors'] or '-'}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
