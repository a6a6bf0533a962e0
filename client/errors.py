"""The one error type of the client: a gRPC status code name, the HTTP status and the server's message.

Both transports raise it, so callers handle gRPC and REST failures alike: ``error.code`` is the gRPC
name (``NOT_FOUND``), ``error.http_status`` the HTTP status (404), ``error.message`` the server's text.
"""

from __future__ import annotations

HTTP_STATUS_BY_CODE: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
"""TensorFlow Serving's status → HTTP mapping (``model_servers/http_server.cc`` ``ToHTTPStatusCode``)."""

CODE_BY_HTTP_STATUS: dict[int, str] = {
    status: code for code, status in reversed(list(HTTP_STATUS_BY_CODE.items()))
}
"""The inverse; where several codes share a status (400, 409, 500) the first one in the table wins."""


class ClientError(Exception):
    """A failed call.

    ``code`` is a gRPC status code name; for a REST answer it is derived from the HTTP status (400 reads
    as INVALID_ARGUMENT even when the server meant FAILED_PRECONDITION). ``http_status`` is the status
    the REST server answered, TF Serving's mapping of the gRPC code, or None when no server answered
    (connection failures, arguments the client rejects itself). ``retryable`` marks failures that a
    later attempt may not have (gRPC UNAVAILABLE, HTTP 503, connection refused).
    """

    def __init__(self, code: str, message: str, http_status: int | None = None, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.retryable = retryable


def invalid_argument(message: str) -> ClientError:
    """An argument the client rejects before sending anything."""
    return ClientError("INVALID_ARGUMENT", message)


class InputError(Exception):
    """A local file or command-line value that cannot become a request (a bad image path, say)."""
