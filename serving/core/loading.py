"""Loads a version for the manager: the SavedModel (or its TF Lite model), then its warmup requests, counting the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from serving.core.servable import Servable
from serving.core.tflite_servable import load_version
from serving.errors import ServingError
from serving.monitoring import Metrics

Warmup = Callable[[Servable], object]


@dataclass(frozen=True)
class LoadOptions:
    """How versions load: MetaGraph tags, and TF Lite (``--prefer_tflite_model``, ``--num_tflite_pools``)."""

    tags: frozenset[str] = frozenset({"serve"})
    prefer_tflite: bool = False
    tflite_pool_size: int = 1


class VersionLoader:
    """Callable ``(name, version, path) -> Servable``; a warmup failure fails the load.

    `warmup` replays a version's warmup requests (``serving.core.warmup.Warmup``), or is None when
    ``--enable_model_warmup=false``.
    """

    def __init__(self, options: LoadOptions, metrics: Metrics, warmup: Warmup | None) -> None:
        self._options = options
        self._metrics = metrics
        self._warmup = warmup

    def __call__(self, name: str, version: int, path: str) -> Servable:
        options = self._options
        try:
            servable = load_version(name, version, path, options.tags, options.prefer_tflite, options.tflite_pool_size)
            if self._warmup is not None:
                self._warmup(servable)
        except ServingError as error:
            self._metrics.record_load(path, error.code_name)
            raise
        self._metrics.record_load(path, "success")
        return servable
