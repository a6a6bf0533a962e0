"""Keep-alive HTTP/1.1 to one or more replicas (stdlib only), shared by the REST transports of both protocols.

Calls go to the replicas in turn (round robin); each thread keeps one connection to each replica. A call
that cannot reach its replica (refused, or dropped by a server shutting down) may be retried, and the
retry goes to the next replica; a replica that refused, dropped or answered 503 is passed over for a while.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping, Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

from client.errors import ClientError
from client.transport import RoundRobin

STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""What a keep-alive connection the server has closed since its last use fails with."""


class HttpAnswer(NamedTuple):
    status: int
    body: bytes
    headers: http.client.HTTPMessage


class HttpReplicas:
    """Requests to the replicas at ``urls`` (``http://host:port`` each; ``host:port`` means http)."""

    def __init__(self, urls: Sequence[str]) -> None:
        replicas = [rest_address(url) for url in urls]
        schemes = {scheme for scheme, _ in replicas}
        if len(schemes) > 1:
            raise ClientError("INVALID_ARGUMENT", f"REST servers must all use http or all https; got {list(urls)}")
        self._connection_class = http.client.HTTPSConnection if schemes == {"https"} else http.client.HTTPConnection
        self._replicas = RoundRobin([netloc for _, netloc in replicas])
        self._scheme = schemes.pop()
        self._local = threading.local()
        self._connections: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def exchange(
        self, method: str, path: str, data: bytes | None, timeout: float, headers: Mapping[str, str] | None = None
    ) -> HttpAnswer:
        """One request to the next replica and its answer, whatever its status; ClientError if none came."""
        replica = self._replicas.pick()
        try:
            answer = self._exchange(replica, method, path, data, timeout, dict(headers or {}))
        except ClientError as error:
            if error.retryable:
                self._replicas.mark_down(replica)
            raise
        if answer.status == 503:
            self._replicas.mark_down(replica)
        return answer

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def _exchange(
        self, netloc: str, method: str, path: str, data: bytes | None, timeout: float, headers: dict[str, str],
        reopen: bool = True,
    ) -> HttpAnswer:
        """A keep-alive connection the server has closed is reopened once."""
        connection, reused = self._connection(netloc)
        try:
            return _send(connection, method, path, data, timeout, headers)
        except (OSError, http.client.HTTPException) as error:
            self._forget(netloc, connection)
            if reused and reopen and isinstance(error, STALE_CONNECTION_ERRORS):
                return self._exchange(netloc, method, path, data, timeout, headers, reopen=False)
            raise self._connection_error(netloc, error) from None

    def _connection(self, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to ``netloc``, and whether it has carried a request before."""
        connections = self._thread_connections()
        if netloc in connections:
            return connections[netloc], True
        connection = connections[netloc] = self._connection_class(netloc)
        with self._lock:
            self._connections.add(connection)
        return connection, False

    def _thread_connections(self) -> dict[str, http.client.HTTPConnection]:
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        return self._local.connections

    def _forget(self, netloc: str, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._thread_connections().pop(netloc, None)
        with self._lock:
            self._connections.discard(connection)

    def _connection_error(self, netloc: str, error: Exception) -> ClientError:
        """Timeouts are final; a replica that refused or dropped the connection may be retried (on another)."""
        url = f"{self._scheme}://{netloc}"
        if isinstance(error, TimeoutError):
            return ClientError("DEADLINE_EXCEEDED", f"no answer from {url} within the deadline")
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error) or type(error).__name__
        retryable = isinstance(error, (ConnectionRefusedError, *STALE_CONNECTION_ERRORS))
        return ClientError("UNAVAILABLE", f"cannot reach {url}: {reason}", retryable=retryable)


def _send(
    connection: http.client.HTTPConnection, method: str, path: str, data: bytes | None, timeout: float,
    headers: dict[str, str],
) -> HttpAnswer:
    connection.timeout = timeout
    if connection.sock is not None:
        connection.sock.settimeout(timeout)
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    return HttpAnswer(response.status, response.read(), response.headers)


def rest_address(url: str) -> tuple[str, str]:
    """``http://host:port`` (or ``host:port``) as its scheme and ``host:port``."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError("INVALID_ARGUMENT", f"REST address must look like http://host:port; got {url!r}")
    return parts.scheme, parts.netloc
