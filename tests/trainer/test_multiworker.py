"""Multi-worker training for real: two processes on loopback, each with its own TF_CONFIG, train one classifier.

The job is killed halfway (SIGKILL of the non-chief worker: the chief then fails on its own, its collective
ops having lost a peer), both are started again with the same commands, and the run resumes from the chief's
BackupAndRestore state. At the end both workers hold identical weights and only the chief has exported.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from trainer.export import layout
from trainer.multiworker import WorkerRole, take_chief_state, worker_run_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 6
START_TIMEOUT_S, FAIL_TIMEOUT_S, RUN_TIMEOUT_S = 180, 120, 300


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_worker(index: int, ports: list[int], argv: list[str], log: Path) -> subprocess.Popen:
    """One worker of the cluster, as the README starts it: its own TF_CONFIG and the job's command."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
    command = [sys.executable, "-m", "trainer", "vision", "classifier", *argv]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def weights(path: Path) -> dict[str, np.ndarray]:
    """Every array of a Keras .weights.h5 file by its path in the file."""
    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path) as file:
        file.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def finish(worker: subprocess.Popen, log: Path) -> str:
    assert worker.wait(timeout=RUN_TIMEOUT_S) == 0, log.read_text()[-3000:]
    return log.read_text()


def test_two_workers_train_together_survive_a_killed_worker_and_only_the_chief_exports(tmp_path, dataset_dir_writer):
    data = dataset_dir_writer(tmp_path / "data")
    run_dir, export_root = tmp_path / "run", tmp_path / "saved_models"
    argv = ["--data-dir", str(data), "--epochs", str(EPOCHS), "--batch-size", "32", "--precision", "float32",
            "--distribute", "multiworker", "--run-dir", str(run_dir), "--export-root", str(export_root),
            "--model-name", "together"]
    ports = free_ports(2)
    chief, worker = (start_worker(index, ports, argv, tmp_path / f"first-{index}.log") for index in (0, 1))
    backup = run_dir / "backup" / "training_metadata.json"
    try:
        wait_for(lambda: backup.is_file() and json.loads(backup.read_text())["epoch"] >= 1, START_TIMEOUT_S, "epoch 2")
    finally:
        worker.send_signal(signal.SIGKILL)
    try:
        assert chief.wait(timeout=FAIL_TIMEOUT_S) != 0, "the chief went on without its peer"
    finally:
        chief.kill()
    assert not (export_root / "together").exists()

    chief, worker = (start_worker(index, ports, argv, tmp_path / f"again-{index}.log") for index in (0, 1))
    chief_log, worker_log = finish(chief, tmp_path / "again-0.log"), finish(worker, tmp_path / "again-1.log")

    assert "Epoch 1/" not in chief_log and f"Epoch {EPOCHS}/{EPOCHS}" in chief_log  # resumed, then finished
    assert "the chief evaluates and exports" in worker_log and "exported" not in worker_log
    assert sorted(path.name for path in (export_root / "together").iterdir()) == ["1"]
    training = json.loads((export_root / "together" / "1" / layout.MODEL_JSON).read_text())["training"]
    assert training["replicas"] == 2
    chief_weights = weights(run_dir / "final.weights.h5")
    worker_weights = weights(run_dir / "workers" / "worker-1" / "final.weights.h5")
    assert chief_weights.keys() == worker_weights.keys() and len(chief_weights) > 10
    unequal = [name for name in chief_weights if not np.array_equal(chief_weights[name], worker_weights[name])]
    assert not unequal, f"the workers disagree on {unequal}"


def test_only_other_workers_get_a_folder_of_their_own(tmp_path):
    chief, other = WorkerRole("worker", 0, 2, True), WorkerRole("worker", 1, 2, False)
    assert worker_run_dir(tmp_path, None) == worker_run_dir(tmp_path, chief) == tmp_path
    assert worker_run_dir(tmp_path, other) == tmp_path / "workers" / "worker-1"


def test_a_worker_resumes_from_the_chiefs_state_and_otherwise_starts_afresh(tmp_path):
    chief_dir, worker_dir = tmp_path / "run", tmp_path / "run" / "workers" / "worker-1"
    (worker_dir / "backup").mkdir(parents=True)
    (worker_dir / "backup" / "stale").write_text("from an older job")
    take_chief_state(chief_dir, worker_dir)
    assert not (worker_dir / "backup").exists()
    (chief_dir / "backup").mkdir()
    (chief_dir / "backup" / "training_metadata.json").write_text('{"epoch": 3}')
    take_chief_state(chief_dir, worker_dir)
    assert (worker_dir / "backup" / "training_metadata.json").read_text() == '{"epoch": 3}'


@pytest.mark.parametrize("job", [["vision", "gan"], ["vision", "vae"], ["sequence", "charlstm"], ["rl", "dqn"]])
def test_trainers_without_multiworker_support_refuse_it(job):
    result = subprocess.run([sys.executable, "-m", "trainer", *job, "--distribute", "multiworker"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {' '.join(job)} trains in one process: --distribute (multi-worker training) is supported by "
        "vision classifier only"
    )
