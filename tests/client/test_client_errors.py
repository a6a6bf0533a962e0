"""One error type for both transports, bounded retries, deadlines and gRPC message sizes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from client import ClientError, ServingClient

BIG_ELEMENTS = 1_500_000
"""float32 values in a response of about 6 MB, more than gRPC's default 4 MB receive limit."""



def raised_by(call) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value


@pytest.mark.parametrize(
    ("call", "code", "http_status", "message"),
    [
        (lambda c: c.predict("nope", [1.0]), "NOT_FOUND", 404, "Servable not found for request: Latest(nope)"),
        (lambda c: c.status("nope"), "NOT_FOUND", 404, "nope"),
        (lambda c: c.predict("half_plus_two", [1.0], version=9), "NOT_FOUND", 404, "Specific(half_plus_two, 9)"),
        (lambda c: c.predict("half_plus_two", [1.0], label="beta"), "INVALID_ARGUMENT", 400, "beta"),
    ],
)
def test_server_errors_read_the_same_over_both_transports(client, call, code, http_status, message):
    error = raised_by(lambda: call(client))
    assert (error.code, error.http_status) == (code, http_status)
    assert message in error.message
    assert not error.retryable


def test_runtime_error_of_the_model_is_invalid_argument(client):
    error = raised_by(lambda: client.predict("two_inputs", {"a": [[1, 2], [3, 4]], "b": [1, 2, 3], "tag": ["a", "b"]}))
    assert (error.code, error.http_status) == ("INVALID_ARGUMENT", 400)


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (lambda c: c.predict("mnist", {"images": np.zeros((1, 28, 28, 1))}), "INVALID_ARGUMENT", "float64"),
        (lambda c: c.predict("two_inputs", {"a": [[1.0, 2.0]]}), "INVALID_ARGUMENT", "missing ['b', 'tag']"),
        (lambda c: c.predict("two_inputs", np.zeros((1, 2))), "INVALID_ARGUMENT", "pass a dict"),
        (lambda c: c.predict("default", [1.0], output_filter=["z"]), "INVALID_ARGUMENT", "unknown outputs ['z']"),
        (lambda c: c.predict("default", [1.0], signature="nope"), "FAILED_PRECONDITION", 'no signature "nope"'),
        (lambda c: c.predict("default", [1.0], version=1, label="stable"), "INVALID_ARGUMENT", "not both"),
        (lambda c: c.classify("half_plus_two", [], signature="classify_x_to_y"), "INVALID_ARGUMENT", "one example"),
        (lambda c: c.predict("two_inputs", {"a": [[1, 2]], "b": [1], "tag": [3]}), "INVALID_ARGUMENT", "'tag'"),
    ],
)
def test_requests_the_client_rejects_before_sending(client, call, code, message):
    error = raised_by(lambda: call(client))
    assert error.code == code and message in error.message


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_retries_against_a_closed_port_are_bounded(closed_port, transport):
    target = f"localhost:{closed_port}" if transport == "grpc" else f"http://localhost:{closed_port}"
    backoff = 0.2
    with ServingClient(target, transport, timeout=10, retries=2, backoff=backoff) as unreachable:
        started = time.monotonic()
        error = raised_by(lambda: unreachable.status("default"))
        elapsed = time.monotonic() - started
    assert error.code == "UNAVAILABLE" and error.retryable
    assert "gave up after 3 attempts" in error.message
    assert 0.8 * (backoff + 2 * backoff) <= elapsed < 3.0


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_timeout_bounds_the_retries(closed_port, transport):
    target = f"localhost:{closed_port}" if transport == "grpc" else f"http://localhost:{closed_port}"
    with ServingClient(target, transport, timeout=1.0, retries=100, backoff=0.1) as unreachable:
        started = time.monotonic()
        error = raised_by(lambda: unreachable.metadata("default"))
        elapsed = time.monotonic() - started
    assert error.code == "UNAVAILABLE"
    assert elapsed < 1.5


def test_deadline_exceeded_when_the_server_is_slower_than_the_timeout(client):
    with ServingClient(client.target, client.transport, timeout=10) as hurried:
        hurried.metadata("default")
        hurried.timeout = 0.002
        error = raised_by(lambda: hurried.predict("default", np.zeros(BIG_ELEMENTS, np.float32)))
    assert error.code == "DEADLINE_EXCEEDED"


def test_grpc_response_larger_than_4_mb(served):
    values = np.arange(BIG_ELEMENTS, dtype=np.float32)
    with ServingClient(served.grpc_target, "grpc", timeout=60) as unlimited:
        outputs = unlimited.predict("default", values)
    np.testing.assert_array_equal(outputs["y"], 0.5 * values + 2)


def test_grpc_message_cap_is_an_option(served):
    with ServingClient(served.grpc_target, "grpc", timeout=60, max_message_bytes=4 * 2**20, retries=0) as capped:
        error = raised_by(lambda: capped.predict("default", np.ones(BIG_ELEMENTS, np.float32)))
    assert error.code == "RESOURCE_EXHAUSTED"


def test_bad_rest_address_is_rejected():
    assert raised_by(lambda: ServingClient("ftp://somewhere", "rest")).code == "INVALID_ARGUMENT"
    assert raised_by(lambda: ServingClient("localhost:1", "smoke-signals")).code == "INVALID_ARGUMENT"
