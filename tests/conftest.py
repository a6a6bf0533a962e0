"""Shared fixtures: tiny SavedModels on disk and a model server running on free ports."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from model_factory import export_half_plus, export_tiny_classifier, export_two_inputs  # noqa: E402
from server_process import REPO_ROOT, ServerHandle, start_in_process, write_config  # noqa: E402


@pytest.fixture(scope="session")
def model_root(tmp_path_factory) -> str:
    """``default`` and ``half_plus_two`` (x→y), ``mnist`` (predict_images), ``two_inputs``."""
    root = tmp_path_factory.mktemp("models")
    export_half_plus(str(root / "default"), 1)
    export_half_plus(str(root / "half_plus_two"), 1)
    export_half_plus(str(root / "half_plus_two"), 2, bias=3.0)
    export_tiny_classifier(str(root / "mnist"), 1)
    export_two_inputs(str(root / "two_inputs"), 7)
    return str(root)


@pytest.fixture(scope="session")
def served(model_root, tmp_path_factory) -> ServerHandle:
    """One server with every fixture model; version 1 and 2 of half_plus_two, labelled."""
    names = ("default", "half_plus_two", "mnist", "two_inputs")
    config = write_config(
        str(tmp_path_factory.mktemp("config") / "models.config"),
        {name: os.path.join(model_root, name) for name in names},
    )
    with open(config, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace(
        "name: 'half_plus_two'",
        "name: 'half_plus_two'\n    model_version_policy { all {} }\n"
        "    version_labels { key: 'stable' value: 1 }\n    version_labels { key: 'canary' value: 2 }",
    )
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(text)
    handle = start_in_process(
        f"--model_config_file={config}", "--monitoring_config_file=" + _monitoring_config(tmp_path_factory),
        "--rest_api_enable_cors_support",
    )
    yield handle
    handle.stop()


def _monitoring_config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("monitoring") / "monitoring.config"
    path.write_text('prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }\n')
    return str(path)


SHIPPED_FOR_V2 = ("fashion_mnist_classifier", "charlstm", "cartpole_dqn")


@pytest.fixture(scope="session")
def shipped_served(tmp_path_factory) -> ServerHandle:
    """One server with the shipped classifier (uint8 images), char-LSTM (strings) and CartPole DQN policy."""
    root = os.path.join(REPO_ROOT, "saved_models")
    config = write_config(
        str(tmp_path_factory.mktemp("shipped_config") / "models.config"),
        {name: os.path.join(root, name) for name in SHIPPED_FOR_V2},
    )
    handle = start_in_process(f"--model_config_file={config}")
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def v2_clients():
    """The interpreter of the published v2 clients' own environment (tritonclient, kserve)."""
    from v2_clients import v2_clients_python

    return v2_clients_python()
