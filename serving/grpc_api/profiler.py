"""TensorFlow's ProfilerService on the server's gRPC port (``--enable_profiler``, on by default as in TF Serving).

TensorFlow Serving registers TensorFlow's ``ProfilerService`` on its gRPC server, so that
``tf.profiler.experimental.client.trace("grpc://host:port", logdir, duration_ms)`` records what the server runs
meanwhile (TensorFlow ops, TF Lite and host threads) into ``logdir`` for TensorBoard's profile plugin.

How it is done here, and why: TensorFlow's Python API exposes that service only as its own gRPC server
(``tf.profiler.experimental.server.start(port)``: TensorFlow's C++ gRPC, not grpcio, so it cannot register on
our grpcio server), and the wheel ships no Python stubs of its protos. So the real service runs in this
process on a private port, and our gRPC server forwards every ``/tensorflow.ProfilerService/*`` call to it
byte for byte (no message is decoded). Clients see TF Serving's behaviour on TF Serving's port, and the trace
is made by TensorFlow's own profiler, which sees this whole process. The private port is picked free at start;
like ``tf.profiler.experimental.server.start`` it listens on every interface, which matters only where the
host's other ports are reachable; ``--enable_profiler=false`` turns it off.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import grpc
import tensorflow as tf

log = logging.getLogger(__name__)
SERVICE_PREFIX = "/tensorflow.ProfilerService/"
READY_TIMEOUT_SECONDS = 10.0

_lock = threading.Lock()
_backend_target: str | None = None


def profiler_backend() -> str | None:
    """The address of TensorFlow's profiler server in this process, started on first use (once per process:
    TensorFlow keeps one). None, with a warning, when it could not start."""
    global _backend_target
    with _lock:
        if _backend_target is None:
            _backend_target = _start_backend()
        return _backend_target or None


def _start_backend() -> str:
    port = _free_port()
    tf.profiler.experimental.server.start(port)
    target = f"localhost:{port}"
    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_SECONDS)
        except grpc.FutureTimeoutError:
            log.warning("TensorFlow's profiler server did not start on port %d; profiling is off", port)
            return ""
    return target


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


class ProfilerForwarder(grpc.GenericRpcHandler):
    """Answers ``tensorflow.ProfilerService`` methods by forwarding the raw request to TensorFlow's server."""

    def __init__(self, backend_target: str) -> None:
        self._channel = grpc.insecure_channel(backend_target)
        grpc.channel_ready_future(self._channel).result(timeout=READY_TIMEOUT_SECONDS)  # a trace starts at once

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if not method.startswith(SERVICE_PREFIX):
            return None
        call = self._channel.unary_unary(method)  # no (de)serializers: bytes in, bytes out

        def forward(request: bytes, context: grpc.ServicerContext) -> Any:
            try:
                return call(request, timeout=context.time_remaining())
            except grpc.RpcError as error:
                context.abort(error.code(), error.details() or "")

        return grpc.unary_unary_rpc_method_handler(forward)
