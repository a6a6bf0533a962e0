"""Loads a version for the manager: the SavedModel, then its warmup requests, counting the outcome."""

from __future__ import annotations

from collections.abc import Callable

from serving.core.servable import Servable, load_servable
from serving.errors import ServingError
from serving.monitoring import Metrics

Warmup = Callable[[Servable], object]


class VersionLoader:
    """Callable ``(name, version, path) -> Servable``; a warmup failure fails the load.

    `warmup` replays a version's warmup requests (``serving.core.warmup.Warmup``), or is None when
    ``--enable_model_warmup=false``.
    """

    def __init__(self, tags: frozenset[str], metrics: Metrics, warmup: Warmup | None) -> None:
        self._tags = tags
        self._metrics = metrics
        self._warmup = warmup

    def __call__(self, name: str, version: int, path: str) -> Servable:
        try:
            servable = load_servable(name, version, path, self._tags)
            if self._warmup is not None:
                self._warmup(servable)
        except ServingError as error:
            self._metrics.record_load(path, error.code_name)
            raise
        self._metrics.record_load(path, "success")
        return servable
