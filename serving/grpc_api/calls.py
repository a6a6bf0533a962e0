"""Running one gRPC call: deadline from the context, metrics, and ServingError → gRPC status."""

from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

import grpc

from serving.errors import ServingError, truncate_message
from serving.monitoring import Metrics

Response = TypeVar("Response")
UNBOUNDED_SECONDS = 365 * 24 * 3600.0
"""A call without a deadline reports a time remaining of about 10^19 s (gRPC's infinite future); anything past a
year counts as no deadline, since the run timeout derived from it would overflow TensorFlow's int64 milliseconds."""
log = logging.getLogger(__name__)


def handle_call(
    context: grpc.ServicerContext,
    metrics: Metrics,
    api: str,
    model_name: str,
    call: Callable[[float | None], Response],
) -> Response:
    """Run ``call(deadline)``; any failure becomes a status with a message, never a crash."""
    started = time.perf_counter()
    remaining = context.time_remaining()
    deadline = None if remaining is None or remaining > UNBOUNDED_SECONDS else time.monotonic() + remaining
    try:
        response = call(deadline)
    except ServingError as error:
        metrics.record_request(model_name, api, "GRPC", error.code_name, 0.0)
        context.abort(error.code, error.message)
    except Exception as error:  # noqa: BLE001 - the server answers INTERNAL instead of dying
        log.exception("%s failed", api)
        metrics.record_request(model_name, api, "GRPC", "INTERNAL", 0.0)
        context.abort(grpc.StatusCode.INTERNAL, truncate_message(f"{api} failed: {error}"))
    metrics.record_request(model_name, api, "GRPC", "OK", (time.perf_counter() - started) * 1e6)
    return response
