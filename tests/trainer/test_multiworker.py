"""Multi-worker training for real: two processes on loopback, each with its own TF_CONFIG, train one classifier.

A clean run ends with identical weights on both workers and one export, the chief's. A run killed halfway
(SIGKILL of the non-chief worker: the chief then fails on its own, its collective ops having lost a peer) is
started again with the same commands and resumes from the chief's BackupAndRestore state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from server_process import free_port

from trainer.export import layout
from trainer.multiworker import WorkerRole, take_chief_state, worker_run_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 4
START_TIMEOUT_S, FAIL_TIMEOUT_S, RUN_TIMEOUT_S = 180, 120, 300


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


def job_argv(tmp_path: Path, epochs: int, dataset_dir_writer) -> list[str]:
    data = dataset_dir_writer(tmp_path / "data")
    return ["--data-dir", str(data), "--epochs", str(epochs), "--batch-size", "32", "--precision", "float32",
            "--distribute", "multiworker", "--run-dir", str(tmp_path / "run"),
            "--export-root", str(tmp_path / "saved_models"), "--model-name", "together"]


def run_job(tmp_path: Path, argv: list[str], ports: list[int], name: str) -> tuple[str, str]:
    """Start both workers, wait for both, and return their logs."""
    logs = [tmp_path / f"{name}-{index}.log" for index in (0, 1)]
    workers = [start_worker(index, ports, argv, log) for index, log in enumerate(logs)]
    chief_log, worker_log = (finish(worker, log) for worker, log in zip(workers, logs))
    return chief_log, worker_log


def test_two_workers_end_with_identical_weights_and_only_the_chief_exports(tmp_path, dataset_dir_writer):
    _, worker_log = run_job(tmp_path, job_argv(tmp_path, 2, dataset_dir_writer), [free_port(), free_port()], "job")
    assert "the chief evaluates and exports" in worker_log and "exported" not in worker_log
    assert sorted(path.name for path in (tmp_path / "saved_models" / "together").iterdir()) == ["1"]
    model_json = tmp_path / "saved_models" / "together" / "1" / layout.MODEL_JSON
    assert json.loads(model_json.read_text())["training"]["replicas"] == 2
    run_dir = tmp_path / "run"
    chief, worker = weights(run_dir / "final.weights.h5"), weights(run_dir / "workers" / "worker-1" / "final.weights.h5")
    assert chief.keys() == worker.keys() and len(chief) > 10
    unequal = [name for name in chief if not np.array_equal(chief[name], worker[name])]
    assert not unequal, f"the workers disagree on {unequal}"


def test_a_killed_worker_stops_the_job_and_both_resume_from_the_chiefs_last_epoch(tmp_path, dataset_dir_writer):
    argv, ports = job_argv(tmp_path, EPOCHS, dataset_dir_writer), [free_port(), free_port()]
    chief, worker = (start_worker(index, ports, argv, tmp_path / f"first-{index}.log") for index in (0, 1))
    backup = tmp_path / "run" / "backup" / "training_metadata.json"
    try:
        wait_for(lambda: backup.is_file() and json.loads(backup.read_text())["epoch"] >= 1, START_TIMEOUT_S, "epoch 2")
    finally:
        worker.send_signal(signal.SIGKILL)
    try:
        assert chief.wait(timeout=FAIL_TIMEOUT_S) != 0, "the chief went on without its peer"
    finally:
        chief.kill()
    assert not (tmp_path / "saved_models" / "together").exists()

    chief_log, worker_log = run_job(tmp_path, argv, ports, "again")
    for log in (chief_log, worker_log):
        assert "Epoch 1/" not in log and f"Epoch {EPOCHS}/{EPOCHS}" in log  # resumed, then finished
    assert sorted(path.name for path in (tmp_path / "saved_models" / "together").iterdir()) == ["1"]


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
