"""ModelServerConfig: building it from flags, reading it from a text file, and validating it."""

from __future__ import annotations

import os

from tensorflow_serving.config import model_server_config_pb2

from serving.config.text_files import read_text_proto
from serving.errors import failed_precondition, invalid_argument

ModelServerConfig = model_server_config_pb2.ModelServerConfig
ModelConfig = model_server_config_pb2.ModelConfig
SUPPORTED_PLATFORMS = ("tensorflow",)


def single_model_config(name: str, base_path: str) -> ModelServerConfig:
    """The config that ``--model_name`` and ``--model_base_path`` stand for."""
    config = ModelServerConfig()
    config.model_config_list.config.add(name=name, base_path=base_path, model_platform="tensorflow")
    return config


def read_model_server_config(path: str) -> ModelServerConfig:
    return read_text_proto(path, ModelServerConfig(), "ModelServerConfig")


def validate(config: ModelServerConfig) -> None:
    """Reject what TensorFlow Serving's ServerCore rejects, with its messages."""
    if config.WhichOneof("config") == "custom_model_config":
        raise invalid_argument("ModelServerConfig with custom_model_config is not supported; use model_config_list")
    if config.WhichOneof("config") != "model_config_list":
        raise failed_precondition("ModelServerConfig has no model_config_list")
    seen: set[str] = set()
    for model in config.model_config_list.config:
        _validate_model(model, seen)


def _validate_model(model: ModelConfig, seen: set[str]) -> None:
    if not model.name:
        raise invalid_argument("ModelConfig has no name specified")
    if "/" in model.name or model.name in (".", "..") or ":" in model.name:
        raise invalid_argument(f"Illegal model name {model.name!r}: names may not contain '/' or ':' or be '.' or '..'")
    if model.name in seen:
        raise invalid_argument(f"Illegal to list model {model.name} multiple times in config list")
    seen.add(model.name)
    if not os.path.isabs(model.base_path) and "://" not in model.base_path:
        raise invalid_argument(
            f"Expected model {model.name} to have an absolute path or URI; got base_path()={model.base_path}"
        )
    if not model.model_platform and not model.model_type:
        raise invalid_argument(f"Model {model.name} has neither model_platform nor model_type set")
    if model.model_platform and model.model_platform not in SUPPORTED_PLATFORMS:
        raise invalid_argument(f"Model {model.name} requests unsupported platform {model.model_platform}")


def check_platforms_unchanged(old: ModelServerConfig, new: ModelServerConfig) -> None:
    """A reload may not switch an existing model to another platform."""
    old_platforms = {model.name: model.model_platform for model in old.model_config_list.config}
    for model in new.model_config_list.config:
        before = old_platforms.get(model.name)
        if before is not None and before != model.model_platform:
            raise invalid_argument(
                f"Cannot transition model {model.name} from platform {before} to platform {model.model_platform}"
            )
