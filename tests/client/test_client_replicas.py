"""Several replicas behind one client: gRPC's round_robin policy and REST's turn-taking spread the calls.

The two replicas serve the same model name with different biases (half plus two, half plus three), so
each answer tells which replica gave it."""

from __future__ import annotations

from collections import Counter

import pytest
from model_factory import export_half_plus
from server_process import free_port, start_in_process

from client import ClientError, ServingClient
from client.grpc_transport import grpc_target
from client.transport import RoundRobin, split_servers

CALLS = 20


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    root = tmp_path_factory.mktemp("replicas")
    servers = []
    for bias in (2.0, 3.0):
        export_half_plus(str(root / str(bias) / "half"), 1, bias=bias)
        servers.append(start_in_process("--model_name=half", f"--model_base_path={root / str(bias) / 'half'}"))
    yield servers
    for server in servers:
        server.stop()


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_calls_are_spread_over_both_replicas(replicas, transport):
    addresses = ",".join(server.grpc_target if transport == "grpc" else server.rest_url for server in replicas)
    with ServingClient(addresses, transport, timeout=30) as client:
        client.status("half")  # connected to every replica before counting
        answers = Counter(float(client.predict("half", [0.0])["y"][0]) for _ in range(CALLS))
    assert set(answers) == {2.0, 3.0} and min(answers.values()) >= CALLS // 4, answers


def test_a_list_of_names_becomes_one_grpc_target_of_addresses():
    assert grpc_target(["localhost:8500"]) == "localhost:8500"  # one name: gRPC's DNS resolver finds every address
    assert grpc_target(["localhost:8500", "127.0.0.1:8501"]) == "ipv4:127.0.0.1:8500,127.0.0.1:8501"
    assert split_servers(" a:1, b:2 ,") == ["a:1", "b:2"]
    with pytest.raises(ClientError, match="host:port"):
        grpc_target(["127.0.0.1:1", "nowhere"])


def test_round_robin_passes_over_a_replica_marked_down_until_all_are():
    turns = RoundRobin(["a", "b", "c"], quarantine=60)
    turns.mark_down("b")
    assert [turns.pick() for _ in range(4)] == ["a", "c", "a", "c"]
    turns.mark_down("a")
    turns.mark_down("c")
    assert {turns.pick() for _ in range(3)} == {"a", "b", "c"}


@pytest.mark.parametrize(("retries", "expect_failures"), [(3, False), (0, True)])
def test_rest_retries_a_call_that_meets_a_replica_down_on_another(replicas, retries, expect_failures):
    down = f"http://localhost:{free_port()}"
    with ServingClient(f"{replicas[0].rest_url},{down}", "rest", timeout=30, retries=retries, backoff=0.01) as client:
        failures = 0
        for _ in range(CALLS):
            try:
                client.predict("half", [0.0])
            except ClientError as error:
                assert error.code == "UNAVAILABLE"
                failures += 1
    assert (failures > 0) == expect_failures
