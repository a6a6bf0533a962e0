"""The client's signature cache follows the served version: when the server loads a new version whose input
has another dtype, the next call is cast for the new version instead of failing with the old one's cast."""

from __future__ import annotations

import time

import numpy as np
import pytest
import tensorflow as tf
from model_factory import export_half_plus
from server_process import start_in_process

from client import ServingClient

MODEL = "changing"


class Doubler(tf.Module):
    """Version 2: int64 in, int64 out (version 1, half plus two, is float32 in and out)."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="x")])
    def predict(self, x):
        return {"y": x * 2}


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_a_new_version_with_other_dtypes_gets_inputs_cast_for_it(tmp_path, transport):
    base = tmp_path / MODEL
    export_half_plus(str(base), 1)
    server = start_in_process(f"--model_name={MODEL}", f"--model_base_path={base}", "--file_system_poll_wait_seconds=1")
    target = server.grpc_target if transport == "grpc" else server.rest_url
    try:
        with ServingClient(target, transport, timeout=30) as client:
            assert client.predict(MODEL, [1, 2])["y"].tolist() == [2.5, 3.0]
            module = Doubler()
            tf.saved_model.save(module, str(base / "2"), signatures={"serving_default": module.predict})
            wait_until_served(client, 2)
            answer = client.predict(MODEL, [1, 2])["y"]
    finally:
        server.stop()
    assert answer.dtype == np.int64 and answer.tolist() == [2, 4]


def wait_until_served(client: ServingClient, version: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while [status.version for status in client.status(MODEL) if status.state == "AVAILABLE"] != [version]:
        assert time.monotonic() < deadline, f"version {version} was not the only one served within {timeout} s"
        time.sleep(0.2)
