"""Retries and keep-alive against a scripted HTTP server, and the retry policy on its own."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client import ClientError, ServingClient
from client.retry import RetryPolicy

STATUS_BODY = json.dumps({"model_version_status": [{"version": "3", "state": "AVAILABLE", "status": {}}]}).encode()
UNAVAILABLE_BODY = json.dumps({"error": "The batch scheduling queue to which this task was submitted is full"}).encode()
HTML_404 = b"<HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD><BODY><H1>Not Found</H1></BODY></HTML>"


class ScriptedServer(ThreadingHTTPServer):
    """Answers each request with the next (status, body) of ``script``; can drop keep-alive connections."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, bytes]], close_after_reply: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script = script
        self.close_after_reply = close_after_reply
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def do_GET(self) -> None:
        status, body = self.server.script[min(self.server.requests, len(self.server.script) - 1)]
        self.server.requests += 1
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.server.close_after_reply

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted():
    servers: list[ScriptedServer] = []

    def start(script: list[tuple[int, bytes]], close_after_reply: bool = False) -> ScriptedServer:
        server = ScriptedServer(script, close_after_reply)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_rest_retries_503_then_succeeds(scripted):
    server = scripted([(503, UNAVAILABLE_BODY), (503, UNAVAILABLE_BODY), (200, STATUS_BODY)])
    with ServingClient(server.url, "rest", retries=3, backoff=0.01) as client:
        assert [status.version for status in client.status("m")] == [3]
    assert server.requests == 3


def test_rest_503_gives_up_after_the_retries(scripted):
    server = scripted([(503, UNAVAILABLE_BODY)])
    with ServingClient(server.url, "rest", retries=1, backoff=0.01) as client, pytest.raises(ClientError) as raised:
        client.status("m")
    assert (raised.value.code, raised.value.http_status) == ("UNAVAILABLE", 503)
    assert "queue" in raised.value.message and "gave up after 2 attempts" in raised.value.message
    assert server.requests == 2


def test_rest_other_errors_are_not_retried_and_keep_a_non_json_message(scripted):
    server = scripted([(404, HTML_404)])
    with ServingClient(server.url, "rest", retries=3, backoff=0.01) as client, pytest.raises(ClientError) as raised:
        client.status("m")
    assert (raised.value.code, raised.value.http_status) == ("NOT_FOUND", 404)
    assert "404 Not Found" in raised.value.message
    assert server.requests == 1


def test_rest_reopens_a_keep_alive_connection_the_server_closed(scripted):
    server = scripted([(200, STATUS_BODY)], close_after_reply=True)
    with ServingClient(server.url, "rest", retries=0) as client:
        for _ in range(3):
            assert client.status("m")[0].state == "AVAILABLE"
    assert server.requests == 3


def failing(code: str, retryable: bool, failures: int):
    """An attempt that fails ``failures`` times, then returns how many calls it took."""
    calls = []

    def attempt(seconds_left: float) -> int:
        calls.append(seconds_left)
        if len(calls) <= failures:
            raise ClientError(code, "no", retryable=retryable)
        return len(calls)

    return attempt, calls


def test_policy_retries_only_retryable_errors():
    policy = RetryPolicy(retries=3, initial_backoff=0.001)
    attempt, _ = failing("UNAVAILABLE", True, failures=2)
    assert policy.call(attempt, timeout=5) == 3
    attempt, calls = failing("INVALID_ARGUMENT", False, failures=2)
    with pytest.raises(ClientError):
        policy.call(attempt, timeout=5)
    assert len(calls) == 1


def test_policy_gives_each_attempt_what_is_left_of_the_deadline():
    attempt, calls = failing("UNAVAILABLE", True, failures=2)
    RetryPolicy(retries=2, initial_backoff=0.01).call(attempt, timeout=5)
    assert 5 >= calls[0] > calls[1] > calls[2] > 4.9


def test_policy_backoff_grows_and_is_capped():
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=0.3, multiplier=2)
    pauses = [policy.pause(attempt) for attempt in range(4)]
    assert 0.08 <= pauses[0] <= 0.1 and 0.16 <= pauses[1] <= 0.2
    assert all(0.24 <= pause <= 0.3 for pause in pauses[2:])
