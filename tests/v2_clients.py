"""A virtual environment with the published Open Inference Protocol clients, kept in ``.venv-v2clients/``.

tritonclient pins protobuf<7 and KServe's SDK protobuf<7, while our runtime is protobuf 7, so these clients live
in an environment of their own and run as subprocesses (tests/v2_client_calls.py). It is made once from the
package registry and reused while REQUIREMENTS stay the same; on a clean pip cache it takes about 35 s (KServe
installs its full dependency set, about 500 MB: see docs/serving.md).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from server_process import REPO_ROOT

VENV = Path(REPO_ROOT) / ".venv-v2clients"
REQUIREMENTS = ("tritonclient[http,grpc]==2.73.0", "kserve==0.21.0")
INSTALL_TIMEOUT_SECONDS = 900


def v2_clients_python() -> Path:
    """The environment's interpreter, creating or refreshing the environment when its requirements changed."""
    python = VENV / "bin" / "python"
    stamp = VENV / "requirements.txt"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS,
    )
    if installed.returncode != 0:
        errors = [line for line in installed.stderr.splitlines() if "is ignored: it is neither" not in line]
        raise RuntimeError(f"could not install {' '.join(REQUIREMENTS)} into {VENV}:\n" + "\n".join(errors[-20:]))
    stamp.write_text(wanted)
    return python
