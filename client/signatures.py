"""The client's signature cache: signatures by served model version, and which version a request resolves to.

Signatures are fixed for a version, so they are kept per ``(model, version)`` for good. What "latest" (no
version) or a label resolves to changes when the server loads a new version, so that answer is kept only
``refresh`` seconds, or until a caller learns that another version answered and forgets it.
"""

from __future__ import annotations

import threading
import time

from client.messages import ModelRef, SignatureSpec

Signatures = dict[str, SignatureSpec]


class SignatureCache:
    """Thread-safe: load-generator workers share one client."""

    def __init__(self, refresh: float) -> None:
        self._refresh = refresh
        self._by_version: dict[tuple[str, int], Signatures] = {}
        self._resolved: dict[tuple[str, str | None], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def version_of(self, ref: ModelRef) -> int | None:
        """The served version ``ref`` stands for, as last known (None when unknown or stale)."""
        if ref.version is not None:
            return ref.version
        with self._lock:
            resolved = self._resolved.get((ref.name, ref.label))
        if resolved is None or time.monotonic() - resolved[1] > self._refresh:
            return None
        return resolved[0]

    def get(self, ref: ModelRef) -> Signatures | None:
        """The signatures of the version ``ref`` stands for, if known."""
        version = self.version_of(ref)
        with self._lock:
            return None if version is None else self._by_version.get((ref.name, version))

    def store(self, ref: ModelRef, served_version: int, signatures: Signatures) -> None:
        """Keep the signatures of ``served_version``, the version the server answered ``ref`` with."""
        with self._lock:
            self._by_version[(ref.name, served_version)] = signatures
            if ref.version is None:
                self._resolved[(ref.name, ref.label)] = (served_version, time.monotonic())

    def forget(self, ref: ModelRef) -> None:
        """Ask the server again which version ``ref`` stands for (a new one has answered)."""
        with self._lock:
            self._resolved.pop((ref.name, ref.label), None)
