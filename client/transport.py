"""What a transport is: the interface gRPC and REST share, and the replicas one client spreads its calls over.

A client talks to one or more replicas of a model server: ``a:8500,b:8500``, or one DNS name that resolves
to several addresses. gRPC balances them with its own ``round_robin`` policy; REST takes them in turn. Every
call of the interface is idempotent (inference and reads), so a call that meets an unavailable replica is
sent again by the client's retry policy, and lands on another replica.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import tensorflow as tf

from client.errors import invalid_argument
from client.messages import Classifications, ModelInfo, ModelRef, SignatureSpec, VersionStatus

Served = tuple[int | None, dict[str, np.ndarray]]
"""A predict answer: the version that served it (None when the API does not say, as REST) and the outputs."""


class Transport(Protocol):
    """TensorFlow Serving's calls over one API; each takes the seconds left before the call's deadline."""

    def predict(
        self,
        ref: ModelRef,
        inputs: dict[str, np.ndarray],
        signature: SignatureSpec,
        output_names: list[str],
        timeout: float,
    ) -> Served: ...

    def classify(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> Classifications: ...

    def regress(self, ref: ModelRef, examples: list[tf.train.Example], timeout: float) -> np.ndarray: ...

    def metadata(self, ref: ModelRef, timeout: float) -> tuple[int, dict[str, SignatureSpec]]:
        """The served version the answer came from, and every signature of it."""

    def status(self, ref: ModelRef, timeout: float) -> list[VersionStatus]: ...

    def list_models(self, timeout: float) -> list[ModelInfo]: ...

    def close(self) -> None: ...


def split_servers(servers: str | Sequence[str]) -> list[str]:
    """``"a:8500,b:8500"`` (or a list of addresses) as a list of addresses, blanks dropped, order kept."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    addresses = [item.strip() for item in items if item.strip()]
    if not addresses:
        raise invalid_argument(f"no server address in {servers!r}")
    return addresses


class RoundRobin:
    """Hands out the replicas in turn, safely from many threads, skipping those recently found down.

    A replica marked down (it refused or dropped a connection, or answered 503) is passed over for
    ``quarantine`` seconds, so retries go to replicas that answer, as gRPC's round_robin skips subchannels
    that are not ready. When every replica is marked down, they are tried in turn anyway.
    """

    def __init__(self, replicas: Sequence[str], quarantine: float = 1.0) -> None:
        self.replicas = list(replicas)
        self._quarantine = quarantine
        self._next = itertools.cycle(self.replicas)
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def pick(self) -> str:
        with self._lock:
            now = time.monotonic()
            for _ in self.replicas:
                replica = next(self._next)
                if self._down_until.get(replica, 0.0) <= now:
                    return replica
            return next(self._next)

    def mark_down(self, replica: str) -> None:
        with self._lock:
            self._down_until[replica] = time.monotonic() + self._quarantine
