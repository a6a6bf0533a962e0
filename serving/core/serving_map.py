"""The serving map: the versions ready for requests, and the labels that name them (TF Serving's ServingMap).

The manager publishes here when a version becomes available or goes away; the API handlers look servables
up here. A model's versions are published as a new immutable mapping that replaces the old one in a
single assignment, so lookups take no lock and never wait for a load, an unload or a config change.
"""

from __future__ import annotations

import threading
from types import MappingProxyType
from typing import Mapping

from serving.core.servable import Servable
from serving.errors import failed_precondition, invalid_argument, not_found

EMPTY: Mapping[int, Servable] = MappingProxyType({})


class ServingMap:
    """Available servables and version labels per model; lookups are lock-free."""

    def __init__(self) -> None:
        self._available: dict[str, Mapping[int, Servable]] = {}
        self._labels: dict[str, Mapping[str, int]] = {}
        self._write_lock = threading.Lock()

    # ---- publishing (the manager and the server core) -----------------------------------------
    def publish(self, name: str, available: Mapping[int, Servable]) -> None:
        """Replace the versions of `name` that requests may use."""
        frozen = MappingProxyType(dict(available))
        with self._write_lock:
            self._available = {**self._available, name: frozen}

    def remove(self, name: str) -> None:
        """Forget a model that left the config: its versions and its labels."""
        with self._write_lock:
            self._available = {key: value for key, value in self._available.items() if key != name}
            self._labels = {key: value for key, value in self._labels.items() if key != name}

    def assign_labels(self, name: str, labels: Mapping[str, int], may_label_unavailable: set[str]) -> None:
        """Point `name`'s labels at versions; each must be AVAILABLE unless its label is in `may_label_unavailable`."""
        available = self.versions(name)
        for label, version in labels.items():
            if version not in available and label not in may_label_unavailable:
                raise failed_precondition(
                    f"Request to assign label to version {version} of model {name}, "
                    "which is not currently available for inference"
                )
        with self._write_lock:
            self._labels = {**self._labels, name: MappingProxyType(dict(labels))}

    # ---- lookups (the API handlers) -----------------------------------------------------------
    def versions(self, name: str) -> Mapping[int, Servable]:
        return self._available.get(name, EMPTY)

    def labels(self, name: str) -> dict[str, int]:
        return dict(self._labels.get(name, {}))

    def servable(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a request names; TensorFlow Serving's NOT_FOUND / INVALID_ARGUMENT otherwise."""
        if not name:
            raise invalid_argument("ModelSpec has no name specified.")
        if label:
            version = self._label_version(name, label)
        available = self.versions(name)
        if version is not None:
            servable = available.get(version)
            if servable is None:
                raise not_found(f"Servable not found for request: Specific({name}, {version})")
            return servable
        if not available:
            raise not_found(f"Servable not found for request: Latest({name})")
        return available[max(available)]

    def _label_version(self, name: str, label: str) -> int:
        labels = self._labels.get(name, {})
        if label not in labels:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return labels[label]

    def all_available(self, names: list[str]) -> bool:
        """True when each named model has at least one version ready (readiness)."""
        return bool(names) and all(self._available.get(name) for name in names)
