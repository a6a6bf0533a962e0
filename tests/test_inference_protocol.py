"""The committed Open Inference Protocol modules are exactly what the generator makes from the committed .proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server_process import REPO_ROOT

GENERATOR = Path(REPO_ROOT) / "scripts" / "generate_inference_protocol.py"
PACKAGE = Path(REPO_ROOT) / "inference_protocol"


def test_regenerating_gives_the_committed_files(tmp_path):
    subprocess.run([sys.executable, str(GENERATOR), "--out-root", str(tmp_path)], check=True, capture_output=True)
    generated = sorted(path.name for path in (tmp_path / "inference_protocol").glob("*.py"))
    assert generated == ["grpc_predict_v2_pb2.py", "grpc_predict_v2_pb2_grpc.py"]
    for name in generated:
        assert (tmp_path / "inference_protocol" / name).read_bytes() == (PACKAGE / name).read_bytes(), name


def test_the_proto_keeps_its_license_header():
    assert "Licensed under the Apache License, Version 2.0" in (PACKAGE / "grpc_predict_v2.proto").read_text()
