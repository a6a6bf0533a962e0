"""Candidate HTTP stacks for the REST port, on our workload: aiohttp (on asyncio's loop and on uvloop)
against uvicorn (ASGI, httptools, uvloop).

Each stack serves one route in a subprocess of its own, built the way the REST port is: the event loop
only moves bytes, and a pool of threads decodes the body as a Predict request (``PredictBody``, the REST
API's own decoder) before answering a small JSON body. The client sends uint8 image batches of 1 and 32
as row-format JSON: first one keep-alive connection alternating between the stacks call by call (p50 and
p99 latency), then 16 concurrent connections per stack (throughput, the best of three rounds taken in turns). uvicorn is not a dependency of the
project; install it to run this (``pip install 'uvicorn[standard]'``).

    python bench/http_stacks.py
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import uvloop
from bench_server import REPO_ROOT, free_port, interleaved_percentiles

from serving.core.signature import Signature, TensorInfo
from serving.rest.predict_body import PredictBody

ROUTE = "/v1/models/bench:predict"
STACKS = ("aiohttp", "aiohttp+uvloop", "uvicorn")
SIGNATURE = Signature("serving_default", "tensorflow/serving/predict", {"images": TensorInfo("images", 4, None)}, {})
"""A signature with one uint8 (DT_UINT8 = 4) input, as the shipped classifier has."""
ANSWER = json.dumps({"predictions": [[0.1] * 10] * 32}).encode()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="timed calls per stack and batch")
    parser.add_argument("--concurrency", type=int, default=16, help="connections in the throughput test")
    parser.add_argument("--serve", choices=STACKS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def answer(body: bytes) -> bytes:
    """The REST API's decoding of a Predict body; the model run is left out, it is the same on every stack."""
    PredictBody(body).inputs(SIGNATURE)
    return ANSWER


def serve_aiohttp(port: int, workers: ThreadPoolExecutor, loop: asyncio.AbstractEventLoop) -> None:
    from aiohttp import web

    async def predict(request: web.Request) -> web.Response:
        body = await request.read()
        payload = await asyncio.get_running_loop().run_in_executor(workers, answer, body)
        return web.Response(body=payload, content_type="application/json")

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post(ROUTE, predict)
    web.run_app(app, host="127.0.0.1", port=port, backlog=1024, access_log=None, print=None, loop=loop)


def serve_uvicorn(port: int, workers: ThreadPoolExecutor) -> None:
    import uvicorn

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        payload = await asyncio.get_running_loop().run_in_executor(workers, answer, b"".join(chunks))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", log_level="error", backlog=1024,
                access_log=False)


def start_stack(stack: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", stack, f"--port={port}"], cwd=REPO_ROOT)
    for _ in range(600):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return process, port
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"error: the {stack} server exited with status {process.returncode}")
            time.sleep(0.1)
    raise SystemExit(f"error: the {stack} server did not listen within 60 s")


def body_of(batch: int) -> bytes:
    images = np.random.default_rng(batch).integers(0, 256, size=(batch, 28, 28, 1), dtype=np.uint8)
    return json.dumps({"instances": images.tolist()}).encode()


def call(connection: http.client.HTTPConnection, body: bytes) -> None:
    connection.request("POST", ROUTE, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"error: HTTP {response.status}")


def latencies(ports: dict[str, int], body: bytes, requests: int) -> dict[str, tuple[float, float]]:
    """p50 and p99 milliseconds per stack, the stacks taking turns call by call."""
    connections = {stack: http.client.HTTPConnection("127.0.0.1", port) for stack, port in ports.items()}
    timings = interleaved_percentiles(
        {stack: (lambda connection=connection: call(connection, body)) for stack, connection in connections.items()}, requests
    )
    for connection in connections.values():
        connection.close()
    return {stack: (1e3 * p50, 1e3 * p99) for stack, (p50, p99) in timings.items()}


def throughput(port: int, body: bytes, concurrency: int, requests: int) -> float:
    """Calls per second answered with ``concurrency`` keep-alive connections sending ``requests`` calls in all."""
    per_connection = max(requests // concurrency, 1)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(per_connection):
            call(connection, body)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per_connection * concurrency / (time.perf_counter() - started)


def best_throughputs(ports: dict[str, int], body: bytes, args: argparse.Namespace, rounds: int = 3) -> dict[str, float]:
    """Each stack's best throughput of ``rounds``, the stacks taking turns round by round."""
    rates = {stack: 0.0 for stack in ports}
    for _ in range(rounds):
        for stack, port in ports.items():
            rates[stack] = max(rates[stack], throughput(port, body, args.concurrency, args.requests))
    return rates


def compare(args: argparse.Namespace) -> None:
    servers = {stack: start_stack(stack) for stack in STACKS}
    ports = {stack: port for stack, (_, port) in servers.items()}
    try:
        print(f"{'batch':>5} {'stack':<15} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs aiohttp':>15} {'calls/s':>9} {'calls/s vs aiohttp':>19}")
        for batch in (1, 32):
            body = body_of(batch)
            latency = latencies(ports, body, args.requests)
            rates = best_throughputs(ports, body, args)
            for stack in STACKS:
                p50, p99 = latency[stack]
                print(f"{batch:>5} {stack:<15} {p50:>8.3f} {p99:>8.3f} {p50 / latency['aiohttp'][0]:>14.2f}x "
                      f"{rates[stack]:>9.0f} {rates[stack] / rates['aiohttp']:>18.2f}x")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    args = parse_args()
    if args.serve:
        workers = ThreadPoolExecutor(max_workers=8)
        if args.serve == "uvicorn":
            serve_uvicorn(args.port, workers)
        else:
            serve_aiohttp(args.port, workers, uvloop.new_event_loop() if "uvloop" in args.serve else asyncio.new_event_loop())
        return
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise SystemExit("error: uvicorn is not installed: pip install 'uvicorn[standard]'") from None
    compare(args)


if __name__ == "__main__":
    main()
