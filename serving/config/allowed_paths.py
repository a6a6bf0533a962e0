"""The allow-list of model directories (``--allowed_model_base_paths``).

A client that reaches ReloadConfig can make the server load any SavedModel it can read, and a SavedModel
is a program: its graph may read files (TensorFlow's ReadFile op) and return them in a response. The
allow-list confines the base paths that configs may name, after resolving symbolic links and ``..``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tensorflow_serving.config import model_server_config_pb2

from serving.errors import invalid_argument


def is_within(path: str, directories: Sequence[str]) -> bool:
    """Whether `path`, resolved, lies inside one of `directories` (resolved)."""
    resolved = os.path.realpath(path)
    return any(os.path.commonpath([resolved, os.path.realpath(root)]) == os.path.realpath(root) for root in directories)


def check_base_paths_allowed(config: model_server_config_pb2.ModelServerConfig, directories: Sequence[str]) -> None:
    """INVALID_ARGUMENT naming the first model whose base path lies outside `directories` (none: allow all)."""
    if not directories:
        return
    for model in config.model_config_list.config:
        if not is_within(model.base_path, directories):
            raise invalid_argument(
                f"Model {model.name} has base path {model.base_path}, outside the directories that "
                f"--allowed_model_base_paths allows: {', '.join(directories)}"
            )
