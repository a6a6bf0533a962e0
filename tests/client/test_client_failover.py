"""Replicated serving with failover, end to end: `bench/failover.py` runs `python -m client bench` against two
replicas of our server while one is stopped with SIGTERM and a third started. With retries every request is
answered, over gRPC (round_robin) and REST (round robin); without them REST counts its failed requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bench_through_a_replica_stopped_and_another_started(model_root, tmp_path):
    figures = tmp_path / "failover.json"
    command = [sys.executable, "bench/failover.py", "--base", os.path.join(model_root, "default"), "--duration", "4",
               "--concurrency", "2", "--json", str(figures)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(figures.read_text())
    for transport in ("grpc", "rest"):
        with_retries = runs[f"{transport}-retries-3"]
        assert with_retries["answered"] > 0 and with_retries["errors"] == {}, (transport, with_retries)
    without = runs["rest-retries-0"]
    assert sum(without["errors"].values()) > 0 and without["answered"] + sum(without["errors"].values()) == without["requests"]
