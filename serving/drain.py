"""The request gate: counts calls in flight on both APIs and turns new ones away once the server drains.

On SIGTERM or SIGINT the server drains: readiness answers 503 at once, new calls get UNAVAILABLE (gRPC)
or 503 (REST) with a message that says why, and the calls already running finish, within
``--shutdown_grace_seconds``, before the ports close.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc

SHUTTING_DOWN = "The server is shutting down; send the request to another replica"
UNGATED_SERVICES = ("/grpc.health.v1.Health/",)


class RequestGate:
    """Admits calls until `drain`; `drain` waits (bounded) for the admitted ones to leave."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_flight = 0
        self._draining = False

    @property
    def draining(self) -> bool:
        return self._draining

    def enter(self) -> bool:
        """Admit one call (the caller must `leave`), or refuse it while draining."""
        with self._changed:
            if self._draining:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def drain(self, timeout: float) -> bool:
        """Refuse new calls from now on; wait at most `timeout` s for those in flight; return whether all ended."""
        with self._changed:
            self._draining = True
            return self._changed.wait_for(lambda: self._in_flight == 0, timeout)


class GateInterceptor(grpc.ServerInterceptor):
    """Runs every unary gRPC call through the gate; the health service stays outside it."""

    def __init__(self, gate: RequestGate) -> None:
        self._gate = gate

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or handler_call_details.method.startswith(UNGATED_SERVICES):
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self._gated(handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _gated(self, behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            if not self._gate.enter():
                context.abort(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
            try:
                return behaviour(request, context)
            finally:
                self._gate.leave()

        return call
