"""Deadlines and bounded retries with exponential backoff, shared by both transports.

One deadline covers a whole call, retries included, so ``timeout`` is the most a call can take. Only
errors marked retryable are retried (gRPC UNAVAILABLE, HTTP 503, connection refused): the server was
not reached or asked to come back, so sending the request again is safe.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from client.errors import ClientError

Result = TypeVar("Result")
JITTER = 0.2
"""Each pause is shortened by up to this fraction, so that many clients do not retry in lockstep."""


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts, pausing ``initial_backoff`` seconds, then ``multiplier`` times longer."""

    retries: int = 3
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def pause(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        full = min(self.max_backoff, self.initial_backoff * self.multiplier**attempt)
        return full * (1 - JITTER * random.random())

    def call(self, attempt: Callable[[float], Result], timeout: float) -> Result:
        """Run ``attempt(seconds_left)`` until it succeeds, fails for good, or retries or time run out."""
        deadline = time.monotonic() + timeout
        failures = 0
        while True:
            try:
                return attempt(max(deadline - time.monotonic(), 0.0))
            except ClientError as error:
                pause = self.pause(failures)
                failures += 1
                if not error.retryable or failures > self.retries or time.monotonic() + pause >= deadline:
                    raise _gave_up(error, failures) from None
                time.sleep(pause)


def _gave_up(error: ClientError, attempts: int) -> ClientError:
    if attempts == 1:
        return error
    message = f"{error.message} (gave up after {attempts} attempts)"
    return ClientError(error.code, message, error.http_status, error.retryable)
