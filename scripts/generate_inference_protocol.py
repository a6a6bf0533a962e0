"""Generates inference_protocol/grpc_predict_v2_pb2.py and _pb2_grpc.py from the committed .proto.

Run from anywhere: ``.venv/bin/python scripts/generate_inference_protocol.py``. The proto is compiled with
the checkout's root as the include path, so the stubs import ``inference_protocol.grpc_predict_v2_pb2``
and the descriptor is named ``inference_protocol/grpc_predict_v2.proto`` (no clash in protobuf's pool with
a client library that registers the same messages under another file name).
tests/test_inference_protocol.py regenerates into a temporary folder and compares byte for byte, so
grpcio-tools is pinned to one release in pyproject's test extra: the stubs carry the version that made them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = "inference_protocol/grpc_predict_v2.proto"
GENERATED = ("grpc_predict_v2_pb2.py", "grpc_predict_v2_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Compile the proto into ``out_root/inference_protocol/``; return the generated files."""
    (out_root / "inference_protocol").mkdir(parents=True, exist_ok=True)
    status = protoc.main(
        ["grpc_tools.protoc", f"-I{ROOT}", f"--python_out={out_root}", f"--grpc_python_out={out_root}", str(ROOT / PROTO)]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed on {PROTO} with status {status}")
    return [out_root / "inference_protocol" / name for name in GENERATED]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-root", type=Path, default=ROOT, help="folder that receives inference_protocol/ (default: the checkout)")
    for path in generate(parser.parse_args().out_root):
        print(path)


if __name__ == "__main__":
    sys.exit(main())
