"""HTTP framing at the REST port: malformed lengths, chunked bodies, the body limit and the listen backlog."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from model_factory import export_half_plus
from server_process import start_in_process

BODY_LIMIT = 4096
PREDICT = b'{"instances": [2.0]}'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("framing") / "m"
    export_half_plus(str(base), 1)
    handle = start_in_process("--model_name=m", f"--model_base_path={base}", f"--rest_api_max_body_bytes={BODY_LIMIT}")
    yield handle
    handle.stop()


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(raw)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request_bytes(body: bytes, headers: str) -> bytes:
    return (f"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\n{headers}\r\n").encode() + body


def test_a_malformed_content_length_answers_400_and_the_server_keeps_serving(server):
    reply = exchange(server.rest_port, request_bytes(PREDICT, "Content-Length: abc\r\n"))
    assert reply.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), reply
    reply = exchange(server.rest_port, request_bytes(PREDICT, f"Content-Length: {len(PREDICT)}\r\nConnection: close\r\n"))
    assert reply.startswith(b"HTTP/1.1 200") and b'"predictions"' in reply


def test_a_chunked_body_is_read_as_one_request(server):
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(PREDICT), PREDICT)
    follow_up = request_bytes(PREDICT, f"Content-Length: {len(PREDICT)}\r\nConnection: close\r\n")
    reply = exchange(server.rest_port, request_bytes(chunked, "Transfer-Encoding: chunked\r\n") + follow_up)
    assert reply.count(b"HTTP/1.1 ") == 2, reply
    assert reply.count(b"HTTP/1.1 200") == 2, "a chunk was read as a request of its own"
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0]) == {"predictions": [3.0]}


def test_a_body_over_the_limit_answers_413_with_a_json_error(server):
    body = b'{"instances": [' + b"1.0, " * BODY_LIMIT + b"1.0]}"
    reply = exchange(server.rest_port, request_bytes(body, f"Content-Length: {len(body)}\r\nConnection: close\r\n"))
    assert reply.startswith(b"HTTP/1.1 413")
    assert "--rest_api_max_body_bytes" in json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]


def test_hundreds_of_simultaneous_connects_are_accepted_at_once(server):
    durations: list[float] = []
    sockets: list[socket.socket] = []
    lock = threading.Lock()

    def connect() -> None:
        started = time.monotonic()
        connection = socket.create_connection(("127.0.0.1", server.rest_port), timeout=10)
        with lock:
            durations.append(time.monotonic() - started)
            sockets.append(connection)

    threads = [threading.Thread(target=connect) for _ in range(300)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in sockets:
        connection.close()
    assert len(durations) == 300
    assert max(durations) < 0.9, "a connect waited for a TCP retry: the listen backlog is too short"
