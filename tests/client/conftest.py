"""Client fixtures: clients of the shared ``served`` server, and a server whose model exports a contract."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
from contract_model import CONTRACT_MODEL, ContractedClassifier, target_of
from server_process import ServerHandle, free_port, start_in_process

from client import ServingClient


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
