"""Every example of the README and docs/ runs as written, against a server the test starts, with nothing on
screen a newcomer should not see (markers: tests/doc_examples.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from doc_examples import Block, fenced_blocks, marker_problem, noise_lines, split_commands, with_ports
from server_process import REPO_ROOT, free_port

ROOT = Path(REPO_ROOT)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Copied rather than linked: scripts write into examples/, and serving/deploy's checker resolves its paths.
COPIED = {"examples", "serving"}
PATH_DEPENDENT = shutil.ignore_patterns("models.config", "models_versions.config", "__pycache__")
CREATED = {"saved_models", "runs", "data"}
READY_TIMEOUT_S = 300
# A newcomer's server listens on 8500, the client's default; the test's server listens elsewhere, so a client
# command that names no server is pointed at it (every client command takes --server).
DEFAULT_SERVER_PRELUDE = """
python() {
  if [ "${1:-}" = -m ] && [ "${2:-}" = client ] && [ $# -gt 2 ] && [[ " $* " != *" --server "* ]] \\
      && [[ " $* " != *" --rest "* ]] && [[ " $* " != *" --help "* ]]; then
    command python "$@" --server localhost:%d
  else
    command python "$@"
  fi
}
"""
BLOCK_TIMEOUT_S = 600


def test_documents_exist_and_every_example_is_marked():
    assert [path.name for path in DOCUMENTS[1:]] == [
        "benchmarks.md", "client.md", "deployment.md", "export-contract.md", "serving.md", "training.md"]
    problems = [problem for path in DOCUMENTS for block in fenced_blocks(path) if (problem := marker_problem(block))]
    assert problems == []


def make_checkout(folder: Path) -> Path:
    """A scratch copy of the checkout: code and .venv linked, examples copied, saved_models/ a folder of links to
    the shipped models (so exports land in the copy), runs/ empty."""
    folder.mkdir()
    for entry in ROOT.iterdir():
        if entry.name in COPIED:
            shutil.copytree(entry, folder / entry.name, ignore=PATH_DEPENDENT if entry.name == "examples" else None)
        elif entry.name not in CREATED and entry.name != ".git":
            (folder / entry.name).symlink_to(entry)
    (folder / "saved_models").mkdir()
    for model in (ROOT / "saved_models").iterdir():
        if model.is_dir():
            (folder / "saved_models" / model.name).symlink_to(model)
    subprocess.run(["bash", "scripts/example_configs.sh"], cwd=folder, check=True, capture_output=True, timeout=60)
    return folder


def newcomer_environment() -> dict[str, str]:
    """The environment of a fresh headless shell (no display, no XDG_RUNTIME_DIR, which SDL complains about) with
    .venv's commands first and none of our verbosity switches set."""
    unset = ("KSLAB_VERBOSE", "TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH", "VIRTUAL_ENV", "XDG_RUNTIME_DIR", "DISPLAY",
             "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def wait_ready(rest_port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://localhost:{rest_port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"no server ready on REST port {rest_port} within {READY_TIMEOUT_S} s")


class Server:
    """A shell command that starts a server, run in the background until stop()."""

    def __init__(self, command: str, checkout: Path, rest_port: int) -> None:
        self.log = checkout / "runs" / f"server-{rest_port}.log"
        self.log.parent.mkdir(exist_ok=True)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=checkout, env=newcomer_environment(),
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_ready(rest_port, self.process, self.log)

    def stop(self) -> str:
        """Stop the server (SIGTERM, as Ctrl-C would) and return what it printed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.log.read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Every shipped model, the classifier at versions 6 and 7 (examples/models_versions.config)."""
    checkout = make_checkout(tmp_path_factory.mktemp("server") / "checkout")
    grpc_port, rest_port = free_port(), free_port()
    started = Server(f"python -m serving --port={grpc_port} --rest_api_port={rest_port} "
                     f"--model_config_file=examples/models_versions.config", checkout, rest_port)
    yield grpc_port, rest_port
    started.stop()


def run_block(block: Block, checkout: Path, grpc_port: int, rest_port: int) -> str:
    """Run one marked block in the checkout copy; return its standard output after checking its screen."""
    if block.marker == "test server":
        commands = split_commands(block.text)
        for command in commands[:-1]:
            run_block(Block(block.path, block.line, "bash", "test", command), checkout, grpc_port, rest_port)
        own_grpc, own_rest = free_port(), free_port()
        printed = Server(with_ports(commands[-1], own_grpc, own_rest), checkout, own_rest).stop()
        assert noise_lines(printed) == [], f"{block.where}: the server printed:\n{printed}"
        return printed
    text = with_ports(block.text, grpc_port, rest_port)
    if block.language == "python":
        command = ["python", "-c", text]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", DEFAULT_SERVER_PRELUDE % grpc_port + text]
    result = subprocess.run(command, cwd=checkout, env=newcomer_environment(), capture_output=True, text=True,
                            timeout=BLOCK_TIMEOUT_S)
    screen = result.stdout + result.stderr
    assert result.returncode == 0, f"{block.where} failed ({result.returncode}):\n{screen[-4000:]}"
    assert noise_lines(screen) == [], f"{block.where} printed:\n{screen[-4000:]}"
    return result.stdout


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("document", [path for path in DOCUMENTS if any(b.is_run() for b in fenced_blocks(path))],
                         ids=lambda path: path.name)
def test_examples_run_as_written(document, server, tmp_path):
    checkout = make_checkout(tmp_path / "checkout")
    blocks = fenced_blocks(document)
    for index, block in enumerate(blocks):
        if not block.is_run():
            continue
        stdout = run_block(block, checkout, *server)
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if following is not None and following.marker == "output" and following.language == "json":
            assert json.loads(stdout) == json.loads(following.text), f"{following.where}: not what it prints"
