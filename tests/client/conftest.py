"""Client fixtures: clients of the shared ``served`` server, and a server whose model exports a contract."""

from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf
from model_factory import TinyClassifier
from server_process import ServerHandle, free_port, start_in_process

from client import ServingClient

CONTRACT_MODEL = "digits"
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CONTRACT = {
    "name": CONTRACT_MODEL,
    "version": 1,
    "family": "image_classifier",
    "outputs": {"serving_default": {"probabilities": {"dtype": "float32", "shape": [None, 10], "labels": DIGIT_NAMES}}},
    "labels": DIGIT_NAMES,
}


class ContractedClassifier(TinyClassifier):
    """The tiny classifier plus the export contract's ``metadata`` signature (no inputs → ``model_json``)."""

    def __init__(self) -> None:
        super().__init__()
        self.model_json = tf.constant(json.dumps(CONTRACT))

    @tf.function(input_signature=[])
    def metadata(self):
        return {"model_json": self.model_json}


@pytest.fixture(scope="session")
def contract_served(tmp_path_factory) -> ServerHandle:
    """A server with one model, ``digits``, whose ``metadata`` signature returns CONTRACT."""
    base = tmp_path_factory.mktemp("contract_models") / CONTRACT_MODEL
    module = ContractedClassifier()
    tf.saved_model.save(
        module,
        os.path.join(base, "1"),
        signatures={"serving_default": module.serve, "predict_images": module.predict_images, "metadata": module.metadata},
    )
    handle = start_in_process(f"--model_name={CONTRACT_MODEL}", f"--model_base_path={base}")
    yield handle
    handle.stop()


def target_of(server: ServerHandle, transport: str) -> str:
    return server.grpc_target if transport == "grpc" else server.rest_url


@pytest.fixture(scope="module", params=["grpc", "rest"])
def client(request, served) -> ServingClient:
    """A client of ``served`` over each transport in turn."""
    with ServingClient(target_of(served, request.param), request.param, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="module")
def both(served) -> dict[str, ServingClient]:
    """One client of ``served`` per transport, to compare their answers."""
    clients = {transport: ServingClient(target_of(served, transport), transport, timeout=30) for transport in ("grpc", "rest")}
    yield clients
    for opened in clients.values():
        opened.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    return free_port()
