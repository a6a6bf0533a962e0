"""The server's memory after one large request, under each memory allocator this machine can preload.

Every setting gets a ``python -m serving`` subprocess (shipped classifier and char-LSTM), all running at
once: first they take turns answering 32-image gRPC Predicts (the p50 column, side by side so that a
busy machine slows them alike), then each is sent one 10,000-image Predict (7.8 MB of uint8) and the
table prints its RSS before, right after, and ``--settle`` seconds later. Allocators are preloaded with ``LD_PRELOAD`` when their
library is installed (Debian: libjemalloc2, libtcmalloc-minimal4); missing ones are skipped with a note.

    python bench/memory.py
"""

from __future__ import annotations

import argparse
import os
import time

import grpc
from bench_server import interleaved_percentiles
from faults import Server, images_request, start
from tensorflow_serving.apis import prediction_service_pb2_grpc

LIBRARIES = "/usr/lib/x86_64-linux-gnu"
SETTINGS: list[tuple[str, dict[str, str]]] = [
    ("glibc malloc (default)", {}),
    ("glibc, MALLOC_TRIM_THRESHOLD_=0 MALLOC_ARENA_MAX=2", {"MALLOC_TRIM_THRESHOLD_": "0", "MALLOC_ARENA_MAX": "2"}),
    ("jemalloc, decay 1 s, background thread", {
        "LD_PRELOAD": f"{LIBRARIES}/libjemalloc.so.2",
        "MALLOC_CONF": "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0",
    }),
    ("tcmalloc, release rate 10", {
        "LD_PRELOAD": f"{LIBRARIES}/libtcmalloc_minimal.so.4", "TCMALLOC_RELEASE_RATE": "10",
    }),
    ("TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1", {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"}),
    ("TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1, jemalloc as above", {
        "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1", "LD_PRELOAD": f"{LIBRARIES}/libjemalloc.so.2",
        "MALLOC_CONF": "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0",
    }),
    ("TF_ENABLE_ONEDNN_OPTS=0", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="saved_models", help="folder holding the shipped models")
    parser.add_argument("--rows", type=int, default=10_000, help="images in the large request")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait before the last reading")
    parser.add_argument("--rounds", type=int, default=150, help="32-image Predicts per server for the latency column")
    return parser.parse_args()


def predict_p50s(servers: list[Server], rounds: int) -> list[float]:
    """p50 seconds of a 32-image gRPC Predict on each server, the servers taking turns call by call."""
    channels = [grpc.insecure_channel(server.target) for server in servers]
    request = images_request(32)
    stubs = [prediction_service_pb2_grpc.PredictionServiceStub(channel) for channel in channels]
    timings = interleaved_percentiles({index: (lambda stub=stub: stub.Predict(request, 60.0)) for index, stub in enumerate(stubs)}, rounds)
    for channel in channels:
        channel.close()
    return [timings[index][0] for index in range(len(stubs))]


def memory_after_large_request(server: Server, rows: int, settle: float) -> tuple[float, float, float]:
    """RSS in MB before, right after, and ``settle`` s after one Predict of ``rows`` images."""
    with grpc.insecure_channel(server.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        warm = server.rss_mb()
        stub.Predict(images_request(rows), 300.0)
        after = server.rss_mb()
        time.sleep(settle)
        return warm, after, server.rss_mb()


def available_settings() -> list[tuple[str, dict[str, str]]]:
    available = []
    for name, env in SETTINGS:
        preload = env.get("LD_PRELOAD")
        if preload and not os.path.exists(preload):
            print(f"skipped {name}: {preload} is not installed")
        else:
            available.append((name, env))
    return available


def main() -> None:
    args = parse_args()
    models = os.path.abspath(args.models)
    settings = available_settings()
    servers = [start(models, env=env) for _, env in settings]
    try:
        p50s = predict_p50s(servers, args.rounds)
        print(f"{'setting':<52} {'warm MB':>8} {'after MB':>9} {f'+{args.settle:g} s MB':>9} "
              f"{'p50 b32 ms':>11} {'vs default':>11}")
        for (name, _), server, p50 in zip(settings, servers, p50s):
            warm, after, settled = memory_after_large_request(server, args.rows, args.settle)
            print(f"{name:<52} {warm:>8.0f} {after:>9.0f} {settled:>9.0f} {p50 * 1e3:>11.2f} {p50 / p50s[0]:>10.2f}x")
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(timeout=60)


if __name__ == "__main__":
    main()
