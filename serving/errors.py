"""The one error type of the serving layer: a gRPC status code and a message that names the problem.

Front ends turn it into a gRPC status (gRPC) or an HTTP code and a ``{"error": ...}`` body (REST),
using TensorFlow Serving's own mapping.
"""

from __future__ import annotations

import re

import grpc

MAX_MESSAGE_CHARS = 1024
TRUNCATION_MARK = "...TRUNCATED"

HTTP_CODE_BY_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


STATUS_CODE_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


def status_code_from_number(number: int) -> grpc.StatusCode:
    """The gRPC status code for an absl/TensorFlow error code number (UNKNOWN when out of range)."""
    return STATUS_CODE_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


GRAPH_EXECUTION_PREFIX = re.compile(r"^\s*Graph execution error:\s*")
NODE_CONTEXT = re.compile(r"\s*\[\[\{\{(?:function_)?node [^}]*\}\}(?:.|\n)*?\]\]")
ASSERTION = re.compile(r"^assertion failed: \[(?P<message>[^\]]*)\]")


def user_message(tensorflow_message: str) -> str:
    """What a user should read of a TensorFlow runtime error: the check's own text, no graph internals.

    TensorFlow appends the failing node (``[[{{node assert_positive/Assert}}]]``) and, for ``tf.debugging``
    assertions, the condition and the tensor's graph name; Python's session adds ``Graph execution error:``.
    A failed assertion answers with its ``message`` alone (``temperature must be positive``); any other error
    keeps TensorFlow's text (``Matrix size-incompatible: In[0]: [1,5], In[1]: [784,10]``) without the node.
    """
    text = NODE_CONTEXT.sub("", GRAPH_EXECUTION_PREFIX.sub("", tensorflow_message)).strip()
    assertion = ASSERTION.match(text)
    if assertion and assertion.group("message").strip():
        return assertion.group("message").strip().rstrip(".").strip()
    return text


class ServingError(Exception):
    """A request or load failure with the gRPC status code TensorFlow Serving would answer."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = truncate_message(message)

    @property
    def http_status(self) -> int:
        return HTTP_CODE_BY_STATUS[self.code]

    @property
    def code_name(self) -> str:
        """The absl/proto name of the code, e.g. ``INVALID_ARGUMENT``."""
        return self.code.name

    def __str__(self) -> str:
        return self.message


def truncate_message(message: str) -> str:
    """Cut a message to 1024 characters as TensorFlow Serving's ToGRPCStatus does."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[:MAX_MESSAGE_CHARS] + TRUNCATION_MARK


def from_tensorflow_error(code_number: int, message: str) -> ServingError:
    """A TensorFlow runtime error (status number and message) as the same status with a user's message."""
    return ServingError(status_code_from_number(code_number), user_message(message))


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def failed_precondition(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def unavailable(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.UNAVAILABLE, message)
