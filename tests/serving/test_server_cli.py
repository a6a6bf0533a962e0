"""``python -m serving`` as users run it: help, version, flag errors, startup and shutdown."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from model_factory import export_half_plus
from server_process import REPO_ROOT, free_port

REQUIRED_FLAGS = (
    "--port", "--rest_api_port", "--model_name", "--model_base_path", "--model_config_file",
    "--model_config_file_poll_wait_seconds", "--file_system_poll_wait_seconds", "--enable_batching",
    "--batching_parameters_file", "--monitoring_config_file", "--rest_api_timeout_in_ms",
    "--enable_model_warmup", "--tensorflow_intra_op_parallelism", "--tensorflow_inter_op_parallelism",
    "--per_process_gpu_memory_fraction", "--ssl_config_file", "--enable_grpc_healthcheck_service", "--version",
)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "serving", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_help_documents_every_flag_and_version_prints_both_versions():
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in REQUIRED_FLAGS:
        assert flag in result.stdout, flag
    version = run_cli("--version")
    assert version.returncode == 0
    assert "TensorFlow ModelServer:" in version.stdout and "TensorFlow Library: 2." in version.stdout


def test_flag_errors_are_one_line_messages(tmp_path):
    result = run_cli("--model_base_path=/x", "--batching_parameters_file=/y")
    assert result.returncode == 1
    assert "--batching_parameters_file requires --enable_batching" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli()
    assert result.returncode == 1 and "--model_base_path" in result.stderr
    result = run_cli("--model_base_path=/x", "--rest_api_port=8501", "--rest_api_body_timeout_seconds=0")
    assert result.returncode == 1 and "--rest_api_body_timeout_seconds must be > 0, got 0" in result.stderr
    result = run_cli("--model_base_path=/x", "--port=notanumber")
    assert result.returncode == 2 and "invalid int value" in result.stderr


def test_startup_fails_cleanly_when_a_model_cannot_load(tmp_path):
    version = tmp_path / "broken" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"garbage")
    result = run_cli(f"--model_base_path={tmp_path / 'broken'}", "--max_num_load_retries=0", f"--port={free_port()}")
    assert result.returncode == 1
    assert "Failed to start server. Error: 1 servable(s) did not become available" in result.stderr
    assert "Traceback" not in result.stderr


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_ports_open_only_after_the_first_version_loads_and_sigterm_stops(tmp_path):
    base = tmp_path / "model"
    base.mkdir()
    grpc_port, rest_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "serving", f"--port={grpc_port}", f"--rest_api_port={rest_port}", f"--model_base_path={base}"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        time.sleep(6)
        assert process.poll() is None
        assert not port_is_open(grpc_port) and not port_is_open(rest_port)
        export_half_plus(str(tmp_path / "staging"), 1)
        (tmp_path / "staging" / "1").rename(base / "1")
        deadline = time.monotonic() + 60
        while not (opened := port_is_open(grpc_port)) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert opened
        process.send_signal(signal.SIGTERM)  # at once: the server may still be opening its REST port
        assert process.wait(timeout=30) == 0
        output = process.stdout.read()
        assert "Stopping the server" in output and "Traceback" not in output
    finally:
        if process.poll() is None:
            process.kill()


def test_an_unparsable_config_file_exits_with_tf_servings_parse_error(tmp_path):
    config = tmp_path / "models.config"
    config.write_text("improperly formatted file")
    result = run_cli(f"--model_config_file={config}", f"--port={free_port()}")
    assert result.returncode == 1
    assert ('Error parsing text-format tensorflow.serving.ModelServerConfig: 1:1: Message type '
            '"tensorflow.serving.ModelServerConfig" has no field named "improperly".') in result.stderr
    assert "Traceback" not in result.stderr
