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


CLIENT_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory):
    """A server whose idle and body timeouts are short enough to watch them fire."""
    base = tmp_path_factory.mktemp("impatient") / "m"
    export_half_plus(str(base), 1)
    handle = start_in_process(
        "--model_name=m", f"--model_base_path={base}",
        f"--rest_api_idle_timeout_seconds={CLIENT_TIMEOUT}", f"--rest_api_body_timeout_seconds={CLIENT_TIMEOUT}",
    )
    yield handle
    handle.stop()


def closed_by_server(connection: socket.socket) -> bool:
    """True once the server has closed the connection (within the socket's timeout)."""
    try:
        return connection.recv(65536) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_an_idle_connection_is_closed_after_the_idle_timeout(impatient_server):
    with socket.create_connection(("127.0.0.1", impatient_server.rest_port), timeout=10 * CLIENT_TIMEOUT) as idle:
        assert closed_by_server(idle)


def test_a_client_trickling_its_headers_is_cut_off_while_others_are_served(impatient_server):
    stop = threading.Event()
    cut_off: list[bool] = []

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", impatient_server.rest_port), timeout=10 * CLIENT_TIMEOUT) as slow:
            slow.sendall(b"POST /v1/models/m:predict HTTP/1.1\r\n")
            try:
                while not stop.wait(CLIENT_TIMEOUT / 10):
                    slow.sendall(b"X")
            except OSError:
                cut_off.append(True)

    trickling = [threading.Thread(target=trickle) for _ in range(50)]
    for thread in trickling:
        thread.start()
    reply = exchange(impatient_server.rest_port, request_bytes(PREDICT, f"Content-Length: {len(PREDICT)}\r\nConnection: close\r\n"))
    assert reply.startswith(b"HTTP/1.1 200") and b'"predictions"' in reply
    for thread in trickling:
        thread.join(timeout=10 * CLIENT_TIMEOUT)
    stop.set()
    assert len(cut_off) == len(trickling), "slow-header connections were kept open past the idle timeout"


def test_a_body_that_stops_arriving_answers_408(impatient_server):
    head = request_bytes(PREDICT[:5], f"Content-Length: {len(PREDICT)}\r\n")
    reply = exchange(impatient_server.rest_port, head, timeout=10 * CLIENT_TIMEOUT)
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert "--rest_api_body_timeout_seconds" in json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]
