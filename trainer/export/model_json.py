"""The content of `assets.extra/model.json`: the contract a client reads to configure itself."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainer.export.spec import ModelInfo, Signature

RESERVED_KEYS = frozenset(
    {"name", "version", "family", "trainer", "created", "framework", "git_commit", "command", "config", "data",
     "signatures", "inputs", "outputs", "metrics"}
)


def framework_versions() -> dict[str, str]:
    """Versions of the libraries that shaped the graph, so a server can match them."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def git_commit() -> str | None:
    """The commit of the checkout this trainer runs from, or None outside git (or before the first commit)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _shape(spec: Any) -> list[int | None] | None:
    return None if spec.shape.rank is None else spec.shape.as_list()


def describe_tensors(specs: Mapping[str, Any], meanings: Mapping[str, Any], where: str) -> dict[str, Any]:
    """name -> {dtype, shape (None = any size), meaning...} for tensors with .dtype and .shape."""
    described = {}
    for name, spec in specs.items():
        if name not in meanings:
            raise ValueError(f"{where}: tensor '{name}' has no meaning; add it to Signature.meanings")
        meaning = meanings[name]
        details = dict(meaning) if isinstance(meaning, Mapping) else {"meaning": meaning}
        described[name] = {"dtype": spec.dtype.name, "shape": _shape(spec), **details}
    return described


def build_model_json(
    info: ModelInfo,
    version: int,
    signatures: Sequence[Signature],
    output_specs: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Assemble model.json; output_specs maps each signature name to its traced outputs by name."""
    clashes = RESERVED_KEYS & set(info.extra)
    if clashes:
        raise ValueError(f"ModelInfo.extra must not redefine {sorted(clashes)}")
    return {
        "name": info.name,
        "version": version,
        "family": info.family,
        "trainer": info.trainer,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "framework": framework_versions(),
        "git_commit": git_commit(),
        "command": list(info.command),
        "config": dict(info.config),
        "data": dict(info.data),
        "signatures": {s.name: {"method": s.method, "description": s.description} for s in signatures},
        "inputs": {
            s.name: describe_tensors({spec.name: spec for spec in s.inputs}, s.meanings, s.name) for s in signatures
        },
        "outputs": {s.name: describe_tensors(output_specs[s.name], s.meanings, s.name) for s in signatures},
        "metrics": dict(info.metrics),
        **info.extra,
    }
